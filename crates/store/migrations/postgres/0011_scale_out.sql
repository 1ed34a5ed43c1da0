-- Scale-out (issue 11). Webhook deliveries seen, by forge and delivery id,
-- so that a delivery retried by the forge or sent to two replicas creates
-- one release; and an index that lets the lease scan find releases whose
-- holder stopped renewing without reading every active row.
-- The same statements exist in migrations/sqlite/0011_scale_out.sql.

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    forge       TEXT COLLATE "C" NOT NULL,
    delivery_id TEXT COLLATE "C" NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (forge, delivery_id)
);

CREATE INDEX IF NOT EXISTS releases_lease ON releases (finished_at, lease_expires_at);
