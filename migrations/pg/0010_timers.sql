-- 0010 (PostgreSQL): timer triggers (worker/timers.h). runs.trigger gains
-- the value 'timer': PostgreSQL alters the CHECK constraint directly (its
-- default name is runs_trigger_check).
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('timer', 'push', 'manual', 'base-image'));

-- The last slot each timer fired for (or, before its first firing, when a
-- worker first saw it); see migrations/0010_timers.sql.
CREATE TABLE timer_fires (
    repo       TEXT NOT NULL,
    timer      TEXT NOT NULL,
    last_fire  BIGINT NOT NULL,    -- seconds since the epoch
    run_id     TEXT,               -- the run of that slot; NULL for a first sighting
    PRIMARY KEY (repo, timer)
);
