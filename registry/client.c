/*
 * client.c - the registry client (see client.h): references, platforms,
 * WWW-Authenticate challenges, and pulling an image over HTTP(S) with
 * libcurl into the store.
 *
 * One pull uses one curl easy handle (so connections are reused) and a
 * list of endpoints: the host's mirrors in configuration order, then the
 * registry itself (for localhost: HTTPS, then HTTP). Every request walks
 * that list; an endpoint that fails passes the request on to the next one,
 * and one that failed at the transport level (refused, TLS, DNS) is skipped
 * for the rest of the pull so a dead mirror costs one timeout, not one per
 * blob. The error of the last endpoint tried is the one reported.
 *
 * Authentication state (a Bearer token or Basic credentials) lives with
 * the endpoint: a 401 answers with a challenge, we satisfy it once and
 * retry; the header is then sent with every later request to that
 * endpoint. libcurl (>= 7.83) does not forward our Authorization header
 * when a blob GET redirects to another host or port (S3 and CDN redirects
 * carry their own signature), which is what those redirects require.
 */
#include "registry/client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/http_client.h"
#include "core/base64.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "registry/blobstore.h"
#include "registry/errors.h"
#include "registry/manifest.h"
#include "registry/names.h"
#include "registry/platform.h"

#define DEFAULT_MAX_MANIFEST (4 * 1024 * 1024)
#define MAX_ERROR_BODY 16384
#define MAX_TOKEN_BODY (256 * 1024)
#define MAX_REF_LEN 4096
#define ERROR_DETAIL_MAX 300

/* ======================================================================
 * Image references
 * ====================================================================== */

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return 1;
}

/* Docker's rule for "is the first component a registry host?". */
static int looks_like_domain(const char *s, size_t n)
{
    if (memchr(s, '.', n) || memchr(s, ':', n))
        return 1;
    if (n == 9 && memcmp(s, "localhost", 9) == 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        if (isupper((unsigned char)s[i]))
            return 1;
    }
    return 0;
}

/* host labels joined by '.', or a bracketed IPv6 address; optional :port. */
static int domain_valid(const char *d)
{
    const char *p = d;
    if (*p == '[') {
        p++;
        const char *start = p;
        while (isxdigit((unsigned char)*p) || *p == ':')
            p++;
        if (p == start || *p != ']')
            return 0;
        p++;
    } else {
        for (;;) {
            const char *label = p;
            while (isalnum((unsigned char)*p) || *p == '-')
                p++;
            if (p == label || label[0] == '-' || p[-1] == '-')
                return 0;
            if (*p != '.')
                break;
            p++;
        }
    }
    if (*p == ':') {
        p++;
        const char *port = p;
        while (isdigit((unsigned char)*p))
            p++;
        if (p == port || p - port > 5)
            return 0;
    }
    return *p == '\0';
}

void reg_ref_release(struct reg_ref *ref)
{
    if (ref == NULL)
        return;
    free(ref->domain);
    free(ref->path);
    free(ref->tag);
    free(ref->digest);
    memset(ref, 0, sizeof(*ref));
}

int reg_ref_parse(const char *text, struct reg_ref *out, sw_error **err)
{
    int rc = 0;
    char *copy = NULL;
    memset(out, 0, sizeof(*out));
    if (text == NULL || *text == '\0')
        return sw_error_set(err, SW_EINVAL, "empty image reference");
    size_t text_len = strlen(text);
    if (text_len > MAX_REF_LEN)
        return sw_error_set(err, SW_EINVAL, "image reference longer than %d characters",
                            MAX_REF_LEN);
    for (size_t i = 0; i < text_len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= ' ' || c >= 0x7f)
            return sw_error_set(err, SW_EINVAL,
                                "invalid image reference '%s': contains a space or "
                                "non-ASCII character",
                                text);
    }
    if (text_len == SW_SHA256_HEX_LEN && is_lower_hex(text, text_len))
        return sw_error_set(err, SW_EINVAL,
                            "invalid image reference '%s': cannot be a 64-character "
                            "hexadecimal string (use NAME@sha256:HEX)",
                            text);
    copy = strdup(text);
    if (copy == NULL)
        return sw_error_oom(err);

    char *digest = NULL, *tag = NULL;
    char *at = strchr(copy, '@');
    if (at) {
        *at = '\0';
        digest = at + 1;
        if (!reg_digest_valid(digest)) {
            rc = sw_error_set(err, SW_EINVAL,
                              "invalid image reference '%s': bad digest '%s' (expected "
                              "sha256: and 64 lower-case hex digits)",
                              text, digest);
            goto cleanup;
        }
    }
    char *last_slash = strrchr(copy, '/');
    char *last_colon = strrchr(copy, ':');
    if (last_colon && (last_slash == NULL || last_colon > last_slash)) {
        *last_colon = '\0';
        tag = last_colon + 1;
        if (!reg_tag_valid(tag)) {
            rc = sw_error_set(err, SW_EINVAL,
                              "invalid image reference '%s': bad tag '%s' (letters, digits, "
                              "_ . -, at most 128, not starting with . or -)",
                              text, tag);
            goto cleanup;
        }
    }
    char *name = copy;
    if (*name == '\0') {
        rc = sw_error_set(err, SW_EINVAL, "invalid image reference '%s': no repository name", text);
        goto cleanup;
    }

    const char *path = name;
    char *first_slash = strchr(name, '/');
    if (first_slash && looks_like_domain(name, (size_t)(first_slash - name))) {
        out->domain = strndup(name, (size_t)(first_slash - name));
        path = first_slash + 1;
    } else {
        out->domain = strdup(REG_DOCKER_HUB_DOMAIN);
    }
    if (out->domain == NULL)
        goto nomem;
    if (strcmp(out->domain, "index.docker.io") == 0) {
        free(out->domain);
        if ((out->domain = strdup(REG_DOCKER_HUB_DOMAIN)) == NULL)
            goto nomem;
    }
    if (!domain_valid(out->domain)) {
        rc = sw_error_set(err, SW_EINVAL, "invalid image reference '%s': bad registry host '%s'",
                          text, out->domain);
        goto cleanup;
    }
    if (strcmp(out->domain, REG_DOCKER_HUB_DOMAIN) == 0 && strchr(path, '/') == NULL) {
        if (asprintf(&out->path, "library/%s", path) < 0) {
            out->path = NULL;
            goto nomem;
        }
    } else if ((out->path = strdup(path)) == NULL) {
        goto nomem;
    }
    for (const char *p = out->path; *p; p++) {
        if (isupper((unsigned char)*p)) {
            rc = sw_error_set(err, SW_EINVAL,
                              "invalid image reference '%s': repository name must be "
                              "lower-case",
                              text);
            goto cleanup;
        }
    }
    if (strlen(out->domain) + 1 + strlen(out->path) > REG_NAME_MAX) {
        rc = sw_error_set(err, SW_EINVAL,
                          "invalid image reference '%s': name longer than %d characters", text,
                          REG_NAME_MAX);
        goto cleanup;
    }
    if (!reg_name_valid(out->path)) {
        rc = sw_error_set(err, SW_EINVAL,
                          "invalid image reference '%s': bad repository name '%s' (lower-case "
                          "letters, digits, separators . _ __ - and /)",
                          text, out->path);
        goto cleanup;
    }
    if (tag == NULL && digest == NULL)
        tag = "latest";
    if ((tag && (out->tag = strdup(tag)) == NULL) ||
        (digest && (out->digest = strdup(digest)) == NULL))
        goto nomem;
    goto cleanup;

