/*
 * repos.c - the `repos:` and `runs:` sections and build rule matching
 * (see repos.h).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "worker/repos.h"

#include <ctype.h>
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"
#include "core/strbuf.h"
#include "registry/index.h"
#include "registry/platform.h"
#include "registry/names.h"
#include "worker/git.h"
#include "worker/tags.h"

/* ---- small helpers ------------------------------------------------------- */

static char **dup_argv(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    if (v == NULL)
        return NULL;
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++)
        out[i] = strdup(v[i]);
    return out;
}

static char **dup_strv(char *const *v, size_t n)
{
    char **out = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; out && i < n; i++)
        out[i] = strdup(v[i]);
    return out;
}

struct ctx {
    const struct sw_config *cfg;
    char where[300]; /* "repos[demo/hello]" or "repos[3]" */
};

static int key_error(const struct ctx *c, const json_t *node, const char *key, sw_error **err,
                     const char *msg)
{
    return sw_config_error(c->cfg, node, key, err, "%s", msg);
}

static int check_keys(const struct ctx *c, json_t *obj, const char *prefix,
                      const char *const *known, sw_error **err)
{
    const char *key;
    json_t *value;
    json_object_foreach(obj, key, value) {
        int ok = 0;
        for (size_t i = 0; known[i]; i++)
            ok |= strcmp(key, known[i]) == 0;
        if (!ok) {
            char full[400];
            snprintf(full, sizeof(full), "%s.%s", prefix, key);
            return key_error(c, value, full, err, "unknown key");
        }
    }
    return 0;
}

/* A string value (or NULL when absent); an error for another kind. */
static int get_str(const struct ctx *c, json_t *obj, const char *prefix, const char *key,
                   const char **out, sw_error **err)
{
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        char full[400];
        snprintf(full, sizeof(full), "%s.%s", prefix, key);
        return key_error(c, v, full, err, "expected a non-empty string");
    }
    *out = json_string_value(v);
    return 0;
}

static int get_bool(const struct ctx *c, json_t *obj, const char *prefix, const char *key, int *out,
                    sw_error **err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v)) {
        char full[400];
        snprintf(full, sizeof(full), "%s.%s", prefix, key);
        return key_error(c, v, full, err, "expected true or false");
    }
    *out = json_is_true(v);
    return 0;
}

/* A secret (literal or env:NAME). */
static int get_secret(const struct ctx *c, json_t *obj, const char *prefix, const char *key,
                      char **out, sw_error **err)
{
    const char *spec = NULL;
    int rc = get_str(c, obj, prefix, key, &spec, err);
    *out = NULL;
    if (rc != 0 || spec == NULL)
        return rc;
    sw_error *e = NULL;
    if (sw_config_secret(spec, out, &e) != 0) {
        char full[400];
        snprintf(full, sizeof(full), "%s.%s", prefix, key);
        rc = sw_config_error(c->cfg, json_object_get(obj, key), full, err, "%s",
                             sw_error_message(e));
        sw_error_clear(&e);
    }
    return rc;
}

/* A list of strings (a single string is a list of one). */
static int get_list(const struct ctx *c, json_t *obj, const char *prefix, const char *key,
                    char ***out, size_t *n, int *present, sw_error **err)
{
    json_t *v = json_object_get(obj, key);
    char full[400];
    snprintf(full, sizeof(full), "%s.%s", prefix, key);
    *out = NULL;
    *n = 0;
    *present = v != NULL;
    if (v == NULL)
        return 0;
    if (json_is_string(v)) {
        *out = calloc(2, sizeof(char *));
        if (*out == NULL || ((*out)[0] = strdup(json_string_value(v))) == NULL)
            return sw_error_oom(err);
        *n = 1;
        return 0;
    }
    if (!json_is_array(v))
        return key_error(c, v, full, err, "expected a list of strings");
    *out = calloc(json_array_size(v) + 1, sizeof(char *));
    if (*out == NULL)
        return sw_error_oom(err);
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item)) {
            sw_strv_free_n(*out, *n);
            *out = NULL;
            *n = 0;
            return key_error(c, item, full, err, "expected a list of strings");
        }
        (*out)[(*n)++] = strdup(json_string_value(item));
    }
    return 0;
}

/* autotest: an argv list, or a string run with sh -c. */
static int get_autotest(const struct ctx *c, json_t *obj, const char *prefix, char ***out,
                        int *present, sw_error **err)
{
    json_t *v = json_object_get(obj, "autotest");
    char full[400];
    snprintf(full, sizeof(full), "%s.autotest", prefix);
    *out = NULL;
    *present = v != NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return key_error(c, v, full, err, "expected a command");
        *out = calloc(4, sizeof(char *));
        if (*out == NULL)
            return sw_error_oom(err);
        (*out)[0] = strdup("sh");
        (*out)[1] = strdup("-c");
        (*out)[2] = strdup(json_string_value(v));
        return 0;
    }
    char **list = NULL;
    size_t n = 0;
    int ignored;
    int rc = get_list(c, obj, prefix, "autotest", &list, &n, &ignored, err);
    if (rc != 0)
        return rc;
    if (n == 0) {
        free(list);
        return key_error(c, v, full, err, "expected a command (a list of strings or a string)");
    }
    *out = list; /* get_list leaves room for the NULL terminator */
    return 0;
}

/* A path inside the repository: relative, no "..". */
static int check_rel_path(const struct ctx *c, json_t *node, const char *key, const char *path,
                          sw_error **err)
{
    if (path[0] == '/')
        return key_error(c, node, key, err, "must be a path relative to the repository root");
    const char *p = path;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return key_error(c, node, key, err, "must not leave the repository (\"..\")");
        p += len;
        while (*p == '/')
            p++;
    }
    return 0;
}

