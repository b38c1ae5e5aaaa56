-- Fixes from a security review.
--
-- Calls no longer keep the caller's token: the rate limit needs it for ten
-- minutes (call_attempts), not for the call record's day.
UPDATE calls SET caller_token = NULL;

-- Blocked numbers, sealed for the server under the epoch key of the block's end,
-- so the token of each new caller-token window can be computed when the window
-- starts instead of creating the keys of future windows.
CREATE TABLE caller_block_list (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    sealed           BLOB    NOT NULL,
    expires_at       INTEGER NOT NULL,
    -- the caller-token window whose token is in caller_blocks already
    window_index     INTEGER NOT NULL
);
CREATE INDEX caller_block_list_expires ON caller_block_list (expires_at);

-- Signed webhooks acted on once: a replay within the provider's retry window
-- (and a day more) changes nothing. Keys are provider ids and a step name.
CREATE TABLE webhooks_seen (
    key        TEXT    PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webhooks_seen_expires ON webhooks_seen (expires_at);

-- SMS commands that act on others (NEW, R) wait here for the one-time code sent
-- back to the volunteer's number on the roster. The command text is sealed for
-- the server under the epoch key of its short life.
CREATE TABLE sms_confirmations (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    code_hash    TEXT    NOT NULL,
    sealed       BLOB    NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sms_confirmations_volunteer ON sms_confirmations (volunteer_id);
CREATE INDEX sms_confirmations_expires ON sms_confirmations (expires_at);
