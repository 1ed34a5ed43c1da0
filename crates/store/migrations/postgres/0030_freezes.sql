-- Stop-the-line freezes (issue 20). The same table exists for SQLite and
-- PostgreSQL: keep both files in step.
--
-- A freeze holds every release of the products and environments it names
-- (JSON arrays of names; empty: all) before its next write, from
-- `created_at` until it is lifted (`lifted_at` set). Rows are never
-- deleted: they are the freezes' history. Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS freezes (
    id           TEXT PRIMARY KEY,
    products     TEXT NOT NULL,
    environments TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    lifted_by    TEXT,
    lifted_at    BIGINT
);

CREATE INDEX IF NOT EXISTS freezes_active ON freezes (lifted_at);