/* ---- URLs -------------------------------------------------------------- */

char *wrk_git_url_normalize(const char *url)
{
    if (url == NULL)
        return NULL;
    sw_strbuf out = SW_STRBUF_INIT;
    const char *rest = NULL, *scheme_end = strstr(url, "://");
    char scheme[16] = "";
    if (scheme_end) {
        size_t n = (size_t)(scheme_end - url);
        if (n == 0 || n >= sizeof(scheme))
            return NULL;
        for (size_t i = 0; i < n; i++)
            scheme[i] = (char)tolower((unsigned char)url[i]);
        scheme[n] = '\0';
        rest = scheme_end + 3;
    } else {
        /* scp-like user@host:path (a colon before any slash) */
        const char *colon = strchr(url, ':');
        const char *slash = strchr(url, '/');
        if (colon == NULL || (slash && slash < colon))
            return NULL; /* a bare path: not a URL we compare */
        snprintf(scheme, sizeof(scheme), "ssh");
        rest = url;
    }
    if (strcmp(scheme, "file") == 0) {
        sw_strbuf_puts(&out, "file://");
        sw_strbuf_puts(&out, rest);
    } else {
        /* authority: drop userinfo, lower-case the host, drop default ports */
        const char *auth_end = scheme_end ? rest + strcspn(rest, "/") : strchr(rest, ':');
        const char *at = memchr(rest, '@', (size_t)(auth_end - rest));
        const char *host = at ? at + 1 : rest;
        const char *port = NULL;
        const char *host_end = auth_end;
        if (scheme_end) {
            const char *colon = memchr(host, ':', (size_t)(auth_end - host));
            if (colon && host[0] != '[') {
                port = colon + 1;
                host_end = colon;
            }
        }
        for (const char *p = host; p < host_end; p++)
            sw_strbuf_putc(&out, (char)tolower((unsigned char)*p));
        if (port && port < auth_end) {
            size_t plen = (size_t)(auth_end - port);
            int is_default = (plen == 3 && strncmp(port, "443", 3) == 0) ||
                             (plen == 2 && strncmp(port, "80", 2) == 0) ||
                             (plen == 2 && strncmp(port, "22", 2) == 0) ||
                             (plen == 4 && strncmp(port, "9418", 4) == 0);
            if (!is_default && plen > 0) {
                sw_strbuf_putc(&out, ':');
                sw_strbuf_append(&out, port, plen);
            }
        }
        const char *path = scheme_end ? auth_end : auth_end + 1;
        if (*path != '/')
            sw_strbuf_putc(&out, '/');
        sw_strbuf_puts(&out, path);
    }
    /* no trailing slashes, no .git */
    char *s = sw_strbuf_detach(&out);
    if (s == NULL)
        return NULL;
    size_t len = strlen(s);
    while (len > 0 && s[len - 1] == '/')
        s[--len] = '\0';
    if (len > 4 && strcmp(s + len - 4, ".git") == 0)
        s[len -= 4] = '\0';
    while (len > 0 && s[len - 1] == '/')
        s[--len] = '\0';
    return s;
}

static int git_url_valid(const char *url)
{
    static const char *const schemes[] = { "https://", "http://", "ssh://",
                                           "git://",   "file://", NULL };
    for (size_t i = 0; schemes[i]; i++)
        if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
            return strlen(url) > strlen(schemes[i]);
    /* scp-like user@host:path */
    const char *colon = strchr(url, ':');
    const char *slash = strchr(url, '/');
    return colon && colon > url && (slash == NULL || slash > colon) && colon[1] != '\0';
}

/* ---- rules --------------------------------------------------------------- */

static void rule_free(struct wrk_rule *r)
{
    free(r->source_type);
    free(r->source);
    pcre2_code_free(r->re);
    free(r->dockerfile);
    free(r->context);
    sw_strv_free_n(r->build_args, r->n_build_args);
    sw_strv_free_n(r->tags, r->n_tags);
    sw_strv_free(r->autotest);
    sw_strv_free_n(r->notify, r->n_notify);
    free(r->notify_format);
    sw_strv_free_n(r->platforms, r->n_platforms);
    memset(r, 0, sizeof(*r));
}

struct defaults {
    char **autotest;
    char **notify;
    int *notify_format;
    size_t n_notify;
    int cache;
};

/* notify: a URL, or a list of URLs and {url, format} mappings (format:
 * dockerhub, the default, cloudevents or slack). */
static int get_notify(const struct ctx *c, json_t *obj, const char *prefix, char ***urls,
                      int **formats, size_t *n, int *present, sw_error **err)
{
    static const char *const names[] = { "dockerhub", "cloudevents", "slack", NULL };
    json_t *v = json_object_get(obj, "notify");
    char full[400];
    snprintf(full, sizeof(full), "%s.notify", prefix);
    *urls = NULL;
    *formats = NULL;
    *n = 0;
    *present = v != NULL;
    if (v == NULL)
        return 0;
    size_t count = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_array(v) && !json_is_string(v) && !json_is_object(v))
        return key_error(c, v, full, err, "expected a URL or a list of URLs and {url, format}");
    *urls = calloc(count + 1, sizeof(char *));
    *formats = calloc(count + 1, sizeof(int));
    if (*urls == NULL || *formats == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_is_array(v) ? json_array_get(v, i) : v;
        const char *url = json_string_value(item);
        int format = WRK_NOTIFY_DOCKERHUB;
        if (json_is_object(item)) {
            const char *key;
            json_t *val;
            json_object_foreach(item, key, val) {
                if (strcmp(key, "url") != 0 && strcmp(key, "format") != 0)
                    return sw_config_error(c->cfg, val, full, err,
                                           "%s: unknown key (a notify entry has url and format)",
                                           key);
            }
            url = json_string_value(json_object_get(item, "url"));
            json_t *f = json_object_get(item, "format");
            if (f) {
                const char *name = json_string_value(f);
                format = -1;
                for (int k = 0; name && names[k]; k++)
                    if (strcmp(names[k], name) == 0)
                        format = k;
                if (format < 0)
                    return key_error(c, f, full, err,
                                     "format: expected dockerhub, cloudevents or slack");
            }
        }
        if (url == NULL)
            return key_error(c, item, full, err, "expected a URL or {url, format}");
        if (((*urls)[i] = strdup(url)) == NULL)
            return sw_error_oom(err);
        (*formats)[i] = format;
        (*n)++;
    }
    return 0;
}

