-- 0006: the outbox of messages a run sends to the outside world: notify
-- webhooks (Docker Hub's payload) and commit statuses. A run only queues
-- them; a courier thread of each worker process delivers them with retries
-- and backoff, so a slow or dead receiver never holds a build, and a
-- restart loses nothing. Secrets (status tokens) are not stored here: the
-- courier takes them from the config when it sends.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,
    run_id           TEXT NOT NULL,
    repo             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('notify', 'status')),
    url              TEXT NOT NULL,
    body             TEXT NOT NULL,            -- the JSON to POST
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_at          INTEGER NOT NULL,         -- not tried before this time
    lease_owner      TEXT,                     -- the courier sending it now
    lease_expires_at INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    finished_at      INTEGER
);
-- what is due, and a run's deliveries for the API
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE INDEX deliveries_run ON deliveries (run_id, id);