nomem:
    rc = sw_error_oom(err);
cleanup:
    free(copy);
    if (rc != 0)
        reg_ref_release(out);
    return rc;
}

char *reg_ref_format(const struct reg_ref *ref)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_printf(&sb, "%s/%s", ref->domain, ref->path);
    if (ref->tag)
        sw_strbuf_printf(&sb, ":%s", ref->tag);
    if (ref->digest)
        sw_strbuf_printf(&sb, "@%s", ref->digest);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

const char *reg_ref_endpoint_host(const char *domain)
{
    return strcmp(domain, REG_DOCKER_HUB_DOMAIN) == 0 ? REG_DOCKER_HUB_ENDPOINT : domain;
}

/* Maps Docker Hub's aliases to "docker.io" so a mirror or credential keyed
 * by any of them applies; other hosts compare case-insensitively. */
static int host_matches(const char *configured, const char *host)
{
    static const char *const hub[] = { "docker.io", "index.docker.io", "registry-1.docker.io",
                                       NULL };
    int configured_is_hub = 0, host_is_hub = 0;
    for (int i = 0; hub[i]; i++) {
        configured_is_hub |= strcasecmp(configured, hub[i]) == 0;
        host_is_hub |= strcasecmp(host, hub[i]) == 0;
    }
    if (configured_is_hub || host_is_hub)
        return configured_is_hub && host_is_hub;
    return strcasecmp(configured, host) == 0;
}

/* ======================================================================
 * WWW-Authenticate
 * ====================================================================== */

