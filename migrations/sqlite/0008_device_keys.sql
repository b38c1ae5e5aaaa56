-- Each volunteer may read on several devices: every device registers its own
-- public age key (the private key never leaves it), and whatever is sealed to
-- the volunteer is sealed to each of them. The one key of earlier versions
-- becomes the volunteer's first device key. Revocation deletes them all.
CREATE TABLE device_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    recipient    TEXT    NOT NULL,
    label        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (volunteer_id, recipient)
);

INSERT INTO device_keys (volunteer_id, recipient, label, created_at)
    SELECT id, age_recipient, 'key', CAST(strftime('%s', 'now') AS INTEGER)
    FROM volunteers WHERE age_recipient IS NOT NULL AND age_recipient <> '';

ALTER TABLE volunteers DROP COLUMN age_recipient;
