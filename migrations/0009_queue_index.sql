-- 0009: the supersede UPDATE of every branch push looks for queued runs of
-- one repository, branch and rule. runs_repo(repo, id) made it walk the
-- repository's whole history (1-3 ms at 12,000 runs, growing); this
-- partial index holds only queued runs, so it stays tiny and the lookup
-- flat. Partial indexes are understood by SQLite and PostgreSQL alike.
CREATE INDEX runs_queued_ref ON runs(repo, source_ref, rule) WHERE status = 'queued';
