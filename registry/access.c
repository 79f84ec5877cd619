/*
 * access.c - evaluation of registry.auth's per-repository rules, and the
 * scopes that narrow a token's access.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "registry/access.h"

#define SCOPE_TEXT_MAX 4096

/* 1 when the rule applies to user (NULL: anonymous). */
static int rule_names_user(const struct sw_access_rule *rule, const char *user)
{
    for (char **u = rule->users; u && *u; u++) {
        if (strcmp(*u, REG_ANONYMOUS) == 0)
            return 1; /* what anyone may do, a logged-in user may do too */
        if (user && (strcmp(*u, "*") == 0 || strcmp(*u, user) == 0))
            return 1;
    }
    return 0;
}

unsigned reg_access_for(const struct sw_config *cfg, const char *user, const char *repo)
{
    unsigned access = 0;

    if (cfg == NULL || cfg->htpasswd == NULL)
        return REG_ACCESS_PULL | REG_ACCESS_PUSH;
    if (user && cfg->n_rules == 0)
        return REG_ACCESS_PULL | REG_ACCESS_PUSH;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct sw_access_rule *rule = &cfg->rules[i];
        if (repo == NULL || fnmatch(rule->repo_pattern, repo, 0) != 0 ||
            !rule_names_user(rule, user))
            continue;
        if (rule->can_pull)
            access |= REG_ACCESS_PULL;
        if (rule->can_push)
            access |= REG_ACCESS_PUSH;
    }
    if (cfg->anonymous_pull)
        access |= REG_ACCESS_PULL;
    return access;
}

int reg_access_anonymous_reads(const struct sw_config *cfg)
{
    if (cfg == NULL || cfg->htpasswd == NULL || cfg->anonymous_pull)
        return 1;
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (cfg->rules[i].can_pull && rule_names_user(&cfg->rules[i], NULL))
            return 1;
    return 0;
}

/* ---- scopes --------------------------------------------------------------- */

int reg_scopes_add(struct reg_scopes *scopes, const char *pattern, unsigned access, sw_error **err)
{
    struct reg_scope *grown = realloc(scopes->items, (scopes->n + 1) * sizeof *grown);
    if (grown == NULL)
        return sw_error_set(err, SW_ENOMEM, "scopes: out of memory");
    scopes->items = grown;
    char *copy = strdup(pattern);
    if (copy == NULL)
        return sw_error_set(err, SW_ENOMEM, "scopes: out of memory");
    scopes->items[scopes->n].pattern = copy;
    scopes->items[scopes->n].access = access;
    scopes->n++;
    return 0;
}

/* A repository name glob: the characters of names (lower-case letters,
 * digits, . _ - /) and the glob characters * and ?. */
static int is_name_glob(const char *s, size_t len)
{
    if (len == 0 || len > 255)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-' || c == '/' || c == '*' || c == '?'))
            return 0;
    }
    return 1;
}

/* One "repository:NAME:ACTIONS" of len bytes. */
static int parse_one(const char *s, size_t len, struct reg_scopes *scopes, sw_error **err)
{
    static const char prefix[] = "repository:";
    size_t plen = sizeof prefix - 1;
    if (len <= plen || strncmp(s, prefix, plen) != 0)
        return sw_error_set(err, SW_EINVAL, "scope \"%.*s\": expected repository:NAME:pull,push",
                            (int)len, s);
    const char *name = s + plen;
    const char *end = s + len;
    const char *colon = memchr(name, ':', (size_t)(end - name));
    if (colon == NULL || !is_name_glob(name, (size_t)(colon - name)))
        return sw_error_set(err, SW_EINVAL,
                            "scope \"%.*s\": expected a repository name or glob "
                            "(a-z 0-9 . _ - / * ?) between the colons",
                            (int)len, s);
    unsigned access = 0;
    const char *a = colon + 1;
    while (a < end) {
        const char *comma = memchr(a, ',', (size_t)(end - a));
        size_t alen = (size_t)((comma ? comma : end) - a);
        if (alen == 4 && strncmp(a, "pull", 4) == 0)
            access |= REG_ACCESS_PULL;
        else if (alen == 4 && strncmp(a, "push", 4) == 0)
            access |= REG_ACCESS_PUSH;
        else if (alen == 1 && *a == '*')
            access |= REG_ACCESS_PULL | REG_ACCESS_PUSH;
        else if (alen != 0)
            return sw_error_set(err, SW_EINVAL,
                                "scope \"%.*s\": unknown action \"%.*s\" (pull, push or *)",
                                (int)len, s, (int)alen, a);
        a += alen + (comma ? 1 : 0);
    }
    if (access == 0)
        return sw_error_set(err, SW_EINVAL, "scope \"%.*s\": no action (pull, push or *)", (int)len,
                            s);
    char *pattern = strndup(name, (size_t)(colon - name));
    if (pattern == NULL)
        return sw_error_set(err, SW_ENOMEM, "scopes: out of memory");
    int rc = reg_scopes_add(scopes, pattern, access, err);
    free(pattern);
    return rc;
}

