/*
 * git.h - the Git side of the build service, with libgit2: one bare
 * mirror per source repository under <data_dir>/git/, fetched
 * incrementally, and the exact pushed commit written out as a plain
 * directory tree for the build (with submodules when configured).
 *
 * Several workers (threads or processes) share a mirror: fetches hold an
 * exclusive flock on "<mirror>.lock", checkouts a shared one.
 *
 * Credentials (a token, the user:password of the URL, an SSH key) are
 * offered only to the origin they were configured for (scheme, host and
 * port of wrk_git_auth.origin): not after an HTTP redirect to another
 * origin (every connection libgit2 opens is seen by our socket stream), not
 * to submodules on other origins, and not over plain http:// unless the
 * repository is marked insecure.
 *
 * Trees come from other people's repositories: entry names are checked
 * ("..", "/", ".git" refused), files are created with O_EXCL|O_NOFOLLOW
 * relative to directory descriptors we created, so a crafted tree cannot
 * write outside the destination. Filters (.gitattributes, LFS) are not
 * applied: the build sees the committed bytes.
 */
#ifndef WRK_GIT_H
#define WRK_GIT_H

#include <stdint.h>

#include "core/error.h"

struct wrk_git_auth {
    const char *token;       /* https: sent as x-access-token:<token>; never logged */
    const char *ssh_key;     /* ssh: private key file */
    const char *known_hosts; /* ssh: host keys (worker/known_hosts.h); NULL: OpenSSH's files */
    const char *origin;      /* the URL the credentials belong to; NULL: the fetched URL */
    int insecure;            /* credentials may go over plain http:// */
};

/* 1 when two Git URLs have the same origin: scheme (user@host:path is
 * ssh), host (case-insensitive) and port (the scheme's default filled in);
 * 0 otherwise, and for local paths and file:// URLs. */
int wrk_git_same_origin(const char *a, const char *b);

/* wrk_git_checkout's submodules flags. */
enum {
    WRK_GIT_SUBMODULES = 1,       /* check submodules out (https, ssh, git URLs) */
    WRK_GIT_SUBMODULES_LOCAL = 2, /* ... file:// URLs and local paths too */
};

struct wrk_commit_info {
    char sha[41];
    char *message; /* full message */
    char *summary; /* first line */
    char *author;  /* "Name <email>" */
    int64_t time;  /* committer time, seconds (SOURCE_DATE_EPOCH) */
};

void wrk_commit_info_release(struct wrk_commit_info *ci);

/* <data_dir>/git/<16 hex of sha256(url)>.git, malloc'd. */
int wrk_git_mirror_path(const char *data_dir, const char *url, char **out, sw_error **err);

/* 1 when ref is the head ref a forge keeps in the base repository for a
 * pull request: refs/pull/N/head (GitHub, Gitea) or
 * refs/merge-requests/N/head (GitLab), N a decimal number; 0 otherwise. */
int wrk_git_is_pull_ref(const char *ref);

/* Makes the mirror hold what a run needs and resolves it to a commit:
 * want_sha (full or abbreviated) when given, else the branch ("branch"),
 * tag ("tag", annotated tags peeled) or commit ("commit") named by ref.
 * Fetches only when want_sha is not in the mirror yet (or when there is no
 * want_sha). SW_ENOTFOUND for an unknown ref or commit, SW_EPERM when the
 * remote refused the credentials.
 *
 * source_type "pull_request": ref is a pull request's head ref
 * (wrk_git_is_pull_ref; SW_EINVAL otherwise), always fetched from url (the
 * base repository) into the mirror under the same name, and sha_out is
 * the commit it points at. SW_ECONFLICT when want_sha is given and the ref
 * points at another commit (the pull request got a newer push). */
int wrk_git_fetch(const char *mirror, const char *url, const struct wrk_git_auth *auth,
                  const char *source_type, const char *ref, const char *want_sha, char sha_out[41],
                  sw_error **err);

/* The same, always in this process (what the helper runs). */
int wrk_git_fetch_here(const char *mirror, const char *url, const struct wrk_git_auth *auth,
                       const char *source_type, const char *ref, const char *want_sha,
                       char sha_out[41], sw_error **err);

/* Makes wrk_git_fetch run in a child process, `exe __git-fetch ...` (the
 * slipway binary), so what libgit2 1.5 leaks per fetch dies with the
 * child. NULL: fetch in this process (the default). */
void wrk_git_use_helper(const char *exe);

/* The `__git-fetch` subcommand: prints the commit id, or the error message
 * with a non-zero exit status. */
int wrk_git_fetch_helper_main(int argc, char **argv);

/* Writes the tree of commit sha into dest (created; must not exist or be
 * empty) and describes the commit. With WRK_GIT_SUBMODULES in submodules,
 * each submodule's recorded commit is fetched into its own mirror under
 * data_dir and written at its path, recursively (relative submodule URLs
 * resolve against url, the repository's). Only https://, ssh:// (and
 * user@host:path) and git:// submodule URLs are fetched, http:// when
 * auth->insecure, file:// and local paths with WRK_GIT_SUBMODULES_LOCAL;
 * any other is SW_EPERM naming the submodule and its URL. Submodules on
 * another origin than auth's get no credentials. */
int wrk_git_checkout(const char *mirror, const char *url, const char *sha, const char *dest,
                     int submodules, const char *data_dir, const struct wrk_git_auth *auth,
                     struct wrk_commit_info *info, sw_error **err);

#endif