static int is_tchar(int c)
{
    return c && (isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void skip_ws(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

/* Reads a token or quoted-string at *p into a malloc'd string. */
static char *read_param_value(const char **p)
{
    const char *s = *p;
    sw_strbuf sb = SW_STRBUF_INIT;
    if (*s == '"') {
        s++;
        while (*s && *s != '"') {
            if (*s == '\\' && s[1])
                s++;
            sw_strbuf_putc(&sb, *s++);
        }
        if (*s == '"')
            s++;
    } else {
        while (is_tchar((unsigned char)*s) || *s == '/' || *s == ':' || *s == '=')
            sw_strbuf_putc(&sb, *s++);
    }
    *p = s;
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

void reg_auth_challenge_release(struct reg_auth_challenge *c)
{
    if (c == NULL)
        return;
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof(*c));
}

int reg_auth_challenge_parse(const char *header, struct reg_auth_challenge *out, sw_error **err)
{
    struct reg_auth_challenge current = { 0 }, basic = { 0 };
    int have_bearer = 0, have_basic = 0, rc = 0;
    const char *p = header ? header : "";
    memset(out, 0, sizeof(*out));

    while (*p && !have_bearer) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *scheme = p;
        while (is_tchar((unsigned char)*p))
            p++;
        if (p == scheme) {
            p++; /* not a token: skip the character and resynchronise */
            continue;
        }
        reg_auth_challenge_release(&current);
        current.scheme = strndup(scheme, (size_t)(p - scheme));
        if (current.scheme == NULL)
            goto nomem;
        for (char *c = current.scheme; *c; c++)
            *c = (char)tolower((unsigned char)*c);

        /* auth-params until the next challenge's scheme */
        for (;;) {
            skip_ws(&p);
            const char *name = p;
            while (is_tchar((unsigned char)*p))
                p++;
            size_t name_len = (size_t)(p - name);
            const char *after_name = p;
            skip_ws(&p);
            if (name_len == 0 || *p != '=') {
                p = name_len ? name : after_name; /* the next scheme, or junk */
                break;
            }
            p++;
            skip_ws(&p);
            char *value = read_param_value(&p);
            if (value == NULL)
                goto nomem;
            char **slot = NULL;
            if (name_len == 5 && strncasecmp(name, "realm", 5) == 0)
                slot = &current.realm;
            else if (name_len == 7 && strncasecmp(name, "service", 7) == 0)
                slot = &current.service;
            else if (name_len == 5 && strncasecmp(name, "scope", 5) == 0)
                slot = &current.scope;
            if (slot && *slot == NULL)
                *slot = value;
            else
                free(value);
            skip_ws(&p);
            if (*p == ',') {
                p++;
                continue;
            }
            break;
        }
        if (strcmp(current.scheme, "bearer") == 0 && current.realm && current.realm[0]) {
            *out = current;
            memset(&current, 0, sizeof(current));
            have_bearer = 1;
        } else if (strcmp(current.scheme, "basic") == 0 && !have_basic) {
            basic = current;
            memset(&current, 0, sizeof(current));
            have_basic = 1;
        }
    }
    if (have_bearer) {
        reg_auth_challenge_release(&basic);
    } else if (have_basic) {
        *out = basic;
    } else {
        rc = sw_error_set(err, SW_EINVAL,
                          "WWW-Authenticate '%.200s': no Bearer (with realm) or Basic challenge",
                          header ? header : "");
    }
    reg_auth_challenge_release(&current);
    return rc;
nomem:
    reg_auth_challenge_release(&current);
    reg_auth_challenge_release(&basic);
    reg_auth_challenge_release(out);
    return sw_error_oom(err);
}

/* ======================================================================
 * HTTP
 * ====================================================================== */

struct endpoint {
    char *base_url;                          /* "https://registry-1.docker.io", no trailing slash */
    char *host;                              /* host[:port] of base_url */
    const struct reg_credential *credential; /* NULL: anonymous */
    char *auth_header;                       /* "Authorization: ..." — a secret */
    int is_mirror;
    int is_dead; /* failed at the transport level: skip from now on */
};

struct http_response {
    long status;
    char reason[64];
    char *content_type;
    char *content_digest;
    sw_strbuf challenges; /* every WWW-Authenticate value, comma-joined */
    sw_strbuf body;
    size_t body_limit; /* for a 2xx body without a sink */
    int body_too_big;
    reg_blob_writer *sink; /* 2xx bodies stream here when set */
    int64_t sink_limit;    /* expected size, -1 unknown */
    int64_t sink_bytes;
    sw_error *sink_err;
};

struct pull_ctx {
    reg_store *store;
    const struct reg_client_options *opts;
    struct reg_ref ref;
    char *ref_text;
    const char *local_repo;
    struct endpoint *endpoints;
    size_t n_endpoints;
    CURL *curl;
    struct reg_pull_result *result;
    size_t max_manifest;
};

static void secret_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

static void response_reset(struct http_response *r)
{
    r->status = 0;
    r->reason[0] = '\0';
    free(r->content_type);
    free(r->content_digest);
    r->content_type = r->content_digest = NULL;
    sw_strbuf_free(&r->challenges);
    sw_strbuf_free(&r->body);
    r->body_too_big = 0;
}

static void response_release(struct http_response *r)
{
    response_reset(r);
    sw_error_clear(&r->sink_err);
}

static char *trimmed_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return strndup(s, n);
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct http_response *r = userdata;
    size_t n = size * nitems;
    if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a redirect or 100): forget the last one */
        response_reset(r);
        char line[128];
        size_t len = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
        memcpy(line, buf, len);
        line[len] = '\0';
        char *space = strchr(line, ' ');
        if (space) {
            char *end;
            r->status = strtol(space + 1, &end, 10);
            char *reason = trimmed_dup(end, strlen(end));
            if (reason) {
                snprintf(r->reason, sizeof(r->reason), "%s", reason);
                free(reason);
            }
        }
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (colon == NULL)
        return n;
    size_t name_len = (size_t)(colon - buf);
    const char *value = colon + 1;
    size_t value_len = n - name_len - 1;
    if (name_len == 12 && strncasecmp(buf, "content-type", 12) == 0) {
        free(r->content_type);
        r->content_type = trimmed_dup(value, value_len);
    } else if (name_len == 21 && strncasecmp(buf, "docker-content-digest", 21) == 0) {
        free(r->content_digest);
        r->content_digest = trimmed_dup(value, value_len);
    } else if (name_len == 16 && strncasecmp(buf, "www-authenticate", 16) == 0) {
        char *v = trimmed_dup(value, value_len);
        if (v) {
            sw_strbuf_printf(&r->challenges, "%s%s", r->challenges.len ? ", " : "", v);
            free(v);
        }
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct http_response *r = userdata;
    size_t n = size * nmemb;
    int is_success = r->status >= 200 && r->status < 300;
    if (is_success && r->sink) {
        if (r->sink_limit >= 0 && r->sink_bytes + (int64_t)n > r->sink_limit) {
            sw_error_set(&r->sink_err, REG_E_SIZE_INVALID,
                         "the server sent more than the %lld bytes the manifest announces",
                         (long long)r->sink_limit);
            return 0;
        }
        if (reg_blob_writer_write(r->sink, data, n, &r->sink_err) != 0)
            return 0;
        r->sink_bytes += (int64_t)n;
        return n;
    }
    size_t limit = is_success ? r->body_limit : MAX_ERROR_BODY;
    if (r->body.len + n > limit) {
        if (is_success) {
            r->body_too_big = 1;
            return 0;
        }
        n = limit > r->body.len ? limit - r->body.len : 0; /* keep the start of an error */
        if (n)
            sw_strbuf_append(&r->body, data, n);
        return size * nmemb;
    }
    sw_strbuf_append(&r->body, data, n);
    return r->body.failed ? 0 : n;
}

/* Copies at most max characters of s, replacing control characters, for
 * quoting what a remote server said inside our messages. */
static void sanitize(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s && s[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = (c < ' ' || c == 0x7f) ? ' ' : (char)c;
    }
    dst[i] = '\0';
}

/* "GET URL: 401 UNAUTHORIZED: authentication required" from a failed
 * response: the first OCI error in the body, else the reason phrase and
 * the start of a textual body. */
static int http_status_error(sw_error **err, const char *url, const struct http_response *r,
                             const char *hint)
{
    int code = SW_EIO;
    if (r->status == 401 || r->status == 403)
        code = SW_EPERM;
    else if (r->status == 404)
        code = SW_ENOTFOUND;
    char detail[ERROR_DETAIL_MAX + 80] = "";
    json_t *body = r->body.len ? json_loadb(r->body.data, r->body.len, 0, NULL) : NULL;
    json_t *first = json_array_get(json_object_get(body, "errors"), 0);
    const char *err_code = json_string_value(json_object_get(first, "code"));
    const char *err_message = json_string_value(json_object_get(first, "message"));
    if (err_code || err_message) {
        char code_text[64], message_text[ERROR_DETAIL_MAX];
        sanitize(code_text, sizeof(code_text), err_code ? err_code : r->reason);
        sanitize(message_text, sizeof(message_text), err_message ? err_message : "");
        snprintf(detail, sizeof(detail), "%s%s%s", code_text, message_text[0] ? ": " : "",
                 message_text);
    } else {
        char reason[64], text[200] = "";
        sanitize(reason, sizeof(reason), r->reason);
        if (body == NULL && r->body.len && r->content_type &&
            strncasecmp(r->content_type, "text/", 5) == 0)
            sanitize(text, sizeof(text), r->body.data);
        snprintf(detail, sizeof(detail), "%s%s%s", reason, text[0] ? ": " : "", text);
    }
    json_decref(body);
    return sw_error_set(err, code, "GET %s: %ld %s%s", url, r->status, detail, hint ? hint : "");
}

/* One GET, following redirects. 0 when a response arrived (any status);
 * otherwise an error, with *is_transport set when the connection itself
 * failed (so the endpoint can be skipped from now on). */
static int http_perform(struct pull_ctx *ctx, const char *url, const char *accept,
                        const char *auth_header, const struct reg_credential *basic,
                        struct http_response *resp, int *is_transport, sw_error **err)
{
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = NULL;
    int rc = 0;
    CURL *curl = ctx->curl;
    *is_transport = 0;

    curl_easy_reset(curl);
    if (accept) {
        char line[512];
        snprintf(line, sizeof(line), "Accept: %s", accept);
        headers = curl_slist_append(headers, line);
    }
    if (auth_header) {
        struct curl_slist *with_auth = curl_slist_append(headers, auth_header);
        SW_CHECK_ALLOC(with_auth, rc, err, cleanup);
        headers = with_auth;
    }
    struct sw_http_options http = {
        .connect_timeout_s = ctx->opts->connect_timeout_s,
        .stall_timeout_s = ctx->opts->stall_timeout_s,
        .follow_redirects = 1,
    };
    sw_http_easy_setup(curl, &http);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, resp);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, resp);
    if (basic) {
        curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(curl, CURLOPT_USERNAME, basic->username ? basic->username : "");
        curl_easy_setopt(curl, CURLOPT_PASSWORD, basic->password ? basic->password : "");
    }

    sw_debug("registry client: GET %s", url);
    CURLcode cc = curl_easy_perform(curl);
    if (resp->sink_err) {
        /* the blob writer refused (size, disk): its error, not curl's */
        rc = sw_error_code(resp->sink_err);
        sw_error_set(err, rc, "GET %s: %s", url, sw_error_message(resp->sink_err));
    } else if (resp->body_too_big) {
        rc = sw_error_set(err, SW_ETOOBIG, "GET %s: response larger than %zu bytes", url,
                          resp->body_limit);
    } else if (cc != CURLE_OK) {
        *is_transport = 1;
        rc = sw_error_set(err, SW_EIO, "GET %s: %s", url,
                          errbuf[0] ? errbuf : curl_easy_strerror(cc));
    }
