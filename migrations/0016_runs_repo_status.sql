-- 0016: the runs list filtered by repository and status (the API's
-- /api/v1/runs?repo=&status=, the web UI's filter; wrk_jobs_list) asks
-- for repo = ? AND status = ? ORDER BY id DESC LIMIT ?. With runs_repo
-- (repo, id) or runs_queue (status, id) alone, SQLite walks one of them
-- and checks the other column row by row: every run of the repository
-- (or every run with that status, in all repositories) newer than the
-- last one that matches. This index answers it directly, newest first,
-- however many repositories and runs there are. The same SQL on
-- PostgreSQL.
CREATE INDEX runs_repo_status ON runs(repo, status, id);
