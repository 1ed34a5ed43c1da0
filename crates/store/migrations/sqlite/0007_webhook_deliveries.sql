-- Webhook deliveries already handled (issue 7): a forge re-sending a
-- delivery (same id) must change nothing, on every replica, so the ids are
-- kept here rather than in memory. Version 7 (the issue number) keeps this
-- migration apart from others written at the same time.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    forge       TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (forge, delivery_id)
);

CREATE INDEX IF NOT EXISTS webhook_deliveries_received ON webhook_deliveries (received_at);
