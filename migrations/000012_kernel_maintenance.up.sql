-- The maintenance schedule (UPDATE_MAINTENANCE_SCHEDULE) and the machines
-- taken DOWN (START_MAINTENANCE), as one JSON document:
-- {"windows": [{"machine_ids": [{"hostname", "ip"}], "start", "duration"}],
--  "down": [{"hostname", "ip"}]}. At most one row; none means no schedule.
CREATE TABLE kernel.maintenance (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    doc       jsonb NOT NULL
);
