DROP TRIGGER runs_queued ON jobs.runs;
DROP FUNCTION jobs.notify_run();
DROP TRIGGER jobs_redefined ON jobs.jobs;
DROP TRIGGER jobs_changed ON jobs.jobs;
DROP FUNCTION jobs.notify_job();
