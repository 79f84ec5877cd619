/*
 * gitfetch.h - one commit of a Git repository over smart HTTP, checked out
 * into a directory: what ADD <git URL> needs (builder/addgit.c).
 *
 * The transport is our own, over libcurl, so that the caller's address
 * check runs right before every connection (the first request, each
 * redirect): builds may only reach what their egress policy allows, and a
 * name that resolves to a refused address is never connected to. libgit2
 * (its own transports have no hook on the address they connect to) only
 * indexes the pack and checks the commit out, with no network. Protocol:
 * version 0/1 upload-pack, one "want", no side band, no shallow.
 */
#ifndef SW_GITFETCH_H
#define SW_GITFETCH_H

#include <stdint.h>
#include <sys/socket.h>

#include "core/error.h"

/* 1: the connection to sa may be made; 0: refused. */
typedef int (*sw_git_addr_check)(void *ctx, const struct sockaddr *sa);

struct sw_git_fetch {
    const char *url;         /* http:// or https://, without the #fragment */
    const char *ref;         /* branch, tag, full ref or commit id; NULL/"": HEAD */
    const char *subdir;      /* NULL/"": the whole tree */
    int keep_git_dir;        /* keep dest/.git (whole-tree checkouts only) */
    const char *dest;        /* an empty or missing directory */
    int64_t max_size;        /* bytes of the pack; 0: no limit */
    sw_git_addr_check allow; /* NULL: every address */
    void *allow_ctx;
};

/* Resolves ref, fetches its commit, checks it out into dest and sets the
 * mtime of everything checked out to the commit's time (a deterministic
 * layer). commit receives the commit id. A refused address fails with
 * SW_EPERM naming the address; an unknown ref with SW_ENOTFOUND. */
int sw_git_fetch_checkout(const struct sw_git_fetch *f, char commit[41], sw_error **err);

/* Finds ref among an upload-pack advertisement (pkt-lines, after the
 * service header): exact, refs/heads/REF, refs/tags/REF (peeled), or HEAD
 * for an empty ref; a 40-hex ref is taken as it is. For tests. */
int sw_git_find_ref(const char *adv, size_t len, const char *ref, char sha[41], char *caps,
                    size_t caps_size);

#endif
