/*
 * webhook.c - webhook bodies, signatures and payloads (see webhook.h).
 *
 * What each forge sends is in its documentation: GitHub's "Webhook events
 * and payloads", GitLab's "Webhook events", Gitea's and Forgejo's webhook
 * pages. Every event is read (a deletion, a ping, a release is answered,
 * not refused), but only a push or a pull/merge request names something to
 * build.
 */
#include "worker/webhook.h"

#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"
#include "core/strbuf.h"

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

const char *wrk_forge_title(enum wrk_forge forge)
{
    switch (forge) {
    case WRK_FORGE_GITHUB:
        return "GitHub";
    case WRK_FORGE_GITLAB:
        return "GitLab";
    case WRK_FORGE_GITEA:
        break;
    }
    return "Gitea";
}

/* ---- the body ---------------------------------------------------------------- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* application/x-www-form-urlencoded decoding of s[0..n) into sb ('+' is a
 * space, %XX a byte; a malformed escape is kept as it is). */
static void form_decode(sw_strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            sw_strbuf_putc(sb, ' ');
        } else if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 &&
                   hex_value(s[i + 2]) >= 0) {
            sw_strbuf_putc(sb, (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
            i += 2;
        } else {
            sw_strbuf_putc(sb, s[i]);
        }
    }
}

/* Whether the media type of a Content-Type value is type (case aside,
 * parameters such as "; charset=utf-8" ignored). */
static int media_type_is(const char *content_type, const char *type)
{
    if (content_type == NULL)
        return 0;
    while (*content_type == ' ' || *content_type == '\t')
        content_type++;
    size_t n = strlen(type);
    if (strncasecmp(content_type, type, n) != 0)
        return 0;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

int wrk_webhook_payload(const char *content_type, const char *body, size_t len, char **decoded,
                        const char **json, size_t *json_len, sw_error **err)
{
    *decoded = NULL;
    *json = body ? body : "";
    *json_len = body ? len : 0;
    int is_form = media_type_is(content_type, "application/x-www-form-urlencoded") ||
                  ((content_type == NULL || *content_type == '\0') && len >= 8 &&
                   memcmp(body, "payload=", 8) == 0);
    /* `curl --data '{...}'` labels JSON as a form: a body that opens like a
     * JSON object is one */
    size_t lead = 0;
    while (body && lead < len && strchr(" \t\r\n", body[lead]) && body[lead] != '\0')
        lead++;
    if (!is_form || (body && lead < len && body[lead] == '{'))
        return 0;
    /* the fields are name=value pairs joined by '&' */
    const char *p = body ? body : "", *end = p + (body ? len : 0);
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *field_end = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(field_end - p));
        if (eq && eq - p == 7 && memcmp(p, "payload", 7) == 0) {
            sw_strbuf sb = SW_STRBUF_INIT;
            form_decode(&sb, eq + 1, (size_t)(field_end - eq - 1));
            if (sb.failed) {
                sw_strbuf_free(&sb);
                return sw_error_oom(err);
            }
            *json_len = sb.len;
            *decoded = sw_strbuf_detach(&sb);
            if (*decoded == NULL)
                return sw_error_oom(err);
            *json = *decoded;
            return 0;
        }
        p = field_end + 1;
    }
    return sw_error_set(err, SW_EINVAL,
                        "the body is form-encoded (application/x-www-form-urlencoded) but has no "
                        "payload= field: set the webhook's content type to application/json");
}

/* ---- signatures -------------------------------------------------------------- */

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

int wrk_webhook_verify_delivery(enum wrk_forge forge, const char *secret, wrk_header_fn header,
                                void *ctx, const char *body, size_t len, const char *json,
                                size_t json_len, sw_error **err)
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
            return sw_error_set(err, SW_EPERM, "X-Hub-Signature-256 does not match");
        return 0;
    }
    const char *name = "X-Gitea-Signature";
    const char *sig = header(ctx, name);
    if (sig == NULL)
        sig = header(ctx, name = "X-Forgejo-Signature");
    if (sig == NULL)
        return sw_error_set(err, SW_EPERM, "missing X-Gitea-Signature header");
    if (hex_equal(sig, want))
        return 0;
    if (json && (json != body || json_len != len)) {
        sw_hmac_sha256_hex(secret, strlen(secret), json, json_len, want);
        if (hex_equal(sig, want))
            return 0;
    }
    return sw_error_set(err, SW_EPERM, "%s does not match", name);
}

