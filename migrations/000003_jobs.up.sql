-- The jobs framework's durable state: job definitions, the planning cursor of
-- each job, dependency progress and run history. Exactly-once scheduling
-- rests on the unique (job, dedup_key) of runs and on inserting runs
-- idempotently; dependency progress lives here, not in memory, so that a
-- restart or a failover neither forgets nor repeats it. Specs are JSON owned
-- by the framework.
CREATE SCHEMA jobs;

-- The framework id the kernel gave us, so that a restart re-subscribes as
-- the same framework: a single row.
CREATE TABLE jobs.framework (
    singleton    bool PRIMARY KEY DEFAULT true CHECK (singleton),
    framework_id text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- The current definition of each job. last_scheduled is the planning
-- cursor: the newest scheduled occurrence already turned into a run, missed
-- or skipped record (NULL: none yet). It only moves forward.
CREATE TABLE jobs.jobs (
    name           text PRIMARY KEY,
    spec           jsonb NOT NULL,
    version        text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    last_scheduled timestamptz
);

-- Dependency edges parent -> child, and their progress: pending_run is the
-- parent's finished run (succeeded, or failed with softError) that the child
-- has not consumed yet. When every edge of a child is pending, the child's
-- dependency run is created and the edges are cleared, in one transaction.
-- Edges go with either of their jobs.
CREATE TABLE jobs.edges (
    child       text NOT NULL REFERENCES jobs.jobs (name) ON DELETE CASCADE,
    parent      text NOT NULL REFERENCES jobs.jobs (name) ON DELETE CASCADE,
    pending_run bigint,
    PRIMARY KEY (child, parent),
    CHECK (child <> parent)
);
CREATE INDEX edges_parent ON jobs.edges (parent);

-- Every run: scheduled, manual or triggered by parents. dedup_key makes
-- inserts idempotent:
--   schedule:<scheduled_for, RFC 3339 UTC>  one run per scheduled occurrence
--   dep:<parent run ids, ascending>         one run per set of parent runs
--   manual:<uuid>                           one run per request
-- No foreign key to jobs: a run outlives changes to its job's definition.
CREATE TABLE jobs.runs (
    id            bigserial PRIMARY KEY,
    job           text NOT NULL,
    trigger       text NOT NULL CHECK (trigger IN ('schedule', 'manual', 'dependency')),
    scheduled_for timestamptz,
    dedup_key     text NOT NULL,
    state         text NOT NULL CHECK (state IN ('QUEUED', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED', 'MISSED', 'KILLED')),
    attempt       int NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts  int NOT NULL DEFAULT 1 CHECK (max_attempts >= 1),
    arguments     jsonb,
    triggered_by  jsonb, -- the parent run ids, for trigger 'dependency'
    reason        text,
    exit_status   int,
    agent_id      text,
    host          text,
    task_id       text,
    sandbox       text,
    queued_at     timestamptz NOT NULL DEFAULT now(),
    not_before    timestamptz,
    started_at    timestamptz,
    finished_at   timestamptz,
    deadline      timestamptz,
    UNIQUE (job, dedup_key)
);
CREATE INDEX runs_job_id ON jobs.runs (job, id DESC);
CREATE INDEX runs_active ON jobs.runs (state) WHERE state IN ('QUEUED', 'STARTING', 'RUNNING');
CREATE INDEX runs_task_id ON jobs.runs (task_id);

-- Per-job counters, Chronos style (successCount, errorCount, lastSuccess,
-- lastError, errorsSinceLastSuccess). They go with the job.
CREATE TABLE jobs.stats (
    job                       text PRIMARY KEY REFERENCES jobs.jobs (name) ON DELETE CASCADE,
    success_count             bigint NOT NULL DEFAULT 0,
    error_count               bigint NOT NULL DEFAULT 0,
    errors_since_last_success bigint NOT NULL DEFAULT 0,
    last_success              timestamptz,
    last_error                timestamptz
);
