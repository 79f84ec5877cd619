-- 0002: the build cache. A key is the hash of everything a step's result
-- depends on (its parent chain, the expanded instruction, the build args in
-- effect and, for COPY/ADD, the content of its sources); the value is the
-- layer the step made. Entries whose blob or layer directory has gone
-- (garbage collection) are treated as misses.
CREATE TABLE build_cache (
    cache_key   TEXT PRIMARY KEY,
    diff_id     TEXT NOT NULL,
    digest      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    media_type  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT NOT NULL
);
