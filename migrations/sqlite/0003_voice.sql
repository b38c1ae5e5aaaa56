-- Voice: calls and their volunteer legs, caller attempts for the rate limit,
-- blocks by caller token, and the queue of deletions owed at the provider.
-- No caller number is stored: only the caller token (a keyed hash that joins
-- nothing once its window key is destroyed). Times of calls are kept to the hour.

ALTER TABLE volunteers ADD COLUMN overflow INTEGER NOT NULL DEFAULT 0 CHECK (overflow IN (0, 1));

CREATE TABLE calls (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    provider_sid  TEXT    NOT NULL UNIQUE,
    caller_token  TEXT,
    language      TEXT,
    -- menu, ringing, bridged, voicemail, ended
    state         TEXT    NOT NULL,
    tier          INTEGER NOT NULL DEFAULT 0,
    -- when the tier ringing now gives up (unix seconds); set while state = ringing
    tier_deadline INTEGER,
    answered_by   INTEGER REFERENCES volunteers (id) ON DELETE SET NULL,
    -- answered, voicemail, callback_requested, abandoned, no_one_on_shift, refused
    outcome       TEXT,
    created_hour  INTEGER NOT NULL,
    ended_at      INTEGER
);
CREATE INDEX calls_due ON calls (state, tier_deadline);

CREATE TABLE call_legs (
    sid          TEXT    PRIMARY KEY,
    call_id      INTEGER NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    volunteer_id INTEGER REFERENCES volunteers (id) ON DELETE SET NULL,
    tier         INTEGER NOT NULL,
    -- ringing, answered, accepted, ended
    state        TEXT    NOT NULL
);
CREATE INDEX call_legs_call ON call_legs (call_id);
CREATE INDEX call_legs_volunteer ON call_legs (volunteer_id, state);

CREATE TABLE call_attempts (
    caller_token TEXT    NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX call_attempts_token ON call_attempts (caller_token, at);

CREATE TABLE caller_blocks (
    caller_token TEXT    PRIMARY KEY,
    expires_at   INTEGER NOT NULL
);

CREATE TABLE provider_deletions (
    id              INTEGER PRIMARY KEY,
    -- call, recording, message
    kind            TEXT    NOT NULL,
    sid             TEXT    NOT NULL UNIQUE,
    not_before      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at INTEGER,
    last_error      TEXT
);
CREATE INDEX provider_deletions_due ON provider_deletions (not_before);
