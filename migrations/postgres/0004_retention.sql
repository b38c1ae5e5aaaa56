-- Retention: what calls leave behind once their rows are swept: per day,
-- language and outcome, a count. Nothing else about a call outlives its lifetime.
CREATE TABLE daily_counts (
    day      BIGINT NOT NULL,
    language TEXT    NOT NULL,
    outcome  TEXT    NOT NULL,
    calls    BIGINT NOT NULL,
    PRIMARY KEY (day, language, outcome)
);
CREATE INDEX calls_ended ON calls (state, ended_at);
CREATE INDEX caller_blocks_expires ON caller_blocks (expires_at);
CREATE INDEX api_tokens_expires ON api_tokens (expires_at);
