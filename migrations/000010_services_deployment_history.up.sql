-- Deployments that ended (succeeded, failed, cancelled), for
-- GET /v2/deployments?history=true: spec is the deployment's plan as the
-- API shows it, with its outcome, reason and end. The services framework
-- writes a row in the transaction that deletes the deployment from
-- services.deployments, and keeps the newest rows only.
CREATE TABLE services.deployment_history (
    id          text PRIMARY KEY,
    spec        jsonb NOT NULL,
    finished_at timestamptz NOT NULL
);
CREATE INDEX deployment_history_finished_at ON services.deployment_history (finished_at DESC, id DESC);
