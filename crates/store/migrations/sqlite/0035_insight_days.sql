-- Delivery insights (issue 21): day (and week) aggregates, so a report over any
-- period reads one small row per product, environment and UTC day it
-- touches instead of every fact (100,000 releases: a few thousand rows
-- for a year, not 1.3 million). `facts` packs what
-- ferry_insights::aggregate keeps of the day: its deployments classified
-- (release, succeeded, why failed, recovery time), lead times and phase
-- durations, each with its instant, so a period starting or ending within
-- a day filters that day's entries and every figure stays exact. Rows are
-- rebuilt from insight_runs / insight_arrivals in the transaction that
-- records facts (those transactions are serialised by insight_generation).
-- The same statements exist in migrations/postgres/0035_insight_days.sql.

CREATE TABLE IF NOT EXISTS insight_days (
    product     TEXT NOT NULL,
    environment TEXT NOT NULL,
    day         BIGINT NOT NULL,
    facts       BLOB NOT NULL,
    PRIMARY KEY (product, environment, day)
);

-- A period's days, of every product or of one.
CREATE INDEX IF NOT EXISTS insight_days_day ON insight_days (day);
CREATE INDEX IF NOT EXISTS insight_days_product ON insight_days (product, day);

-- The same per week (Monday 00:00 UTC; its days' entries together): a
-- period reads its whole weeks here and only the days around them in
-- insight_days, so a year is ~53 rows per environment, not 365.
CREATE TABLE IF NOT EXISTS insight_weeks (
    product     TEXT NOT NULL,
    environment TEXT NOT NULL,
    week        BIGINT NOT NULL,
    facts       BLOB NOT NULL,
    PRIMARY KEY (product, environment, week)
);

CREATE INDEX IF NOT EXISTS insight_weeks_week ON insight_weeks (week);
CREATE INDEX IF NOT EXISTS insight_weeks_product ON insight_weeks (product, week);

-- One environment's facts over a few days: what a rebuild reads.
CREATE INDEX IF NOT EXISTS insight_runs_pair ON insight_runs (product, environment, finished_at);
CREATE INDEX IF NOT EXISTS insight_arrivals_pair
    ON insight_arrivals (product, environment, arrived_at);

-- Days whose aggregates are still to be built from the facts: the store
-- builds them (and deletes the row) before it reads any aggregate. Filled
-- here with every day of the facts recorded before this migration.
CREATE TABLE IF NOT EXISTS insight_stale (
    product     TEXT NOT NULL,
    environment TEXT NOT NULL,
    from_day    BIGINT NOT NULL,
    to_day      BIGINT NOT NULL,
    PRIMARY KEY (product, environment)
);

INSERT INTO insight_stale (product, environment, from_day, to_day)
SELECT product, environment, MIN(day), MAX(day) FROM (
    SELECT product, environment, finished_at - (finished_at % 86400000) AS day FROM insight_runs
    UNION ALL
    SELECT product, environment, arrived_at - (arrived_at % 86400000) AS day FROM insight_arrivals
) facts
WHERE true
GROUP BY product, environment;
