/*
 * sandbox_internal.h - what the files of the sandbox share (sandbox.c,
 * sandbox_config.c, sandbox_cgroup.c); not for use outside builder/. The
 * public API is sandbox.h.
 */
#ifndef BLD_SANDBOX_INTERNAL_H
#define BLD_SANDBOX_INTERNAL_H

#include <jansson.h>

#include "builder/sandbox.h"

/* Bundles (and the root filesystem mounts in them) of running containers:
 * a place every user can traverse, so a runtime in a user namespace can
 * reach them. */
#define SANDBOX_RUN_DIR "/run/slipway"
#define CGROUP_PARENT "slipway"
#define CGROUP_ROOT "/sys/fs/cgroup"
#define OWNER_ANNOTATION "org.slipway.owner"

/* sandbox.c */
void bld_sandbox_destroy_container(const char *runtime, const char *id, const char *bundle);

/* sandbox_config.c */
json_t *bld_sandbox_build_config(const struct bld_sandbox_spec *spec, const char *hosts_path,
                                 const char *resolv_path);
void bld_sandbox_add_policy(json_t *config, const struct bld_sandbox_spec *spec, const char *id,
                            const char *owner);

/* sandbox_cgroup.c */
void bld_sandbox_owner_record(char *buf, size_t size);
int bld_sandbox_cgroup_v2(void);
long long bld_sandbox_cgroup_counter(const char *controller, const char *id, const char *file,
                                     const char *key);
void bld_sandbox_cgroup_kill_all(const char *id);
void bld_sandbox_cgroup_remove(const char *id);

#endif
