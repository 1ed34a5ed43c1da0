-- Release notes, computed once per release (issue 8). The same table
-- exists in migrations/postgres/0008_release_notes.sql. Numbered after
-- the issue so migrations added by parallel work do not collide.
-- `format_version` is the notes document's shape: another version is
-- recomputed instead of misread.

CREATE TABLE IF NOT EXISTS release_notes (
    release_id     TEXT PRIMARY KEY REFERENCES releases (id),
    format_version BIGINT NOT NULL,
    body           TEXT NOT NULL,
    created_at     BIGINT NOT NULL
);
