/*
 * webhook.c - webhook signatures and payloads (see webhook.h).
 */
#include "worker/webhook.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"

int wrk_forge_from_name(const char *name, enum wrk_forge *out)
{
    if (name == NULL)
        return -1;
    if (strcmp(name, "github") == 0)
        *out = WRK_FORGE_GITHUB;
    else if (strcmp(name, "gitlab") == 0)
        *out = WRK_FORGE_GITLAB;
    else if (strcmp(name, "gitea") == 0 || strcmp(name, "forgejo") == 0)
        *out = WRK_FORGE_GITEA;
    else
        return -1;
    return 0;
}

/* Constant-time comparison of a received hex signature with the expected
 * one (hex case does not matter). */
static int hex_equal(const char *got, const char *want)
{
    char lower[SW_SHA256_HEX_LEN + 1];
    size_t n = strlen(got);
    if (n != SW_SHA256_HEX_LEN)
        return 0;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)tolower((unsigned char)got[i]);
    lower[n] = '\0';
    return sw_ct_equal(lower, n, want, SW_SHA256_HEX_LEN);
}

int wrk_webhook_verify(enum wrk_forge forge, const char *secret, wrk_header_fn header, void *ctx,
                       const char *body, size_t len, sw_error **err)
{
    if (secret == NULL)
        return 0;
    char want[SW_SHA256_HEX_LEN + 1];
    if (forge == WRK_FORGE_GITLAB) {
        const char *token = header(ctx, "X-Gitlab-Token");
        if (token == NULL)
            return sw_error_set(err, SW_EPERM, "missing X-Gitlab-Token header");
        /* compare digests, so neither content nor length leaks */
        char a[SW_DIGEST_MAX], b[SW_DIGEST_MAX];
        sw_sha256_digest(token, strlen(token), a);
        sw_sha256_digest(secret, strlen(secret), b);
        if (!sw_ct_equal(a, strlen(a), b, strlen(b)))
            return sw_error_set(err, SW_EPERM, "X-Gitlab-Token does not match");
        return 0;
    }
    sw_hmac_sha256_hex(secret, strlen(secret), body, len, want);
    if (forge == WRK_FORGE_GITHUB) {
        const char *sig = header(ctx, "X-Hub-Signature-256");
        if (sig == NULL)
            return sw_error_set(err, SW_EPERM, "missing X-Hub-Signature-256 header");
        if (strncmp(sig, "sha256=", 7) != 0 || !hex_equal(sig + 7, want))
            return sw_error_set(err, SW_EPERM, "signature does not match");
        return 0;
    }
    const char *sig = header(ctx, "X-Gitea-Signature");
    if (sig == NULL)
        sig = header(ctx, "X-Forgejo-Signature");
    if (sig == NULL)
        return sw_error_set(err, SW_EPERM, "missing X-Gitea-Signature header");
    if (!hex_equal(sig, want))
        return sw_error_set(err, SW_EPERM, "signature does not match");
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void add_url(struct wrk_hook_event *ev, const char *url)
{
    if (url == NULL || *url == '\0')
        return;
    for (size_t i = 0; i < ev->n_repo_urls; i++)
        if (strcmp(ev->repo_urls[i], url) == 0)
            return;
    char **bigger = realloc(ev->repo_urls, (ev->n_repo_urls + 1) * sizeof(char *));
    if (bigger == NULL)
        return;
    ev->repo_urls = bigger;
    if ((ev->repo_urls[ev->n_repo_urls] = strdup(url)) != NULL)
        ev->n_repo_urls++;
}

static int is_zero_sha(const char *s)
{
    return s && strlen(s) >= 40 && strspn(s, "0") == strlen(s);
}

static void check_skip(struct wrk_hook_event *ev)
{
    static const char *const markers[] = { "[skip build]", "[skip ci]", "[ci skip]", "[build skip]",
                                           NULL };
    if (ev->commit_message == NULL)
        return;
    for (size_t i = 0; markers[i]; i++) {
        if (strcasestr(ev->commit_message, markers[i])) {
            ev->skip = 1;
            ev->skip_reason = strdup(markers[i]);
            return;
        }
    }
}

/* ref "refs/heads/x" or "refs/tags/x" into source_type and ref. */
static int split_ref(struct wrk_hook_event *ev, const char *ref, sw_error **err)
{
    if (ref == NULL)
        return sw_error_set(err, SW_EINVAL, "payload has no \"ref\"");
    if (strncmp(ref, "refs/heads/", 11) == 0) {
        ev->source_type = strdup("branch");
        ev->ref = strdup(ref + 11);
    } else if (strncmp(ref, "refs/tags/", 10) == 0) {
        ev->source_type = strdup("tag");
        ev->ref = strdup(ref + 10);
    } else {
        return sw_error_set(err, SW_EINVAL, "\"ref\" %s is neither a branch nor a tag", ref);
    }
    if (ev->ref == NULL || ev->ref[0] == '\0')
        return sw_error_set(err, SW_EINVAL, "\"ref\" %s names nothing", ref);
    return 0;
}

/* The message of the commit whose id is sha in a commits array, else of
 * the last one. */
static const char *commit_message(json_t *commits, const char *sha)
{
    size_t i;
    json_t *c;
    json_array_foreach(commits, i, c) {
        const char *id = jstr(c, "id");
        if (id && sha && strcmp(id, sha) == 0)
            return jstr(c, "message");
    }
    return jstr(json_array_get(commits, json_array_size(commits) - 1), "message");
}

static int parse_github_like(json_t *doc, struct wrk_hook_event *ev, sw_error **err)
{
    int rc = split_ref(ev, jstr(doc, "ref"), err);
    if (rc != 0)
        return rc;
    const char *after = jstr(doc, "after");
    if (json_is_true(json_object_get(doc, "deleted")) || is_zero_sha(after)) {
        ev->kind = WRK_HOOK_DELETE;
        return 0;
    }
    if (after == NULL || strlen(after) < 7)
        return sw_error_set(err, SW_EINVAL, "payload has no \"after\" commit");
    ev->commit_sha = strdup(after);
    json_t *head = json_object_get(doc, "head_commit");
    const char *msg = json_is_object(head) ? jstr(head, "message")
                                           : commit_message(json_object_get(doc, "commits"), after);
    ev->commit_message = dup_or_null(msg);
    json_t *repo = json_object_get(doc, "repository");
    static const char *const url_keys[] = { "clone_url", "ssh_url", "git_url",
                                            "html_url",  "url",     NULL };
    for (size_t i = 0; url_keys[i]; i++)
        add_url(ev, jstr(repo, url_keys[i]));
    ev->full_name = dup_or_null(jstr(repo, "full_name"));
    json_t *pusher = json_object_get(doc, "pusher");
    const char *who = jstr(pusher, "name");
    if (who == NULL)
        who = jstr(pusher, "login");
    if (who == NULL)
        who = jstr(pusher, "username");
    ev->pusher = dup_or_null(who);
    check_skip(ev);
    return 0;
}

static int parse_gitlab(json_t *doc, struct wrk_hook_event *ev, sw_error **err)
{
    int rc = split_ref(ev, jstr(doc, "ref"), err);
    if (rc != 0)
        return rc;
    const char *after = jstr(doc, "checkout_sha");
    if (after == NULL)
        after = jstr(doc, "after");
    if (is_zero_sha(jstr(doc, "after"))) {
        ev->kind = WRK_HOOK_DELETE;
        return 0;
    }
    if (after == NULL || strlen(after) < 7)
        return sw_error_set(err, SW_EINVAL, "payload has no \"after\" or \"checkout_sha\"");
    ev->commit_sha = strdup(after);
    ev->commit_message = dup_or_null(commit_message(json_object_get(doc, "commits"), after));
    json_t *project = json_object_get(doc, "project");
    static const char *const project_keys[] = {
        "git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url", "url", NULL
    };
    for (size_t i = 0; project_keys[i]; i++)
        add_url(ev, jstr(project, project_keys[i]));
    json_t *repo = json_object_get(doc, "repository");
    static const char *const repo_keys[] = { "git_http_url", "git_ssh_url", "homepage", "url",
                                             NULL };
    for (size_t i = 0; repo_keys[i]; i++)
        add_url(ev, jstr(repo, repo_keys[i]));
    ev->full_name = dup_or_null(jstr(project, "path_with_namespace"));
    const char *who = jstr(doc, "user_username");
    ev->pusher = dup_or_null(who ? who : jstr(doc, "user_name"));
    check_skip(ev);
    return 0;
}

int wrk_webhook_parse(enum wrk_forge forge, wrk_header_fn header, void *ctx, const char *body,
                      size_t len, struct wrk_hook_event *out, sw_error **err)
{
    json_error_t jerr;
    memset(out, 0, sizeof(*out));
    const char *event = NULL, *delivery = NULL;
    switch (forge) {
    case WRK_FORGE_GITHUB:
        event = header(ctx, "X-GitHub-Event");
        delivery = header(ctx, "X-GitHub-Delivery");
        break;
    case WRK_FORGE_GITLAB:
        event = header(ctx, "X-Gitlab-Event");
        delivery = header(ctx, "X-Gitlab-Event-UUID");
        if (delivery == NULL)
            delivery = header(ctx, "Idempotency-Key");
        break;
    case WRK_FORGE_GITEA:
        event = header(ctx, "X-Gitea-Event");
        if (event == NULL)
            event = header(ctx, "X-Forgejo-Event");
        delivery = header(ctx, "X-Gitea-Delivery");
        if (delivery == NULL)
            delivery = header(ctx, "X-Forgejo-Delivery");
        break;
    }
    out->event = dup_or_null(event);
    out->delivery_id = delivery && *delivery ? strndup(delivery, 200) : NULL;

    json_t *doc = json_loadb(body ? body : "", len, 0, &jerr);
    int rc = 0;
    if (!json_is_object(doc)) {
        rc = sw_error_set(err, SW_EINVAL, "the payload is not a JSON object: %s (line %d)",
                          doc ? "another JSON value" : jerr.text, jerr.line);
        goto cleanup;
    }
    if (event == NULL) {
        rc = sw_error_set(err, SW_EINVAL, "missing the event header (%s)",
                          forge == WRK_FORGE_GITHUB   ? "X-GitHub-Event"
                          : forge == WRK_FORGE_GITLAB ? "X-Gitlab-Event"
                                                      : "X-Gitea-Event");
        goto cleanup;
    }
    if (forge == WRK_FORGE_GITHUB && strcmp(event, "ping") == 0) {
        out->kind = WRK_HOOK_PING;
        out->full_name = dup_or_null(jstr(json_object_get(doc, "repository"), "full_name"));
        json_t *repo = json_object_get(doc, "repository");
        add_url(out, jstr(repo, "clone_url"));
        add_url(out, jstr(repo, "ssh_url"));
        add_url(out, jstr(repo, "git_url"));
        add_url(out, jstr(repo, "html_url"));
        goto cleanup;
    }
    if (forge == WRK_FORGE_GITLAB) {
        if (strcmp(event, "Push Hook") != 0 && strcmp(event, "Tag Push Hook") != 0) {
            out->kind = WRK_HOOK_IGNORED;
            goto cleanup;
        }
        out->kind = WRK_HOOK_PUSH;
        rc = parse_gitlab(doc, out, err);
        goto cleanup;
    }
    if (strcmp(event, "push") != 0) {
        out->kind = WRK_HOOK_IGNORED;
        goto cleanup;
    }
    out->kind = WRK_HOOK_PUSH;
    rc = parse_github_like(doc, out, err);
cleanup:
    json_decref(doc);
    if (rc != 0)
        wrk_hook_event_release(out);
    return rc;
}

void wrk_hook_event_release(struct wrk_hook_event *ev)
{
    if (ev == NULL)
        return;
    free(ev->event);
    free(ev->delivery_id);
    free(ev->source_type);
    free(ev->ref);
    free(ev->commit_sha);
    free(ev->commit_message);
    free(ev->pusher);
    free(ev->full_name);
    free(ev->skip_reason);
    for (size_t i = 0; i < ev->n_repo_urls; i++)
        free(ev->repo_urls[i]);
    free(ev->repo_urls);
    memset(ev, 0, sizeof(*ev));
}