cleanup:
    /* the Authorization header is a secret: wipe our copy in the list */
    for (struct curl_slist *h = headers; h; h = h->next)
        explicit_bzero(h->data, strlen(h->data));
    curl_slist_free_all(headers);
    curl_easy_reset(curl); /* drops the password and pointers to our stack */
    return rc;
}

static int append_query_param(sw_strbuf *url, CURL *curl, const char *name, const char *value,
                              int *has_query)
{
    char *escaped = curl_easy_escape(curl, value, 0);
    if (escaped == NULL)
        return -1;
    sw_strbuf_printf(url, "%c%s=%s", *has_query ? '&' : '?', name, escaped);
    *has_query = 1;
    curl_free(escaped);
    return 0;
}

/* Bearer: GET realm?service=..&scope=.. (Basic credentials when we have
 * them), take `token` or `access_token` from the JSON answer. */
static int fetch_bearer_token(struct pull_ctx *ctx, struct endpoint *ep,
                              const struct reg_auth_challenge *challenge, sw_error **err)
{
    sw_strbuf url = SW_STRBUF_INIT;
    struct http_response resp = { 0 };
    json_t *answer = NULL;
    char *scope_copy = NULL, *default_scope = NULL;
    int rc = 0, is_transport = 0;

    if (strncasecmp(challenge->realm, "https://", 8) != 0 &&
        strncasecmp(challenge->realm, "http://", 7) != 0) {
        rc = sw_error_set(err, SW_EINVAL, "%s: token realm '%.200s' is not an http(s) URL",
                          ep->host, challenge->realm);
        goto cleanup;
    }
    int has_query = strchr(challenge->realm, '?') != NULL;
    sw_strbuf_puts(&url, challenge->realm);
    if (challenge->service && challenge->service[0] &&
        append_query_param(&url, ctx->curl, "service", challenge->service, &has_query) != 0)
        goto nomem;
    /* the challenge names the scope it wants; several are space-separated */
    if (challenge->scope && challenge->scope[0]) {
        scope_copy = strdup(challenge->scope);
        if (scope_copy == NULL)
            goto nomem;
    } else {
        if (asprintf(&default_scope, "repository:%s:pull", ctx->ref.path) < 0) {
            default_scope = NULL;
            goto nomem;
        }
        scope_copy = strdup(default_scope);
        if (scope_copy == NULL)
            goto nomem;
    }
    char *saveptr = NULL;
    for (char *scope = strtok_r(scope_copy, " ", &saveptr); scope;
         scope = strtok_r(NULL, " ", &saveptr)) {
        if (append_query_param(&url, ctx->curl, "scope", scope, &has_query) != 0)
            goto nomem;
    }
    if (url.failed)
        goto nomem;

    resp.body_limit = MAX_TOKEN_BODY;
    resp.sink_limit = -1;
    rc = http_perform(ctx, url.data, "application/json", NULL, ep->credential, &resp, &is_transport,
                      err);
    if (rc != 0)
        goto cleanup;
    if (resp.status != 200) {
        rc = http_status_error(err, url.data, &resp,
                               ep->credential ? " (are the credentials right?)" : "");
        goto cleanup;
    }
    answer = json_loadb(resp.body.data ? resp.body.data : "", resp.body.len, 0, NULL);
    const char *token = json_string_value(json_object_get(answer, "token"));
    if (token == NULL || token[0] == '\0')
        token = json_string_value(json_object_get(answer, "access_token"));
    if (token == NULL || token[0] == '\0') {
        rc = sw_error_set(err, SW_EINVAL, "GET %s: the answer has no 'token' or 'access_token'",
                          url.data);
        goto cleanup;
    }
    for (const char *c = token; *c; c++) {
        if ((unsigned char)*c < ' ' || *c == 0x7f) {
            rc = sw_error_set(err, SW_EINVAL, "GET %s: the token contains control characters",
                              url.data);
            goto cleanup;
        }
    }
    secret_free(ep->auth_header);
    if (asprintf(&ep->auth_header, "Authorization: Bearer %s", token) < 0) {
        ep->auth_header = NULL;
        goto nomem;
    }
    goto cleanup;
nomem:
    rc = sw_error_oom(err);
cleanup:
    if (answer) {
        /* the token string lives inside the JSON tree; wipe the raw body */
        json_decref(answer);
    }
    if (resp.body.data)
        explicit_bzero(resp.body.data, resp.body.len);
    response_release(&resp);
    sw_strbuf_free(&url);
    free(scope_copy);
    free(default_scope);
    return rc;
}

