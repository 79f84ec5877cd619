-- 0013: run logs in the database, so that every front end can stream the
-- log of a run built by a worker on another machine (issue 15). Used when
-- the database is PostgreSQL: a worker copies its local log file
-- (<data_dir>/logs/<run>.log, still written as before) here in chunks of at
-- most 64 KiB as the run goes, and announces each batch on the
-- notification channel sw_logs. pos is the byte offset of data in the
-- run's log; a run's chunks are contiguous. On SQLite (one machine) the
-- table stays empty and readers read the file.
CREATE TABLE run_logs (
    run_id TEXT NOT NULL,
    pos    INTEGER NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (run_id, pos)
);