int reg_scopes_parse(const char *text, struct reg_scopes *scopes, sw_error **err)
{
    if (text == NULL || strlen(text) > SCOPE_TEXT_MAX)
        return sw_error_set(err, SW_EINVAL, "scope: missing or too long");
    const char *p = text;
    int count = 0;
    while (*p) {
        p += strspn(p, " \t,");
        if (*p == '\0')
            break;
        /* a scope ends at white space or at ",repository:" */
        const char *end = p;
        while (*end && *end != ' ' && *end != '\t' &&
               !(*end == ',' && strncmp(end + 1, "repository:", 11) == 0))
            end++;
        int rc = parse_one(p, (size_t)(end - p), scopes, err);
        if (rc != 0)
            return rc;
        count++;
        p = end;
    }
    if (count == 0)
        return sw_error_set(err, SW_EINVAL, "scope: empty (expected repository:NAME:pull,push)");
    /* What is parsed is stored and handed on in its canonical form
     * (reg_scopes_format), which spells "*" out as "pull,push": that form
     * must parse again, so it is held to the same limit. */
    size_t canonical = 0;
    for (size_t i = 0; i < scopes->n; i++)
        canonical += (i > 0) + strlen("repository:") + strlen(scopes->items[i].pattern) + 1 +
                     strlen(reg_access_actions(scopes->items[i].access));
    if (canonical > SCOPE_TEXT_MAX)
        return sw_error_set(err, SW_EINVAL, "scope: too long (over %d characters when written out)",
                            SCOPE_TEXT_MAX);
    return 0;
}

unsigned reg_scopes_access(const struct reg_scopes *scopes, const char *repo)
{
    unsigned access = 0;
    for (size_t i = 0; scopes && repo && i < scopes->n; i++)
        if (fnmatch(scopes->items[i].pattern, repo, 0) == 0)
            access |= scopes->items[i].access;
    return access;
}

const char *reg_access_actions(unsigned access)
{
    switch (access & (REG_ACCESS_PULL | REG_ACCESS_PUSH)) {
    case REG_ACCESS_PULL:
        return "pull";
    case REG_ACCESS_PUSH:
        return "push";
    case REG_ACCESS_PULL | REG_ACCESS_PUSH:
        return "pull,push";
    default:
        return "";
    }
}

char *reg_scopes_format(const struct reg_scopes *scopes)
{
    sw_strbuf out = SW_STRBUF_INIT;
    for (size_t i = 0; i < scopes->n; i++) {
        if (i > 0)
            sw_strbuf_puts(&out, " ");
        sw_strbuf_printf(&out, "repository:%s:%s", scopes->items[i].pattern,
                         reg_access_actions(scopes->items[i].access));
    }
    return sw_strbuf_detach(&out);
}

void reg_scopes_clear(struct reg_scopes *scopes)
{
    for (size_t i = 0; i < scopes->n; i++)
        free(scopes->items[i].pattern);
    free(scopes->items);
    scopes->items = NULL;
    scopes->n = 0;
}
