-- 0003: build runs (the job queue). A run is queued by a webhook delivery,
-- a manual trigger or a base-image update; a worker claims it with a lease
-- it renews; a run whose lease expired (its worker died) is claimed again
-- until max attempts. id is the per-registry counter behind the short run
-- id ("ca7").
CREATE TABLE runs (
    id                INTEGER PRIMARY KEY,
    run_id            TEXT NOT NULL UNIQUE,
    repo              TEXT NOT NULL,
    trigger           TEXT NOT NULL CHECK (trigger IN ('push', 'manual', 'base-image')),
    source_type       TEXT NOT NULL CHECK (source_type IN ('branch', 'tag', 'commit')),
    source_ref        TEXT NOT NULL,
    commit_sha        TEXT,
    commit_message    TEXT,
    delivery_id       TEXT UNIQUE,
    status            TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded',
                                                      'failed', 'canceled', 'superseded')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    cancel_requested  INTEGER NOT NULL DEFAULT 0,
    queued_at         INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER,
    digest            TEXT,
    tags              TEXT,
    error             TEXT
);
CREATE INDEX runs_queue ON runs(status, id);
CREATE INDEX runs_repo ON runs(repo, id);