/* Answers a 401. Returns 0 when a new Authorization header is ready, 1
 * when the 401 stands (nothing we can answer it with), or an error. */
static int endpoint_authenticate(struct pull_ctx *ctx, struct endpoint *ep, const char *challenges,
                                 sw_error **err)
{
    struct reg_auth_challenge challenge;
    int rc;
    if (challenges == NULL || reg_auth_challenge_parse(challenges, &challenge, NULL) != 0)
        return 1;
    if (strcmp(challenge.scheme, "bearer") == 0) {
        rc = fetch_bearer_token(ctx, ep, &challenge, err);
        if (rc != 0)
            sw_error_prefix(err, "getting a token for %s", ep->host);
    } else if (ep->credential == NULL || ep->auth_header != NULL) {
        rc = 1; /* Basic without credentials, or ours were just refused */
    } else {
        char *pair = NULL, *encoded = NULL;
        rc = 0;
        if (asprintf(&pair, "%s:%s", ep->credential->username ? ep->credential->username : "",
                     ep->credential->password ? ep->credential->password : "") < 0) {
            pair = NULL;
            rc = sw_error_oom(err);
        } else if ((encoded = sw_base64_encode(pair, strlen(pair))) == NULL ||
                   asprintf(&ep->auth_header, "Authorization: Basic %s", encoded) < 0) {
            ep->auth_header = NULL;
            rc = sw_error_oom(err);
        }
        secret_free(pair);
        secret_free(encoded);
    }
    reg_auth_challenge_release(&challenge);
    return rc;
}

/* GET on one endpoint, answering one 401 challenge. A non-2xx final status
 * is an error naming the URL and what the server said. */
static int endpoint_get(struct pull_ctx *ctx, struct endpoint *ep, const char *url,
                        const char *accept, struct http_response *resp, int *is_transport,
                        sw_error **err)
{
    int rc = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        response_reset(resp);
        rc = http_perform(ctx, url, accept, ep->auth_header, NULL, resp, is_transport, err);
        if (rc != 0)
            return rc;
        if (resp->status >= 200 && resp->status < 300)
            return 0;
        if (resp->status != 401 || attempt == 1)
            break;
        char *challenges = resp->challenges.data ? strdup(resp->challenges.data) : NULL;
        rc = endpoint_authenticate(ctx, ep, challenges, err);
        free(challenges);
        if (rc < 0)
            return rc;
        if (rc == 1)
            break;
    }
    char hint[300] = "";
    if (resp->status == 401)
        snprintf(hint, sizeof(hint),
                 ep->credential ? " (the credentials for %s were refused)"
                                : " (no credentials given for %s)",
                 ep->host);
    return http_status_error(err, url, resp, hint);
}

/* ======================================================================
 * Endpoints
 * ====================================================================== */

static int is_loopback_host(const char *host)
{
    char name[256];
    size_t n = strlen(host);
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        n = close ? (size_t)(close - host + 1) : n;
    } else {
        const char *colon = strchr(host, ':');
        n = colon ? (size_t)(colon - host) : n;
    }
    if (n >= sizeof(name))
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    return strcasecmp(name, "localhost") == 0 || strcmp(name, "[::1]") == 0 ||
           strncmp(name, "127.", 4) == 0;
}

static int host_is_insecure(const struct reg_client_options *opts, const char *domain,
                            const char *host)
{
    for (const char *const *h = opts->insecure_hosts; h && *h; h++) {
        if (host_matches(*h, domain) || host_matches(*h, host))
            return 1;
    }
    return 0;
}

static const struct reg_credential *credential_for(const struct reg_client_options *opts,
                                                   const char *host)
{
    for (size_t i = 0; i < opts->n_credentials; i++) {
        const struct reg_credential *c = &opts->credentials[i];
        if (c->host && host_matches(c->host, host))
            return c;
    }
    return NULL;
}

static int add_endpoint(struct pull_ctx *ctx, const char *url, size_t url_len, int is_mirror,
                        const char *credential_host, sw_error **err)
{
    struct endpoint *grown = realloc(ctx->endpoints, (ctx->n_endpoints + 1) * sizeof(*grown));
    if (grown == NULL)
        return sw_error_oom(err);
    ctx->endpoints = grown;
    struct endpoint *ep = &ctx->endpoints[ctx->n_endpoints];
    memset(ep, 0, sizeof(*ep));
    while (url_len && url[url_len - 1] == '/')
        url_len--;
    const char *authority = strstr(url, "://") + 3;
    size_t host_len = strcspn(authority, "/");
    if (authority + host_len > url + url_len)
        host_len = (size_t)(url + url_len - authority);
    ep->base_url = strndup(url, url_len);
    ep->host = strndup(authority, host_len);
    if (ep->base_url == NULL || ep->host == NULL) {
        free(ep->base_url);
        free(ep->host);
        return sw_error_oom(err);
    }
    ep->is_mirror = is_mirror;
    ep->credential = credential_for(ctx->opts, credential_host ? credential_host : ep->host);
    if (ep->credential == NULL)
        ep->credential = credential_for(ctx->opts, ep->host);
    ctx->n_endpoints++;
    return 0;
}