static int *dup_formats(const int *formats, size_t n)
{
    int *copy = calloc(n + 1, sizeof(int));
    if (copy && formats)
        memcpy(copy, formats, n * sizeof(int));
    return copy;
}

/* platforms: a list of os/arch[/variant] (a single string is a list of
 * one), normalised (aarch64 -> linux/arm64, armhf -> linux/arm/v7 ...),
 * each once; absent: none, the build is for the worker's own platform. */
static int get_platforms(const struct ctx *c, json_t *node, const char *prefix, struct wrk_rule *r,
                         sw_error **err)
{
    char key[440];
    int present = 0;
    int rc = get_list(c, node, prefix, "platforms", &r->platforms, &r->n_platforms, &present, err);
    if (rc != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.platforms", prefix);
    json_t *v = json_object_get(node, "platforms");
    if (present && r->n_platforms == 0)
        return key_error(c, v, key, err,
                         "an empty list builds nothing; leave the key out for"
                         " the worker's own platform");
    if (r->n_platforms > WRK_MAX_PLATFORMS)
        return sw_config_error(c->cfg, v, key, err, "%zu platforms; at most %d are allowed",
                               r->n_platforms, WRK_MAX_PLATFORMS);
    for (size_t i = 0; i < r->n_platforms; i++) {
        char normal[100];
        sw_error *e = NULL;
        if (r->platforms[i] == NULL)
            return sw_error_oom(err);
        if (reg_platform_normalize_text(r->platforms[i], normal, &e) != 0) {
            rc = sw_config_error(c->cfg, v, key, err, "%s", sw_error_message(e));
            sw_error_clear(&e);
            return rc;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->platforms[j], normal) == 0)
                return sw_config_error(c->cfg, v, key, err, "%s is listed twice", normal);
        char *copy = strdup(normal);
        if (copy == NULL)
            return sw_error_oom(err);
        free(r->platforms[i]);
        r->platforms[i] = copy;
    }
    return 0;
}

static int load_rule(const struct ctx *c, json_t *node, int index, const struct defaults *d,
                     struct wrk_rule *r, sw_error **err)
{
    static const char *const known[] = { "source_type", "source", "dockerfile", "context",
                                         "build_args",  "tags",   "semver",     "autotest",
                                         "notify",      "cache",  "forks",      "platforms",
                                         NULL };
    char prefix[400], key[440];
    const char *s = NULL;
    int rc, present;
    snprintf(prefix, sizeof(prefix), "%s.rules[%d]", c->where, index + 1);
    memset(r, 0, sizeof(*r));
    r->index = index;
    r->cache = d->cache;
    if (!json_is_object(node))
        return key_error(c, node, prefix, err, "expected a mapping with source_type and source");
    if ((rc = check_keys(c, node, prefix, known, err)) != 0)
        return rc;

