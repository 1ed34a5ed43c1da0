-- Web UI sessions (issue 6). The same table exists for SQLite and
-- PostgreSQL: keep both files in step.
--
-- `id_hash` is the SHA-256 (hex) of the session cookie's value: the
-- database never holds a usable cookie. `token_hash` is the SHA-256 of the
-- API token the person signed in with, so a session can be ended when that
-- token is revoked. Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS ui_sessions (
    id_hash    TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX IF NOT EXISTS ui_sessions_expiry ON ui_sessions (expires_at);
