-- The roster: the volunteers the hotline rings, pages and lets read.
-- Roles, languages and zones are short validated lists kept as comma-separated
-- text; routing loads the on-shift roster and filters it in code. Flags are
-- integers 0/1 on both backends, so one query text serves both.
CREATE TABLE volunteers (
    id            INTEGER PRIMARY KEY,
    alias         TEXT    NOT NULL UNIQUE,
    phone         TEXT    NOT NULL UNIQUE,
    roles         TEXT    NOT NULL,
    languages     TEXT    NOT NULL,
    zones         TEXT    NOT NULL,
    on_shift      INTEGER NOT NULL DEFAULT 0 CHECK (on_shift IN (0, 1)),
    age_recipient TEXT
);
