-- What needs someone now, for the console's dashboard: a voicemail nobody has
-- fetched yet (0), and public text threads waiting for a reply (state 'open';
-- a reply makes it 'replied' until the sender writes again). Whether anyone
-- opened an item is all that is kept, never who or when.
ALTER TABLE sealed_items ADD COLUMN opened BIGINT NOT NULL DEFAULT 0 CHECK (opened IN (0, 1));
