/*
 * shell_lex.c - word expansion (see shell_lex.h).
 *
 * The scanner follows BuildKit's lexer step by step so that corner cases
 * come out the same: the input is read rune by rune as Go's text/scanner
 * reads it (UTF-8; an invalid byte is U+FFFD, a leading byte-order mark is
 * skipped), text is written to a result and, for ProcessWords, to a word
 * splitter, and ${VAR op word} operands are read by a nested scan up to
 * the closing character. Patterns (#, %, /) are matched with the priorities
 * of the Go regular expression BuildKit builds from them (leftmost match;
 * '*' lazy or greedy as the operator asks; '?' and '*' never match a
 * newline, like Go's '.').
 */
#include "builder/shell_lex.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dockerfile.h" /* bld_go_quote */
#include "builder/shell_lex_unicode.h"
#include "core/strbuf.h"

#define RUNE_EOF (-1)
#define RUNE_ERROR 0xFFFD
#define MAX_DEPTH 200 /* nested ${...} / quotes: keeps the C stack bounded */
/* Bounds on hostile words (BuildKit has none, and a word that doubles its
 * value in every nested ${} would exhaust memory): the length of any
 * expansion, and the pattern-matching work for one word. */
#define MAX_EXPANSION (1 << 20)
#define MAX_MATCH_CELLS (1 << 25)

/* ---- UTF-8 and Unicode classes, as Go ------------------------------------ */

/* utf8.DecodeRune: (RuneError, 1) for an invalid or incomplete sequence. */
static int32_t decode_rune(const unsigned char *s, size_t len, size_t *width)
{
    if (len == 0) {
        *width = 0;
        return RUNE_EOF;
    }
    unsigned c = s[0];
    size_t n;
    uint32_t r;
    unsigned lo = 0x80, hi = 0xBF;
    *width = 1;
    if (c < 0x80)
        return (int32_t)c;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        r = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        r = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        r = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        return RUNE_ERROR;
    }
    if (len < 2 || s[1] < lo || s[1] > hi)
        return RUNE_ERROR;
    r = (r << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < n; i++) {
        if (i >= len || s[i] < 0x80 || s[i] > 0xBF)
            return RUNE_ERROR;
        r = (r << 6) | (s[i] & 0x3F);
    }
    *width = n;
    return (int32_t)r;
}

