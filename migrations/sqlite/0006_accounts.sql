-- Accounts: a password (argon2id) and a TOTP second factor for every volunteer
-- who signs in, one-time enrollment codes, sessions, and failed sign-ins for the
-- rate limit. Codes and session tokens are stored as SHA-256 hashes; the TOTP
-- secret is sealed with the server key.

ALTER TABLE volunteers ADD COLUMN password_hash TEXT;
ALTER TABLE volunteers ADD COLUMN totp_sealed BLOB;
-- 1 once the volunteer proved the authenticator works
ALTER TABLE volunteers ADD COLUMN totp_confirmed INTEGER NOT NULL DEFAULT 0 CHECK (totp_confirmed IN (0, 1));
-- the last 30-second step a code was accepted for: older and equal steps are refused
ALTER TABLE volunteers ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
-- 1 once a coordinator revoked them: no sign-in, no SMS commands, until they enroll again
ALTER TABLE volunteers ADD COLUMN revoked INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1));

CREATE TABLE enrollment_codes (
    volunteer_id INTEGER PRIMARY KEY REFERENCES volunteers (id) ON DELETE CASCADE,
    code_hash    TEXT    NOT NULL UNIQUE,
    expires_at   INTEGER NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    token_hash   TEXT    NOT NULL UNIQUE,
    csrf_token   TEXT    NOT NULL,
    -- totp: password set, authenticator still to enroll; full: signed in
    stage        TEXT    NOT NULL,
    last_seen    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_volunteer ON sessions (volunteer_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Failed sign-ins: by account (volunteer id as text) or by a keyed hash of the
-- client's network (never the address itself).
CREATE TABLE login_failures (
    bucket TEXT    NOT NULL,
    at     INTEGER NOT NULL
);
CREATE INDEX login_failures_bucket ON login_failures (bucket, at);
