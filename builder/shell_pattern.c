/*
 * shell_pattern.c - the patterns of ${VAR#pattern}, ${VAR%pattern} and
 * ${VAR/pattern/replacement}, matched with the priorities of the Go
 * regular expression BuildKit builds from them (leftmost match; '*' lazy
 * or greedy as the operator asks; '?' and '*' never match a newline, like
 * Go's '.'). Only '*' and '?' are special; escapes keep a character
 * literal.
 */
#include "builder/shell_lex_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- patterns ------------------------------------------------------------- */

enum { TOK_LIT, TOK_ANY, TOK_STAR };

struct pattern {
    int32_t *r;
    unsigned char *kind;
    size_t n;
};

/* Runes of s as Go's []rune(s) (invalid bytes are U+FFFD), with the byte
 * offset of each and of the end. */
static int to_runes(const char *s, size_t len, int32_t **runes, size_t **offs, size_t *n)
{
    *runes = malloc((len + 1) * sizeof(int32_t));
    *offs = malloc((len + 1) * sizeof(size_t));
    if (*runes == NULL || *offs == NULL) {
        free(*runes);
        free(*offs);
        *runes = NULL;
        *offs = NULL;
        return -1;
    }
    size_t pos = 0, k = 0, width;
    while (pos < len) {
        (*offs)[k] = pos;
        (*runes)[k++] = bld_shell_decode_rune((const unsigned char *)s + pos, len - pos, &width);
        pos += width;
    }
    (*offs)[k] = pos;
    *n = k;
    return 0;
}

/* convertShellPatternToRegex: '*' and '?' are wildcards; "\*", "\?", "\\"
 * are the literal characters; a '\' before '}' or '/' is dropped; any
 * other escape is an error. Everything else is literal. */
static int compile_pattern(struct lexer *lx, const char *pat, struct pattern *p)
{
    size_t len = strlen(pat);
    p->r = malloc((len + 1) * sizeof(int32_t));
    p->kind = malloc(len + 1);
    p->n = 0;
    if (p->r == NULL || p->kind == NULL)
        return sw_error_oom(&lx->err);
    const unsigned char *s = (const unsigned char *)pat;
    size_t pos = 0, width;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        pos = 3; /* text/scanner skips a leading byte-order mark */
    while (pos < len) {
        int32_t tok = bld_shell_decode_rune(s + pos, len - pos, &width);
        pos += width;
        if (tok == '*' || tok == '?') {
            p->kind[p->n] = tok == '*' ? TOK_STAR : TOK_ANY;
            p->r[p->n++] = tok;
            continue;
        }
        if (tok == '\\') {
            int32_t after = bld_shell_decode_rune(s + pos, len - pos, &width);
            if (after == '}' || after == '/')
                continue;
            pos += width;
            if (after != '*' && after != '?' && after != '\\') {
                char c[5];
                bld_shell_rune_str(after, c);
                return bld_shell_fail(
                    lx, "invalid pattern (%s) in substitution: invalid escape '\\%s'", pat, c);
            }
            tok = after;
        }
        p->kind[p->n] = TOK_LIT;
        p->r[p->n++] = tok;
    }
    return 0;
}

static void pattern_free(struct pattern *p)
{
    free(p->r);
    free(p->kind);
}

/* For every start position i in value (0..n), the end of the match of p
 * anchored at i that a backtracking matcher finds first, or -1: stars
 * try the fewest characters first (lazy) or the most (greedy). Computed
 * pattern position by pattern position from the end, each row only over
 * the positions that can matter: at least the fixed-width tokens before
 * it (exactly that many when anchored at 0 and no star came before), at
 * most n minus the fixed-width tokens after it. With anchored only ends[0]
 * is meaningful. NULL with lx->err set on failure. */
