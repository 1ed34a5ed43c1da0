-- Release notes as served (issue 8): each format's response body,
-- rendered when the notes are computed and stored twice, gzip-compressed
-- (for clients that accept gzip) and as it is (for the others, so no one
-- waits for a decompression), so a cached read is one row fetch with
-- nothing parsed or serialised. The same table
-- exists in migrations/sqlite/0018_release_notes_renditions.sql.
-- Numbered 18 (issue 8's second migration) to stay clear of parallel work.
--
-- Rows of `release_notes` written before this migration are rendered into
-- this table on first read. `degraded`: the notes say something could not
-- be found out (a registry or repository was unavailable); such notes are
-- recomputed on read once older than the server's refresh interval.

CREATE TABLE IF NOT EXISTS release_notes_renditions (
    release_id     TEXT COLLATE "C" NOT NULL REFERENCES releases (id),
    format         TEXT COLLATE "C" NOT NULL,
    encoding       TEXT COLLATE "C" NOT NULL,
    format_version BIGINT NOT NULL,
    etag           TEXT NOT NULL,
    degraded       BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    size           BIGINT NOT NULL,
    body           BYTEA NOT NULL,
    PRIMARY KEY (release_id, format, encoding)
);

-- TOAST stores bodies out of line without trying to compress them (the
-- gzip ones cannot be, and the others are read far more than written).
ALTER TABLE release_notes_renditions ALTER COLUMN body SET STORAGE EXTERNAL;
