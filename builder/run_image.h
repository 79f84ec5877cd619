/*
 * run_image.h - runs a command inside an image of the store with the OCI
 * runtime, as `docker run --rm --network none IMAGE CMD` would: the build
 * service's autotest.
 *
 * The image's layers are the lower directories of an overlay with a
 * throwaway upper directory; the process gets the image's Env, WorkingDir
 * and User, the builder's sandbox (namespaces, default capabilities,
 * masked paths) and no network. Nothing it writes is kept.
 */
#ifndef BLD_RUN_IMAGE_H
#define BLD_RUN_IMAGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "builder/sandbox.h"
#include "core/config.h"
#include "core/error.h"
#include "registry/store.h"

struct bld_run_options {
    const char *const *argv;           /* NULL-terminated; NULL: the image's Entrypoint + Cmd */
    const char *runtime;               /* NULL: "runc" */
    int64_t timeout_s;                 /* 0: none */
    int output_fd;                     /* the command's stdout and stderr */
    const atomic_int *cancel;          /* may be NULL */
    const struct sw_config *config;    /* builder.limits, builder.userns; may be NULL */
    struct bld_output_cap *output_cap; /* may be NULL */
};

/* Runs the command in repo@reference (a tag or digest). *exit_status is the
 * command's exit code; an error is returned only when it could not run. */
int bld_image_run(reg_store *store, const char *repo, const char *reference,
                  const struct bld_run_options *opts, int *exit_status, sw_error **err);

#endif