static void put_rune(sw_strbuf *sb, int32_t r)
{
    char b[4];
    uint32_t u = (uint32_t)r;
    if (r < 0 || u > 0x10FFFF || (u >= 0xD800 && u <= 0xDFFF))
        u = RUNE_ERROR;
    if (u < 0x80) {
        b[0] = (char)u;
        sw_strbuf_append(sb, b, 1);
    } else if (u < 0x800) {
        b[0] = (char)(0xC0 | (u >> 6));
        b[1] = (char)(0x80 | (u & 0x3F));
        sw_strbuf_append(sb, b, 2);
    } else if (u < 0x10000) {
        b[0] = (char)(0xE0 | (u >> 12));
        b[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        b[2] = (char)(0x80 | (u & 0x3F));
        sw_strbuf_append(sb, b, 3);
    } else {
        b[0] = (char)(0xF0 | (u >> 18));
        b[1] = (char)(0x80 | ((u >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((u >> 6) & 0x3F));
        b[3] = (char)(0x80 | (u & 0x3F));
        sw_strbuf_append(sb, b, 4);
    }
}

static int in_ranges(const uint32_t (*ranges)[2], size_t n, int32_t r)
{
    size_t lo = 0, hi = n;
    if (r < 0)
        return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uint32_t)r < ranges[mid][0])
            hi = mid;
        else if ((uint32_t)r > ranges[mid][1])
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* unicode.IsLetter / unicode.IsDigit */
static int go_is_letter(int32_t r)
{
    if (r < 0x80)
        return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
    return in_ranges(unicode_letters, sizeof(unicode_letters) / sizeof(unicode_letters[0]), r);
}

static int go_is_digit(int32_t r)
{
    if (r < 0x80)
        return r >= '0' && r <= '9';
    return in_ranges(unicode_digits, sizeof(unicode_digits) / sizeof(unicode_digits[0]), r);
}

/* unicode.IsSpace */
static int go_is_space(int32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return 1;
    default:
        return r >= 0x2000 && r <= 0x200A;
    }
}

/* ---- the scanner ---------------------------------------------------------- */

struct lexer {
    const unsigned char *s;
    size_t len, pos;
    int32_t escape;
    int raw_quotes, raw_escapes, skip_unset, skip_quotes;
    bld_env_lookup_fn lookup;
    void *ctx;
    sw_error *err;
    int depth;
    size_t cells; /* pattern matching work so far (MAX_MATCH_CELLS) */
    /* BuildKit's shellWord.wordsBuffer: one buffer shared by the word
     * splitters of every (nested) scan, emptied when a scan starts. */
    sw_strbuf words_buf;
};

static int32_t peek(const struct lexer *lx)
{
    size_t w;
    return decode_rune(lx->s + lx->pos, lx->len - lx->pos, &w);
}

static int32_t next(struct lexer *lx)
{
    size_t w;
    int32_t r = decode_rune(lx->s + lx->pos, lx->len - lx->pos, &w);
    lx->pos += w;
    return r;
}

static int fail(struct lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct lexer *lx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sw_error_clear(&lx->err);
    return sw_error_set(&lx->err, SW_EINVAL, "%s", msg);
}

static int too_long(struct lexer *lx, const sw_strbuf *sb)
{
    if (sb->len <= MAX_EXPANSION)
        return 0;
    return fail(lx, "expansion longer than %d bytes", MAX_EXPANSION);
}

/* The text of one rune as Go's string(rune) gives it (EOF is U+FFFD). */
static void rune_str(int32_t r, char out[5])
{
    sw_strbuf sb = SW_STRBUF_INIT;
    put_rune(&sb, r);
    snprintf(out, 5, "%s", sb.data ? sb.data : "");
    sw_strbuf_free(&sb);
}

/* ---- the word splitter (wordsStruct) -------------------------------------- */

struct words {
    sw_strbuf *buf; /* the lexer's shared words_buf */
    char **v;
    size_t n, cap;
    int in_word;
    int failed;
};

static void words_push(struct words *w)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 8;
        char **bigger = realloc(w->v, cap * sizeof(char *));
        if (bigger == NULL) {
            w->failed = 1;
            return;
        }
        w->v = bigger;
        w->cap = cap;
    }
    char *s = strndup(w->buf->data ? w->buf->data : "", w->buf->len);
    if (s == NULL) {
        w->failed = 1;
        return;
    }
    w->v[w->n++] = s;
    sw_strbuf_reset(w->buf);
}

static void words_raw_char(struct words *w, int32_t r)
{
    put_rune(w->buf, r);
    w->in_word = 1;
}

static void words_char(struct words *w, int32_t r)
{
    if (go_is_space(r) && w->in_word) {
        if (w->buf->len != 0) {
            words_push(w);
            w->in_word = 0;
        }
    } else if (!go_is_space(r)) {
        words_raw_char(w, r);
    }
}

static void words_string(struct words *w, const char *s, size_t len)
{
    size_t pos = 0, width;
    while (pos < len) {
        int32_t r = decode_rune((const unsigned char *)s + pos, len - pos, &width);
        words_char(w, r);
        pos += width;
    }
}

static void words_raw_string(struct words *w, const char *s, size_t len)
{
    sw_strbuf_append(w->buf, s, len);
    w->in_word = 1;
}

static void words_finish(struct words *w)
{
    if (w->buf->len > 0) {
        words_push(w);
        w->in_word = 0;
    }
}

/* ---- variables -------------------------------------------------------------- */