static long *match_ends(struct lexer *lx, const struct pattern *p, const int32_t *v, size_t n,
                        int greedy, int anchored)
{
    size_t fixed = 0;
    for (size_t k = 0; k < p->n; k++)
        fixed += p->kind[k] != TOK_STAR;
    long *nxt = malloc((n + 2) * sizeof(long));
    long *cur = malloc((n + 2) * sizeof(long));
    if (nxt == NULL || cur == NULL) {
        free(nxt);
        free(cur);
        sw_error_oom(&lx->err);
        return NULL;
    }
    for (size_t i = 0; i <= n + 1; i++)
        cur[i] = -1;
    for (size_t i = 0; i <= n; i++)
        nxt[i] = (long)i;
    nxt[n + 1] = -1;
    size_t first_star = p->n; /* a star comes before k when first_star < k */
    for (size_t k = 0; k < p->n && first_star == p->n; k++)
        if (p->kind[k] == TOK_STAR)
            first_star = k;
    size_t before = fixed, after = 0; /* fixed-width tokens before k, from k */
    size_t prev_lo = 0, prev_hi = n;  /* where the other buffer was written */
    for (size_t k = p->n; k-- > 0;) {
        int star = p->kind[k] == TOK_STAR;
        if (!star) {
            before--;
            after++;
        }
        /* a star's row also serves its own longer runs: up to the room */
        size_t lo = anchored ? before : 0;
        size_t hi = anchored && !star && first_star >= k ? before : n;
        if (n < after) {
            lo = 1;
            hi = 0; /* too short: nothing matches */
        } else if (hi > n - after) {
            hi = n - after;
        }
        if (lo <= hi) {
            lx->cells += hi - lo + 1;
            if (lx->cells > MAX_MATCH_CELLS) {
                free(nxt);
                free(cur);
                sw_error_clear(&lx->err);
                sw_error_set(&lx->err, SW_EINVAL,
                             "pattern matching in this word is too costly (more than %d steps)",
                             MAX_MATCH_CELLS);
                return NULL;
            }
        }
        for (size_t i = hi + 1; lo <= hi && i-- > lo;) {
            int ok = i < n && v[i] != '\n'; /* Go's '.' */
            switch (p->kind[k]) {
            case TOK_LIT:
                cur[i] = i < n && v[i] == p->r[k] ? nxt[i + 1] : -1;
                break;
            case TOK_ANY:
                cur[i] = ok ? nxt[i + 1] : -1;
                break;
            default: {
                long further = ok && i + 1 <= hi ? cur[i + 1] : -1;
                if (greedy)
                    cur[i] = further >= 0 ? further : nxt[i];
                else
                    cur[i] = nxt[i] >= 0 ? nxt[i] : further;
                break;
            }
            }
        }
        /* the other buffer held row k+1: clear it for row k-1 */
        for (size_t i = prev_lo; i <= prev_hi && i <= n; i++)
            nxt[i] = -1;
        long *t = nxt;
        nxt = cur;
        cur = t;
        prev_lo = lo;
        prev_hi = hi;
    }
    free(cur);
    return nxt;
}

/* trimPrefix: removes the match of pattern anchored at the start. */
int bld_shell_trim_prefix(struct lexer *lx, const char *pattern, const char *value, size_t vlen,
                          int greedy, sw_strbuf *out)
{
    struct pattern p = { 0 };
    int32_t *runes = NULL;
    size_t *offs = NULL, n = 0;
    long *ends = NULL;
    int rc = compile_pattern(lx, pattern, &p);
    if (rc != 0)
        goto cleanup;
    if (to_runes(value, vlen, &runes, &offs, &n) != 0 ||
        (ends = match_ends(lx, &p, runes, n, greedy, 1)) == NULL) {
        rc = lx->err ? sw_error_code(lx->err) : sw_error_oom(&lx->err);
        goto cleanup;
    }
    size_t from = ends[0] >= 0 ? offs[ends[0]] : 0;
    sw_strbuf_append(out, value + from, vlen - from);
cleanup:
    pattern_free(&p);
    free(runes);
    free(offs);
    free(ends);
    return rc;
}

/* reverseString: the runes in reverse order (invalid bytes are U+FFFD). */
static void reverse_string(const char *s, size_t len, sw_strbuf *out)
{
    int32_t *runes = NULL;
    size_t *offs = NULL, n = 0;
    if (to_runes(s, len, &runes, &offs, &n) != 0) {
        out->failed = 1;
        return;
    }
    for (size_t i = n; i-- > 0;)
        bld_shell_put_rune(out, runes[i]);
    free(runes);
    free(offs);
}

/* reversePattern: reversed, but "\x" pairs keep their order. */
static void reverse_pattern(const char *s, sw_strbuf *out)
{
    int32_t *runes = NULL, *rev = NULL;
    size_t *offs = NULL, n = 0;
    if (to_runes(s, strlen(s), &runes, &offs, &n) != 0 ||
        (rev = malloc((n + 1) * sizeof(int32_t))) == NULL) {
        free(runes);
        free(offs);
        out->failed = 1;
        return;
    }
    for (size_t i = 0; i < n;) {
        size_t o = n - 1 - i;
        if (runes[i] == '\\' && i != n - 1) {
            rev[o - 1] = runes[i];
            rev[o] = runes[i + 1];
            i += 2;
        } else {
            rev[o] = runes[i];
            i++;
        }
    }
    for (size_t i = 0; i < n; i++)
        bld_shell_put_rune(out, rev[i]);
    free(runes);
    free(rev);
    free(offs);
}

