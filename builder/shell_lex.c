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
#include "builder/shell_lex_internal.h"

/* ---- the scanner ---------------------------------------------------------- */

static int32_t peek(const struct lexer *lx)
{
    size_t w;
    return bld_shell_decode_rune(lx->s + lx->pos, lx->len - lx->pos, &w);
}

static int32_t next(struct lexer *lx)
{
    size_t w;
    int32_t r = bld_shell_decode_rune(lx->s + lx->pos, lx->len - lx->pos, &w);
    lx->pos += w;
    return r;
}

int bld_shell_fail(struct lexer *lx, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sw_error_clear(&lx->err);
    return sw_error_set(&lx->err, SW_EINVAL, "%s", msg);
}

int bld_shell_too_long(struct lexer *lx, const sw_strbuf *sb)
{
    if (sb->len <= MAX_EXPANSION)
        return 0;
    return bld_shell_fail(lx, "expansion longer than %d bytes", MAX_EXPANSION);
}

/* The text of one rune as Go's string(rune) gives it (EOF is U+FFFD). */
void bld_shell_rune_str(int32_t r, char out[5])
{
    sw_strbuf sb = SW_STRBUF_INIT;
    bld_shell_put_rune(&sb, r);
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
    bld_shell_put_rune(w->buf, r);
    w->in_word = 1;
}

static void words_char(struct words *w, int32_t r)
{
    if (bld_shell_go_is_space(r) && w->in_word) {
        if (w->buf->len != 0) {
            words_push(w);
            w->in_word = 0;
        }
    } else if (!bld_shell_go_is_space(r)) {
        words_raw_char(w, r);
    }
}

static void words_string(struct words *w, const char *s, size_t len)
{
    size_t pos = 0, width;
    while (pos < len) {
        int32_t r = bld_shell_decode_rune((const unsigned char *)s + pos, len - pos, &width);
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
        if (name->len == 0 && bld_shell_go_is_digit(ch)) {
            while (peek(lx) != RUNE_EOF && bld_shell_go_is_digit(peek(lx)))
                bld_shell_put_rune(name, next(lx));
            return;
        }
        if (name->len == 0 && is_special_param(ch)) {
            bld_shell_put_rune(name, next(lx));
            return;
        }
        if (!bld_shell_go_is_letter(ch) && !bld_shell_go_is_digit(ch) && ch != '_')
            break;
        bld_shell_put_rune(name, next(lx));
    }
}

static int process_stop_on(struct lexer *lx, int32_t stop, int raw_escapes, sw_strbuf *result,
                           struct words *w);

/* ---- quotes and $ ------------------------------------------------------------ */

static int process_single_quote(struct lexer *lx, sw_strbuf *out)
{
    int32_t ch = next(lx);
    if (lx->raw_quotes)
        bld_shell_put_rune(out, ch);
    for (;;) {
        ch = next(lx);
        if (ch == RUNE_EOF)
            return bld_shell_fail(
                lx, "unexpected end of statement while looking for matching single-quote");
        if (ch == '\'') {
            if (lx->raw_quotes)
                bld_shell_put_rune(out, ch);
            return 0;
        }
        bld_shell_put_rune(out, ch);
    }
}

static int process_dollar(struct lexer *lx, sw_strbuf *out);

static int process_double_quote(struct lexer *lx, sw_strbuf *out)
{
    int32_t ch = next(lx);
    if (lx->raw_quotes)
        bld_shell_put_rune(out, ch);
    for (;;) {
        int32_t p = peek(lx);
        if (p == RUNE_EOF)
            return bld_shell_fail(
                lx, "unexpected end of statement while looking for matching double-quote");
        if (p == '"') {
            ch = next(lx);
            if (lx->raw_quotes)
                bld_shell_put_rune(out, ch);
            return 0;
        }
        if (p == '$') {
            int rc = process_dollar(lx, out);
            if (rc == 0)
                rc = bld_shell_too_long(lx, out);
            if (rc != 0)
                return rc;
            continue;
        }
        ch = next(lx);
        if (ch == lx->escape) {
            if (lx->raw_escapes)
                bld_shell_put_rune(out, ch);
            int32_t after = peek(lx);
            if (after == RUNE_EOF)
                continue; /* a trailing escape is dropped */
            if (after == '"' || after == '$' || after == lx->escape)
                ch = next(lx);
        }
        bld_shell_put_rune(out, ch);
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
        bld_shell_put_rune(out, next(lx));
}

/* The modifier text for errors ("=" or ":=" ...). */
static int unsupported(struct lexer *lx, const char *chs)
{
    return bld_shell_fail(lx, "unsupported modifier (%s) in substitution", chs);
}

/* The operand of ${NAME op word}, read up to '}'. */
static int read_operand(struct lexer *lx, int raw, sw_strbuf *word)
{
    int rc = process_stop_on(lx, '}', raw, word, NULL);
    if (rc != 0 && peek(lx) == RUNE_EOF)
        return bld_shell_fail(lx, "syntax error: missing '}'");
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
        return bld_shell_fail(lx, "syntax error: missing '}'");
    if (p == '{' || p == '}' || p == ':')
        return bld_shell_fail(lx, "syntax error: bad substitution");
    process_name(lx, &name);
    const char *nm = name.data ? name.data : "";
    int32_t ch = next(lx);
    bld_shell_rune_str(ch, chs);
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
        bld_shell_rune_str(ch, chs + 1);
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
                rc = bld_shell_fail(lx, "%s: %s", nm, w[0] ? w : "is not allowed to be unset");
            else if (empty)
                rc = bld_shell_fail(lx, "%s: %s", nm, w[0] ? w : "is not allowed to be empty");
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
            rc = ch == '%' ? bld_shell_trim_suffix(lx, w, value, greedy, out)
                           : bld_shell_trim_prefix(lx, w, value, strlen(value), greedy, out);
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
                rc = bld_shell_fail(lx, "syntax error: missing '/' in ${}");
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
        rc = bld_shell_replace_pattern(lx, pat, r, value ? value : "", all, out);
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
        return bld_shell_fail(lx, "expansion nested too deeply");
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
            if ((rc = bld_shell_too_long(lx, result)) != 0) {
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
                bld_shell_put_rune(result, ch);
            }
            ch = next(lx);
            if (ch == RUNE_EOF)
                break; /* a trailing escape is dropped */
            if (w)
                words_raw_char(w, ch);
        } else if (w) {
            words_char(w, ch);
        }
        bld_shell_put_rune(result, ch);
    }
    if (stop != RUNE_EOF) {
        char c[5];
        bld_shell_rune_str(stop, c);
        rc = bld_shell_fail(lx, "unexpected end of statement while looking for matching %s", c);
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
