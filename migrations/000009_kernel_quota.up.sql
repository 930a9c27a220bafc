-- Operator-set quota per role (UPDATE_QUOTA): guarantees and limits as
-- JSON objects of scalar resource name to amount. A role absent here has
-- no quota.
CREATE TABLE kernel.quotas (
    role       text PRIMARY KEY,
    guarantees jsonb NOT NULL DEFAULT '{}',
    limits     jsonb NOT NULL DEFAULT '{}'
);
