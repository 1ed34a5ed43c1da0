-- A million releases (issue 24): the unfinished releases of a product are
-- found without reading the product's finished ones. The per-product
-- questions the engine asks on every queue decision (how many are active,
-- which have started, is any queue stalled) filter by `product` and by
-- `ACTIVE` in src/store.rs; with only `(product, status, number)` and
-- `UNIQUE (product, number)` they read every release of the product
-- (100,000 rows for a product with 100,000 releases). This partial index
-- holds the unfinished rows only, so it stays as small as the work in
-- flight and answers those questions alone (it covers their columns).
-- Its predicate is `ACTIVE` word for word: SQLite uses a partial index
-- only for a query whose WHERE clause contains the index's condition as
-- it is written. The same statement exists in the other backend's
-- 0036_unfinished_releases.sql.

CREATE INDEX IF NOT EXISTS releases_unfinished ON releases (product, status, finished_at, id)
    WHERE (status IN ('QUEUED', 'RUNNING', 'SUSPENDED', 'TERMINATING') OR finished_at IS NULL);
