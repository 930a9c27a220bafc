-- Webhook notifications of ended runs: one row per run and URL told (a
-- job's webhooks, or the framework's --notify_webhook), inserted in the
-- transaction that ends the run, so that a crash or a failover never loses
-- one. Only the leading jobs instance delivers: it claims due rows by
-- pushing next_attempt_at ahead by a lease, POSTs, and records the outcome
-- through its fenced view; a row that is delivered or abandoned is never
-- sent again. id is the delivery id receivers see (X-Corral-Delivery) and
-- can dedupe on, should a crash between a POST and its record repeat one.
-- event is the run's final state. Rows go with their run, which is not
-- pruned while one of them is still to be delivered.
CREATE TABLE jobs.notifications (
    id              uuid PRIMARY KEY,
    run_id          bigint NOT NULL REFERENCES jobs.runs (id) ON DELETE CASCADE,
    url             text NOT NULL CHECK (url <> ''),
    is_default      boolean NOT NULL DEFAULT false,
    event           text NOT NULL CHECK (event IN ('FAILED', 'SUCCEEDED', 'MISSED', 'SKIPPED')),
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failing', 'abandoned')),
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_status     int,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    UNIQUE (run_id, url)
);
CREATE INDEX notifications_due ON jobs.notifications (next_attempt_at) WHERE state IN ('pending', 'failing');