int wrk_webhook_verify(enum wrk_forge forge, const char *secret, wrk_header_fn header, void *ctx,
                       const char *body, size_t len, sw_error **err)
{
    return wrk_webhook_verify_delivery(forge, secret, header, ctx, body, len, body, len, err);
}

const char *wrk_webhook_signature_help(enum wrk_forge forge)
{
    switch (forge) {
    case WRK_FORGE_GITHUB:
        return "GitHub signs the raw body with the webhook's secret: X-Hub-Signature-256: "
               "sha256=<hex HMAC-SHA256>";
    case WRK_FORGE_GITLAB:
        return "GitLab sends the webhook's secret token as it is in X-Gitlab-Token";
    case WRK_FORGE_GITEA:
        break;
    }
    return "Gitea signs the body with the webhook's secret: X-Gitea-Signature: <hex "
           "HMAC-SHA256>";
}

/* ---- payloads ---------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *jstr(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static char *printf_dup(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *printf_dup(const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return s;
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

static void add_urls(struct wrk_hook_event *ev, json_t *obj, const char *const *keys)
{
    for (size_t i = 0; keys[i]; i++)
        add_url(ev, jstr(obj, keys[i]));
}

/* The repository a payload is about, whatever the event: its URLs and
 * owner/name. GitHub and Gitea name it `repository`; GitLab `project` (and
 * the older `repository`). */
static void read_repository(enum wrk_forge forge, json_t *doc, struct wrk_hook_event *ev)
{
    if (forge == WRK_FORGE_GITLAB) {
        static const char *const project_keys[] = {
            "git_http_url", "git_ssh_url", "web_url", "http_url", "ssh_url", "url", NULL
        };
        static const char *const repo_keys[] = { "git_http_url", "git_ssh_url", "homepage", "url",
                                                 NULL };
        json_t *project = json_object_get(doc, "project");
        add_urls(ev, project, project_keys);
        add_urls(ev, json_object_get(doc, "repository"), repo_keys);
        ev->full_name = dup_or_null(jstr(project, "path_with_namespace"));
        return;
    }
    static const char *const url_keys[] = { "clone_url", "ssh_url", "git_url",
                                            "html_url",  "url",     NULL };
    json_t *repo = json_object_get(doc, "repository");
    add_urls(ev, repo, url_keys);
    ev->full_name = dup_or_null(jstr(repo, "full_name"));
}

static int is_zero_sha(const char *s)
{
    return s && strlen(s) >= 40 && strspn(s, "0") == strlen(s);
}

static void set_skip(struct wrk_hook_event *ev, const char *reason)
{
    ev->skip = 1;
    free(ev->skip_reason);
    ev->skip_reason = dup_or_null(reason);
}

static void check_skip(struct wrk_hook_event *ev)
{
    static const char *const markers[] = { "[skip build]", "[skip ci]", "[ci skip]", "[build skip]",
                                           NULL };
    if (ev->commit_message == NULL)
        return;
    for (size_t i = 0; markers[i]; i++) {
        if (strcasestr(ev->commit_message, markers[i])) {
            set_skip(ev, markers[i]);
            return;
        }
    }
}

/* ref "refs/heads/x" or "refs/tags/x" into source_type and ref; 1 (the
 * event ignored, with its reason) for another ref. */
