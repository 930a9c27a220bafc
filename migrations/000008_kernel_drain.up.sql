-- Operators deactivate and drain agents (DEACTIVATE_AGENT, DRAIN_AGENT):
-- a deactivated agent gets no offers; drain is its drain state and config
-- as JSON ({"state": "DRAINING"|"DRAINED", "max_grace_period": ns,
-- "mark_gone": bool}), NULL when it is not drained. Both survive master
-- failover.
ALTER TABLE kernel.agents
    ADD COLUMN deactivated bool NOT NULL DEFAULT false,
    ADD COLUMN drain jsonb;
