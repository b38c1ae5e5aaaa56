-- The vault: volunteer numbers sealed under the server key, sealed content
-- items with their readers, and per-volunteer API tokens (stored hashed).
--
-- Numbers stored in clear by 0001 move to legacy_phone; the server seals them and
-- clears the column on its next start. secure_delete overwrites the old pages.
CREATE TABLE volunteers_v2 (
    id            INTEGER PRIMARY KEY,
    alias         TEXT    NOT NULL UNIQUE,
    phone_sealed  BLOB,
    phone_lookup  TEXT    UNIQUE,
    legacy_phone  TEXT,
    roles         TEXT    NOT NULL,
    languages     TEXT    NOT NULL,
    zones         TEXT    NOT NULL,
    on_shift      INTEGER NOT NULL DEFAULT 0 CHECK (on_shift IN (0, 1)),
    age_recipient TEXT,
    CHECK ((phone_sealed IS NOT NULL AND phone_lookup IS NOT NULL) OR legacy_phone IS NOT NULL)
);
INSERT INTO volunteers_v2 (id, alias, legacy_phone, roles, languages, zones, on_shift, age_recipient)
    SELECT id, alias, phone, roles, languages, zones, on_shift, age_recipient FROM volunteers;
DROP TABLE volunteers;
ALTER TABLE volunteers_v2 RENAME TO volunteers;

-- AUTOINCREMENT: an item id is never reused, so an old id never names new content.
CREATE TABLE sealed_items (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    class        TEXT    NOT NULL,
    created_hour INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    epoch        INTEGER NOT NULL,
    sealed       BLOB    NOT NULL
);
CREATE INDEX sealed_items_expires_at ON sealed_items (expires_at);

CREATE TABLE sealed_item_readers (
    item_id      INTEGER NOT NULL REFERENCES sealed_items (id) ON DELETE CASCADE,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    PRIMARY KEY (item_id, volunteer_id)
);
CREATE INDEX sealed_item_readers_volunteer ON sealed_item_readers (volunteer_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    scope        TEXT    NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX api_tokens_volunteer ON api_tokens (volunteer_id);
