-- 0011: pull/merge request builds (docs/build-service.md).
--
-- runs.source_type gains 'pull_request': source_ref is then the target
-- branch (what the rule matched), commit_sha the pull request's head commit.
-- The CHECK is widened in place as 0010 widens runs.trigger (see there):
-- a pure widening, every existing row still satisfies it.
PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, 'CHECK (source_type IN (', 'CHECK (source_type IN (''pull_request'', ')
 WHERE type = 'table' AND name = 'runs' AND sql NOT LIKE '%''pull_request''%';
PRAGMA writable_schema = RESET;

-- The pull request: its number, the head branch and repository as the
-- forge named them (text of whoever opened it: shown, never trusted), and
-- whether the head repository is a fork. pr_fetch_ref is the ref of the
-- base repository the worker fetches the head commit from
-- (refs/pull/N/head, or GitLab's refs/merge-requests/N/head). These ALTERs
-- also bump the schema cookie, so other connections reload the schema.
ALTER TABLE runs ADD COLUMN pr_number INTEGER;
ALTER TABLE runs ADD COLUMN pr_head_ref TEXT;
ALTER TABLE runs ADD COLUMN pr_head_repo TEXT;
ALTER TABLE runs ADD COLUMN pr_fork INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pr_fetch_ref TEXT;
