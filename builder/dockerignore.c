/*
 * dockerignore.c - .dockerignore reading and matching (see dockerignore.h).
 *
 * Users move Dockerfiles and ignore files between Docker and Slipway, so the
 * aim is Docker's behaviour, including its odd corners:
 *
 *  - Reading (BuildKit's ignore-file reader): a UTF-8 BOM is dropped, a line
 *    is a comment only when '#' is its very first byte (so "  # x" is a
 *    pattern "# x"), lines are trimmed, "!" marks an exception, the rest is
 *    cleaned like Go's filepath.Clean and a leading "/" is dropped.
 *  - Compiling (moby/patternmatcher): the cleaned pattern is classified the
 *    way patternmatcher does, because the class changes the meaning of
 *    "**": a literal pattern compares exactly, "lit**" is a plain prefix
 *    test, "**lit" a plain suffix test (so "**foo" matches "barfoo"), and
 *    anything else is a glob where "*" and "?" stop at '/', a "**" followed
 *    by more pattern matches zero or more whole directories (the regexp "(.*" "/)?") and a
 *    trailing "**" matches anything (".*", which like a regexp dot does not
 *    cross a newline).
 *  - Matching: the last pattern that matches the path or one of its parent
 *    directories decides; exceptions re-include.
 *  - Walking (fsutil): an excluded directory is still entered when some
 *    exception contains wildcard characters, or when an exception's literal
 *    path lies below the directory.
 *
 * Glob matching is a dynamic program over (token, byte offset), so a
 * hostile pattern like "*a*a*a*a*b" costs O(pattern x path), not
 * exponential time, and nothing recurses.
 */
#include "builder/dockerignore.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/shell_lex_internal.h" /* unicode.IsSpace, as strings.TrimSpace */
#include "core/fs.h"

/* bufio.Scanner's limit: Docker rejects longer lines, and so do we. */
#define MAX_LINE 65535
#define MAX_IGNORE_FILE (16 * 1024 * 1024)

enum match_kind { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_GLOB };

enum tok_kind {
    TOK_BYTE,    /* one literal byte */
    TOK_ANY,     /* "?": one character other than '/' */
    TOK_CLASS,   /* "[...]": one character in (or not in) the ranges */
    TOK_STAR,    /* "*": any run of characters other than '/' */
    TOK_DIRS,    /* "**" with more pattern after it: "" or "anything/" */
    TOK_ANYTHING /* trailing "**": the rest, whatever it is */
};

struct token {
    enum tok_kind kind;
    unsigned char byte;
    int negated;
    size_t n_ranges;
    uint32_t *ranges; /* lo, hi pairs of code points */
};

struct pattern {
    char *text; /* cleaned, without the leading '!' */
    int exception;
    enum match_kind kind;
    struct token *tokens;
    size_t n_tokens;
};

struct bld_ignore {
    struct pattern *patterns;
    size_t n;
    int has_exceptions;
    int wildcard_exceptions; /* fsutil: every excluded directory is walked */
};

/* ---- UTF-8 and whitespace -------------------------------------------- */

/* Decodes one code point like Go: an invalid or truncated sequence is
 * U+FFFD of width 1. */
static uint32_t decode_rune(const unsigned char *s, size_t len, size_t *width)
{
    uint32_t c = s[0];
    size_t need = 0;
    uint32_t min = 0;
    *width = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        c &= 0x1F;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        c &= 0x0F;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        c &= 0x07;
        min = 0x10000;
    } else {
        return 0xFFFD;
    }
    if (len < need + 1)
        return 0xFFFD;
    for (size_t i = 1; i <= need; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0xFFFD;
    *width = need + 1;
    return c;
}

