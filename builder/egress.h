/*
 * egress.h - what builds may reach over the network (builder.network:
 * egress), and the per-step network that enforces it for RUN.
 *
 * The policy: an address is refused when it is loopback, 0.0.0.0/8,
 * link-local, multicast or broadcast, any address of the host itself (its
 * interfaces, read when the policy is made), or in builder.egress.deny --
 * unless builder.egress.allow lists it: allow punches holes in all of these,
 * the fixed ranges and the host's addresses included (an operator's explicit
 * choice, e.g. a package mirror on the host's 127.0.0.1 for ADD).
 *
 * For RUN, each step gets a network namespace of its own, kept alive by a
 * small holder process, with an nftables filter (installed before anything
 * else runs there) that rejects the refused ranges, and slirp4netns
 * (--disable-host-loopback) as its user-mode NAT and DNS (10.0.2.3). The
 * container gets no CAP_NET_ADMIN there and cannot change the filter.
 * ADD <url> checks every address right before connecting (bld_egress_allows).
 */
#ifndef BLD_EGRESS_H
#define BLD_EGRESS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "core/cidr.h"
#include "core/config.h"
#include "core/error.h"

typedef struct bld_egress bld_egress;

/* The policy from cfg (NULL: the defaults) plus the host's own addresses. */
int bld_egress_new(const struct sw_config *cfg, bld_egress **out, sw_error **err);

void bld_egress_free(bld_egress *e);

/* 1 when a build may connect to sa, 0 when the policy refuses it. */
int bld_egress_allows(const bld_egress *e, const struct sockaddr *sa);

/* The nftables ruleset for a step's network namespace (malloc'd). */
char *bld_egress_nft_rules(const bld_egress *e);

/* The address slirp4netns answers DNS on inside a step's namespace. */
#define BLD_EGRESS_DNS "10.0.2.3"

/* A running step network: a namespace with the filter, and slirp4netns. */
struct bld_egress_net {
    pid_t holder;        /* keeps the namespace alive; 0 when none */
    pid_t slirp;         /* 0 when none */
    int holder_ctl;      /* closing it ends the holder (valid when holder) */
    int slirp_exit;      /* closing it ends slirp4netns (valid when slirp) */
    char netns_path[64]; /* /proc/PID/ns/net, for the runtime config */
};

/* Makes the namespace, installs the filter, starts slirp4netns and waits
 * until it is configured. scratch_dir receives the rules and the logs.
 * On error nothing is left running. */
int bld_egress_net_start(const bld_egress *e, const char *scratch_dir, struct bld_egress_net *net,
                         sw_error **err);

/* Stops slirp4netns and the holder (the namespace goes with them). Safe on
 * a zeroed, failed or already stopped net. */
void bld_egress_net_stop(struct bld_egress_net *net);

/* Tells slirp4netns and the holder to exit, without waiting for them:
 * bld_egress_net_stop later only reaps them. Lets a step commit its layer
 * while the network goes away. Safe where bld_egress_net_stop is. */
void bld_egress_net_release(struct bld_egress_net *net);

/* A step network made ahead of time on a helper thread (egress_spare.c),
 * from cfg's policy (borrowed; NULL: the defaults), in directories under
 * scratch_dir (which the caller makes and removes).
 * bld_egress_spare_start: starts the helper, which makes one network at
 * once; -1 when the thread cannot start (steps then make their own).
 * bld_egress_spare_take: waits for that network and moves it into *net
 * (1), or 0 when there is none (it failed to start, or none was asked
 * for): the caller then starts one itself, which reports the error. With
 * want_another, the helper makes the next one right away. A network taken
 * is the caller's to stop as any other (bld_egress_net_stop), before
 * bld_egress_spare_stop, which stops one not taken and ends the helper. */
struct bld_egress_spare;
int bld_egress_spare_start(const struct sw_config *cfg, const char *scratch_dir,
                           struct bld_egress_spare **out);
int bld_egress_spare_take(struct bld_egress_spare *s, int want_another, struct bld_egress_net *net);
void bld_egress_spare_stop(struct bld_egress_spare *s);

#endif