static const char *get_env(struct lexer *lx, const char *name)
{
    return lx->lookup ? lx->lookup(lx->ctx, name) : NULL;
}

static int is_special_param(int32_t r)
{
    return r == '@' || r == '*' || r == '#' || r == '?' || r == '-' || r == '$' || r == '!' ||
           r == '0';
}

/* processName: all digits, or one special parameter, or a name of
 * letters, digits and '_'. */
static void process_name(struct lexer *lx, sw_strbuf *name)
{
    while (peek(lx) != RUNE_EOF) {
        int32_t ch = peek(lx);
        if (name->len == 0 && go_is_digit(ch)) {
            while (peek(lx) != RUNE_EOF && go_is_digit(peek(lx)))
                put_rune(name, next(lx));
            return;
        }
        if (name->len == 0 && is_special_param(ch)) {
            put_rune(name, next(lx));
            return;
        }
        if (!go_is_letter(ch) && !go_is_digit(ch) && ch != '_')
            break;
        put_rune(name, next(lx));
    }
}

static int process_stop_on(struct lexer *lx, int32_t stop, int raw_escapes, sw_strbuf *result,
                           struct words *w);

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
        (*runes)[k++] = decode_rune((const unsigned char *)s + pos, len - pos, &width);
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
        int32_t tok = decode_rune(s + pos, len - pos, &width);
        pos += width;
        if (tok == '*' || tok == '?') {
            p->kind[p->n] = tok == '*' ? TOK_STAR : TOK_ANY;
            p->r[p->n++] = tok;
            continue;
        }
        if (tok == '\\') {
            int32_t after = decode_rune(s + pos, len - pos, &width);
            if (after == '}' || after == '/')
                continue;
            pos += width;
            if (after != '*' && after != '?' && after != '\\') {
                char c[5];
                rune_str(after, c);
                return fail(lx, "invalid pattern (%s) in substitution: invalid escape '\\%s'", pat,
                            c);
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
static int trim_prefix(struct lexer *lx, const char *pattern, const char *value, size_t vlen,
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
        put_rune(out, runes[i]);
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
        put_rune(out, rev[i]);
    free(runes);
    free(rev);
    free(offs);
}

/* trimSuffix: trimPrefix on the reversed value and pattern. */
static int trim_suffix(struct lexer *lx, const char *pattern, const char *value, int greedy,
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
    rc = trim_prefix(lx, rp.data ? rp.data : "", rv.data ? rv.data : "", rv.len, greedy, &trimmed);
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
            int32_t r = decode_rune((const unsigned char *)p, strlen(p), &width);
            if (r == RUNE_EOF || (!go_is_letter(r) && !go_is_digit(r) && r != '_'))
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
static int replace_pattern(struct lexer *lx, const char *pattern, const char *repl,
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
        if ((rc = too_long(lx, out)) != 0)
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

/* ---- quotes and $ ------------------------------------------------------------ */

static int process_single_quote(struct lexer *lx, sw_strbuf *out)
{
    int32_t ch = next(lx);
    if (lx->raw_quotes)
        put_rune(out, ch);
    for (;;) {
        ch = next(lx);
        if (ch == RUNE_EOF)
            return fail(lx, "unexpected end of statement while looking for matching single-quote");
        if (ch == '\'') {
            if (lx->raw_quotes)
                put_rune(out, ch);
            return 0;
        }
        put_rune(out, ch);
    }
}

static int process_dollar(struct lexer *lx, sw_strbuf *out);

static int process_double_quote(struct lexer *lx, sw_strbuf *out)
{
    int32_t ch = next(lx);
    if (lx->raw_quotes)
        put_rune(out, ch);
    for (;;) {
        int32_t p = peek(lx);
        if (p == RUNE_EOF)
            return fail(lx, "unexpected end of statement while looking for matching double-quote");
        if (p == '"') {
            ch = next(lx);
            if (lx->raw_quotes)
                put_rune(out, ch);
            return 0;
        }
        if (p == '$') {
            int rc = process_dollar(lx, out);
            if (rc == 0)
                rc = too_long(lx, out);
            if (rc != 0)
                return rc;
            continue;
        }
        ch = next(lx);
        if (ch == lx->escape) {
            if (lx->raw_escapes)
                put_rune(out, ch);
            int32_t after = peek(lx);
            if (after == RUNE_EOF)
                continue; /* a trailing escape is dropped */
            if (after == '"' || after == '$' || after == lx->escape)
                ch = next(lx);
        }
        put_rune(out, ch);
    }
}

/* "<<" and the blanks after it stay together in one word. */
static void process_possible_heredoc(struct lexer *lx, sw_strbuf *out)
{
    next(lx);
    if (peek(lx) != '<') {
        sw_strbuf_putc(out, '<');
        return;
    }
    next(lx);
    sw_strbuf_puts(out, "<<");
    while (peek(lx) == '\t' || peek(lx) == '\r' || peek(lx) == ' ')
        put_rune(out, next(lx));
}

/* The modifier text for errors ("=" or ":=" ...). */
static int unsupported(struct lexer *lx, const char *chs)
{
    return fail(lx, "unsupported modifier (%s) in substitution", chs);
}

/* The operand of ${NAME op word}, read up to '}'. */
static int read_operand(struct lexer *lx, int raw, sw_strbuf *word)
{
    int rc = process_stop_on(lx, '}', raw, word, NULL);
    if (rc != 0 && peek(lx) == RUNE_EOF)
        return fail(lx, "syntax error: missing '}'");
    return rc;
}

static int process_dollar_braced(struct lexer *lx, sw_strbuf *out)
{
    sw_strbuf name = SW_STRBUF_INIT, word = SW_STRBUF_INIT, repl = SW_STRBUF_INIT;
    char chs[12] = "";
    int rc = 0;

    next(lx); /* '{' */
    int32_t p = peek(lx);
    if (p == RUNE_EOF)
        return fail(lx, "syntax error: missing '}'");
    if (p == '{' || p == '}' || p == ':')
        return fail(lx, "syntax error: bad substitution");
    process_name(lx, &name);
    const char *nm = name.data ? name.data : "";
    int32_t ch = next(lx);
    rune_str(ch, chs);
    int null_is_unset = 0;
    const char *value;

    switch (ch) {
    case '}':
        value = get_env(lx, nm);
        if (value == NULL && lx->skip_unset)
            sw_strbuf_printf(out, "${%s}", nm);
        else if (value)
            sw_strbuf_puts(out, value);
        goto cleanup;
    case ':':
        null_is_unset = 1;
        ch = next(lx);
        rune_str(ch, chs + 1);
        /* fall through */
    case '+':
    case '-':
    case '?':
    case '#':
    case '%': {
        int raw = ch == '#' || ch == '%';
        if (null_is_unset && raw) {
            rc = unsupported(lx, chs);
            goto cleanup;
        }
        if ((rc = read_operand(lx, raw, &word)) != 0)
            goto cleanup;
        const char *w = word.data ? word.data : "";
        value = get_env(lx, nm);
        if (value == NULL && lx->skip_unset) {
            sw_strbuf_printf(out, "${%s%s%s}", nm, chs, w);
            goto cleanup;
        }
        int empty = value == NULL || (null_is_unset && value[0] == '\0');
        switch (ch) {
        case '-':
            sw_strbuf_puts(out, empty ? w : value);
            break;
        case '+':
            if (!empty)
                sw_strbuf_puts(out, w);
            break;
        case '?':
            if (value == NULL)
                rc = fail(lx, "%s: %s", nm, w[0] ? w : "is not allowed to be unset");
            else if (empty)
                rc = fail(lx, "%s: %s", nm, w[0] ? w : "is not allowed to be empty");
            else
                sw_strbuf_puts(out, value);
            break;
        case '#':
        case '%': {
            int greedy = w[0] == (char)ch;
            if (greedy)
                w++;
            if (value == NULL)
                value = "";
            rc = ch == '%' ? trim_suffix(lx, w, value, greedy, out)
                           : trim_prefix(lx, w, value, strlen(value), greedy, out);
            break;
        }
        default:
            rc = unsupported(lx, chs);
            break;
        }
        goto cleanup;
    }
    case '/': {
        int all = peek(lx) == '/';
        if (all)
            next(lx);
        rc = process_stop_on(lx, '/', 1, &word, NULL);
        if (rc != 0) {
            if (peek(lx) == RUNE_EOF)
                rc = fail(lx, "syntax error: missing '/' in ${}");
            goto cleanup;
        }
        if ((rc = read_operand(lx, 1, &repl)) != 0)
            goto cleanup;
        const char *pat = word.data ? word.data : "", *r = repl.data ? repl.data : "";
        value = get_env(lx, nm);
        if (value == NULL && lx->skip_unset) {
            sw_strbuf_printf(out, "${%s/%s/%s}", nm, pat, r);
            goto cleanup;
        }
        rc = replace_pattern(lx, pat, r, value ? value : "", all, out);
        goto cleanup;
    }
    default:
        rc = unsupported(lx, chs);
        goto cleanup;
    }
cleanup:
    sw_strbuf_free(&name);
    sw_strbuf_free(&word);
    sw_strbuf_free(&repl);
    return rc;
}

static int process_dollar(struct lexer *lx, sw_strbuf *out)
{
    if (lx->depth >= MAX_DEPTH)
        return fail(lx, "expansion nested too deeply");
    lx->depth++;
    next(lx); /* '$' */
    int rc = 0;
    if (peek(lx) == '{') {
        rc = process_dollar_braced(lx, out);
    } else {
        sw_strbuf name = SW_STRBUF_INIT;
        process_name(lx, &name);
        if (name.len == 0) {
            sw_strbuf_putc(out, '$');
        } else {
            const char *value = get_env(lx, name.data);
            if (value == NULL && lx->skip_unset)
                sw_strbuf_printf(out, "$%s", name.data);
            else if (value)
                sw_strbuf_puts(out, value);
        }
        sw_strbuf_free(&name);
    }
    lx->depth--;
    return rc;
}

/* processStopOn: scans until `stop` (consumed; RUNE_EOF: the end). `w`
 * receives the word split (NULL for nested scans, whose words BuildKit
 * discards). */
static int process_stop_on(struct lexer *lx, int32_t stop, int raw_escapes, sw_strbuf *result,
                           struct words *w)
{
    int saved_raw = lx->raw_escapes, rc = 0;
    lx->raw_escapes = raw_escapes;
    sw_strbuf_reset(&lx->words_buf);
    for (;;) {
        int32_t ch = peek(lx);
        if (ch == RUNE_EOF)
            break;
        if (stop != RUNE_EOF && ch == stop) {
            next(lx);
            goto done;
        }
        if (ch == '$' || ch == '<' || ((ch == '\'' || ch == '"') && !lx->skip_quotes)) {
            sw_strbuf tmp = SW_STRBUF_INIT;
            if (ch == '$')
                rc = process_dollar(lx, &tmp);
            else if (ch == '<')
                process_possible_heredoc(lx, &tmp);
            else if (ch == '\'')
                rc = process_single_quote(lx, &tmp);
            else
                rc = process_double_quote(lx, &tmp);
            if (rc != 0 || tmp.failed) {
                sw_strbuf_free(&tmp);
                if (rc == 0)
                    rc = sw_error_oom(&lx->err);
                goto out;
            }
            sw_strbuf_append(result, tmp.data ? tmp.data : "", tmp.len);
            if ((rc = too_long(lx, result)) != 0) {
                sw_strbuf_free(&tmp);
                goto out;
            }
            if (w && ch == '$')
                words_string(w, tmp.data ? tmp.data : "", tmp.len);
            else if (w)
                words_raw_string(w, tmp.data ? tmp.data : "", tmp.len);
            sw_strbuf_free(&tmp);
            continue;
        }
        ch = next(lx);
        if (ch == lx->escape) {
            if (lx->raw_escapes) {
                if (w)
                    words_raw_char(w, ch);
                put_rune(result, ch);
            }
            ch = next(lx);
            if (ch == RUNE_EOF)
                break; /* a trailing escape is dropped */
            if (w)
                words_raw_char(w, ch);
        } else if (w) {
            words_char(w, ch);
        }
        put_rune(result, ch);
    }
    if (stop != RUNE_EOF) {
        char c[5];
        rune_str(stop, c);
        rc = fail(lx, "unexpected end of statement while looking for matching %s", c);
        goto out;
    }
done:
    if (w)
        words_finish(w);
    else
        sw_strbuf_reset(&lx->words_buf); /* the nested scan's getWords() */
out:
    lx->raw_escapes = saved_raw;
    return rc;
}

/* ---- entry points ------------------------------------------------------------ */

int bld_shell_process(const char *word, const struct bld_shell_opts *opts, bld_env_lookup_fn lookup,
                      void *ctx, char **result, char ***words, size_t *n, sw_error **err)
{
    struct lexer lx = {
        .s = (const unsigned char *)word,
        .len = strlen(word),
        .escape = opts->escape ? (unsigned char)opts->escape : '\\',
        .raw_quotes = opts->raw_quotes,
        .raw_escapes = opts->raw_escapes,
        .skip_unset = opts->skip_unset_env,
        .skip_quotes = opts->skip_quotes,
        .lookup = lookup,
        .ctx = ctx,
    };
    sw_strbuf res = SW_STRBUF_INIT;
    struct words w = { .buf = &lx.words_buf };
    if (lx.len >= 3 && memcmp(word, "\xEF\xBB\xBF", 3) == 0)
        lx.pos = 3; /* text/scanner skips a leading byte-order mark */
    int rc = process_stop_on(&lx, RUNE_EOF, lx.raw_escapes, &res, &w);
    if (rc == 0 && (res.failed || w.failed || lx.words_buf.failed))
        rc = sw_error_oom(&lx.err);
    if (rc == 0 && result != NULL && (*result = sw_strbuf_detach(&res)) == NULL)
        rc = sw_error_oom(&lx.err);
    if (rc == 0 && words != NULL) {
        *words = w.v;
        *n = w.n;
        w.v = NULL;
        w.n = 0;
    }
    sw_strbuf_free(&res);
    sw_strbuf_free(&lx.words_buf);
    bld_shell_words_free(w.v, w.n);
    if (rc != 0) {
        /* BuildKit: errors.Wrapf(err, "failed to process %q", source) */
        char *q = bld_go_quote(word, strlen(word));
        if (q != NULL && rc != SW_ENOMEM)
            sw_error_prefix(&lx.err, "failed to process %s", q);
        free(q);
        if (err != NULL && *err == NULL)
            *err = lx.err;
        else
            sw_error_clear(&lx.err);
    }
    return rc;
}

int bld_shell_expand_word(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                          char **out, sw_error **err)
{
    struct bld_shell_opts o = { .escape = escape };
    return bld_shell_process(word, &o, lookup, ctx, out, NULL, NULL, err);
}

int bld_shell_expand_words(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                           char ***words, size_t *n, sw_error **err)
{
    struct bld_shell_opts o = { .escape = escape };
    return bld_shell_process(word, &o, lookup, ctx, NULL, words, n, err);
}

int bld_shell_expand_heredoc(const char *content, bld_env_lookup_fn lookup, void *ctx, char **out,
                             sw_error **err)
{
    struct bld_shell_opts o = { .escape = '\\', .skip_quotes = 1 };
    return bld_shell_process(content, &o, lookup, ctx, out, NULL, NULL, err);
}

void bld_shell_words_free(char **words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words);
}
