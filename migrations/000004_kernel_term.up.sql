-- The leading master's term: each master that takes over bumps epoch, and
-- every registry write checks, in its transaction, that the epoch is still
-- the writer's. A deposed master's late writes are refused rather than
-- overwriting its successor's.
CREATE TABLE kernel.term (
    singleton bool PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch     bigint NOT NULL
);
