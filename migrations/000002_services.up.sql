-- The services framework's durable state: what a restarted or failed-over
-- services scheduler needs to resume without duplicates or orphans. Specs are
-- JSON owned by the framework; the database only keys and orders them.
CREATE SCHEMA services;

-- The framework id the kernel gave us, so that a restart re-subscribes as
-- the same framework: a single row.
CREATE TABLE services.framework (
    singleton    bool PRIMARY KEY DEFAULT true CHECK (singleton),
    framework_id text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The current definition of each app; id is a Marathon path (/prod/web).
CREATE TABLE services.apps (
    id         text PRIMARY KEY,
    version    text NOT NULL,
    spec       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Every version of every app still defined (GET /v2/apps/{id}/versions).
-- The rows of an app go with it.
CREATE TABLE services.app_versions (
    app_id     text NOT NULL,
    version    text NOT NULL,
    spec       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (app_id, version)
);

-- Groups stored explicitly: those with dependencies, and empty ones. A group
-- implied by an app's path needs no row.
CREATE TABLE services.groups (
    id      text PRIMARY KEY,
    spec    jsonb NOT NULL,
    version text NOT NULL
);

-- Deployments in progress, with their plan and progress. A finished
-- deployment's row is deleted.
CREATE TABLE services.deployments (
    id         text PRIMARY KEY,
    spec       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per task the framework launched and has not yet forgotten: its
-- version, agent, host, ports, state and health.
CREATE TABLE services.instances (
    task_id    text PRIMARY KEY,
    app_id     text NOT NULL,
    spec       jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_app_id ON services.instances (app_id);

-- Launch backoff per app: consecutive failures and when the last one was.
CREATE TABLE services.launch_delays (
    app_id       text PRIMARY KEY,
    failures     int NOT NULL CHECK (failures >= 0),
    last_failure timestamptz NOT NULL
);
