-- API tokens and the audit log (SPEC §10 Auth; issue 10). The same tables
-- exist in migrations/sqlite/0010_tokens_audit.sql: keep both in step.

-- A token is only ever stored as the SHA-256 of its value (hex): the
-- database never holds a usable secret. `products` is a JSON array (empty:
-- every product); `non_production` 1 limits a promoter to environments
-- whose kind is not PROD.
CREATE TABLE IF NOT EXISTS api_tokens (
    id             TEXT COLLATE "C" PRIMARY KEY,
    name           TEXT NOT NULL,
    hash           TEXT NOT NULL UNIQUE,
    role           TEXT NOT NULL,
    products       TEXT NOT NULL,
    non_production BIGINT NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_by     TEXT
);

-- One live token per name, so the name (the initiator of what the token
-- does) is unambiguous; a revoked name may be issued again.
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;

-- Every mutating action: who, what, on what, when, from where, and the
-- HTTP status it ended with (denials included).
CREATE TABLE IF NOT EXISTS audit_log (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    product    TEXT,
    release_id TEXT,
    remote     TEXT,
    outcome    BIGINT NOT NULL,
    detail     TEXT
);

CREATE INDEX IF NOT EXISTS audit_log_release ON audit_log (release_id, id);
