/*
 * webhook.h - the forge-specific part of webhook deliveries (GitHub,
 * GitLab, Gitea/Forgejo): checking the signature on the raw body, and
 * reading a push out of the payload. No HTTP here: headers come through a
 * lookup callback (server/hooks.c passes the request's).
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

typedef const char *(*wrk_header_fn)(void *ctx, const char *name);

/* Checks a delivery against secret (NULL: none configured, accepted):
 *   GitHub   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
 *   GitLab   X-Gitlab-Token: <secret>
 *   Gitea    X-Gitea-Signature / X-Forgejo-Signature: <hex HMAC-SHA256>
 * in constant time. SW_EPERM with "missing ... header" or "signature does
 * not match". */
int wrk_webhook_verify(enum wrk_forge forge, const char *secret, wrk_header_fn header, void *ctx,
                       const char *body, size_t len, sw_error **err);

enum wrk_hook_kind {
    WRK_HOOK_PUSH,    /* a branch or tag was pushed */
    WRK_HOOK_PING,    /* GitHub's ping when a hook is set up */
    WRK_HOOK_DELETE,  /* a branch or tag was deleted */
    WRK_HOOK_IGNORED, /* another event */
};

struct wrk_hook_event {
    enum wrk_hook_kind kind;
    char *event;          /* the event header's value */
    char *delivery_id;    /* the forge's delivery id, or NULL */
    char *source_type;    /* "branch" or "tag" (PUSH, DELETE) */
    char *ref;            /* the branch or tag name */
    char *commit_sha;     /* the pushed commit */
    char *commit_message; /* the head commit's message, or NULL */
    char *pusher;
    char *full_name;  /* "owner/name" on the forge */
    char **repo_urls; /* the repository's URLs in the payload */
    size_t n_repo_urls;
    int skip; /* [skip ci] / [skip build] in the message */
    char *skip_reason;
};

/* Reads a delivery (after wrk_webhook_verify). SW_EINVAL for bad JSON or a
 * push without ref/after. Release with wrk_hook_event_release. */
int wrk_webhook_parse(enum wrk_forge forge, wrk_header_fn header, void *ctx, const char *body,
                      size_t len, struct wrk_hook_event *out, sw_error **err);
void wrk_hook_event_release(struct wrk_hook_event *ev);

#endif
