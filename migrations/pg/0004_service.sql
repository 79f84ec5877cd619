-- 0004: what the build service records around a run.
--
-- runs.rule is the index of the build rule (in the repository's `rules:`)
-- the run builds; one push may queue one run per matching rule.
ALTER TABLE runs ADD COLUMN rule BIGINT NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN pusher TEXT;
ALTER TABLE runs ADD COLUMN full_name TEXT;

-- The steps of a run as the builder reports them, for the API and the UI.
-- Times are milliseconds since the epoch.
CREATE TABLE run_steps (
    run_id       TEXT NOT NULL,
    idx          BIGINT NOT NULL,
    total        BIGINT NOT NULL,
    instruction  TEXT NOT NULL,
    line         BIGINT NOT NULL,
    cached       BIGINT NOT NULL DEFAULT 0,
    status       TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    started_ms   BIGINT NOT NULL,
    finished_ms  BIGINT,
    exit_code    BIGINT,
    PRIMARY KEY (run_id, idx)
);

-- Which run pushed a tag (the registry's own tags table knows nothing of
-- runs). Written in the transaction that moves the tags.
CREATE TABLE tag_runs (
    repo       TEXT NOT NULL,
    tag        TEXT NOT NULL,
    digest     TEXT NOT NULL,
    run_id     TEXT NOT NULL,
    pushed_at  BIGINT NOT NULL,
    PRIMARY KEY (repo, tag)
);
CREATE INDEX tag_runs_digest ON tag_runs(repo, digest);

-- The base images of each repository's last successful build per rule
-- ("store-repo:tag" and the digest it had), for base-image triggers.
CREATE TABLE run_bases (
    repo    TEXT NOT NULL,
    rule    BIGINT NOT NULL,
    base    TEXT NOT NULL,
    digest  TEXT NOT NULL,
    run_id  TEXT NOT NULL,
    PRIMARY KEY (repo, rule, base)
);
CREATE INDEX run_bases_base ON run_bases(base);
