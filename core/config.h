/*
 * config.h - the service configuration (YAML or JSON; see docs/config.md).
 *
 * The file is read into a JSON tree (YAML through libyaml, JSON through
 * jansson), remembering the source line of every node, then the known
 * sections are checked and copied into struct sw_config. Errors name the
 * file, the line, the key and what was expected:
 *
 *   slipway.yaml:7: registry.delete: expected true or false, got "maybe"
 *
 * Unknown keys are errors too: a typo must not silently change behaviour.
 * Sections other modules own (e.g. `repos`) stay available as JSON through
 * sw_config_section() with the same error reporting via sw_config_error().
 */
#ifndef SW_CONFIG_H
#define SW_CONFIG_H

#include <jansson.h>
#include <stdint.h>

#include "core/error.h"

struct sw_access_rule {
    char *repo_pattern; /* glob such as team/<star> or <star> */
    char **users;       /* NULL-terminated; "*" means any authenticated user,
                           "anonymous" everyone, logged in or not */
    int can_pull;
    int can_push;
};

struct sw_mirror {
    char *host;       /* registry host, e.g. docker.io */
    char **endpoints; /* NULL-terminated URLs, tried in order */
};

struct sw_registry_credential {
    char *host; /* registry host[:port] as written in image references */
    char *username;
    char *password; /* resolved from a literal or env:NAME; never logged */
};

enum sw_access_log { SW_ACCESS_LOG_ON = 0, SW_ACCESS_LOG_OFF, SW_ACCESS_LOG_ERRORS };

struct sw_config {
    char *path; /* the file it was loaded from */

    /* server */
    char *listen_host; /* "127.0.0.1" */
    int listen_port;   /* 8080 */
    char *public_url;  /* "http://localhost:8080" */
    char *data_dir;    /* absolute */
    char *tls_cert;    /* NULL when TLS is off */
    char *tls_key;
    int max_connections;        /* server.max_connections, default 4096 */
    int max_connections_per_ip; /* server.max_connections_per_ip, default 64 */
    int64_t header_timeout_s;   /* server.header_timeout: to receive request headers, 10 */
    int64_t idle_timeout_s;     /* server.idle_timeout: keep-alive and body idle time, 60 */
    int server_threads;         /* server.threads: the HTTP thread pool, 0 = automatic */
    int access_log;             /* server.access_log: SW_ACCESS_LOG_* (default on) */

    /* registry */
    int delete_enabled;
    char **local_hosts; /* NULL-terminated */
    char *htpasswd;     /* NULL = no auth */
    int anonymous_pull;
    char *auth_realm;
    struct sw_access_rule *rules;
    size_t n_rules;
    struct sw_mirror *mirrors;
    size_t n_mirrors;
    char **insecure_hosts; /* registries spoken to over plain HTTP; NULL-terminated */
    struct sw_registry_credential *credentials; /* for pulling base images */
    size_t n_credentials;
    int gc_delete_untagged;    /* registry.gc.untagged_manifests: delete|keep */
    int max_page_size;         /* registry.pagination_max, default 10000 */
    int64_t max_manifest_size; /* registry.max_manifest_size, default 4MiB */
    int auth_challenge_basic;  /* registry.auth.challenge: basic (default bearer) */
    int64_t token_ttl_s;       /* registry.auth.token_ttl of issued tokens; 0: 300 s */

    /* builder */
    char *runtime;     /* "runc" */
    char *network;     /* "egress" | "none" | "host" */
    char *compression; /* "gzip" | "zstd" */
    int64_t step_timeout_s;
    /* builder: what RUN steps and ADD <url> may reach (builder/egress.h) */
    char **egress_deny;   /* builder.egress.deny: CIDRs; default RFC 1918,
                             100.64/10, fc00::/7; NULL-terminated */
    char **egress_allow;  /* builder.egress.allow: CIDRs punching holes */
    char **builder_allow; /* builder.allow: "network.host", "security.insecure" */
    int64_t add_max_size; /* builder.add_max_size, default 2GiB */

