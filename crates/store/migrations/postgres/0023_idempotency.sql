-- Idempotent requests (issue 23, SPEC §12): the first answer to a mutating
-- request carrying an `Idempotency-Key`, by who asked and what (scope)
-- and the key, so that the same request sent again — after a lost
-- connection or a crash — gets that answer instead of acting twice. A
-- promotion's row is written in the transaction that creates its release.
-- Rows older than a day are not answered from and are replaced.
-- The same statements exist in migrations/sqlite/0023_idempotency.sql.

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    release_id  TEXT NOT NULL,
    status      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_age ON idempotency_keys (created_at);
