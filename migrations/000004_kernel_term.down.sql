DROP TABLE IF EXISTS kernel.term;
