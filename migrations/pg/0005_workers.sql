-- 0005: the worker processes and threads that are alive, for the
-- dashboard's "running workers" (slipway serve's threads and every
-- `slipway worker` process register here and refresh last_seen).
CREATE TABLE workers (
    name       TEXT PRIMARY KEY,   -- lease owner prefix, e.g. "serve-812", "worker-930"
    pid        BIGINT NOT NULL,
    threads    BIGINT NOT NULL,
    started_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
