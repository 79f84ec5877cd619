/*
 * tags.c - tag templates and semver tags (see tags.h).
 */
#include "worker/tags.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/strbuf.h"

#define TAG_MAX 128

/* Parses the placeholder starting after '{' at p: fills kind and arg;
 * returns a pointer after the '}' or NULL. Kinds: 's' sourceref, 'g'
 * group, 'r' run_id, 'c' commit, 'd' date, 'n' number. */
static const char *placeholder(const char *p, char *kind, int *arg)
{
    const char *end = strchr(p, '}');
    if (end == NULL)
        return NULL;
    size_t n = (size_t)(end - p);
    *arg = 0;
    if (n == 9 && strncmp(p, "sourceref", 9) == 0)
        *kind = 's';
    else if (n == 2 && p[0] == '\\' && p[1] >= '1' && p[1] <= '9') {
        *kind = 'g';
        *arg = p[1] - '0';
    } else if (n == 6 && strncmp(p, "run_id", 6) == 0)
        *kind = 'r';
    else if (n == 6 && strncmp(p, "commit", 6) == 0) {
        *kind = 'c';
        *arg = 40;
    } else if (n > 7 && strncmp(p, "commit:", 7) == 0) {
        char *num_end = NULL;
        long v = strtol(p + 7, &num_end, 10);
        if (num_end != end || v < 1 || v > 40)
            return NULL;
        *kind = 'c';
        *arg = (int)v;
    } else if (n == 4 && strncmp(p, "date", 4) == 0)
        *kind = 'd';
    else if (n == 6 && strncmp(p, "number", 6) == 0)
        *kind = 'n';
    else
        return NULL;
    return end + 1;
}

int wrk_tags_check_template(const char *tmpl, int max_group, sw_error **err)
{
    for (const char *p = tmpl; *p;) {
        if (*p == '}')
            return sw_error_set(err, SW_EINVAL, "\"%s\": '}' without '{'", tmpl);
        if (*p != '{') {
            p++;
            continue;
        }
        char kind;
        int arg;
        const char *next = placeholder(p + 1, &kind, &arg);
        if (next == NULL) {
            int len = (int)strcspn(p, "}");
            return sw_error_set(err, SW_EINVAL,
                                "\"%s\": unknown placeholder %.*s}; use {sourceref}, {\\1}..{\\9},"
                                " {run_id}, {commit}, {commit:N}, {date} or {number}",
                                tmpl, len, p);
        }
        if (kind == 'g' && arg > max_group)
            return sw_error_set(err, SW_EINVAL,
                                max_group == 0
                                    ? "\"%s\": {\\%d} needs a /regex/ source with capture groups"
                                    : "\"%s\": {\\%d} is beyond the regex's groups",
                                tmpl, arg);
        p = next;
    }
    return 0;
}

/* Makes s a valid OCI tag in place. */
static void sanitize(char *s)
{
    for (char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
            *p = '-';
    if (s[0] == '.' || s[0] == '-')
        s[0] = '_';
    if (strlen(s) > TAG_MAX)
        s[TAG_MAX] = '\0';
}

static int render_one(const char *tmpl, const struct wrk_tag_context *ctx, char **out,
                      sw_error **err)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            sw_strbuf_putc(&sb, *p++);
            continue;
        }
        char kind;
        int arg;
        const char *next = placeholder(p + 1, &kind, &arg);
        if (next == NULL) {
            sw_strbuf_free(&sb);
            return sw_error_set(err, SW_EINVAL, "tag template \"%s\": bad placeholder", tmpl);
        }
        switch (kind) {
        case 's':
            sw_strbuf_puts(&sb, ctx->source_ref ? ctx->source_ref : "");
            break;
        case 'g':
            if (ctx->match && arg < ctx->match->n_groups && ctx->match->groups[arg])
                sw_strbuf_puts(&sb, ctx->match->groups[arg]);
            break;
        case 'r':
            sw_strbuf_puts(&sb, ctx->run_id ? ctx->run_id : "");
            break;
        case 'c': {
            const char *c = ctx->commit ? ctx->commit : "";
            sw_strbuf_append(&sb, c, strlen(c) < (size_t)arg ? strlen(c) : (size_t)arg);
            break;
        }
        case 'd': {
            char date[16];
            struct tm tm;
            time_t t = (time_t)(ctx->commit_time > 0 ? ctx->commit_time : time(NULL));
            gmtime_r(&t, &tm);
            strftime(date, sizeof(date), "%Y%m%d", &tm);
            sw_strbuf_puts(&sb, date);
            break;
        }
        case 'n':
            if (ctx->pr_number > 0)
                sw_strbuf_printf(&sb, "%lld", ctx->pr_number);
            break;
        }
        p = next;
    }
    char *s = sw_strbuf_detach(&sb);
    if (s == NULL)
        s = strdup("");
    if (s == NULL)
        return sw_error_oom(err);
    sanitize(s);
    if (s[0] == '\0') {
        free(s);
        return sw_error_set(err, SW_EINVAL, "tag template \"%s\" gives an empty tag for %s", tmpl,
                            ctx->source_ref ? ctx->source_ref : "this push");
    }
    *out = s;
    return 0;
}

