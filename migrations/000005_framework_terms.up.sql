-- The leading services and jobs instances' terms, as kernel.term is the
-- masters': an instance that takes over bumps its component's epoch, and
-- every write a deposed leader must not make checks, in its transaction,
-- that the epoch is still its writer's (corral/internal/lead.Fence). A
-- deposed leader's late writes are refused rather than landing after its
-- successor's.
CREATE TABLE services.term (
    singleton bool PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch     bigint NOT NULL
);

CREATE TABLE jobs.term (
    singleton bool PRIMARY KEY DEFAULT true CHECK (singleton),
    epoch     bigint NOT NULL
);