/* Mirrors of the reference's domain first, then the registry itself. */
static int build_endpoints(struct pull_ctx *ctx, sw_error **err)
{
    const struct reg_client_options *opts = ctx->opts;
    const char *domain = ctx->ref.domain;
    int rc;
    for (size_t i = 0; i < opts->n_mirrors; i++) {
        const struct sw_mirror *m = &opts->mirrors[i];
        if (m->host == NULL || !host_matches(m->host, domain))
            continue;
        for (char **url = m->endpoints; url && *url; url++) {
            const char *u = *url;
            const char *scheme_end = strstr(u, "://");
            if ((strncasecmp(u, "http://", 7) != 0 && strncasecmp(u, "https://", 8) != 0) ||
                scheme_end[3] == '\0' || scheme_end[3] == '/')
                return sw_error_set(err, SW_EINVAL,
                                    "mirror '%s' of %s: expected an http:// or https:// URL", u,
                                    m->host);
            if (memchr(scheme_end + 3, '@', strcspn(scheme_end + 3, "/")))
                return sw_error_set(err, SW_EINVAL,
                                    "mirror of %s: credentials do not belong in the URL; "
                                    "give them per host",
                                    m->host);
            if ((rc = add_endpoint(ctx, u, strlen(u), 1, NULL, err)) != 0)
                return rc;
        }
    }
    const char *host = reg_ref_endpoint_host(domain);
    char url[600];
    int is_insecure = host_is_insecure(opts, domain, host);
    if (!is_insecure || is_loopback_host(host)) {
        snprintf(url, sizeof(url), "https://%s", host);
        /* HTTPS first for loopback too, as Docker does, unless listed */
        if (!is_insecure && (rc = add_endpoint(ctx, url, strlen(url), 0, domain, err)) != 0)
            return rc;
    }
    if (is_insecure || is_loopback_host(host)) {
        snprintf(url, sizeof(url), "http://%s", host);
        if ((rc = add_endpoint(ctx, url, strlen(url), 0, domain, err)) != 0)
            return rc;
    }
    return 0;
}

/* Runs `attempt` on each live endpoint in turn until one succeeds. */
typedef int (*endpoint_attempt_fn)(struct pull_ctx *ctx, struct endpoint *ep, void *arg,
                                   int *is_transport, sw_error **err);

static int with_endpoints(struct pull_ctx *ctx, endpoint_attempt_fn attempt, void *arg,
                          sw_error **err)
{
    sw_error *last = NULL;
    int rc = SW_EIO;
    size_t last_live = ctx->n_endpoints;
    for (size_t i = 0; i < ctx->n_endpoints; i++) {
        if (!ctx->endpoints[i].is_dead)
            last_live = i;
    }
    for (size_t i = 0; i < ctx->n_endpoints; i++) {
        struct endpoint *ep = &ctx->endpoints[i];
        if (ep->is_dead)
            continue;
        int is_transport = 0;
        sw_error_clear(&last);
        rc = attempt(ctx, ep, arg, &is_transport, &last);
        if (rc == 0)
            break;
        if (is_transport)
            ep->is_dead = 1;
        if (rc == SW_ENOMEM || i == last_live)
            break;
        if (ep->is_mirror)
            sw_warn("mirror %s: %s; trying the next endpoint", ep->base_url,
                    sw_error_message(last));
        else
            sw_debug("registry client: %s: %s; trying the next endpoint", ep->base_url,
                     sw_error_message(last));
    }
    if (rc != 0) {
        if (last && err && *err == NULL) {
            *err = last;
            last = NULL;
        } else if (last == NULL) {
            sw_error_set(err, rc, "no registry endpoint left to try");
        }
    }
    sw_error_clear(&last);
    return rc;
}

/* ======================================================================
 * Manifests
 * ====================================================================== */

#define MANIFEST_ACCEPT                                                                            \
    REG_MT_OCI_INDEX ", " REG_MT_DOCKER_LIST ", " REG_MT_OCI_MANIFEST ", " REG_MT_DOCKER_MANIFEST

struct fetched_manifest {
    const char *reference; /* in: tag or digest */
    char *body;            /* out */
    size_t len;
    char *media_type;
    char digest[SW_DIGEST_MAX];
    json_t *json;
};

static void fetched_manifest_release(struct fetched_manifest *m)
{
    free(m->body);
    free(m->media_type);
    json_decref(m->json);
    m->body = m->media_type = NULL;
    m->json = NULL;
}

static void digest_of(const char *algo_of, const void *data, size_t len, char out[SW_DIGEST_MAX])
{
    if (strncmp(algo_of, "sha512:", 7) == 0) {
        sw_hash *h = sw_hash_new(SW_HASH_SHA512);
        if (h) {
            sw_hash_update(h, data, len);
            sw_hash_digest(h, out);
            sw_hash_free(h);
            return;
        }
    }
    sw_sha256_digest(data, len, out);
}

/* The manifest's media type: its mediaType field, else the Content-Type,
 * else what its shape says (OCI allows leaving mediaType out). */
static int manifest_media_type(struct fetched_manifest *m, const char *content_type,
                               const char *url, sw_error **err)
{
    const char *mt = json_string_value(json_object_get(m->json, "mediaType"));
    char header_type[100] = "";
    if (content_type) {
        size_t n = strcspn(content_type, ";");
        while (n && content_type[n - 1] == ' ')
            n--;
        if (n < sizeof(header_type)) {
            memcpy(header_type, content_type, n);
            header_type[n] = '\0';
        }
    }
    json_t *version = json_object_get(m->json, "schemaVersion");
    if (json_integer_value(version) == 1 || strstr(header_type, "distribution.manifest.v1+"))
        return sw_error_set(err, SW_EUNSUPPORTED,
                            "GET %s: Docker schema 1 manifests are not supported", url);
    if (mt == NULL) {
        if (reg_media_type_is_index(header_type) || reg_media_type_is_image_manifest(header_type))
            mt = header_type;
        else if (json_object_get(m->json, "manifests"))
            mt = REG_MT_OCI_INDEX;
        else
            mt = REG_MT_OCI_MANIFEST;
    }
    if (!reg_media_type_is_index(mt) && !reg_media_type_is_image_manifest(mt))
        return sw_error_set(err, SW_EUNSUPPORTED, "GET %s: unsupported manifest type '%.100s'", url,
                            mt);
    m->media_type = strdup(mt);
    return m->media_type ? 0 : sw_error_oom(err);
}

