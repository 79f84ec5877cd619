/*
 * ssh_agent.h - RUN --mount=type=ssh: an SSH agent socket for one step.
 *
 * The step never sees a key file. For a source made of key files, a private
 * ssh-agent (OpenSSH's, from openssh-client) is started outside the
 * container with its socket in a directory only root reads, and ssh-add
 * loads the keys into it; for a source that names an agent socket (the
 * user's $SSH_AUTH_SOCK), that agent is used as it is. Either way the
 * container gets its own socket, owned by the mount's uid:gid (mapped to
 * host ids) with the mount's mode, and a proxy thread forwards every
 * connection to the real agent. The proxy is what lets a step in a user
 * namespace talk to an agent that accepts only its own uid (OpenSSH's
 * agent checks the peer's uid), and it is torn down with the step: the
 * agent, the proxy and both sockets end when bld_ssh_agent_stop returns.
 */
#ifndef BLD_SSH_AGENT_H
#define BLD_SSH_AGENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/error.h"

struct bld_mount;

/* What `--ssh ID=PATH[,PATH]` forwards: key files, or one agent socket. */
struct bld_ssh_source {
    const char *id;
    const char *const *paths;
    size_t n_paths;
};

/* docker buildx's --ssh syntax: "default" (or "ID") forwards
 * $SSH_AUTH_SOCK; "ID=PATH[,PATH...]" forwards PATH, an agent socket or
 * private key files. *out holds malloc'd strings (bld_ssh_source_free). */
int bld_ssh_from_cli(const char *spec, struct bld_ssh_source *out, sw_error **err);

void bld_ssh_source_free(struct bld_ssh_source *s);

/* The source for id among n (NULL: not forwarded). */
const struct bld_ssh_source *bld_ssh_find(const struct bld_ssh_source *sources, size_t n,
                                          const char *id);

typedef struct bld_ssh_agent bld_ssh_agent;

/* Starts the agent for mount m (type=ssh); dir is a fresh scratch
 * directory the caller removes after bld_ssh_agent_stop. The sockets live
 * in a private /tmp/slipway-ssh-XXXXXX (0700; a socket path must fit in
 * 108 bytes), removed by bld_ssh_agent_stop. The step's socket is owned by
 * m's uid:gid (default 0:0) plus the user namespace offsets, with m's mode
 * (default 0600); *socket_path receives it (malloc'd). Errors name the key
 * file, never its content. */
int bld_ssh_agent_start(const struct bld_ssh_source *src, const struct bld_mount *m,
                        const char *dir, uint32_t uid_offset, uint32_t gid_offset,
                        bld_ssh_agent **out, char **socket_path, sw_error **err);

/* Stops the proxy and the private agent (killed and reaped); NULL is a
 * no-op. */
void bld_ssh_agent_stop(bld_ssh_agent *a);

#endif