static int split_ref(struct wrk_hook_event *ev, const char *ref, sw_error **err)
{
    if (ref == NULL)
        return sw_error_set(err, SW_EINVAL, "payload has no \"ref\"");
    for (const char *p = ref; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sw_error_set(err, SW_EINVAL, "\"ref\" has a control character");
    if (strncmp(ref, "refs/heads/", 11) == 0) {
        ev->source_type = strdup("branch");
        ev->ref = strdup(ref + 11);
    } else if (strncmp(ref, "refs/tags/", 10) == 0) {
        ev->source_type = strdup("tag");
        ev->ref = strdup(ref + 10);
    } else {
        /* refs/notes/..., refs/pull/...: a forge may push them; nothing to build */
        ev->kind = WRK_HOOK_IGNORED;
        ev->reason = printf_dup("%.200s is neither a branch nor a tag; nothing to build", ref);
        return 1;
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

static void deleted(struct wrk_hook_event *ev)
{
    ev->kind = WRK_HOOK_DELETE;
    ev->reason = printf_dup("%s %s was deleted; nothing to build", ev->source_type, ev->ref);
}

/* A push as GitHub and Gitea send it. For an annotated tag `after` is the
 * tag object's id: the worker peels it to its commit after fetching. */
static int parse_github_push(json_t *doc, struct wrk_hook_event *ev, sw_error **err)
{
    int rc = split_ref(ev, jstr(doc, "ref"), err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    const char *after = jstr(doc, "after");
    if (json_is_true(json_object_get(doc, "deleted")) || is_zero_sha(after)) {
        deleted(ev);
        return 0;
    }
    if (after == NULL || strlen(after) < 7)
        return sw_error_set(err, SW_EINVAL, "payload has no \"after\" commit");
    ev->kind = WRK_HOOK_PUSH;
    ev->commit_sha = strdup(after);
    json_t *head = json_object_get(doc, "head_commit");
    const char *msg = json_is_object(head) ? jstr(head, "message")
                                           : commit_message(json_object_get(doc, "commits"), after);
    ev->commit_message = dup_or_null(msg);
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

/* GitLab's Push Hook and Tag Push Hook: `checkout_sha` is the commit (for
 * an annotated tag `after` is the tag object), null when the ref was
 * removed or points at no commit; `push_options` carries `git push -o
 * ci.skip` as {"ci": {"skip": true}}. */
static int parse_gitlab_push(json_t *doc, struct wrk_hook_event *ev, sw_error **err)
{
    int rc = split_ref(ev, jstr(doc, "ref"), err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    const char *after = jstr(doc, "after");
    json_t *checkout = json_object_get(doc, "checkout_sha");
    if (is_zero_sha(after)) {
        deleted(ev);
        return 0;
    }
    if (checkout && (!json_is_string(checkout) || json_string_length(checkout) == 0)) {
        ev->kind = WRK_HOOK_IGNORED;
        ev->reason = printf_dup("%s %s points at no commit (checkout_sha is null); nothing to "
                                "build",
                                ev->source_type, ev->ref);
        return 0;
    }
    const char *sha = checkout ? json_string_value(checkout) : after;
    if (sha == NULL || strlen(sha) < 7)
        return sw_error_set(err, SW_EINVAL, "payload has no \"after\" or \"checkout_sha\"");
    ev->kind = WRK_HOOK_PUSH;
    ev->commit_sha = strdup(sha);
    if (after && strcmp(after, sha) != 0 && strcmp(ev->source_type, "tag") == 0)
        ev->tag_object = strdup(after);
    ev->commit_message = dup_or_null(commit_message(json_object_get(doc, "commits"), sha));
    const char *who = jstr(doc, "user_username");
    ev->pusher = dup_or_null(who ? who : jstr(doc, "user_name"));
    check_skip(ev);
    json_t *ci = json_object_get(json_object_get(doc, "push_options"), "ci");
    if (json_is_true(json_object_get(ci, "skip")))
        set_skip(ev, "git push -o ci.skip");
    return 0;
}

/* GitHub's ping: sent when a repository or organization hook is created,
 * or a GitHub App registered (then there is no `repository`). */
static void parse_ping(json_t *doc, struct wrk_hook_event *ev)
{
    json_t *hook = json_object_get(doc, "hook");
    const char *type = jstr(hook, "type");
    json_t *app_id = json_object_get(hook, "app_id");
    const char *org = jstr(json_object_get(doc, "organization"), "login");
    ev->kind = WRK_HOOK_PING;
    if (type && strcmp(type, "App") == 0)
        ev->reason = json_is_integer(app_id)
                         ? printf_dup("GitHub App %lld", (long long)json_integer_value(app_id))
                         : strdup("a GitHub App");
    else if ((type && strcmp(type, "Organization") == 0) || (ev->full_name == NULL && org))
        ev->reason = printf_dup("the organization %s", org ? org : "(unnamed)");
    else if (ev->full_name)
        ev->reason = printf_dup("the repository %s", ev->full_name);
    else
        ev->reason = printf_dup("a %s hook", type ? type : "GitHub");
}

/* Why an event other than a push builds nothing; a note for the events a
 * user might expect to build. */
static const struct {
    const char *event;
    const char *note;
} event_notes[] = {
    { "create", "the push of the same branch or tag builds it" },
    { "release", "the push of its tag builds it" },
    { NULL, NULL },
};

static void ignored(enum wrk_forge forge, json_t *doc, struct wrk_hook_event *ev)
{
    const char *action = jstr(doc, "action");
    const char *note = NULL;
    for (size_t i = 0; event_notes[i].event; i++)
        if (strcmp(event_notes[i].event, ev->event) == 0)
            note = event_notes[i].note;
    ev->kind = WRK_HOOK_IGNORED;
    ev->reason =
        printf_dup("%s event \"%s\"%s%s%s is not built (only pushes and pull requests are)%s%s",
                   wrk_forge_title(forge), ev->event, action ? " (" : "", action ? action : "",
                   action ? ")" : "", note ? "; " : "", note ? note : "");
}

/* ---- pull and merge requests -------------------------------------------------- */

#define PR_TEXT_MAX 255

/* Text of whoever opened a pull request (a branch or repository name)
 * made safe to log and show: control characters become '?', at most
 * PR_TEXT_MAX bytes. NULL for NULL. */
static char *untrusted_text(const char *s)
{
    if (s == NULL)
        return NULL;
    char *out = strndup(s, PR_TEXT_MAX);
    for (char *p = out; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}

static int is_object_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return (n == 40 || n == 64) && strspn(s, "0123456789abcdef") == n;
}

/* A pull request's number from a JSON integer: 1 .. 2^40 (what a forge
 * numbers; the value goes into a ref name). 0 when it is not one. */
static long long pr_number_of(json_t *v)
{
    if (!json_is_integer(v))
        return 0;
    long long n = (long long)json_integer_value(v);
    return n >= 1 && n <= (1LL << 40) ? n : 0;
}

/* A pull request event whose action builds nothing. */
static void pr_ignored(enum wrk_forge forge, struct wrk_hook_event *ev, long long number,
                       const char *action, const char *builds)
{
    char act[64];
    snprintf(act, sizeof(act), "%s", action ? action : "(none)");
    for (char *p = act; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    ev->kind = WRK_HOOK_IGNORED;
    ev->reason = printf_dup("ignored: action %s of %s %s %s%lld builds nothing (%s do)", act,
                            wrk_forge_title(forge),
                            forge == WRK_FORGE_GITLAB ? "merge request" : "pull request",
                            forge == WRK_FORGE_GITLAB ? "!" : "#", number, builds);
}

/* Fills the event of a pull request that builds; head_repo and the fork
 * flag are the caller's. */
static int pr_event(enum wrk_forge forge, struct wrk_hook_event *ev, long long number,
                    const char *action, const char *target, const char *head_sha,
                    const char *head_ref, const char *pusher, sw_error **err)
{
    if (number == 0)
        return sw_error_set(err, SW_EINVAL, "the pull request event has no number");
    if (!is_object_id(head_sha))
        return sw_error_set(err, SW_EINVAL, "the pull request event has no head commit id");
    if (target == NULL || *target == '\0')
        return sw_error_set(err, SW_EINVAL, "the pull request event has no target branch");
    for (const char *p = target; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return sw_error_set(err, SW_EINVAL, "the target branch has a control character");
    ev->kind = WRK_HOOK_PULL_REQUEST;
    ev->pr_number = number;
    ev->pr_action = untrusted_text(action);
    ev->source_type = strdup("pull_request");
    ev->ref = strdup(target);
    ev->commit_sha = strdup(head_sha);
    ev->pr_head_ref = untrusted_text(head_ref);
    ev->pusher = untrusted_text(pusher);
    ev->pr_fetch_ref = printf_dup(forge == WRK_FORGE_GITLAB ? "refs/merge-requests/%lld/head"
                                                            : "refs/pull/%lld/head",
                                  number);
    if (ev->source_type == NULL || ev->ref == NULL || ev->commit_sha == NULL ||
        ev->pr_fetch_ref == NULL)
        return sw_error_oom(err);
    return 0;
}

/* GitHub's pull_request (opened, synchronize, reopened build) and
 * Gitea's (opened, synchronized, reopened). A fork is a head repository
 * other than the base one: GitHub names both by full_name (a deleted
 * fork's head.repo is null), Gitea by head.repo_id and base.repo_id. */
static int parse_github_pull_request(enum wrk_forge forge, json_t *doc, struct wrk_hook_event *ev,
                                     sw_error **err)
{
    static const char *const github_actions[] = { "opened", "synchronize", "reopened", NULL };
    static const char *const gitea_actions[] = { "opened", "synchronized", "reopened", NULL };
    const char *const *builds = forge == WRK_FORGE_GITHUB ? github_actions : gitea_actions;
    const char *action = jstr(doc, "action");
    json_t *pr = json_object_get(doc, "pull_request");
    json_t *head = json_object_get(pr, "head"), *base = json_object_get(pr, "base");
    long long number = pr_number_of(json_object_get(doc, "number"));
    if (number == 0)
        number = pr_number_of(json_object_get(pr, "number"));
    int builds_it = 0;
    for (size_t i = 0; action && builds[i]; i++)
        builds_it |= strcmp(action, builds[i]) == 0;
    if (!builds_it) {
        pr_ignored(forge, ev, number, action,
                   forge == WRK_FORGE_GITHUB ? "opened, synchronize and reopened"
                                             : "opened, synchronized and reopened");
        return 0;
    }
    json_t *head_repo = json_object_get(head, "repo");
    int rc = pr_event(forge, ev, number, action, jstr(base, "ref"), jstr(head, "sha"),
                      jstr(head, "ref"), jstr(json_object_get(doc, "sender"), "login"), err);
    if (rc != 0)
        return rc;
    ev->pr_head_repo = untrusted_text(jstr(head_repo, "full_name"));
    if (forge == WRK_FORGE_GITHUB) {
        const char *base_name = jstr(json_object_get(base, "repo"), "full_name");
        if (base_name == NULL)
            base_name = ev->full_name;
        const char *head_name = jstr(head_repo, "full_name");
        ev->pr_fork = head_name == NULL || base_name == NULL || strcasecmp(head_name, base_name);
    } else {
        json_t *head_id = json_object_get(head, "repo_id"),
               *base_id = json_object_get(base, "repo_id");
        ev->pr_fork = !json_is_integer(head_id) || !json_is_integer(base_id) ||
                      json_integer_value(head_id) != json_integer_value(base_id);
    }
    return 0;
}

/* GitLab's Merge Request Hook: open and reopen build, update only when it
 * brought new commits (object_attributes.oldrev is there); a fork is a
 * source project other than the target project. */
static int parse_gitlab_merge_request(json_t *doc, struct wrk_hook_event *ev, sw_error **err)
{
    json_t *attrs = json_object_get(doc, "object_attributes");
    const char *action = jstr(attrs, "action");
    long long number = pr_number_of(json_object_get(attrs, "iid"));
    const char *oldrev = jstr(attrs, "oldrev");
    if (action && strcmp(action, "update") == 0 && (oldrev == NULL || *oldrev == '\0')) {
        ev->kind = WRK_HOOK_IGNORED;
        ev->reason = printf_dup("ignored: action update of GitLab merge request !%lld brought no "
                                "new commits (no oldrev); nothing to build",
                                number);
        return 0;
    }
    if (action == NULL || (strcmp(action, "open") != 0 && strcmp(action, "reopen") != 0 &&
                           strcmp(action, "update") != 0)) {
        pr_ignored(WRK_FORGE_GITLAB, ev, number, action,
                   "open, reopen and update with new commits");
        return 0;
    }
    json_t *user = json_object_get(doc, "user");
    const char *who = jstr(user, "username");
    int rc = pr_event(WRK_FORGE_GITLAB, ev, number, action, jstr(attrs, "target_branch"),
                      jstr(json_object_get(attrs, "last_commit"), "id"),
                      jstr(attrs, "source_branch"), who ? who : jstr(user, "name"), err);
    if (rc != 0)
        return rc;
    ev->pr_head_repo =
        untrusted_text(jstr(json_object_get(attrs, "source"), "path_with_namespace"));
    json_t *source_id = json_object_get(attrs, "source_project_id");
    json_t *target_id = json_object_get(attrs, "target_project_id");
    ev->pr_fork = !json_is_integer(source_id) || !json_is_integer(target_id) ||
                  json_integer_value(source_id) != json_integer_value(target_id);
    return 0;
}

/* The GitHub and Gitea events, by the event header. Gitea sends
 * `delete` when a branch or tag is removed, as GitHub does (besides its
 * push with `deleted: true`). */
static int parse_github_like(enum wrk_forge forge, json_t *doc, struct wrk_hook_event *ev,
                             sw_error **err)
{
    if (strcmp(ev->event, "push") == 0)
        return parse_github_push(doc, ev, err);
    if (strcmp(ev->event, "ping") == 0) {
        parse_ping(doc, ev);
        return 0;
    }
    if (strcmp(ev->event, "pull_request") == 0 ||
        (forge == WRK_FORGE_GITEA && strcmp(ev->event, "pull_request_sync") == 0))
        return parse_github_pull_request(forge, doc, ev, err);
    const char *ref_type = jstr(doc, "ref_type");
    const char *ref = jstr(doc, "ref");
    if (strcmp(ev->event, "delete") == 0 && ref && ref_type &&
        (strcmp(ref_type, "branch") == 0 || strcmp(ref_type, "tag") == 0)) {
        ev->source_type = strdup(ref_type);
        /* GitHub sends the short name; be kind to a full one */
        const char *prefix = strcmp(ref_type, "tag") == 0 ? "refs/tags/" : "refs/heads/";
        ev->ref = strdup(strncmp(ref, prefix, strlen(prefix)) == 0 ? ref + strlen(prefix) : ref);
        deleted(ev);
        return 0;
    }
    ignored(forge, doc, ev);
    return 0;
}

static int parse_gitlab(json_t *doc, struct wrk_hook_event *ev, sw_error **err)
{
    if (strcmp(ev->event, "Push Hook") == 0 || strcmp(ev->event, "Tag Push Hook") == 0)
        return parse_gitlab_push(doc, ev, err);
    if (strcmp(ev->event, "Merge Request Hook") == 0)
        return parse_gitlab_merge_request(doc, ev, err);
    if (strcmp(ev->event, "System Hook") == 0) {
        const char *what = jstr(doc, "event_name");
        if (what == NULL)
            what = jstr(doc, "object_kind");
        ev->kind = WRK_HOOK_IGNORED;
        ev->is_instance_wide = 1;
        ev->reason = printf_dup("GitLab system hook (%s) is not built: add a webhook to the "
                                "project (Settings > Webhooks) with push and tag push events",
                                what ? what : "unknown event");
        return 0;
    }
    ignored(WRK_FORGE_GITLAB, doc, ev);
    return 0;
}

static const char *event_header_name(enum wrk_forge forge)
{
    switch (forge) {
    case WRK_FORGE_GITHUB:
        return "X-GitHub-Event";
    case WRK_FORGE_GITLAB:
        return "X-Gitlab-Event";
    case WRK_FORGE_GITEA:
        break;
    }
    return "X-Gitea-Event";
}

int wrk_webhook_parse(enum wrk_forge forge, wrk_header_fn header, void *ctx, const char *json,
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
        if (event == NULL)
            event = header(ctx, "X-Gogs-Event");
        delivery = header(ctx, "X-Gitea-Delivery");
        if (delivery == NULL)
            delivery = header(ctx, "X-Forgejo-Delivery");
        break;
    }
    out->event = event ? strndup(event, 100) : NULL;
    out->delivery_id = delivery && *delivery ? strndup(delivery, 200) : NULL;

    json_t *doc = json_loadb(json ? json : "", len, 0, &jerr);
    int rc = 0;
    if (!json_is_object(doc)) {
        if (doc)
            rc = sw_error_set(err, SW_EINVAL, "the payload is JSON but not an object");
        else
            rc = sw_error_set(err, SW_EINVAL,
                              "the payload is not JSON (%s, line %d): set the webhook's content "
                              "type to application/json",
                              jerr.text, jerr.line);
        goto cleanup;
    }
    if (event == NULL || *event == '\0') {
        rc = sw_error_set(err, SW_EINVAL,
                          "missing the event header (%s): is this a %s webhook? Its URL must "
                          "match the forge (/hooks/github, /hooks/gitlab, /hooks/gitea)",
                          event_header_name(forge), wrk_forge_title(forge));
        goto cleanup;
    }
    read_repository(forge, doc, out);
    rc = forge == WRK_FORGE_GITLAB ? parse_gitlab(doc, out, err)
                                   : parse_github_like(forge, doc, out, err);
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
    free(ev->tag_object);
    free(ev->commit_message);
    free(ev->pusher);
    free(ev->full_name);
    free(ev->reason);
    free(ev->skip_reason);
    free(ev->pr_action);
    free(ev->pr_head_ref);
    free(ev->pr_head_repo);
    free(ev->pr_fetch_ref);
    for (size_t i = 0; i < ev->n_repo_urls; i++)
        free(ev->repo_urls[i]);
    free(ev->repo_urls);
    memset(ev, 0, sizeof(*ev));
}
