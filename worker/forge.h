/*
 * forge.h - what the build service tells the outside world: notify
 * webhooks after a push (Docker Hub's payload shape) and commit statuses
 * on GitHub (or GitHub Enterprise, Gitea, which speak the same API).
 */
#ifndef WRK_FORGE_H
#define WRK_FORGE_H

#include <jansson.h>

#include "core/error.h"

/* POSTs body as application/json to url, with an Authorization header
 * when auth is not NULL. Tries `attempts` times, waiting 1 s, 2 s, 4 s ...
 * between tries; a 2xx answer is success. Times out after 10 s per try.
 * `log_fd` (may be -1) gets one line per failed try, without the header.
 * *stop (may be NULL) cuts the waiting short. */
int wrk_http_post_json(const char *url, const json_t *body, const char *auth, int attempts,
                       int log_fd, volatile int *stop, sw_error **err);

/* Docker Hub's push webhook payload plus our run id, digest and tags.
 * host is the registry host[:port]; public_url the service's base URL. */
json_t *wrk_notify_payload(const char *host, const char *public_url, const char *repo,
                           const char *pusher, const char *run_id, const char *digest,
                           const json_t *tags, long long pushed_at);

/* "owner/name" of a forge repository from its git URL's last two path
 * segments (".git" dropped), malloc'd; NULL when the URL has fewer. */
char *wrk_forge_full_name(const char *git_url);

/* POSTs a commit status to {api}/repos/{full_name}/statuses/{sha}.
 * state: "pending", "success", "failure" or "error". */
int wrk_commit_status(const char *api, const char *token, const char *full_name,
                      const char *sha, const char *state, const char *context,
                      const char *target_url, const char *description, int log_fd,
                      sw_error **err);

#endif
