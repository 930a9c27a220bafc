-- The master's durable registry: what must survive a master failover.
CREATE SCHEMA kernel;

-- Agents the master has admitted. An agent that stops heartbeating becomes
-- unreachable (unreachable_since says when); one that is not coming back is
-- gone.
CREATE TABLE kernel.agents (
    id                text PRIMARY KEY,
    hostname          text NOT NULL,
    info              jsonb NOT NULL,
    state             text NOT NULL CHECK (state IN ('admitted', 'unreachable', 'gone')),
    registered_at     timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    unreachable_since timestamptz
);

-- Frameworks that have subscribed. A disconnected framework is kept for
-- failover_timeout_seconds after disconnected_at before it is removed.
CREATE TABLE kernel.frameworks (
    id                       text PRIMARY KEY,
    info                     jsonb NOT NULL,
    state                    text NOT NULL CHECK (state IN ('active', 'disconnected', 'removed')),
    failover_timeout_seconds double precision NOT NULL DEFAULT 0,
    disconnected_at          timestamptz,
    registered_at            timestamptz NOT NULL DEFAULT now(),
    removed_at               timestamptz
);

-- Operator-set role weights for the DRF allocator; a role absent here has
-- weight 1.
CREATE TABLE kernel.weights (
    role   text PRIMARY KEY,
    weight double precision NOT NULL CHECK (weight > 0)
);

-- The most recent leading master: a single row.
CREATE TABLE kernel.master (
    singleton  bool PRIMARY KEY DEFAULT true CHECK (singleton),
    info       jsonb NOT NULL,
    elected_at timestamptz NOT NULL
);
