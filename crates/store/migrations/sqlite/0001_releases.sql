-- Releases and their history (SPEC §4). The same tables exist in
-- migrations/postgres/0001_releases.sql: keep both files in step.
-- Times are Unix epoch milliseconds (BIGINT) so both backends bind and
-- compare them the same way; the document keeps the exact RFC 3339 value.

CREATE TABLE IF NOT EXISTS releases (
    id               TEXT PRIMARY KEY,
    product          TEXT NOT NULL,
    number           BIGINT NOT NULL,
    status           TEXT NOT NULL,
    flow             TEXT NOT NULL,
    initiator        TEXT NOT NULL,
    version          TEXT,
    created_at       BIGINT NOT NULL,
    finished_at      BIGINT,
    updated_at       BIGINT NOT NULL,
    last_seq         BIGINT NOT NULL DEFAULT 0,
    environments     TEXT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    UNIQUE (product, number)
);

CREATE INDEX IF NOT EXISTS releases_status ON releases (status, id);
CREATE INDEX IF NOT EXISTS releases_product_status ON releases (product, status, number);
CREATE INDEX IF NOT EXISTS releases_active ON releases (finished_at, id);

-- The whole release (the ferry-release record as JSON), apart from the
-- columns above: list queries then read small, densely packed rows instead
-- of skipping over ~10 kB documents.
CREATE TABLE IF NOT EXISTS release_documents (
    release_id TEXT PRIMARY KEY REFERENCES releases (id),
    document   TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS release_events (
    release_id TEXT NOT NULL REFERENCES releases (id),
    seq        BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    document   TEXT NOT NULL,
    PRIMARY KEY (release_id, seq)
);

CREATE TABLE IF NOT EXISTS release_numbers (
    product     TEXT PRIMARY KEY,
    last_number BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS triggers (
    key        TEXT PRIMARY KEY,
    release_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS cursors (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
