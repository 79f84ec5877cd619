-- 0011 (PostgreSQL): pull/merge request builds; see
-- migrations/0011_pull_requests.sql. runs.source_type gains
-- 'pull_request': PostgreSQL alters the CHECK constraint directly (its
-- default name is runs_source_type_check).
ALTER TABLE runs DROP CONSTRAINT runs_source_type_check;
ALTER TABLE runs ADD CONSTRAINT runs_source_type_check
    CHECK (source_type IN ('pull_request', 'branch', 'tag', 'commit'));

ALTER TABLE runs ADD COLUMN pr_number BIGINT;
ALTER TABLE runs ADD COLUMN pr_head_ref TEXT;
ALTER TABLE runs ADD COLUMN pr_head_repo TEXT;
ALTER TABLE runs ADD COLUMN pr_fork BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pr_fetch_ref TEXT;
