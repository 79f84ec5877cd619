-- 0007: access tokens of users (`slipway token create`). Only the SHA-256
-- of a token's secret is stored; the secret is shown once, at creation. A
-- token's scopes (repository:NAME_GLOB:pull,push, space-separated) narrow
-- what its user may do, never widen it.
CREATE TABLE tokens (
    id           INTEGER PRIMARY KEY,
    user         TEXT NOT NULL,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,            -- hex SHA-256 of the secret part
    scopes       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,                  -- NULL: never
    last_used_at INTEGER,
    UNIQUE (user, name)
);