static int attempt_manifest(struct pull_ctx *ctx, struct endpoint *ep, void *arg, int *is_transport,
                            sw_error **err)
{
    struct fetched_manifest *m = arg;
    struct http_response resp = { 0 };
    char *url = NULL;
    int rc = 0;
    fetched_manifest_release(m);
    if (asprintf(&url, "%s/v2/%s/manifests/%s", ep->base_url, ctx->ref.path, m->reference) < 0)
        return sw_error_oom(err);
    resp.body_limit = ctx->max_manifest;
    resp.sink_limit = -1;
    if ((rc = endpoint_get(ctx, ep, url, MANIFEST_ACCEPT, &resp, is_transport, err)) != 0)
        goto cleanup;

    /* the bytes must be the ones asked for (a digest reference) or the ones
     * the registry announced; the store recomputes its own digest anyway */
    const char *expected = NULL, *expected_from = NULL;
    if (reg_reference_is_digest(m->reference)) {
        expected = m->reference;
        expected_from = "requested";
    } else if (resp.content_digest && reg_digest_valid(resp.content_digest)) {
        expected = resp.content_digest;
        expected_from = "Docker-Content-Digest";
    }
    const char *body = resp.body.data ? resp.body.data : "";
    digest_of(expected ? expected : "sha256:", body, resp.body.len, m->digest);
    if (expected && strcmp(expected, m->digest) != 0) {
        rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                          "GET %s: manifest digest mismatch: the bytes hash to %s, %s %s", url,
                          m->digest, expected_from, expected);
        goto cleanup;
    }
    if (expected && strncmp(expected, "sha256:", 7) != 0)
        sw_sha256_digest(body, resp.body.len, m->digest); /* the store names it by sha256 */
    m->json = json_loadb(body, resp.body.len, 0, NULL);
    if (!json_is_object(m->json)) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "GET %s: the manifest is not a JSON object",
                          url);
        goto cleanup;
    }
    if ((rc = manifest_media_type(m, resp.content_type, url, err)) != 0)
        goto cleanup;
    m->len = resp.body.len;
    m->body = sw_strbuf_detach(&resp.body);
    if (m->body == NULL)
        rc = sw_error_oom(err);
cleanup:
    if (rc != 0)
        fetched_manifest_release(m);
    response_release(&resp);
    free(url);
    return rc;
}

/* ======================================================================
 * Blobs
 * ====================================================================== */

struct blob_request {
    const char *digest;
    int64_t size;
};

static int attempt_blob(struct pull_ctx *ctx, struct endpoint *ep, void *arg, int *is_transport,
                        sw_error **err)
{
    struct blob_request *b = arg;
    struct http_response resp = { 0 };
    reg_blob_writer *writer = NULL;
    char *url = NULL;
    int rc;
    if (asprintf(&url, "%s/v2/%s/blobs/%s", ep->base_url, ctx->ref.path, b->digest) < 0)
        return sw_error_oom(err);
    if ((rc = reg_blob_writer_new_algo(ctx->store, reg_digest_algo(b->digest), &writer, err)) != 0)
        goto cleanup;
    resp.sink = writer;
    resp.sink_limit = b->size;
    resp.body_limit = 0;
    if ((rc = endpoint_get(ctx, ep, url, NULL, &resp, is_transport, err)) != 0)
        goto cleanup;
    if (b->size >= 0 && resp.sink_bytes != b->size) {
        rc = sw_error_set(err, REG_E_SIZE_INVALID,
                          "GET %s: got %lld bytes, the manifest announces %lld", url,
                          (long long)resp.sink_bytes, (long long)b->size);
        goto cleanup;
    }
    /* commit verifies the digest and frees the writer whatever happens */
    rc = reg_blob_writer_commit(writer, ctx->local_repo, b->digest, NULL, err);
    writer = NULL;
    if (rc != 0)
        sw_error_prefix(err, "GET %s", url);
    else
        ctx->result->bytes_downloaded += resp.sink_bytes;
cleanup:
    reg_blob_writer_abort(writer);
    response_release(&resp);
    free(url);
    return rc;
}

static int descriptor_read(json_t *desc, const char *what, const char **digest, int64_t *size,
                           sw_error **err)
{
    json_t *d = json_object_get(desc, "digest");
    json_t *s = json_object_get(desc, "size");
    *digest = json_string_value(d);
    if (*digest == NULL || !reg_digest_valid(*digest))
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "%s: missing or invalid digest", what);
    if (!json_is_integer(s) || json_integer_value(s) < 0)
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "%s %s: missing or invalid size", what,
                            *digest);
    *size = json_integer_value(s);
    return 0;
}

static int ensure_blob(struct pull_ctx *ctx, const char *digest, int64_t size, sw_error **err)
{
    sw_error *link_err = NULL;
    int was_present = 0;
    int rc = reg_blob_link(ctx->store, ctx->local_repo, digest, &link_err);
    if (rc == 0) {
        was_present = 1;
    } else if (rc == REG_E_BLOB_UNKNOWN || rc == SW_ENOTFOUND) {
        struct blob_request request = { digest, size };
        rc = with_endpoints(ctx, attempt_blob, &request, err);
    } else if (err && *err == NULL) {
        *err = link_err;
        link_err = NULL;
    }
    sw_error_clear(&link_err);
    if (rc == 0) {
        ctx->result->n_blobs++;
        if (ctx->opts->progress)
            ctx->opts->progress(ctx->opts->progress_ctx, digest, size, was_present);
    }
    return rc;
}

/* ======================================================================
 * Pull
 * ====================================================================== */