/* strings.TrimSpace on s[*start, *end). */
static void trim_space(const char *s, size_t *start, size_t *end)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t width;
    while (*start < *end &&
           bld_shell_go_is_space((int32_t)decode_rune(u + *start, *end - *start, &width)))
        *start += width;
    while (*end > *start) {
        /* step back to the start of the last code point */
        size_t b = *end - 1;
        while (b > *start && (u[b] & 0xC0) == 0x80 && *end - b < 4)
            b--;
        uint32_t r = decode_rune(u + b, *end - b, &width);
        if (b + width != *end) { /* not one whole code point: a lone byte */
            b = *end - 1;
            r = decode_rune(u + b, 1, &width);
        }
        if (!bld_shell_go_is_space((int32_t)r))
            break;
        *end = b;
    }
}

/* ---- filepath.Clean ---------------------------------------------------- */

/* Go's filepath.Clean (Unix): collapses slashes, drops ".", resolves ".."
 * against earlier elements (dropped at the root, kept when there is
 * nothing to remove), "" becomes ".". Returns malloc'd text or NULL. */
static char *go_clean(const char *in, size_t len)
{
    char *out = malloc(len + 2);
    if (out == NULL)
        return NULL;
    int rooted = len > 0 && in[0] == '/';
    size_t w = rooted ? 1 : 0; /* write position */
    size_t floor = w;          /* ".." may not remove below this */
    size_t r = 0;
    if (rooted)
        out[0] = '/';
    while (r < len) {
        if (in[r] == '/') {
            r++;
        } else if (in[r] == '.' && (r + 1 == len || in[r + 1] == '/')) {
            r++;
        } else if (in[r] == '.' && in[r + 1] == '.' && (r + 2 == len || in[r + 2] == '/')) {
            r += 2;
            if (w > floor) {
                w--;
                while (w > floor && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                floor = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            while (r < len && in[r] != '/')
                out[w++] = in[r++];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
    return out;
}

/* ---- pattern syntax and compilation ---------------------------------- */

/* One class member as Go's filepath.Match reads it (getEsc). */
static int class_char(const char *p, size_t *pos, uint32_t *out)
{
    size_t len = strlen(p), width;
    if (*pos >= len || p[*pos] == '-' || p[*pos] == ']')
        return -1;
    if (p[*pos] == '\\') {
        (*pos)++;
        if (*pos >= len)
            return -1;
    }
    uint32_t r = decode_rune((const unsigned char *)p + *pos, len - *pos, &width);
    if (r == 0xFFFD && width == 1 && (unsigned char)p[*pos] >= 0x80)
        return -1;
    *pos += width;
    if (*pos >= len)
        return -1; /* the class never closes */
    *out = r;
    return 0;
}

/* Parses "[...]" at p[*pos] (just after '['); fills tok when not NULL.
 * Returns -1 on the syntax errors Go's filepath.Match reports. */
static int parse_class(const char *p, size_t *pos, struct token *tok)
{
    int negated = 0;
    size_t n = 0;
    uint32_t *ranges = NULL;
    if (p[*pos] == '^') {
        negated = 1;
        (*pos)++;
    }
    for (;;) {
        if (p[*pos] == ']' && n > 0) {
            (*pos)++;
            break;
        }
        uint32_t lo, hi;
        if (class_char(p, pos, &lo) != 0)
            goto fail;
        hi = lo;
        if (p[*pos] == '-') {
            (*pos)++;
            if (class_char(p, pos, &hi) != 0)
                goto fail;
        }
        if (tok != NULL) {
            uint32_t *bigger = realloc(ranges, (n + 1) * 2 * sizeof(uint32_t));
            if (bigger == NULL)
                goto fail;
            ranges = bigger;
            ranges[2 * n] = lo;
            ranges[2 * n + 1] = hi;
        }
        n++;
    }
    if (tok != NULL) {
        tok->kind = TOK_CLASS;
        tok->negated = negated;
        tok->n_ranges = n;
        tok->ranges = ranges;
    }
    return 0;
fail:
    free(ranges);
    return -1;
}

/* What filepath.Match(p, ".") reports: 0 for a well-formed pattern. */
static int check_syntax(const char *p)
{
    size_t pos = 0, len = strlen(p);
    while (pos < len) {
        if (p[pos] == '\\') {
            if (pos + 1 >= len)
                return -1;
            pos += 2;
        } else if (p[pos] == '[') {
            pos++;
            if (parse_class(p, &pos, NULL) != 0)
                return -1;
        } else {
            pos++;
        }
    }
    return 0;
}

static int push_token(struct pattern *pat, size_t *cap, struct token tok)
{
    if (pat->n_tokens == *cap) {
        size_t bigger_cap = *cap ? *cap * 2 : 16;
        struct token *bigger = realloc(pat->tokens, bigger_cap * sizeof(*bigger));
        if (bigger == NULL) {
            free(tok.ranges);
            return -1;
        }
        pat->tokens = bigger;
        *cap = bigger_cap;
    }
    pat->tokens[pat->n_tokens++] = tok;
    return 0;
}

/* Turns pat->text into tokens and classifies it the way patternmatcher
 * does (its classification decides what "**" means, see the top). */
static int compile(struct pattern *pat)
{
    const char *p = pat->text;
    size_t len = strlen(p), pos = 0, cap = 0;
    enum match_kind kind = MATCH_EXACT;
    for (int first = 1; pos < len; first = 0) {
        struct token tok = { .kind = TOK_BYTE };
        char c = p[pos++];
        if (c == '*' && p[pos] == '*') {
            pos++;
            if (p[pos] == '/')
                pos++;
            if (pos == len) {
                if (kind == MATCH_EXACT) {
                    kind = MATCH_PREFIX;
                } else {
                    kind = MATCH_GLOB;
                }
                tok.kind = TOK_ANYTHING;
            } else {
                tok.kind = TOK_DIRS;
                kind = MATCH_GLOB;
            }
            if (first)
                kind = MATCH_SUFFIX;
            if (push_token(pat, &cap, tok) != 0)
                return -1;
        } else if (c == '*' || c == '?') {
            tok.kind = c == '*' ? TOK_STAR : TOK_ANY;
            kind = MATCH_GLOB;
            if (push_token(pat, &cap, tok) != 0)
                return -1;
        } else if (c == '[') {
            if (parse_class(p, &pos, &tok) != 0)
                return -1;
            kind = MATCH_GLOB;
            if (push_token(pat, &cap, tok) != 0)
                return -1;
        } else if (c == '\\' && pos < len) {
            /* the escaped character, whole, as literal bytes */
            size_t width;
            decode_rune((const unsigned char *)p + pos, len - pos, &width);
            for (size_t i = 0; i < width; i++) {
                tok.byte = (unsigned char)p[pos++];
                if (push_token(pat, &cap, tok) != 0)
                    return -1;
            }
            kind = MATCH_GLOB;
        } else {
            if (c == ']')
                kind = MATCH_GLOB;
            tok.byte = (unsigned char)c;
            if (push_token(pat, &cap, tok) != 0)
                return -1;
        }
    }
    pat->kind = kind;
    return 0;
}

static void free_pattern(struct pattern *pat)
{
    for (size_t i = 0; i < pat->n_tokens; i++)
        free(pat->tokens[i].ranges);
    free(pat->tokens);
    free(pat->text);
}

/* ---- matching --------------------------------------------------------- */

static int class_matches(const struct token *tok, uint32_t r)
{
    int in = 0;
    for (size_t i = 0; i < tok->n_ranges && !in; i++)
        in = tok->ranges[2 * i] <= r && r <= tok->ranges[2 * i + 1];
    return in != tok->negated;
}

/* Glob tokens against s[0, len): rows of a table "tokens t.. match s from
 * offset i", computed from the last token back, two rows at a time.
 * Returns 1, 0, or -1 when out of memory. */
static int glob_match(const struct pattern *pat, const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char stack_rows[2 * 1025];
    unsigned char *next = stack_rows, *cur, *heap = NULL;
    unsigned char inner_stack[1025], *inner = inner_stack;
    if (len + 1 > 1025) {
        heap = malloc(3 * (len + 1));
        if (heap == NULL)
            return -1;
        next = heap;
        inner = heap + 2 * (len + 1);
    }
    cur = next + (len + 1);
    /* past the last token only the end of the string matches */
    memset(next, 0, len + 1);
    next[len] = 1;
    for (size_t t = pat->n_tokens; t-- > 0;) {
        const struct token *tok = &pat->tokens[t];
        int anything = 1; /* TOK_ANYTHING: no newline from i on */
        for (size_t i = len + 1; i-- > 0;) {
            size_t width = 1;
            uint32_t r = 0;
            if (i < len)
                r = decode_rune(u + i, len - i, &width);
            unsigned char m = 0;
            switch (tok->kind) {
            case TOK_BYTE:
                m = i < len && u[i] == tok->byte && next[i + 1];
                break;
            case TOK_ANY:
                m = i < len && u[i] != '/' && next[i + width];
                break;
            case TOK_CLASS:
                m = i < len && class_matches(tok, r) && next[i + width];
                break;
            case TOK_STAR:
                m = next[i] || (i < len && u[i] != '/' && i + width <= len && cur[i + width]);
                break;
            case TOK_DIRS:
                /* inner[i]: some "x*\/" run starting at i ends where the
                 * rest of the pattern matches */
                inner[i] =
                    i < len && u[i] != '\n' && ((u[i] == '/' && next[i + 1]) || inner[i + width]);
                m = next[i] || inner[i];
                break;
            case TOK_ANYTHING:
                if (i < len && u[i] == '\n')
                    anything = 0;
                m = (unsigned char)anything;
                break;
            }
            cur[i] = m;
        }
        unsigned char *swap = next;
        next = cur;
        cur = swap;
    }
    int result = next[0];
    free(heap);
    return result;
}

/* Does the pattern match s[0, len) itself? -1 when out of memory. */
static int pattern_match(const struct pattern *pat, const char *s, size_t len)
{
    size_t tlen = strlen(pat->text);
    switch (pat->kind) {
    case MATCH_EXACT:
        return len == tlen && memcmp(s, pat->text, len) == 0;
    case MATCH_PREFIX:
        return len >= tlen - 2 && memcmp(s, pat->text, tlen - 2) == 0;
    case MATCH_SUFFIX: {
        const char *suffix = pat->text + 2;
        size_t slen = tlen - 2;
        if (len >= slen && memcmp(s + len - slen, suffix, slen) == 0)
            return 1;
        return slen > 0 && suffix[0] == '/' && len == slen - 1 && memcmp(s, suffix + 1, len) == 0;
    }
    case MATCH_GLOB:
        return glob_match(pat, s, len);
    }
    return 0;
}

/* The path or one of its parent directories matches. */
static int pattern_match_or_parent(const struct pattern *pat, const char *path, size_t len)
{
    int m = pattern_match(pat, path, len);
    for (size_t i = 1; m == 0 && i < len; i++)
        if (path[i] == '/' && path[i - 1] != '/')
            m = pattern_match(pat, path, i);
    return m;
}

int bld_ignore_matches(const bld_ignore *ig, const char *rel_path)
{
    if (ig == NULL || rel_path == NULL)
        return 0;
    while (rel_path[0] == '.' && rel_path[1] == '/')
        rel_path += 2;
    while (rel_path[0] == '/')
        rel_path++;
    size_t len = strlen(rel_path);
    while (len > 0 && rel_path[len - 1] == '/')
        len--;
    if (len == 0 || (len == 1 && rel_path[0] == '.'))
        return 0; /* the context root itself is never excluded */
    int excluded = 0;
    for (size_t i = 0; i < ig->n; i++) {
        const struct pattern *pat = &ig->patterns[i];
        /* an exception only matters once excluded, and vice versa */
        if (pat->exception != excluded)
            continue;
        int m = pattern_match_or_parent(pat, rel_path, len);
        if (m < 0)
            return 1; /* out of memory: leave the file out rather than leak it */
        if (m)
            excluded = !pat->exception;
    }
    return excluded;
}

/* fsutil's patternWithoutTrailingGlob: the length of the pattern with one
 * trailing slash-double-star and then one trailing slash-star removed. */
static size_t without_trailing_glob(const char *text)
{
    size_t len = strlen(text);
    if (len >= 3 && memcmp(text + len - 3, "/**", 3) == 0)
        len -= 3;
    if (len >= 2 && memcmp(text + len - 2, "/*", 2) == 0)
        len -= 2;
    return len;
}

int bld_ignore_dir_needed(const bld_ignore *ig, const char *rel_dir)
{
    if (ig == NULL || rel_dir == NULL || !ig->has_exceptions)
        return 0;
    if (ig->wildcard_exceptions)
        return 1;
    while (rel_dir[0] == '.' && rel_dir[1] == '/')
        rel_dir += 2;
    size_t dlen = strlen(rel_dir);
    while (dlen > 0 && rel_dir[dlen - 1] == '/')
        dlen--;
    for (size_t i = 0; i < ig->n; i++) {
        const struct pattern *pat = &ig->patterns[i];
        if (!pat->exception)
            continue;
        /* "<exception>/" starts with "<dir>/": the exception lies below */
        size_t plen = without_trailing_glob(pat->text);
        if (plen + 1 < dlen + 1)
            continue;
        if (memcmp(pat->text, rel_dir, dlen) == 0 && (plen == dlen ? 1 : pat->text[dlen] == '/'))
            return 1;
    }
    return 0;
}

/* ---- reading ----------------------------------------------------------- */

/* Appends one pattern as patternmatcher.New receives it from the reader
 * (possibly with a leading '!'). */
static int add_pattern(bld_ignore *ig, const char *line_text, size_t line_no, sw_error **err)
{
    struct pattern pat = { 0 };
    size_t start = 0, end = strlen(line_text);
    int rc = 0;
    trim_space(line_text, &start, &end);
    if (start == end)
        return 0;
    char *cleaned = go_clean(line_text + start, end - start);
    if (cleaned == NULL)
        return sw_error_oom(err);
    const char *body = cleaned;
    if (body[0] == '!') {
        if (body[1] == '\0') {
            rc =
                sw_error_set(err, SW_EINVAL, "line %zu: illegal exclusion pattern: \"!\"", line_no);
            goto cleanup;
        }
        pat.exception = 1;
        body++;
    }
    if (check_syntax(body) != 0) {
        rc =
            sw_error_set(err, SW_EINVAL, "line %zu: syntax error in pattern \"%s\"", line_no, body);
        goto cleanup;
    }
    pat.text = strdup(body);
    if (pat.text == NULL || compile(&pat) != 0) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    struct pattern *bigger = realloc(ig->patterns, (ig->n + 1) * sizeof(*bigger));
    SW_CHECK_ALLOC(bigger, rc, err, cleanup);
    ig->patterns = bigger;
    if (pat.exception) {
        ig->has_exceptions = 1;
        size_t plen = without_trailing_glob(pat.text);
        for (size_t i = 0; i < plen; i++)
            if (strchr("*[]?^\\", pat.text[i]) != NULL)
                ig->wildcard_exceptions = 1;
    }
    ig->patterns[ig->n++] = pat;
    memset(&pat, 0, sizeof(pat));
cleanup:
    free_pattern(&pat);
    free(cleaned);
    return rc;
}

/* One line as BuildKit's reader turns it into a pattern string: trimmed,
 * "!" split off and trimmed again, cleaned, a leading "/" dropped.
 * Returns malloc'd text ("" for a line that yields nothing) or NULL. */
static char *reader_line(const char *line, size_t len)
{
    size_t start = 0, end = len;
    if (len > 0 && line[0] == '#')
        return strdup("");
    trim_space(line, &start, &end);
    if (start == end)
        return strdup("");
    int invert = line[start] == '!';
    if (invert) {
        start++;
        trim_space(line, &start, &end);
    }
    char *cleaned = NULL;
    if (start < end) {
        cleaned = go_clean(line + start, end - start);
        if (cleaned == NULL)
            return NULL;
        if (cleaned[0] == '/' && cleaned[1] != '\0')
            memmove(cleaned, cleaned + 1, strlen(cleaned));
    }
    char *out = NULL;
    if (asprintf(&out, "%s%s", invert ? "!" : "", cleaned ? cleaned : "") < 0)
        out = NULL;
    free(cleaned);
    return out;
}

int bld_ignore_parse(const char *text, bld_ignore **out, sw_error **err)
{
    bld_ignore *ig = calloc(1, sizeof(*ig));
    int rc = 0;
    size_t line_no = 0;
    *out = NULL;
    if (ig == NULL)
        return sw_error_oom(err);
    if (text == NULL)
        text = "";
    if (strncmp(text, "\xEF\xBB\xBF", 3) == 0) /* a UTF-8 byte order mark */
        text += 3;
    const char *p = text;
    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        line_no++;
        if (len > MAX_LINE) {
            rc = sw_error_set(err, SW_EINVAL, "line %zu: longer than %d bytes", line_no, MAX_LINE);
            goto cleanup;
        }
        if (len > 0 && p[len - 1] == '\r') /* bufio.ScanLines drops it */
            len--;
        char *pattern = reader_line(p, len);
        SW_CHECK_ALLOC(pattern, rc, err, cleanup);
        rc = add_pattern(ig, pattern, line_no, err);
        free(pattern);
        if (rc != 0 || nl == NULL)
            break;
        p = nl + 1;
    }
    if (rc != 0)
        goto cleanup;
    *out = ig;
    ig = NULL;
cleanup:
    bld_ignore_free(ig);
    return rc;
}

int bld_ignore_load(const char *context_dir, const char *dockerfile_path, bld_ignore **out,
                    sw_error **err)
{
    char *path = NULL, *text = NULL;
    int rc = 0;
    *out = NULL;
    if (dockerfile_path != NULL) {
        if (asprintf(&path, "%s.dockerignore", dockerfile_path) < 0) {
            path = NULL;
            rc = sw_error_oom(err);
            goto cleanup;
        }
        if (!sw_path_exists(path)) {
            free(path);
            path = NULL;
        }
    }
    if (path == NULL)
        path = sw_path_join(context_dir, ".dockerignore");
    SW_CHECK_ALLOC(path, rc, err, cleanup);
    sw_error *read_err = NULL;
    rc = sw_read_file(path, MAX_IGNORE_FILE, &text, NULL, &read_err);
    if (rc == SW_ENOTFOUND) {
        sw_error_clear(&read_err);
        rc = bld_ignore_parse("", out, err);
        goto cleanup;
    }
    if (rc != 0) {
        if (err != NULL && *err == NULL)
            *err = read_err;
        else
            sw_error_clear(&read_err);
        goto cleanup;
    }
    rc = bld_ignore_parse(text, out, err);
    if (rc != 0)
        sw_error_prefix(err, "%s", path);
cleanup:
    free(text);
    free(path);
    return rc;
}

void bld_ignore_free(bld_ignore *ig)
{
    if (ig == NULL)
        return;
    for (size_t i = 0; i < ig->n; i++)
        free_pattern(&ig->patterns[i]);
    free(ig->patterns);
    free(ig);
}
