/*
 * sandbox.h - running one build step in a container through an OCI runtime.
 *
 * The step's root filesystem is an overlay of the layer directories below
 * it (read-only) and a fresh upper directory; after the command exits, the
 * upper directory *is* the step's diff. The container gets its own mount,
 * PID, IPC and UTS namespaces (and network namespace unless network is
 * "host"), Docker's default capability set, noNewPrivileges, masked and
 * read-only /proc paths, read-only /sys, a minimal /dev. It sees nothing of
 * the host filesystem besides its layers and the /etc/hosts and
 * /etc/resolv.conf given to it.
 *
 * Each container lives in a cgroup of its own (/slipway/<id> under every
 * controller) with memory, pids and CPU limits, a watcher that kills it
 * when its upper directory grows past the disk limit, and (by default) a
 * user namespace: root inside is an unprivileged id range on the host. Its
 * bundle directory /run/slipway/<id> records the owning process, so a
 * sweep can remove what a killed worker left (bld_sandbox_sweep).
 */
#ifndef BLD_SANDBOX_H
#define BLD_SANDBOX_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/config.h"
#include "core/error.h"

/* Resource limits of one container (its own cgroup); 0 = unlimited. */
struct bld_sandbox_limits {
    int64_t memory; /* bytes; swap is not allowed beyond it */
    int64_t pids;   /* processes and threads */
    double cpus;    /* CPU time per wall second, e.g. 1.5 */
    int64_t disk;   /* bytes in the upper directory, and the largest file */
};

/* The user namespace: root in the container is host id uid (gid), ids
 * 0..size-1 map to uid..uid+size-1. size 0: no user namespace. */
struct bld_sandbox_userns {
    uint32_t uid, gid, size;
};

/* A cap on the size of the log that container output goes to (shared by
 * the steps of a run). Once output_fd (a regular file: its size; anything
 * else: the bytes written through this cap) would pass max_size, one line
 * saying so is written and the rest of the output is dropped; the command
 * goes on. */
struct bld_output_cap {
    int64_t max_size; /* bytes; 0: no cap */
    const char *key;  /* the config key named in the note */
    int64_t written;  /* container output written so far (atomic) */
    int noted;        /* the note was written (atomic) */
};

/* The limits and user namespace that the config asks for (defaults when
 * cfg is NULL). */
void bld_sandbox_policy(const struct sw_config *cfg, struct bld_sandbox_limits *limits,
                        struct bld_sandbox_userns *userns);

/* One extra mount of the container (OCI config.json "mounts" entry). */
struct bld_sandbox_mount {
    const char *destination;    /* absolute, in the container */
    const char *type;           /* "bind", "tmpfs" */
    const char *source;         /* a host path for bind, "tmpfs" */
    const char *const *options; /* NULL-terminated */
};

struct bld_sandbox_spec {
    const char *runtime;           /* "runc", or a path */
    const char *const *lower_dirs; /* layer directories, bottom first */
    size_t n_lower;
    const char *upper_dir;   /* empty directory; receives the diff */
    const char *scratch_dir; /* empty directory on the same filesystem
                                as upper_dir: bundle, overlay work dir */
    const char *const *argv; /* NULL-terminated command */
    const char *const *env;  /* NULL-terminated "K=V" list */
    const char *cwd;         /* absolute; NULL = "/" */
    uid_t uid;
    gid_t gid;
    const gid_t *extra_gids;
    size_t n_extra_gids;
    const char *hostname;     /* NULL = "buildkitsandbox"-like default */
    int network_host;         /* 1: share the host network namespace */
    int64_t timeout_s;        /* 0: none */
    int output_fd;            /* stdout and stderr of the command */
    const atomic_int *cancel; /* set non-zero from another thread to stop */
    /* not NULL: join this network namespace (builder.network egress, see
     * builder/egress.h); the container then has no CAP_NET_RAW */
    const char *netns_path;
    /* not NULL: the text of the step's /etc/resolv.conf */
    const char *resolv_conf;
    const struct bld_sandbox_limits *limits; /* NULL: none */
    const struct bld_sandbox_userns *userns; /* NULL: run as host root */
    struct bld_output_cap *output_cap;       /* NULL: none */
    /* RUN --mount: more mounts, after the standard ones. Mount points the
     * runtime creates for them are removed from the diff afterwards. */
    const struct bld_sandbox_mount *extra_mounts;
    size_t n_extra_mounts;
};

/* Runs the command; *exit_status receives its exit code (128+N when killed
 * by signal N). Returns an error only when the container could not be run,
 * timed out (SW_ETIMEOUT), was canceled (SW_ECANCELED) or hit one of its
 * limits (SW_ETOOBIG, "the step was killed: memory limit 4GiB reached
 * (builder.limits.memory)") -- a command that runs and exits non-zero is
 * not an error here. */
int bld_sandbox_run(const struct bld_sandbox_spec *spec, int *exit_status, sw_error **err);

/* Kills and removes what containers of dead owners left behind: every
 * process in the container's cgroup, the runtime's record of it (runc
 * kill, runc delete --force), its root filesystem mount, its cgroup and
 * its bundle directory. Containers of live owners (and of other programs)
 * are left alone. Call before removing scratch directories: a container
 * may still be running on one. *killed counts the containers removed. */
int bld_sandbox_sweep(const char *runtime, int *killed, sw_error **err);

/* The cheap half of bld_sandbox_sweep, for a process that is about to
 * build (`slipway build`): only containers whose bundle directory under
 * /run/slipway names a dead owner, without asking the runtime for its
 * list (a `runc list` is a process and a read of every container's state:
 * it was most of a no-change rebuild's time). */
int bld_sandbox_sweep_bundles(const char *runtime, int *killed, sw_error **err);

#endif
