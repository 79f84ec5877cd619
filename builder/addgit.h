/*
 * addgit.h - ADD of a Git URL, as Docker documents it:
 *
 *   ADD https://example.com/owner/repo.git#v1.2:docs /src/
 *   ADD --keep-git-dir https://example.com/owner/repo.git /src/
 *
 * The fragment is REF[:SUBDIR] (REF a branch, a tag or a commit id; empty:
 * the default branch). The layer holds the checkout's files, with the
 * commit's time as every mtime, and no .git unless --keep-git-dir. The
 * fetch (core/gitfetch.c) is smart HTTP over libcurl, so the build's egress
 * policy checks each address right before it is connected to, exactly as
 * for ADD <url>. git@host:repo, ssh:// and git:// sources are refused: no
 * transport of ours can enforce the policy on them yet.
 */
#ifndef BLD_ADDGIT_H
#define BLD_ADDGIT_H

#include "core/config.h"
#include "core/error.h"

/* 1 when an ADD source is a Git URL: http(s)://... whose path ends in
 * ".git" (before any '#'), or one of the ssh/git forms. */
int bld_addgit_is_git(const char *source);

/* Fetches source into dir/name (name a fresh entry). network_host: no
 * address check (the operator chose builder.network: host). *commit
 * receives the resolved commit id: the cache key of the source. */
int bld_addgit_fetch(const struct sw_config *cfg, int network_host, const char *source,
                     int keep_git_dir, const char *dir, const char *name, char commit[41],
                     sw_error **err);

/* The name prefix of Git checkouts in ADD's download directory; they are
 * keyed by their commit, not their content (a kept .git differs from one
 * checkout to the next). */
#define BLD_ADDGIT_PREFIX ".slipway-git-"

/* A bld_exclude_fn leaving the checkouts out of the downloads' digest. */
int bld_addgit_excluded(void *ctx, const char *rel_path, int is_dir);

#endif
