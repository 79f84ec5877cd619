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
 */
#ifndef BLD_SANDBOX_H
#define BLD_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

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
    const char *hostname; /* NULL = "buildkitsandbox"-like default */
    int network_host;     /* 1: share the host network namespace */
    int64_t timeout_s;    /* 0: none */
    int output_fd;        /* stdout and stderr of the command */
    volatile int *cancel; /* set non-zero from another thread to stop */
    /* not NULL: join this network namespace (builder.network egress, see
     * builder/egress.h); the container then has no CAP_NET_RAW */
    const char *netns_path;
    /* not NULL: the text of the step's /etc/resolv.conf */
    const char *resolv_conf;
};

/* Runs the command; *exit_status receives its exit code (128+N when killed
 * by signal N). Returns an error only when the container could not be run,
 * timed out (SW_ETIMEOUT) or was canceled (SW_ECANCELED) -- a command that
 * runs and exits non-zero is not an error here. */
int bld_sandbox_run(const struct bld_sandbox_spec *spec, int *exit_status, sw_error **err);

#endif