    /* builder.cache_mounts.max_size: per repository, default 2GiB; 0: no bound */
    int64_t cache_mounts_max_size;

    /* builder.limits: per RUN container; 0 = unlimited */
    int64_t limit_memory; /* bytes, swap off; default 4GiB */
    int64_t limit_pids;   /* default 4096 */
    double limit_cpus;    /* CPUs, e.g. 1.5; default 0 = all */
    int64_t limit_disk;   /* bytes of a step's writable layer; default 20GiB */
    /* builder.userns: root in a RUN container is host id userns_uid */
    int userns_enabled; /* default 1 */
    int64_t userns_uid, userns_gid, userns_size;

    int workers;

    /* storage */
    int64_t storage_reserve; /* storage.reserve: refuse blob writes below this
                                much free space (bytes; default 256MiB) */

    /* storage: the blob backend (registry/backend.h, docs/storage.md) */
    char *storage_driver;      /* storage.driver: "filesystem" (default) or "s3" */
    char *storage_endpoint;    /* storage.endpoint (s3): http(s)://host[:port] */
    char *storage_region;      /* storage.region (s3), default us-east-1 */
    char *storage_bucket;      /* storage.bucket (s3) */
    char *storage_prefix;      /* storage.prefix (s3): key prefix, default "" */
    char *storage_access_key;  /* storage.access_key (s3), resolved env:NAME */
    char *storage_secret_key;  /* storage.secret_key (s3), resolved; never logged */
    int storage_path_style;    /* storage.path_style (s3), default true */
    int storage_redirect;      /* storage.redirect (s3): blob GETs answer 307 to a
                                  presigned URL; default false */
    int64_t storage_part_size; /* storage.part_size: multipart part size, 8MiB */
    int storage_direct_io;     /* storage.direct_io (filesystem), default true: large
                                  blob writes bypass the page cache (O_DIRECT) */

    json_t *root; /* the whole document, for sections others own */
    void *lines;  /* private: node -> source line */

    /* database: a postgres:// URL (docs/config.md); NULL = the SQLite
     * file slipway.db in data_dir */
    char *database;
    /* database_sync: full (1): SQLite syncs the WAL at every commit;
     * normal (0, the default): within about a second (docs/config.md) */
    int database_sync_full;
};

/* Loads and validates a config file. *out is owned by the caller (free with
 * sw_config_free). Relative paths in the file are resolved against the
 * current working directory, and made absolute. */
int sw_config_load(const char *path, struct sw_config **out, sw_error **err);

/* The built-in defaults, for commands run without --config. */
int sw_config_defaults(struct sw_config **out, sw_error **err);

void sw_config_free(struct sw_config *cfg);

/* A top-level section as JSON (borrowed), or NULL when absent. */
json_t *sw_config_section(const struct sw_config *cfg, const char *key);

/* Source line of a node of cfg->root (0 when unknown). */
int sw_config_line(const struct sw_config *cfg, const json_t *node);

/* Formats a config error "FILE:LINE: KEY: MESSAGE" for `node`; returns
 * SW_EINVAL. For modules that validate their own sections. */
int sw_config_error(const struct sw_config *cfg, const json_t *node, const char *key,
                    sw_error **err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Parses "30s", "10m", "2h", "90d", "1h30m", "45" (seconds); -1 on error. */
int64_t sw_parse_duration(const char *s);

/* Parses "4MiB", "512KiB", "1GB", "100" (bytes); -1 on error. */
int64_t sw_parse_size(const char *s);

/* A database URL as `database:` accepts it: postgres://, and a password, if
 * any, only as env:NAME (a literal one would sit in a file many may read,
 * or on a command line). SW_EINVAL saying what is wrong. */
int sw_config_check_database_url(const char *url, sw_error **err);

/* Resolves a secret given as a literal or as "env:NAME". The result is
 * malloc'd; SW_ENOTFOUND when the variable is unset. Never log the value. */
int sw_config_secret(const char *spec, char **out, sw_error **err);

#endif
