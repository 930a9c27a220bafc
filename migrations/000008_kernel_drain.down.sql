ALTER TABLE kernel.agents
    DROP COLUMN drain,
    DROP COLUMN deactivated;
