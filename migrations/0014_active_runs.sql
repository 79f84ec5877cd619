-- 0014: indexes that hold only the runs still in play, so the queue's
-- queries cost the same with 100 or 100,000 runs of history.
--
-- The claim (worker/jobs.c) asks for (status = 'queued' AND
-- cancel_requested = 0) OR (status = 'running' AND lease_expires_at < ?)
-- ORDER BY id LIMIT 1, under the write lock. Once PRAGMA optimize had
-- written statistics, runs_queue(status, id) looked as if one status held
-- half the table (there are only a few statuses; nearly every row is
-- succeeded or superseded), so SQLite chose to SCAN runs in id order and
-- walked the whole history whenever the oldest claimable run was recent
-- or there was none: 2-24 ms at 9,000 runs on a loaded machine, every poll
-- of every worker, holding every webhook delivery behind it. Each side of
-- the OR now has a partial index holding only its own runs; the planner
-- sees them tiny with or without statistics and takes MULTI-INDEX OR.
CREATE INDEX runs_claimable ON runs(cancel_requested, id) WHERE status = 'queued';
CREATE INDEX runs_leased ON runs(lease_expires_at) WHERE status = 'running';
-- the queued and running counts (wrk_jobs_counts; the dashboard, the
-- status API): a covering scan of the active runs instead of SCAN runs
CREATE INDEX runs_active ON runs(repo, status) WHERE status IN ('queued', 'running');
