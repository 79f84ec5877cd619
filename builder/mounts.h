/*
 * mounts.h - RUN --mount specs (BuildKit's syntax), the per-repository
 * cache mount directories, and masking of secret values in step output.
 *
 *   --mount=type=cache,target=/root/.cache,id=go,sharing=locked
 *   --mount=type=bind,from=build,source=/out,target=/in[,rw]
 *   --mount=type=tmpfs,target=/tmp,size=64m
 *   --mount=type=secret,id=npmrc[,target=/run/secrets/npmrc|env=NPMRC]
 *   --mount=type=ssh[,id=default,target=/run/buildkit/ssh_agent.0,required]
 *   --mount=type=cache,target=/c,from=build,source=/seed
 *
 * The spec is a comma separated list of key=value (or bare "ro", "rw",
 * "readonly", "readwrite", "required"); type defaults to bind. Unknown keys
 * and bad values are errors.
 *
 * Cache mounts live in <data_dir>/cache-mounts/<sha256(scope)>/<sha256(id)>/
 * (files "lock", "id" and the directory "data"; the scope directory has a
 * file "scope"). A step holds the lock file with flock while it uses the
 * cache (shared: LOCK_SH, locked and private: LOCK_EX); releasing it sets
 * the lock file's mtime, the cache's last use. bld_cache_mounts_gc keeps
 * each scope under a size bound by removing the least recently used caches
 * nobody holds.
 */
#ifndef BLD_MOUNTS_H
#define BLD_MOUNTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

enum bld_mount_type {
    BLD_MOUNT_BIND,
    BLD_MOUNT_CACHE,
    BLD_MOUNT_TMPFS,
    BLD_MOUNT_SECRET,
    BLD_MOUNT_SSH
};
enum bld_mount_sharing { BLD_SHARING_SHARED, BLD_SHARING_PRIVATE, BLD_SHARING_LOCKED };

struct bld_mount {
    enum bld_mount_type type;
    char *target; /* absolute after bld_mount_parse with a cwd; NULL: secret env only */
    char *source; /* bind/cache: path in `from` (or the context); NULL: its root */
    char *from;   /* bind/cache: stage or image; NULL: the context (bind) */
    char *id;     /* cache (default: target), secret (default: base name of target),
                     ssh (default: "default") */
    char *env;    /* secret: also (or only) as this environment variable */
    int readonly; /* bind: default 1; cache: default 0 */
    enum bld_mount_sharing sharing;
    int has_mode, has_uid, has_gid;
    mode_t mode;
    uid_t uid;
    gid_t gid;
    int required; /* secret, ssh */
    int64_t size; /* tmpfs: bytes, 0: the default */
};

/* Parses one --mount value. cwd (absolute, NULL = "/") resolves a relative
 * target, as BuildKit does. Errors quote the spec. */
int bld_mount_parse(const char *text, const char *cwd, struct bld_mount *out, sw_error **err);

void bld_mount_free(struct bld_mount *m);

/* Checks the mounts of one RUN together: a cache id mounted with
 * sharing=locked may not be mounted a second time in the same step (the
 * step would wait for its own lock). */
int bld_mounts_check(const struct bld_mount *m, size_t n, sw_error **err);

/* The canonical text of a mount for the cache key (never a secret's value). */
char *bld_mount_key(const struct bld_mount *m);

/* The directory of a cache mount: <data_dir>/cache-mounts/<sha256(scope)>/
 * <sha256(id)>/data, created with mode/owner (host ids: the container's
 * plus id_offset) when new. `locked` sharing waits for the lock; `private`
 * takes a fresh directory when another step holds it. *lock_fd (-1: none)
 * and *tmp_dir (NULL: none, else removed by the caller after the step) are
 * returned. */
int bld_cache_mount_dir(const char *data_dir, const char *scope, const struct bld_mount *m,
                        uint32_t uid_offset, uint32_t gid_offset, char **dir_out, int *lock_fd,
                        char **tmp_dir, sw_error **err);

/* Ends a step's use of a cache mount: records the last use (the lock
 * file's mtime) and closes lock_fd (from bld_cache_mount_dir; -1: nothing). */
void bld_cache_mount_release(int lock_fd);

/* Fills an empty cache directory from src_root/source (a cache mount's
 * from= and source=, as BuildKit seeds a new cache), owned by uid:gid (host
 * ids). A cache that already holds files is left alone. */
int bld_cache_mount_seed(const char *dir, const char *src_root, const char *source, uid_t uid,
                         gid_t gid, sw_error **err);

/* One cache mount directory, as bld_cache_mounts_gc sees it. */
struct bld_cache_mount_info {
    char *scope;      /* the build's cache scope ("team/app as anonymous"; "" shared) */
    char *id;         /* the mount's id */
    int64_t size;     /* bytes of its files */
    int64_t last_use; /* seconds since the epoch */
    long last_use_ns; /* and nanoseconds, for the order */
    int in_use;       /* a step holds it: never evicted */
    int evict;        /* chosen for eviction (and, after gc, removed) */
};

/* The LRU choice: marks .evict on the least recently used caches that are
 * not in use until the total size of the others is at most max_size
 * (0: no bound). Returns the number marked. */
size_t bld_cache_mounts_plan(struct bld_cache_mount_info *caches, size_t n, int64_t max_size);

/* Keeps the cache mounts of one scope (NULL: of every scope, each on its
 * own) at most max_size bytes, evicting whole caches, least recently used
 * first, never one a step holds. With dry_run nothing is removed. When
 * out is given, every cache seen is returned (free with
 * bld_cache_mount_infos_free). */
int bld_cache_mounts_gc(const char *data_dir, const char *scope, int64_t max_size, int dry_run,
                        struct bld_cache_mount_info **out, size_t *n_out, sw_error **err);

void bld_cache_mount_infos_free(struct bld_cache_mount_info *caches, size_t n);

/* The bound when the config sets none: 2GiB per scope. */
#define BLD_CACHE_MOUNTS_MAX_SIZE (2LL << 30)

/* Output masking: a pipe whose reader thread copies lines to out_fd with
 * every occurrence of the values replaced by "***". */
typedef struct bld_masker bld_masker;

/* values: NUL-terminated strings (empty ones are ignored); copied. */
int bld_masker_start(int out_fd, const char *const *values, size_t n, bld_masker **out,
                     sw_error **err);

/* The write end to give the command. */
int bld_masker_fd(const bld_masker *m);

/* Closes the write end, waits for the reader to drain, frees. */
void bld_masker_stop(bld_masker *m);

/* Replaces the values in text (in a new malloc'd string). */
char *bld_mask_text(const char *text, size_t len, const char *const *values, size_t n);

/* Build secrets from the command line, as docker buildx writes them:
 * "id=ID,src=FILE" (or source=), "id=ID,env=NAME", "id=ID" (the variable
 * ID); type=file|env may be given. *id and *value are malloc'd. */
int bld_secret_from_cli(const char *spec, char **id, char **value, sw_error **err);

/* A secret from the service config: "env:NAME" or "file:PATH". */
int bld_secret_from_ref(const char *ref, char **value, sw_error **err);

#endif