static int add_tag(struct wrk_tag **tags, size_t *n, char *name, int immutable, sw_error **err)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*tags)[i].name, name) == 0) {
            (*tags)[i].immutable |= immutable;
            free(name);
            return 0;
        }
    }
    struct wrk_tag *bigger = realloc(*tags, (*n + 1) * sizeof(**tags));
    if (bigger == NULL) {
        free(name);
        return sw_error_oom(err);
    }
    *tags = bigger;
    (*tags)[*n].name = name;
    (*tags)[*n].immutable = immutable;
    (*n)++;
    return 0;
}

/* A numeric identifier: digits, no leading zero (except "0"). */
static const char *number(const char *p, unsigned long *out)
{
    if (!isdigit((unsigned char)*p) || (p[0] == '0' && isdigit((unsigned char)p[1])))
        return NULL;
    char *end = NULL;
    *out = strtoul(p, &end, 10);
    return end;
}

int wrk_semver_parse(const char *s, struct wrk_semver *out)
{
    memset(out, 0, sizeof(*out));
    const char *p = s;
    if (*p == 'v' || *p == 'V')
        p++;
    if (!(p = number(p, &out->major)) || *p++ != '.' || !(p = number(p, &out->minor)) ||
        *p++ != '.' || !(p = number(p, &out->patch)))
        return 0;
    if (*p == '-') {
        const char *pre = ++p;
        /* dot-separated identifiers of [0-9A-Za-z-], none empty */
        while (*p && *p != '+') {
            if (*p == '.' ? (p == pre || p[-1] == '.' || p[1] == '\0' || p[1] == '+')
                          : !(isalnum((unsigned char)*p) || *p == '-'))
                return 0;
            p++;
        }
        size_t n = (size_t)(p - pre);
        if (n == 0 || n >= sizeof(out->prerelease))
            return 0;
        memcpy(out->prerelease, pre, n);
        out->prerelease[n] = '\0';
    }
    if (*p == '+') {
        p++;
        if (*p == '\0')
            return 0;
        for (; *p; p++)
            if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.'))
                return 0;
    }
    return *p == '\0';
}

int wrk_tags_render(const struct wrk_rule *rule, const struct wrk_tag_context *ctx,
                    struct wrk_tag **tags, size_t *n, sw_error **err)
{
    int rc = 0;
    *tags = NULL;
    *n = 0;
    if (rule->semver) {
        struct wrk_semver v;
        if (!wrk_semver_parse(ctx->source_ref ? ctx->source_ref : "", &v)) {
            rc = sw_error_set(err, SW_EINVAL,
                              "tag %s is not a semantic version (vMAJOR.MINOR.PATCH), but the"
                              " rule has semver: true",
                              ctx->source_ref ? ctx->source_ref : "");
            goto fail;
        }
        char *t = NULL;
        if (v.prerelease[0]) {
            if (asprintf(&t, "%lu.%lu.%lu-%s", v.major, v.minor, v.patch, v.prerelease) < 0)
                goto oom;
            sanitize(t);
            if ((rc = add_tag(tags, n, t, 1, err)) != 0)
                goto fail;
        } else {
            if (asprintf(&t, "%lu.%lu.%lu", v.major, v.minor, v.patch) < 0)
                goto oom;
            if ((rc = add_tag(tags, n, t, 1, err)) != 0)
                goto fail;
            if (asprintf(&t, "%lu.%lu", v.major, v.minor) < 0)
                goto oom;
            if ((rc = add_tag(tags, n, t, 0, err)) != 0)
                goto fail;
            if (asprintf(&t, "%lu", v.major) < 0)
                goto oom;
            if ((rc = add_tag(tags, n, t, 0, err)) != 0)
                goto fail;
            if ((t = strdup("latest")) == NULL)
                goto oom;
            if ((rc = add_tag(tags, n, t, 0, err)) != 0)
                goto fail;
        }
    }
    for (size_t i = 0; i < rule->n_tags; i++) {
        char *t = NULL;
        if ((rc = render_one(rule->tags[i], ctx, &t, err)) != 0 ||
            (rc = add_tag(tags, n, t, 0, err)) != 0)
            goto fail;
    }
    return 0;
oom:
    rc = sw_error_oom(err);
fail:
    wrk_tags_free(*tags, *n);
    *tags = NULL;
    *n = 0;
    return rc;
}

void wrk_tags_free(struct wrk_tag *tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tags[i].name);
    free(tags);
}
