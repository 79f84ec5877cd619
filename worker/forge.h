/*
 * forge.h - what the build service tells the outside world: notify
 * webhooks after a push (Docker Hub's payload shape) and commit statuses
 * on GitHub (or GitHub Enterprise, Gitea, which speak the same API).
 */
#ifndef WRK_FORGE_H
#define WRK_FORGE_H

#include <stdatomic.h>
#include <jansson.h>

#include "core/error.h"

/* One POST of body (JSON text) to url, with an Authorization header when
 * auth is not NULL; 10 s at most. A 2xx answer is success; *status gets
 * the HTTP status (0 when there was no answer). *stop (may be NULL) aborts
 * the transfer with SW_ECANCELED. The error never holds auth. */
int wrk_forge_post(const char *url, const char *body, const char *auth, const atomic_int *stop,
                   long *status, sw_error **err);

/* Whether a POST that got `status` is worth trying again: no answer, a
 * timeout (408), rate limiting (429) or a server error. */
int wrk_forge_retryable(long status);

/* Docker Hub's push webhook payload plus our run id, digest and tags.
 * host is the registry host[:port]; public_url the service's base URL. */
json_t *wrk_notify_payload(const char *host, const char *public_url, const char *repo,
                           const char *pusher, const char *run_id, const char *digest,
                           const json_t *tags, long long pushed_at);

/* "owner/name" of a forge repository from its git URL's last two path
 * segments (".git" dropped), malloc'd; NULL when the URL has fewer. */
char *wrk_forge_full_name(const char *git_url);

/* The URL and body of a commit status for {api}/repos/{full_name}/statuses/{sha}
 * (GitHub's API; GitHub Enterprise and Gitea speak it too). state:
 * "pending", "success", "failure" or "error". */
int wrk_commit_status_request(const char *api, const char *full_name, const char *sha,
                              const char *state, const char *context, const char *target_url,
                              const char *description, char **url, json_t **body, sw_error **err);

#endif
