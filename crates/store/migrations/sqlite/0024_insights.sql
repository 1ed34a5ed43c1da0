-- Delivery insights (issue 21): the facts the DORA measures and "where
-- time goes" are computed from. Written by the server's insights keeper as
-- releases finish environments, and for releases stored before this
-- migration by its backfill (ferry_insights::runs_of reads them off the
-- stored release documents). Times are epoch milliseconds.
-- The same statements exist in migrations/postgres/0024_insights.sql.

-- One release's run through one environment, once it ended there
-- (ferry_insights::EnvRun). `failed_at` is kept when a retry later
-- succeeds: the deployment failed once.
CREATE TABLE IF NOT EXISTS insight_runs (
    release_id      TEXT NOT NULL,
    environment     TEXT NOT NULL,
    product         TEXT NOT NULL,
    number          BIGINT NOT NULL,
    trigger_env     BIGINT NOT NULL,
    rollback        BIGINT NOT NULL,
    hotfix          BIGINT NOT NULL,
    status          TEXT NOT NULL,
    termination     TEXT,
    deployment      BIGINT NOT NULL,
    started_at      BIGINT,
    changed_at      BIGINT,
    running_at      BIGINT,
    finished_at     BIGINT NOT NULL,
    failed_at       BIGINT,
    queue_ms        BIGINT,
    window_ms       BIGINT,
    pre_action_ms   BIGINT,
    commit_ms       BIGINT,
    pull_request_ms BIGINT,
    sync_ms         BIGINT,
    post_action_ms  BIGINT,
    hooks_ms        BIGINT,
    PRIMARY KEY (release_id, environment)
);

-- A period's runs, of one product or of all.
CREATE INDEX IF NOT EXISTS insight_runs_product ON insight_runs (product, finished_at);
CREATE INDEX IF NOT EXISTS insight_runs_finished ON insight_runs (finished_at);
-- The next deployment into an environment, the previous successful one.
CREATE INDEX IF NOT EXISTS insight_runs_deployments
    ON insight_runs (product, environment, deployment, finished_at);

-- When a commit first ran in an environment: the earliest arrival is kept
-- whatever order deployments are recorded in.
CREATE TABLE IF NOT EXISTS insight_arrivals (
    product      TEXT NOT NULL,
    environment  TEXT NOT NULL,
    sha          TEXT NOT NULL,
    committed_at BIGINT NOT NULL,
    arrived_at   BIGINT NOT NULL,
    release_id   TEXT NOT NULL,
    PRIMARY KEY (product, environment, sha)
);

CREATE INDEX IF NOT EXISTS insight_arrivals_product ON insight_arrivals (product, arrived_at);
CREATE INDEX IF NOT EXISTS insight_arrivals_arrived ON insight_arrivals (arrived_at);

-- When each environment of a product first ran a release.
CREATE TABLE IF NOT EXISTS insight_environments (
    product     TEXT NOT NULL,
    environment TEXT NOT NULL,
    first_at    BIGINT NOT NULL,
    PRIMARY KEY (product, environment)
);

-- Which releases' facts are recorded, from which state of the release
-- (its finished_at then; NULL while it ran), in which format, and whether
-- the commits its deployments brought are recorded too.
CREATE TABLE IF NOT EXISTS insight_releases (
    release_id  TEXT PRIMARY KEY,
    product     TEXT NOT NULL,
    finished_at BIGINT,
    version     BIGINT NOT NULL,
    arrivals    BIGINT NOT NULL
);
