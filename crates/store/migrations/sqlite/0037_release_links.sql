-- Release links (issue 20): the releases list shows, without reading
-- each release's document, the newer release that superseded one and
-- the links of an automatic rollback (the rollback releases a failed
-- release got, the failed release a rollback is for). JSON text ferry
-- writes with every save (`{"supersededBy": …, "rolledBackBy": […],
-- "rollbackFor": …}`, only the parts a release has); NULL when it has
-- none. Rows saved before this migration get it at their next save.
-- The same statement exists in migrations/postgres/0037_release_links.sql.

ALTER TABLE releases ADD COLUMN links TEXT;
