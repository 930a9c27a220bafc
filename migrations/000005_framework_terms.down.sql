DROP TABLE IF EXISTS jobs.term;
DROP TABLE IF EXISTS services.term;