static int pull_image(struct pull_ctx *ctx, const struct reg_platform *platform,
                      const char *local_tag, sw_error **err)
{
    struct fetched_manifest top = { 0 }, child = { 0 };
    struct fetched_manifest *image = &top;
    int rc;
    top.reference = ctx->ref.digest ? ctx->ref.digest : ctx->ref.tag;
    if ((rc = with_endpoints(ctx, attempt_manifest, &top, err)) != 0)
        goto cleanup;

    if (reg_media_type_is_index(top.media_type)) {
        json_t *desc;
        const char *child_digest;
        int64_t child_size;
        snprintf(ctx->result->index_digest, SW_DIGEST_MAX, "%s", top.digest);
        if ((rc = reg_index_select(top.json, platform, &desc, err)) != 0 ||
            (rc = descriptor_read(desc, "index entry", &child_digest, &child_size, err)) != 0) {
            sw_error_prefix(err, "index %s", top.digest);
            goto cleanup;
        }
        struct reg_platform chosen;
        reg_platform_of_json(json_object_get(desc, "platform"), &chosen);
        reg_platform_format(&chosen, ctx->result->platform);
        child.reference = child_digest;
        if ((rc = with_endpoints(ctx, attempt_manifest, &child, err)) != 0)
            goto cleanup;
        if ((int64_t)child.len != child_size) {
            rc = sw_error_set(err, REG_E_SIZE_INVALID,
                              "manifest %s is %zu bytes, the index says %lld", child_digest,
                              child.len, (long long)child_size);
            goto cleanup;
        }
        if (!reg_media_type_is_image_manifest(child.media_type)) {
            rc = sw_error_set(err, SW_EUNSUPPORTED,
                              "manifest %s for %s is a %s, expected an image manifest",
                              child_digest, ctx->result->platform, child.media_type);
            goto cleanup;
        }
        image = &child;
    } else {
        reg_platform_format(platform, ctx->result->platform);
    }

    const char *config_digest;
    int64_t config_size;
    json_t *layers = json_object_get(image->json, "layers"), *layer;
    size_t i;
    if ((rc = descriptor_read(json_object_get(image->json, "config"), "config", &config_digest,
                              &config_size, err)) != 0 ||
        !json_is_array(layers)) {
        if (rc == 0)
            rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "no 'layers' array");
        sw_error_prefix(err, "manifest %s", image->digest);
        goto cleanup;
    }
    snprintf(ctx->result->config_digest, SW_DIGEST_MAX, "%s", config_digest);
    if ((rc = ensure_blob(ctx, config_digest, config_size, err)) != 0)
        goto cleanup;
    json_array_foreach(layers, i, layer) {
        const char *layer_digest;
        int64_t layer_size;
        char what[40];
        snprintf(what, sizeof(what), "layer %zu", i + 1);
        if ((rc = descriptor_read(layer, what, &layer_digest, &layer_size, err)) != 0) {
            sw_error_prefix(err, "manifest %s", image->digest);
            goto cleanup;
        }
        if ((rc = ensure_blob(ctx, layer_digest, layer_size, err)) != 0)
            goto cleanup;
    }

    char stored[SW_DIGEST_MAX];
    rc = reg_manifest_put(ctx->store, ctx->local_repo, local_tag ? local_tag : image->digest,
                          image->media_type, image->body, image->len, stored, NULL, err);
    if (rc != 0) {
        sw_error_prefix(err, "storing manifest %s as %s:%s", image->digest, ctx->local_repo,
                        local_tag ? local_tag : image->digest);
        goto cleanup;
    }
    snprintf(ctx->result->manifest_digest, SW_DIGEST_MAX, "%s", stored);
    snprintf(ctx->result->media_type, sizeof(ctx->result->media_type), "%s", image->media_type);
cleanup:
    fetched_manifest_release(&top);
    fetched_manifest_release(&child);
    return rc;
}

int reg_client_pull(reg_store *store, const struct reg_client_options *opts, const char *ref,
                    const char *platform, const char *local_repo, const char *local_tag,
                    struct reg_pull_result *result, sw_error **err)
{
    static const struct reg_client_options no_options = { 0 };
    struct pull_ctx ctx = { 0 };
    struct reg_platform want;
    int rc;

    memset(result, 0, sizeof(*result));
    ctx.store = store;
    ctx.opts = opts ? opts : &no_options;
    ctx.result = result;
    const struct reg_options *store_opts = reg_store_options(store);
    ctx.max_manifest = store_opts && store_opts->max_manifest_size > 0
                           ? (size_t)store_opts->max_manifest_size
                           : DEFAULT_MAX_MANIFEST;

    if ((rc = reg_ref_parse(ref, &ctx.ref, err)) != 0)
        return rc;
    if ((ctx.ref_text = reg_ref_format(&ctx.ref)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = reg_platform_parse(platform, &want, err)) != 0)
        goto fail;
    ctx.local_repo = local_repo ? local_repo : ctx.ref.path;
    if (!reg_name_valid_stored(ctx.local_repo)) {
        rc = sw_error_set(err, REG_E_NAME_INVALID, "invalid local repository name '%s'",
                          ctx.local_repo);
        goto fail;
    }
    if (local_tag && !reg_tag_valid(local_tag)) {
        rc = sw_error_set(err, REG_E_TAG_INVALID, "invalid local tag '%s'", local_tag);
        goto fail;
    }
    if ((ctx.curl = sw_http_easy_new(NULL)) == NULL) {
        rc = sw_error_set(err, SW_EIO, "initialising libcurl failed");
        goto fail;
    }
    if ((rc = build_endpoints(&ctx, err)) != 0)
        goto fail;
    rc = pull_image(&ctx, &want, local_tag, err);
fail:
    if (rc != 0)
        sw_error_prefix(err, "pulling %s", ctx.ref_text);
cleanup:
    for (size_t i = 0; i < ctx.n_endpoints; i++) {
        free(ctx.endpoints[i].base_url);
        free(ctx.endpoints[i].host);
        secret_free(ctx.endpoints[i].auth_header);
    }
    free(ctx.endpoints);
    if (ctx.curl)
        curl_easy_cleanup(ctx.curl);
    free(ctx.ref_text);
    reg_ref_release(&ctx.ref);
    return rc;
}
