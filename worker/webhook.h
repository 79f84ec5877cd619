/*
 * webhook.h - the forge-specific part of webhook deliveries (GitHub,
 * GitLab, Gitea/Forgejo): finding the JSON in the body (JSON, or GitHub's
 * and Gitea's form-encoded `payload=`), checking the signature on the raw
 * body, and reading what happened out of the payload. No HTTP here:
 * headers come through a lookup callback (server/hooks.c passes the
 * request's).
 */
#ifndef WRK_WEBHOOK_H
#define WRK_WEBHOOK_H

#include <stddef.h>

#include "core/error.h"

/* GitHub's own limit for a payload. */
#define WRK_WEBHOOK_MAX_BODY (25 * 1024 * 1024)

enum wrk_forge { WRK_FORGE_GITHUB, WRK_FORGE_GITLAB, WRK_FORGE_GITEA };

/* "github", "gitlab", "gitea" or "forgejo"; -1 otherwise. */
int wrk_forge_from_name(const char *name, enum wrk_forge *out);

/* "GitHub", "GitLab" or "Gitea". */
const char *wrk_forge_title(enum wrk_forge forge);

typedef const char *(*wrk_header_fn)(void *ctx, const char *name);

/* The JSON document of a delivery. With a Content-Type of
 * application/x-www-form-urlencoded (GitHub's default for a new hook,
 * Gitea's "POST Content Type: application/x-www-form-urlencoded"), or with
 * none and a body starting "payload=", it is the url-decoded `payload`
 * field, malloc'd into *decoded; otherwise the body itself (*decoded NULL).
 * *json and *json_len point at it. SW_EINVAL, with what to change on the
 * forge, for a form without `payload`. */
int wrk_webhook_payload(const char *content_type, const char *body, size_t len, char **decoded,
                        const char **json, size_t *json_len, sw_error **err);

/* Checks a delivery against secret (NULL: none configured, accepted):
 *   GitHub   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>
 *   GitLab   X-Gitlab-Token: <secret>
 *   Gitea    X-Gitea-Signature / X-Forgejo-Signature: <hex HMAC-SHA256>
 *            of the raw body, or of the JSON (json, json_len: Gitea signs
 *            the JSON even when it sends a form)
 * in constant time. SW_EPERM with "missing <header> header" or "<header>
 * does not match"; never the received value. */
int wrk_webhook_verify_delivery(enum wrk_forge forge, const char *secret, wrk_header_fn header,
                                void *ctx, const char *body, size_t len, const char *json,
                                size_t json_len, sw_error **err);

/* The same for a body that is its own JSON. */
int wrk_webhook_verify(enum wrk_forge forge, const char *secret, wrk_header_fn header, void *ctx,
                       const char *body, size_t len, sw_error **err);

/* A sentence saying how the forge authenticates a delivery, for the hint
 * of a 401 ("GitHub signs ... in X-Hub-Signature-256 ..."). Static. */
const char *wrk_webhook_signature_help(enum wrk_forge forge);

enum wrk_hook_kind {
    WRK_HOOK_PUSH,         /* a branch or tag was pushed */
    WRK_HOOK_PING,         /* a hook was set up (GitHub's ping: repository, organization, App) */
    WRK_HOOK_DELETE,       /* a branch or tag was deleted */
    WRK_HOOK_IGNORED,      /* another event, or a push that names no commit */
    WRK_HOOK_PULL_REQUEST, /* a pull/merge request was opened or reopened, or got new commits */
};

struct wrk_hook_event {
    enum wrk_hook_kind kind;
    char *event;          /* the event header's value */
    char *delivery_id;    /* the forge's delivery id, or NULL */
    char *source_type;    /* "branch" or "tag" (PUSH, DELETE) */
    char *ref;            /* the branch or tag name */
    char *commit_sha;     /* what was pushed: a commit, or (GitHub, Gitea) an
                             annotated tag object the worker peels */
    char *tag_object;     /* GitLab: the annotated tag's object id, when the
                             payload tells it apart from the commit; or NULL */
    char *commit_message; /* the head commit's message, or NULL */
    char *pusher;
    char *full_name;  /* "owner/name" on the forge */
    char **repo_urls; /* the repository's URLs in the payload (any event) */
    size_t n_repo_urls;
    int is_instance_wide; /* a GitLab system hook: about the whole instance */
    char *reason;         /* PING, DELETE, IGNORED: why nothing is built */
    int skip; /* [skip ci] / [skip build] in the message, GitLab's ci.skip push option */
    char *skip_reason;
    /* PULL_REQUEST: source_type "pull_request", ref the target branch,
     * commit_sha the head commit, pusher who sent the event. The head
     * branch and repository are text of whoever opened the pull request:
     * control characters are replaced with '?' and the length bounded. */
    long long pr_number; /* GitHub/Gitea number, GitLab iid */
    char *pr_action;     /* the forge's action: opened, synchronize, update ... */
    char *pr_head_ref;   /* the head branch */
    char *pr_head_repo;  /* the head repository's owner/name, or NULL (a deleted fork) */
    int pr_fork;         /* the head repository is not the base repository */
    char *pr_fetch_ref;  /* the base repository's ref of the head: refs/pull/N/head
                            (GitHub, Gitea) or refs/merge-requests/N/head (GitLab) */
};

/* Reads a delivery's JSON (wrk_webhook_payload's, after
 * wrk_webhook_verify). SW_EINVAL for bad JSON (with what to change on the
 * forge), a push without ref/after, or a pull request event that builds
 * and lacks its number, head commit or target branch. Pull request events
 * that build: GitHub pull_request opened|synchronize|reopened, GitLab
 * Merge Request Hook open|reopen|update (update only with `oldrev`: new
 * commits), Gitea pull_request (or pull_request_sync)
 * opened|synchronized|reopened; other actions are IGNORED with the action
 * in the reason. Release with wrk_hook_event_release. */
int wrk_webhook_parse(enum wrk_forge forge, wrk_header_fn header, void *ctx, const char *json,
                      size_t len, struct wrk_hook_event *out, sw_error **err);
void wrk_hook_event_release(struct wrk_hook_event *ev);

#endif
