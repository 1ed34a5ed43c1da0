-- Notifications out (issue 20): an outbox of deliveries, and how far each
-- release's events were turned into deliveries. Times are epoch
-- milliseconds by the database's clock (as leases). The same statements
-- exist in migrations/postgres/0033_notifications.sql.

-- One row per (event, subscription): the primary key is the delivery's
-- de-duplication id (the CloudEvents `id`, the webhook's id header), so
-- an event turned into deliveries twice — a restart, two replicas — is
-- stored once. `payload` is the kind-neutral notification as JSON; the
-- subscription's URL and keys stay in the settings, never here.
CREATE TABLE IF NOT EXISTS notification_outbox (
    id               TEXT PRIMARY KEY,
    subscription     TEXT NOT NULL,
    release_id       TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    event_type       TEXT NOT NULL,
    product          TEXT NOT NULL,
    environment      TEXT,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    next_at          BIGINT NOT NULL,
    claimed_by       TEXT,
    claim_expires_at BIGINT,
    finished_at      BIGINT,
    last_error       TEXT,
    last_status      BIGINT
);

-- Due deliveries; the admin list, newest first.
CREATE INDEX IF NOT EXISTS notification_outbox_due ON notification_outbox (status, next_at);
CREATE INDEX IF NOT EXISTS notification_outbox_created ON notification_outbox (created_at, id);

-- The last event of each release already turned into deliveries, and what
-- the mapping remembers between events (the last status of the release and
-- of each environment), advanced with compare-and-set.
CREATE TABLE IF NOT EXISTS notification_progress (
    release_id TEXT PRIMARY KEY,
    last_seq   BIGINT NOT NULL,
    state      TEXT NOT NULL
);

-- Releases stored before notifications existed are not announced.
INSERT INTO notification_progress (release_id, last_seq, state)
    SELECT id, last_seq, '{}' FROM releases WHERE true
    ON CONFLICT (release_id) DO NOTHING;
