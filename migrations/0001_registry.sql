-- 0001: the registry's metadata. Blob bytes live in blobs/sha256/xx/<hex>;
-- these tables say which repository may serve which blob, which manifests
-- exist, what they reference, and what the tags point to.

CREATE TABLE repositories (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

-- Blobs whose bytes are in the store (verified, fsynced, renamed into place).
CREATE TABLE blobs (
    digest      TEXT PRIMARY KEY,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

-- A repository may serve a blob only when linked to it (upload, mount,
-- manifest). touched_at is refreshed by uploads, mounts and HEADs so that
-- garbage collection leaves blobs a push is about to reference alone.
CREATE TABLE repo_blobs (
    repo_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest      TEXT NOT NULL REFERENCES blobs(digest),
    touched_at  INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX repo_blobs_digest ON repo_blobs(digest);

-- Manifests (image manifests, indexes, artifacts); the bytes are a blob too.
CREATE TABLE manifests (
    repo_id        INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    digest         TEXT NOT NULL,
    media_type     TEXT NOT NULL,
    size           INTEGER NOT NULL,
    artifact_type  TEXT,
    subject        TEXT,
    annotations    TEXT,
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (repo_id, digest)
);
CREATE INDEX manifests_subject ON manifests(repo_id, subject);
-- Garbage collection asks "does any repository have this manifest?".
CREATE INDEX manifests_digest ON manifests(digest);

-- What a manifest references: its config and layers (kind 'blob') or child
-- manifests of an index (kind 'manifest').
CREATE TABLE manifest_refs (
    repo_id          INTEGER NOT NULL,
    manifest_digest  TEXT NOT NULL,
    child_digest     TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('blob', 'manifest')),
    PRIMARY KEY (repo_id, manifest_digest, child_digest),
    FOREIGN KEY (repo_id, manifest_digest)
        REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX manifest_refs_child ON manifest_refs(child_digest);

CREATE TABLE tags (
    repo_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (repo_id, name),
    FOREIGN KEY (repo_id, digest) REFERENCES manifests(repo_id, digest) ON DELETE CASCADE
);
CREATE INDEX tags_digest ON tags(repo_id, digest);

-- Upload sessions; the bytes are in uploads/<uuid>.
CREATE TABLE uploads (
    uuid        TEXT PRIMARY KEY,
    repo_id     INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    started_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