/* trimSuffix: trimPrefix on the reversed value and pattern. */
int bld_shell_trim_suffix(struct lexer *lx, const char *pattern, const char *value, int greedy,
                          sw_strbuf *out)
{
    sw_strbuf rp = SW_STRBUF_INIT, rv = SW_STRBUF_INIT, trimmed = SW_STRBUF_INIT;
    int rc = 0;
    reverse_pattern(pattern, &rp);
    reverse_string(value, strlen(value), &rv);
    if (rp.failed || rv.failed) {
        rc = sw_error_oom(&lx->err);
        goto cleanup;
    }
    rc = bld_shell_trim_prefix(lx, rp.data ? rp.data : "", rv.data ? rv.data : "", rv.len, greedy,
                               &trimmed);
    if (rc == 0)
        reverse_string(trimmed.data ? trimmed.data : "", trimmed.len, out);
cleanup:
    sw_strbuf_free(&rp);
    sw_strbuf_free(&rv);
    sw_strbuf_free(&trimmed);
    return rc;
}

/* Regexp.Expand of a replacement template for a regexp without groups:
 * "$$" is '$', "$0"/"${0}" the match, any other "$name"/"${name}" nothing,
 * a '$' that starts no name stays. */
static void expand_template(const char *t, const char *match, size_t mlen, sw_strbuf *out)
{
    for (;;) {
        const char *dollar = strchr(t, '$');
        if (dollar == NULL)
            break;
        sw_strbuf_append(out, t, (size_t)(dollar - t));
        t = dollar + 1;
        if (*t == '$') {
            sw_strbuf_putc(out, '$');
            t++;
            continue;
        }
        const char *p = t;
        int brace = *p == '{';
        if (brace)
            p++;
        const char *name = p;
        size_t width;
        for (;;) {
            int32_t r = bld_shell_decode_rune((const unsigned char *)p, strlen(p), &width);
            if (r == RUNE_EOF ||
                (!bld_shell_go_is_letter(r) && !bld_shell_go_is_digit(r) && r != '_'))
                break;
            p += width;
        }
        size_t nlen = (size_t)(p - name);
        if (nlen == 0 || (brace && *p != '}')) {
            sw_strbuf_putc(out, '$'); /* malformed: a literal '$' */
            continue;
        }
        if (brace)
            p++;
        if (nlen == 1 && name[0] == '0')
            sw_strbuf_append(out, match, mlen);
        t = p;
    }
    sw_strbuf_puts(out, t);
}

/* ${VAR/pattern/replacement} (all: ${VAR//...}): Go's FindStringIndex or
 * ReplaceAllString with the pattern made greedy and unanchored. */
int bld_shell_replace_pattern(struct lexer *lx, const char *pattern, const char *repl,
                              const char *value, int all, sw_strbuf *out)
{
    struct pattern p = { 0 };
    int32_t *runes = NULL;
    size_t *offs = NULL, n = 0, vlen = strlen(value);
    long *ends = NULL;
    int rc = compile_pattern(lx, pattern, &p);
    if (rc != 0)
        goto cleanup;
    if (to_runes(value, vlen, &runes, &offs, &n) != 0 ||
        (ends = match_ends(lx, &p, runes, n, 1, 0)) == NULL) {
        rc = lx->err ? sw_error_code(lx->err) : sw_error_oom(&lx->err);
        goto cleanup;
    }
    if (!all) {
        for (size_t s = 0; s <= n; s++) {
            if (ends[s] < 0)
                continue;
            sw_strbuf_append(out, value, offs[s]);
            sw_strbuf_puts(out, repl);
            sw_strbuf_puts(out, value + offs[ends[s]]);
            goto cleanup;
        }
        sw_strbuf_puts(out, value);
        goto cleanup;
    }
    size_t last = 0, search = 0;
    while (search <= n) {
        size_t s = search;
        while (s <= n && ends[s] < 0)
            s++;
        if (s > n)
            break;
        size_t e = (size_t)ends[s];
        sw_strbuf_append(out, value + offs[last], offs[s] - offs[last]);
        if (e > last || s == 0)
            expand_template(repl, value + offs[s], offs[e] - offs[s], out);
        if ((rc = bld_shell_too_long(lx, out)) != 0)
            goto cleanup;
        last = e;
        search = e == search ? search + 1 : e;
    }
    sw_strbuf_puts(out, value + offs[last]);
cleanup:
    pattern_free(&p);
    free(runes);
    free(offs);
    free(ends);
    return rc;
}
