-- The jobs leader learns what other processes change from notifications
-- instead of re-reading the jobs table: at commit, channel jobs_changed
-- carries "job:<name>" for a job created, changed (its definition, not its
-- planning cursor) or deleted, and "run:<id>" for a manual or dependency
-- run queued; "jobs" (a name too long for a payload) means re-read them
-- all. A listener that was disconnected re-reads everything.
CREATE FUNCTION jobs.notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    name text := CASE WHEN TG_OP = 'DELETE' THEN OLD.name ELSE NEW.name END;
BEGIN
    IF octet_length(name) > 7000 THEN
        PERFORM pg_notify('jobs_changed', 'jobs');
    ELSE
        PERFORM pg_notify('jobs_changed', 'job:' || name);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_changed AFTER INSERT OR DELETE ON jobs.jobs
    FOR EACH ROW EXECUTE FUNCTION jobs.notify_job();

CREATE TRIGGER jobs_redefined AFTER UPDATE OF spec, version ON jobs.jobs
    FOR EACH ROW WHEN (OLD.spec IS DISTINCT FROM NEW.spec OR OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION jobs.notify_job();

CREATE FUNCTION jobs.notify_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('jobs_changed', 'run:' || NEW.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER runs_queued AFTER INSERT ON jobs.runs
    FOR EACH ROW WHEN (NEW.state = 'QUEUED' AND NEW.trigger <> 'schedule')
    EXECUTE FUNCTION jobs.notify_run();
