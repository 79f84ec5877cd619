-- 0010: timer triggers (worker/timers.h).
--
-- runs.trigger gains the value 'timer'. SQLite cannot ALTER a CHECK
-- constraint; rebuilding runs would have to name every column, including
-- those later migrations add, so the constraint is widened in place, the
-- way SQLite's ALTER TABLE page describes for loosening a CHECK: rewrite
-- the table's text in sqlite_master under writable_schema (a pure
-- widening: every existing row still satisfies it), then RESET reloads
-- this connection's schema. The CREATE TABLE below bumps the schema
-- cookie, so other connections reload theirs too. 'timer' goes first in
-- the list so this holds whatever values the list has grown by.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, 'CHECK (trigger IN (', 'CHECK (trigger IN (''timer'', ')
 WHERE type = 'table' AND name = 'runs' AND sql NOT LIKE '%''timer''%';
PRAGMA writable_schema = RESET;

-- The last slot each timer fired for (or, before its first firing, when a
-- worker first saw it). A timer is named by its schedule, branch and
-- offset, so editing one starts it afresh. The firing itself is claimed by
-- the run's delivery id (UNIQUE in runs), in the transaction that queues it.
CREATE TABLE timer_fires (
    repo       TEXT NOT NULL,
    timer      TEXT NOT NULL,
    last_fire  INTEGER NOT NULL,   -- seconds since the epoch
    run_id     TEXT,               -- the run of that slot; NULL for a first sighting
    PRIMARY KEY (repo, timer)
);
