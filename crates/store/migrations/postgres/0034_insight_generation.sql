-- Delivery insights (issue 21): a counter of the recorded facts, bumped
-- in every transaction that records insight facts (environment runs,
-- first-seen environments, commit arrivals). A reader keeps the figures
-- it computed while the counter stays the same: the facts they come from
-- have not changed. Recording transactions take this one row first, so
-- they are serialised across replicas (and never deadlock on the facts'
-- rows), and a counter read before the facts is never newer than them.
-- The same statements exist in migrations/sqlite/0034_insight_generation.sql.

CREATE TABLE IF NOT EXISTS insight_generation (
    id         BIGINT PRIMARY KEY,
    generation BIGINT NOT NULL
);

INSERT INTO insight_generation (id, generation) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
