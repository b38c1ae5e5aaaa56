-- Field operations: incidents and the observers dispatched to them, public text
-- intake threads, and the audit trail. The server reads an incident's zone, kind
-- and status; its details, the notes on it and every intake text are sealed items
-- (sealed_items) linked here by id. Times are kept to the hour except deadlines.

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    zone          TEXT    NOT NULL,
    -- sighting, detention, checkpoint, other
    kind          TEXT    NOT NULL,
    -- reported, verified, dispatched, closed, false_alarm
    status        TEXT    NOT NULL,
    -- observers wanted, and how many have been assigned so far
    needed        INTEGER NOT NULL,
    assigned      INTEGER NOT NULL DEFAULT 0,
    -- 0 paging the zone, 1 paging every zone, 2 dispatchers alerted, 3 paging over
    page_tier     INTEGER NOT NULL DEFAULT 0,
    page_deadline INTEGER,
    opened_by     INTEGER REFERENCES volunteers (id) ON DELETE SET NULL,
    created_hour  INTEGER NOT NULL,
    closed_at     INTEGER,
    -- set when closed: the incident row goes then
    expires_at    INTEGER
);
CREATE INDEX incidents_paging ON incidents (page_tier, page_deadline);
CREATE INDEX incidents_expires ON incidents (expires_at);

CREATE TABLE dispatches (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    volunteer_id INTEGER NOT NULL REFERENCES volunteers (id) ON DELETE CASCADE,
    -- paged, accepted, declined, covered, on_scene, done
    state        TEXT    NOT NULL,
    PRIMARY KEY (incident_id, volunteer_id)
);
CREATE INDEX dispatches_volunteer ON dispatches (volunteer_id);

CREATE TABLE intake_threads (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    -- the sender's caller token: continues the thread within its window only;
    -- one thread per token (an expired one not yet swept is taken up again)
    caller_token TEXT    NOT NULL,
    language     TEXT    NOT NULL,
    -- open, handled, opted_out
    state        TEXT    NOT NULL,
    created_hour INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX intake_threads_token ON intake_threads (caller_token);
CREATE INDEX intake_threads_expires ON intake_threads (expires_at);

-- Which incident or intake thread a sealed item belongs to. Notes outlive their
-- incident's row, so the link is cleared rather than cascaded.
ALTER TABLE sealed_items ADD COLUMN incident_id INTEGER REFERENCES incidents (id) ON DELETE SET NULL;
ALTER TABLE sealed_items ADD COLUMN thread_id INTEGER REFERENCES intake_threads (id) ON DELETE SET NULL;
CREATE INDEX sealed_items_incident ON sealed_items (incident_id);
CREATE INDEX sealed_items_thread ON sealed_items (thread_id);

CREATE TABLE text_attempts (
    caller_token TEXT    NOT NULL,
    at           INTEGER NOT NULL
);
CREATE INDEX text_attempts_token ON text_attempts (caller_token, at);

-- Who did what to which object, to the hour. Never content, never numbers.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at_hour     INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    object_kind TEXT    NOT NULL,
    object_id   INTEGER
);
CREATE INDEX audit_events_hour ON audit_events (at_hour);
