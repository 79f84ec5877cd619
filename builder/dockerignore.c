/*
 * dockerignore.c - .dockerignore matching (see dockerignore.h).
 *
 * Each pattern is split into '/'-separated segments; "**" segments match
 * any number of path segments, other segments use Go's filepath.Match
 * rules (bld_path_match from copy.c). A pattern matches a path when it
 * matches the path or one of its parent directories; the last pattern that
 * matches decides, so "!" exceptions re-include.
 */
#include "builder/dockerignore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/copy.h"
#include "core/fs.h"
#include "core/strbuf.h"

struct pattern {
    char **segments;
    size_t n;
    int exclusion; /* a "!" pattern */
};

struct bld_ignore {
    struct pattern *patterns;
    size_t n;
};

/* Go's filepath.Clean on a relative pattern: drops "." segments, resolves
 * ".." against earlier segments (never above the root), removes leading
 * and trailing slashes and repeated ones. */
static char *clean_pattern(const char *in)
{
    char *copy = strdup(in);
    char **parts = NULL;
    size_t n = 0, cap = 0;
    sw_strbuf out = SW_STRBUF_INIT;
    if (copy == NULL)
        return NULL;
    char *save = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (n > 0)
                n--;
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            char **bigger = realloc(parts, cap * sizeof(char *));
            if (bigger == NULL)
                break;
            parts = bigger;
        }
        parts[n++] = tok;
    }
    for (size_t i = 0; i < n; i++) {
        if (i)
            sw_strbuf_putc(&out, '/');
        sw_strbuf_puts(&out, parts[i]);
    }
    free(parts);
    free(copy);
    char *result = sw_strbuf_detach(&out);
    return result;
}

static int add_pattern(bld_ignore *ig, const char *line)
{
    int exclusion = 0;
    if (line[0] == '!') {
        exclusion = 1;
        line++;
        while (*line == ' ' || *line == '\t')
            line++;
    }
    char *clean = clean_pattern(line);
    if (clean == NULL)
        return -1;
    if (clean[0] == '\0') {
        free(clean);
        return 0;
    }
    struct pattern *bigger = realloc(ig->patterns, (ig->n + 1) * sizeof(*bigger));
    if (bigger == NULL) {
        free(clean);
        return -1;
    }
    ig->patterns = bigger;
    struct pattern *p = &ig->patterns[ig->n];
    memset(p, 0, sizeof(*p));
    p->exclusion = exclusion;
    char *save = NULL;
    for (char *tok = strtok_r(clean, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        char **segs = realloc(p->segments, (p->n + 1) * sizeof(char *));
        if (segs == NULL) {
            free(clean);
            return -1;
        }
        p->segments = segs;
        p->segments[p->n++] = strdup(tok);
    }
    free(clean);
    ig->n++;
    return 0;
}

int bld_ignore_parse(const char *text, bld_ignore **out, sw_error **err)
{
    bld_ignore *ig = calloc(1, sizeof(*ig));
    if (ig == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    const char *p = text;
    while (p && *p) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char *line = strndup(p, len);
        if (line == NULL) {
            bld_ignore_free(ig);
            return sw_error_set(err, SW_ENOMEM, "out of memory");
        }
        /* trim, as the dockerignore reader does */
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        size_t l = strlen(s);
        while (l > 0 && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
            s[--l] = '\0';
        int rc = 0;
        if (*s != '\0' && *s != '#')
            rc = add_pattern(ig, s);
        free(line);
        if (rc != 0) {
            bld_ignore_free(ig);
            return sw_error_set(err, SW_ENOMEM, "out of memory");
        }
        p = end ? end + 1 : NULL;
    }
    *out = ig;
    return 0;
}

int bld_ignore_load(const char *context_dir, const char *dockerfile_path, bld_ignore **out,
                    sw_error **err)
{
    char *path = NULL, *text = NULL;
    int rc = 0;
    if (dockerfile_path) {
        if (asprintf(&path, "%s.dockerignore", dockerfile_path) < 0)
            path = NULL;
        if (path && !sw_path_exists(path)) {
            free(path);
            path = NULL;
        }
    }
    if (path == NULL)
        path = sw_path_join(context_dir, ".dockerignore");
    if (path == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    rc = sw_read_file(path, 16 * 1024 * 1024, &text, NULL, err);
    if (rc == SW_ENOTFOUND) {
        sw_error_clear(err);
        rc = bld_ignore_parse("", out, err);
    } else if (rc == 0) {
        rc = bld_ignore_parse(text, out, err);
    }
    free(text);
    free(path);
    return rc;
}

/* Matches pattern segments [pi..] against path segments [si..]. */
static int match_segments(char *const *pat, size_t np, size_t pi, char *const *path, size_t ns,
                          size_t si)
{
    while (pi < np) {
        if (strcmp(pat[pi], "**") == 0) {
            if (pi + 1 == np)
                return 1; /* trailing ** matches everything below */
            for (size_t k = si; k <= ns; k++)
                if (match_segments(pat, np, pi + 1, path, ns, k))
                    return 1;
            return 0;
        }
        if (si >= ns || bld_path_match(pat[pi], path[si]) != 1)
            return 0;
        pi++;
        si++;
    }
    return si == ns;
}

/* Splits rel into segments (modifies a copy). */
static size_t split_path(char *copy, char **segs, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok && n < max; tok = strtok_r(NULL, "/", &save))
        if (strcmp(tok, ".") != 0)
            segs[n++] = tok;
    return n;
}

/* Does pattern p match rel or one of its parent directories? */
static int pattern_matches(const struct pattern *p, char *const *segs, size_t n)
{
    for (size_t len = n; len > 0; len--)
        if (match_segments(p->segments, p->n, 0, segs, len, 0))
            return 1;
    return 0;
}

int bld_ignore_matches(const bld_ignore *ig, const char *rel_path)
{
    if (ig == NULL || ig->n == 0)
        return 0;
    char *copy = strdup(rel_path);
    char *segs[512];
    if (copy == NULL)
        return 0;
    size_t n = split_path(copy, segs, 512);
    int excluded = 0;
    for (size_t i = 0; i < ig->n; i++)
        if (pattern_matches(&ig->patterns[i], segs, n))
            excluded = !ig->patterns[i].exclusion;
    free(copy);
    return excluded;
}

int bld_ignore_dir_needed(const bld_ignore *ig, const char *rel_dir)
{
    if (ig == NULL)
        return 0;
    char *copy = strdup(rel_dir);
    char *segs[512];
    if (copy == NULL)
        return 0;
    size_t n = split_path(copy, segs, 512);
    int needed = 0;
    /* an exception whose pattern could match something below rel_dir: its
     * leading segments match the directory's segments (or it has "**") */
    for (size_t i = 0; i < ig->n && !needed; i++) {
        const struct pattern *p = &ig->patterns[i];
        if (!p->exclusion)
            continue;
        size_t k = 0;
        int possible = 1;
        for (; k < n && k < p->n; k++) {
            if (strcmp(p->segments[k], "**") == 0)
                break;
            if (bld_path_match(p->segments[k], segs[k]) != 1) {
                possible = 0;
                break;
            }
        }
        if (possible && (k < p->n))
            needed = 1;
    }
    free(copy);
    return needed;
}

void bld_ignore_free(bld_ignore *ig)
{
    if (ig == NULL)
        return;
    for (size_t i = 0; i < ig->n; i++) {
        for (size_t j = 0; j < ig->patterns[i].n; j++)
            free(ig->patterns[i].segments[j]);
        free(ig->patterns[i].segments);
    }
    free(ig->patterns);
    free(ig);
}