    if ((rc = get_str(c, node, prefix, "source_type", &s, err)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.source_type", prefix);
    if (s == NULL)
        return key_error(c, node, key, err, "required (branch, tag or pull_request)");
    if (strcmp(s, "branch") != 0 && strcmp(s, "tag") != 0 && strcmp(s, "pull_request") != 0)
        return sw_config_error(c->cfg, json_object_get(node, "source_type"), key, err,
                               "expected branch, tag or pull_request, got \"%s\"", s);
    r->source_type = strdup(s);
    if (r->source_type == NULL)
        return sw_error_oom(err);
    int is_pull_request = strcmp(s, "pull_request") == 0;

    if ((rc = get_str(c, node, prefix, "source", &s, err)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.source", prefix);
    if (s == NULL)
        return key_error(c, node, key, err, "required (a name, or /regex/)");
    size_t len = strlen(s);
    if (len >= 2 && s[0] == '/' && s[len - 1] == '/') {
        r->is_regex = 1;
        r->source = strndup(s + 1, len - 2);
        int code = 0;
        PCRE2_SIZE offset = 0;
        r->re = pcre2_compile((PCRE2_SPTR)r->source, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code,
                              &offset, NULL);
        if (r->re == NULL) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof(msg));
            return sw_config_error(c->cfg, json_object_get(node, "source"), key, err,
                                   "invalid regex: %s at offset %zu", (char *)msg, (size_t)offset);
        }
        uint32_t groups = 0;
        pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &groups);
        if (groups > WRK_MAX_GROUPS)
            return sw_config_error(c->cfg, json_object_get(node, "source"), key, err,
                                   "the regex has %u capture groups; at most %d are allowed",
                                   groups, WRK_MAX_GROUPS);
    } else {
        r->source = strdup(s);
    }

    if ((rc = get_str(c, node, prefix, "dockerfile", &s, err)) != 0)
        return rc;
    r->dockerfile = strdup(s ? s : "Dockerfile");
    snprintf(key, sizeof(key), "%s.dockerfile", prefix);
    if (s && (rc = check_rel_path(c, json_object_get(node, "dockerfile"), key, s, err)) != 0)
        return rc;
    if ((rc = get_str(c, node, prefix, "context", &s, err)) != 0)
        return rc;
    r->context = strdup(s ? s : ".");
    snprintf(key, sizeof(key), "%s.context", prefix);
    if (s && (rc = check_rel_path(c, json_object_get(node, "context"), key, s, err)) != 0)
        return rc;

    /* build_args: a mapping or a list of K=V */
    json_t *args = json_object_get(node, "build_args");
    snprintf(key, sizeof(key), "%s.build_args", prefix);
    if (json_is_object(args)) {
        r->build_args = calloc(json_object_size(args) + 1, sizeof(char *));
        const char *k;
        json_t *v;
        json_object_foreach(args, k, v) {
            char *kv = NULL;
            char num[32];
            const char *value = json_string_value(v);
            if (json_is_integer(v)) {
                snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
                value = num;
            } else if (json_is_boolean(v)) {
                value = json_is_true(v) ? "true" : "false";
            }
            if (value == NULL)
                return sw_config_error(c->cfg, v, key, err, "%s: expected a string value", k);
            if (asprintf(&kv, "%s=%s", k, value) < 0)
                return sw_error_oom(err);
            r->build_args[r->n_build_args++] = kv;
        }
    } else if (args != NULL) {
        if ((rc = get_list(c, node, prefix, "build_args", &r->build_args, &r->n_build_args,
                           &present, err)) != 0)
            return rc;
        for (size_t i = 0; i < r->n_build_args; i++)
            if (strchr(r->build_args[i], '=') == NULL || r->build_args[i][0] == '=')
                return sw_config_error(c->cfg, args, key, err, "\"%s\": expected KEY=VALUE",
                                       r->build_args[i]);
    }

    if ((rc = get_list(c, node, prefix, "tags", &r->tags, &r->n_tags, &present, err)) != 0)
        return rc;
    if ((rc = get_bool(c, node, prefix, "semver", &r->semver, err)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.tags", prefix);
    for (size_t i = 0; i < r->n_tags; i++) {
        sw_error *e = NULL;
        if (wrk_tags_check_template(r->tags[i], r->is_regex ? WRK_MAX_GROUPS : 0, &e) != 0) {
            rc = sw_config_error(c->cfg, json_object_get(node, "tags"), key, err, "%s",
                                 sw_error_message(e));
            sw_error_clear(&e);
            return rc;
        }
        if (!is_pull_request && strstr(r->tags[i], "{number}"))
            return sw_config_error(c->cfg, json_object_get(node, "tags"), key, err,
                                   "\"%s\": {number} is a pull request's number: it needs "
                                   "source_type: pull_request",
                                   r->tags[i]);
    }
    if (present && r->n_tags == 0 && !r->semver)
        return key_error(c, json_object_get(node, "tags"), key, err,
                         "an empty list tags nothing; leave the key out for {sourceref}");
    /* a pull request pushes nothing unless the rule says which tags */
    if (!present && !r->semver && !is_pull_request) {
        r->tags = calloc(2, sizeof(char *));
        if (r->tags == NULL || (r->tags[0] = strdup("{sourceref}")) == NULL)
            return sw_error_oom(err);
        r->n_tags = 1;
    }
    if (r->semver && strcmp(r->source_type, "tag") != 0) {
        snprintf(key, sizeof(key), "%s.semver", prefix);
        return key_error(c, json_object_get(node, "semver"), key, err,
                         "semver tags need source_type: tag");
    }

    if ((rc = get_bool(c, node, prefix, "forks", &r->forks, err)) != 0)
        return rc;
    if (!is_pull_request && json_object_get(node, "forks")) {
        snprintf(key, sizeof(key), "%s.forks", prefix);
        return key_error(c, json_object_get(node, "forks"), key, err,
                         "forks is for source_type: pull_request");
    }

    if ((rc = get_autotest(c, node, prefix, &r->autotest, &present, err)) != 0)
        return rc;
    if (!present)
        r->autotest = dup_argv(d->autotest);
    if ((rc = get_notify(c, node, prefix, &r->notify, &r->notify_format, &r->n_notify, &present,
                         err)) != 0)
        return rc;
    if (!present) {
        r->notify = dup_strv(d->notify, d->n_notify);
        r->notify_format = dup_formats(d->notify_format, d->n_notify);
        r->n_notify = d->n_notify;
        if ((d->n_notify && r->notify == NULL) || r->notify_format == NULL)
            return sw_error_oom(err);
    }
    snprintf(key, sizeof(key), "%s.notify", prefix);
    for (size_t i = 0; i < r->n_notify; i++)
        if (strncmp(r->notify[i], "http://", 7) != 0 && strncmp(r->notify[i], "https://", 8) != 0)
            return sw_config_error(c->cfg, json_object_get(node, "notify"), key, err,
                                   "\"%s\": expected an http:// or https:// URL", r->notify[i]);
    if ((rc = get_bool(c, node, prefix, "cache", &r->cache, err)) != 0)
        return rc;
    return get_platforms(c, node, prefix, r, err);
}

/* ---- repositories -------------------------------------------------------- */

static void repo_free(struct wrk_repo *r)
{
    sw_strv_free_n(r->secret_ids, r->n_secrets);
    sw_strv_free_n(r->secret_refs, r->n_secrets);
    free(r->name);
    free(r->git);
    free(r->git_normalized);
    if (r->token)
        explicit_bzero(r->token, strlen(r->token));
    free(r->token);
    free(r->ssh_key);
    free(r->known_hosts);
    if (r->secret)
        explicit_bzero(r->secret, strlen(r->secret));
    free(r->secret);
    if (r->status_token)
        explicit_bzero(r->status_token, strlen(r->status_token));
    free(r->status_token);
    free(r->status_api);
    free(r->run_as);
    for (size_t i = 0; i < r->n_rules; i++)
        rule_free(&r->rules[i]);
    free(r->rules);
    for (size_t i = 0; i < r->n_timers; i++)
        wrk_timer_clear(&r->timers[i]);
    free(r->timers);
    memset(r, 0, sizeof(*r));
}

/* submodules: a boolean, or {allow_local: BOOL} (which turns them on). */
static int get_submodules(const struct ctx *c, json_t *node, struct wrk_repo *r, sw_error **err)
{
    static const char *const known[] = { "allow_local", NULL };
    json_t *v = json_object_get(node, "submodules");
    char key[400];
    snprintf(key, sizeof(key), "%s.submodules", c->where);
    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_boolean(v)) {
        r->submodules = json_is_true(v) ? WRK_GIT_SUBMODULES : 0;
        return 0;
    }
    if (!json_is_object(v))
        return key_error(c, v, key, err, "expected true, false or {allow_local: true}");
    int rc, allow_local = 0;
    if ((rc = check_keys(c, v, key, known, err)) != 0 ||
        (rc = get_bool(c, v, key, "allow_local", &allow_local, err)) != 0)
        return rc;
    r->submodules = WRK_GIT_SUBMODULES | (allow_local ? WRK_GIT_SUBMODULES_LOCAL : 0);
    return 0;
}

/* 1 when the htpasswd file has a line for user. */
static int htpasswd_has_user(const char *path, const char *user)
{
    FILE *f = fopen(path, "re");
    char line[1024];
    size_t len = strlen(user);
    int found = 0;
    if (f == NULL)
        return -1;
    while (!found && fgets(line, sizeof(line), f))
        found = strncmp(line, user, len) == 0 && line[len] == ':';
    fclose(f);
    return found;
}

/* run_as: a user of registry.auth.htpasswd ("anonymous" is the default). */
static int get_run_as(const struct ctx *c, json_t *node, struct wrk_repo *r, sw_error **err)
{
    const char *user = NULL;
    char key[400];
    int rc = get_str(c, node, c->where, "run_as", &user, err);
    if (rc != 0 || user == NULL || strcmp(user, "anonymous") == 0)
        return rc;
    snprintf(key, sizeof(key), "%s.run_as", c->where);
    if (strchr(user, ':') || strchr(user, '\n'))
        return key_error(c, json_object_get(node, "run_as"), key, err, "not a user name");
    if (c->cfg->htpasswd && htpasswd_has_user(c->cfg->htpasswd, user) == 0)
        return sw_config_error(c->cfg, json_object_get(node, "run_as"), key, err,
                               "%s is not a user of %s (registry.auth.htpasswd)", user,
                               c->cfg->htpasswd);
    r->run_as = strdup(user);
    return r->run_as ? 0 : sw_error_oom(err);
}

/* ---- timers ------------------------------------------------------------------ */

/* One entry of `timers:` (worker/timers.h); the repository's rules are
 * loaded already, so a branch no rule builds is an error here. */
static int load_timer(const struct ctx *c, json_t *node, size_t index, struct wrk_repo *r,
                      struct wrk_timer *t, sw_error **err)
{
    static const char *const known[] = { "schedule", "branch", "timezone", NULL };
    char prefix[400], key[450];
    const char *schedule = NULL, *branch = NULL, *tz = NULL;
    sw_error *why = NULL;
    int rc;
    snprintf(prefix, sizeof(prefix), "%s.timers[%zu]", c->where, index + 1);
    if (!json_is_object(node))
        return key_error(c, node, prefix, err, "expected a mapping with schedule and branch");
    if ((rc = check_keys(c, node, prefix, known, err)) != 0 ||
        (rc = get_str(c, node, prefix, "schedule", &schedule, err)) != 0 ||
        (rc = get_str(c, node, prefix, "branch", &branch, err)) != 0 ||
        (rc = get_str(c, node, prefix, "timezone", &tz, err)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.schedule", prefix);
    if (schedule == NULL)
        return key_error(c, node, key, err,
                         "required: a cron expression, e.g. \"0 3 * * *\" (03:00 every day)");
    if (wrk_cron_parse(schedule, &t->cron, &why) != 0) {
        rc = sw_config_error(c->cfg, json_object_get(node, "schedule"), key, err, "%s",
                             sw_error_message(why));
        sw_error_clear(&why);
        return rc;
    }
    snprintf(key, sizeof(key), "%s.timezone", prefix);
    if (tz && wrk_cron_tz_parse(tz, &t->cron.offset_s, &why) != 0) {
        rc = sw_config_error(c->cfg, json_object_get(node, "timezone"), key, err, "%s",
                             sw_error_message(why));
        sw_error_clear(&why);
        return rc;
    }
    snprintf(key, sizeof(key), "%s.branch", prefix);
    if (branch == NULL)
        return key_error(c, node, key, err, "required: the branch to build");
    struct wrk_match m[1];
    if (wrk_repo_match(r, "branch", branch, m, 1) == 0)
        return sw_config_error(c->cfg, json_object_get(node, "branch"), key, err,
                               "no rule with source_type: branch matches \"%s\"", branch);
    wrk_match_clear(&m[0]);
    t->schedule = strdup(schedule);
    t->branch = strdup(branch);
    t->timezone = tz ? strdup(tz) : NULL;
    if (asprintf(&t->key, "%s|%s|%d", schedule, branch, t->cron.offset_s) < 0)
        t->key = NULL;
    if (t->schedule == NULL || t->branch == NULL || (tz && t->timezone == NULL) || t->key == NULL)
        return sw_error_oom(err);
    return 0;
}

static int load_timers(const struct ctx *c, json_t *node, struct wrk_repo *r, sw_error **err)
{
    json_t *timers = json_object_get(node, "timers");
    char key[400];
    if (timers == NULL || json_is_null(timers))
        return 0;
    snprintf(key, sizeof(key), "%s.timers", c->where);
    if (!json_is_array(timers))
        return key_error(c, timers, key, err, "expected a list of {schedule, branch}");
    if (json_array_size(timers) == 0)
        return 0;
    r->timers = calloc(json_array_size(timers), sizeof(*r->timers));
    if (r->timers == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < json_array_size(timers); i++) {
        int rc = load_timer(c, json_array_get(timers, i), i, r, &r->timers[i], err);
        r->n_timers++;
        if (rc != 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (strcmp(r->timers[j].key, r->timers[i].key) == 0) {
                snprintf(key, sizeof(key), "%s.timers[%zu]", c->where, i + 1);
                return sw_config_error(c->cfg, json_array_get(timers, i), key, err,
                                       "the same schedule, branch and time zone as timers[%zu]",
                                       j + 1);
            }
    }
    return 0;
}

/* secrets: {ID: env:NAME | file:PATH}. The form is checked here (the
 * variable set, the file readable); the values are read when a build
 * starts, so they are never kept longer than a build. */
static int get_build_secrets(const struct ctx *c, json_t *node, struct wrk_repo *r, sw_error **err)
{
    json_t *secrets = json_object_get(node, "secrets");
    char key[400];
    snprintf(key, sizeof(key), "%s.secrets", c->where);
    if (secrets == NULL || json_is_null(secrets))
        return 0;
    if (!json_is_object(secrets))
        return key_error(c, secrets, key, err, "expected a mapping of ID: env:NAME | file:PATH");
    size_t n = json_object_size(secrets);
    r->secret_ids = calloc(n + 1, sizeof(char *));
    r->secret_refs = calloc(n + 1, sizeof(char *));
    if (r->secret_ids == NULL || r->secret_refs == NULL)
        return sw_error_oom(err);
    const char *id;
    json_t *v;
    json_object_foreach(secrets, id, v) {
        const char *ref = json_string_value(v);
        if (*id == '\0' || strchr(id, ',') || strchr(id, '='))
            return sw_config_error(c->cfg, v, key, err, "'%s': not a secret id", id);
        if (ref == NULL || (strncmp(ref, "env:", 4) != 0 && strncmp(ref, "file:", 5) != 0))
            return sw_config_error(c->cfg, v, key, err, "%s: expected env:NAME or file:PATH", id);
        if (strncmp(ref, "env:", 4) == 0 && (ref[4] == '\0' || getenv(ref + 4) == NULL))
            return sw_config_error(c->cfg, v, key, err,
                                   "%s: the environment variable %s is not set", id, ref + 4);
        if (strncmp(ref, "file:", 5) == 0 && (ref[5] != '/' || access(ref + 5, R_OK) != 0))
            return sw_config_error(c->cfg, v, key, err,
                                   "%s: %s is not a readable file (an absolute path)", id, ref + 5);
        r->secret_ids[r->n_secrets] = strdup(id);
        r->secret_refs[r->n_secrets] = strdup(ref);
        if (!r->secret_ids[r->n_secrets] || !r->secret_refs[r->n_secrets])
            return sw_error_oom(err);
        r->n_secrets++;
    }
    return 0;
}

static int load_repo(struct ctx *c, json_t *node, size_t index, struct wrk_repo *r, sw_error **err)
{
    static const char *const known[] = {
        "name",   "git",          "token",       "ssh_key",    "known_hosts",
        "secret", "status_token", "status_api",  "submodules", "autotest",
        "notify", "cache",        "rules",       "insecure",   "run_as",
        "timers", "secrets",      "forward_ssh", NULL
    };
    struct defaults d = { .cache = 1 };
    const char *s = NULL;
    char key[400];
    int rc, present;

    memset(r, 0, sizeof(*r));
    snprintf(c->where, sizeof(c->where), "repos[%zu]", index + 1);
    if (!json_is_object(node))
        return key_error(c, node, c->where, err, "expected a mapping with name, git and rules");
    json_t *name = json_object_get(node, "name");
    if (json_is_string(name) && json_string_length(name) > 0 && json_string_length(name) < 200)
        snprintf(c->where, sizeof(c->where), "repos[%s]", json_string_value(name));
    if ((rc = check_keys(c, node, c->where, known, err)) != 0)
        return rc;

    if ((rc = get_str(c, node, c->where, "name", &s, err)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.name", c->where);
    if (s == NULL)
        return key_error(c, node, key, err, "required: the image repository, e.g. demo/hello");
    if (!reg_name_valid(s))
        return sw_config_error(c->cfg, name, key, err,
                               "\"%s\" is not a valid repository name (lower case, digits,"
                               " separators . _ - and /)",
                               s);
    r->name = strdup(s);

    if ((rc = get_str(c, node, c->where, "git", &s, err)) != 0)
        return rc;
    snprintf(key, sizeof(key), "%s.git", c->where);
    if (s == NULL)
        return key_error(c, node, key, err, "required: the Git URL to build from");
    char *local = NULL;
    if (s[0] == '/' || strncmp(s, "./", 2) == 0 || strncmp(s, "../", 3) == 0) {
        /* a local path is a file:// URL, relative to where slipway started */
        char cwd[SW_PATH_MAX];
        if (s[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
            return sw_error_sys(err, SW_EIO, errno, "%s: getcwd", key);
        if (asprintf(&local, "file://%s%s%s", s[0] == '/' ? "" : cwd, s[0] == '/' ? "" : "/",
                     strncmp(s, "./", 2) == 0 ? s + 2 : s) < 0)
            return sw_error_oom(err);
        s = local;
    }
    if (!git_url_valid(s)) {
        rc = sw_config_error(c->cfg, json_object_get(node, "git"), key, err,
                             "\"%s\" is not a Git URL (https://, http://, ssh://, git://,"
                             " file://, user@host:path or a local path)",
                             s);
        free(local);
        return rc;
    }
    r->git = strdup(s);
    r->git_normalized = wrk_git_url_normalize(s);
    free(local);

    if ((rc = get_secret(c, node, c->where, "token", &r->token, err)) != 0 ||
        (rc = get_secret(c, node, c->where, "secret", &r->secret, err)) != 0 ||
        (rc = get_secret(c, node, c->where, "status_token", &r->status_token, err)) != 0)
        return rc;
    if ((rc = get_str(c, node, c->where, "ssh_key", &s, err)) != 0)
        return rc;
    r->ssh_key = s ? strdup(s) : NULL;
    if ((rc = get_str(c, node, c->where, "known_hosts", &s, err)) != 0)
        return rc;
    r->known_hosts = s ? strdup(s) : NULL;
    if ((rc = get_str(c, node, c->where, "status_api", &s, err)) != 0)
        return rc;
    if (s && strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) {
        snprintf(key, sizeof(key), "%s.status_api", c->where);
        return key_error(c, json_object_get(node, "status_api"), key, err,
                         "expected an http:// or https:// URL");
    }
    r->status_api = s ? strdup(s) : NULL;
    if ((rc = get_submodules(c, node, r, err)) != 0 ||
        (rc = get_bool(c, node, c->where, "insecure", &r->insecure, err)) != 0 ||
        (rc = get_run_as(c, node, r, err)) != 0 || (rc = get_build_secrets(c, node, r, err)) != 0 ||
        (rc = get_bool(c, node, c->where, "forward_ssh", &r->forward_ssh, err)) != 0)
        return rc;
    if (r->forward_ssh && r->ssh_key == NULL) {
        snprintf(key, sizeof(key), "%s.forward_ssh", c->where);
        return key_error(c, json_object_get(node, "forward_ssh"), key, err,
                         "needs ssh_key: the key the agent holds");
    }
    if (strncmp(r->git, "http://", 7) == 0 && !r->insecure && (r->token || strchr(r->git + 7, '@')))
        sw_warn("%s: the credentials for %s are not sent over plain http:// (fetches will fail"
                " if the server asks for them); set insecure: true to allow it",
                c->where, r->git_normalized ? r->git_normalized : "the repository");

    /* defaults for the rules */
    if ((rc = get_autotest(c, node, c->where, &d.autotest, &present, err)) != 0 ||
        (rc = get_notify(c, node, c->where, &d.notify, &d.notify_format, &d.n_notify, &present,
                         err)) != 0 ||
        (rc = get_bool(c, node, c->where, "cache", &d.cache, err)) != 0)
        goto cleanup;

    json_t *rules = json_object_get(node, "rules");
    snprintf(key, sizeof(key), "%s.rules", c->where);
    if (!json_is_array(rules) || json_array_size(rules) == 0) {
        rc = key_error(c, rules ? rules : node, key, err,
                       "required: a list of build rules (source_type, source, ...)");
        goto cleanup;
    }
    r->rules = calloc(json_array_size(rules), sizeof(*r->rules));
    SW_CHECK_ALLOC(r->rules, rc, err, cleanup);
    for (size_t i = 0; i < json_array_size(rules); i++) {
        rc = load_rule(c, json_array_get(rules, i), (int)i, &d, &r->rules[i], err);
        r->n_rules++;
        if (rc != 0)
            goto cleanup;
    }
    rc = load_timers(c, node, r, err);
cleanup:
    sw_strv_free(d.autotest);
    sw_strv_free_n(d.notify, d.n_notify);
    free(d.notify_format);
    return rc;
}

int64_t wrk_runs_keep_parse(const json_t *node)
{
    const char *k = json_string_value(node);
    int64_t s = k && strcmp(k, "forever") == 0 ? 0
                : k                            ? sw_parse_duration(k)
                : json_is_integer(node)        ? json_integer_value(node)
                                               : -1;
    return s == 0 || (s >= 3600 && s <= 100LL * 365 * 86400) ? s : -1;
}

int64_t wrk_runs_max_log_size_parse(const json_t *node)
{
    const char *text = json_string_value(node);
    if (node == NULL || json_is_null(node))
        return -1;
    if (text && strcmp(text, "unlimited") == 0)
        return 0;
    int64_t n = text ? sw_parse_size(text) : json_is_integer(node) ? json_integer_value(node) : -1;
    return n >= 64 * 1024 ? n : -1;
}

static int load_runs(const struct sw_config *cfg, struct wrk_repos *repos, sw_error **err)
{
    static const char *const known[] = { "id_prefix", "lease",        "max_attempts",
                                         "keep",      "max_log_size", NULL };
    struct ctx c = { .cfg = cfg };
    json_t *runs = sw_config_section(cfg, "runs");
    snprintf(repos->id_prefix, sizeof(repos->id_prefix), "ca");
    if (runs == NULL)
        return 0;
    if (!json_is_object(runs))
        return key_error(&c, runs, "runs", err, "expected a mapping");
    int rc = check_keys(&c, runs, "runs", known, err);
    if (rc != 0)
        return rc;
    json_t *prefix = json_object_get(runs, "id_prefix");
    if (prefix) {
        const char *p = json_string_value(prefix);
        if (p == NULL || strlen(p) != 2 || !islower((unsigned char)p[0]) ||
            !islower((unsigned char)p[1]))
            return key_error(&c, prefix, "runs.id_prefix", err,
                             "expected two lowercase letters, e.g. ca");
        snprintf(repos->id_prefix, sizeof(repos->id_prefix), "%s", p);
    }
    json_t *lease = json_object_get(runs, "lease");
    if (lease) {
        int64_t s = json_is_string(lease)    ? sw_parse_duration(json_string_value(lease))
                    : json_is_integer(lease) ? json_integer_value(lease)
                                             : -1;
        if (s < 3 || s > 24 * 3600)
            return key_error(&c, lease, "runs.lease", err,
                             "expected a duration from 3s to 24h, e.g. 30s");
    }
    json_t *keep = json_object_get(runs, "keep");
    if (keep) {
        if (wrk_runs_keep_parse(keep) < 0)
            return key_error(&c, keep, "runs.keep", err,
                             "expected a duration of at least 1h, e.g. 90d, or forever");
    }
    json_t *max_log = json_object_get(runs, "max_log_size");
    if (max_log && wrk_runs_max_log_size_parse(max_log) < 0)
        return key_error(&c, max_log, "runs.max_log_size", err,
                         "expected a size of at least 64KiB such as 64MiB, or unlimited");
    json_t *attempts = json_object_get(runs, "max_attempts");
    if (attempts && (!json_is_integer(attempts) || json_integer_value(attempts) < 1 ||
                     json_integer_value(attempts) > 100))
        return key_error(&c, attempts, "runs.max_attempts", err, "expected a number from 1 to 100");
    return 0;
}

int wrk_repos_load(const struct sw_config *cfg, struct wrk_repos **out, sw_error **err)
{
    struct wrk_repos *repos = calloc(1, sizeof(*repos));
    struct ctx c = { .cfg = cfg };
    int rc;
    if (repos == NULL)
        return sw_error_oom(err);
    if ((rc = load_runs(cfg, repos, err)) != 0)
        goto fail;
    json_t *list = sw_config_section(cfg, "repos");
    if (list == NULL || json_is_null(list)) {
        *out = repos;
        return 0;
    }
    if (!json_is_array(list)) {
        rc = key_error(&c, list, "repos", err, "expected a list of repositories");
        goto fail;
    }
    repos->repos = calloc(json_array_size(list) + 1, sizeof(*repos->repos));
    SW_CHECK_ALLOC(repos->repos, rc, err, fail);
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *node = json_array_get(list, i);
        rc = load_repo(&c, node, i, &repos->repos[i], err);
        repos->n++;
        if (rc != 0)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(repos->repos[j].name, repos->repos[i].name) == 0) {
                char key[320];
                snprintf(key, sizeof(key), "%s.name", c.where);
                rc = key_error(&c, json_object_get(node, "name"), key, err,
                               "a repository of this name is configured already");
                goto fail;
            }
        }
    }
    *out = repos;
    return 0;
fail:
    wrk_repos_free(repos);
    return rc;
}

void wrk_repos_free(struct wrk_repos *repos)
{
    if (repos == NULL)
        return;
    for (size_t i = 0; i < repos->n; i++)
        repo_free(&repos->repos[i]);
    free(repos->repos);
    free(repos);
}

const struct wrk_repo *wrk_repos_find(const struct wrk_repos *repos, const char *name)
{
    for (size_t i = 0; repos && name && i < repos->n; i++)
        if (strcmp(repos->repos[i].name, name) == 0)
            return &repos->repos[i];
    return NULL;
}

/* ---- matching ------------------------------------------------------------ */

void wrk_match_clear(struct wrk_match *m)
{
    if (m == NULL)
        return;
    for (int i = 0; i <= WRK_MAX_GROUPS; i++)
        free(m->groups[i]);
    memset(m, 0, sizeof(*m));
}

static int rule_match(const struct wrk_rule *rule, const char *ref, struct wrk_match *m)
{
    memset(m, 0, sizeof(*m));
    m->rule = rule;
    if (!rule->is_regex) {
        if (strcmp(rule->source, ref) != 0)
            return 0;
        m->groups[0] = strdup(ref);
        m->n_groups = 1;
        return 1;
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(rule->re, NULL);
    if (md == NULL)
        return 0;
    int n = pcre2_match(rule->re, (PCRE2_SPTR)ref, strlen(ref), 0, 0, md, NULL);
    if (n <= 0) {
        pcre2_match_data_free(md);
        return 0;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    uint32_t pairs = pcre2_get_ovector_count(md);
    for (uint32_t i = 0; i < pairs && i <= WRK_MAX_GROUPS; i++) {
        if (ov[2 * i] != PCRE2_UNSET)
            m->groups[i] = strndup(ref + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
        m->n_groups = (int)i + 1;
    }
    pcre2_match_data_free(md);
    return 1;
}

size_t wrk_repo_match(const struct wrk_repo *repo, const char *source_type, const char *ref,
                      struct wrk_match *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; repo && i < repo->n_rules && n < max; i++) {
        const struct wrk_rule *rule = &repo->rules[i];
        if (strcmp(rule->source_type, source_type) != 0)
            continue;
        if (rule_match(rule, ref, &out[n]))
            n++;
    }
    return n;
}
