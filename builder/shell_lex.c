/*
 * shell_lex.c - word expansion (see shell_lex.h).
 *
 * A small recursive-descent scanner over the word. Text goes into a sink
 * that either builds one word (ProcessWord) or splits words on unquoted
 * whitespace (ProcessWords); quoted text and escaped characters are added
 * as "quoted", so they never split.
 */
#include "builder/shell_lex.h"

#include <ctype.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

struct sink {
    int split; /* ProcessWords */
    sw_strbuf word;
    int in_word; /* a word has started (possibly empty, from quotes) */
    char **words;
    size_t n, cap;
    int failed;
};

struct lexer {
    const char *s;
    size_t pos;
    char escape;
    bld_env_lookup_fn lookup;
    void *ctx;
    sw_error **err;
    int depth;
};

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void sink_end_word(struct sink *k)
{
    if (!k->in_word)
        return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 8;
        char **bigger = realloc(k->words, cap * sizeof(char *));
        if (bigger == NULL) {
            k->failed = 1;
            return;
        }
        k->words = bigger;
        k->cap = cap;
    }
    char *w = sw_strbuf_detach(&k->word);
    if (w == NULL) {
        k->failed = 1;
        return;
    }
    k->words[k->n++] = w;
    k->in_word = 0;
}

/* Text that never splits (quoted, escaped, or in single-word mode). */
static void sink_quoted(struct sink *k, const char *text, size_t len)
{
    sw_strbuf_append(&k->word, text, len);
    k->in_word = 1;
}

/* Unquoted text: whitespace separates words in ProcessWords. */
static void sink_unquoted(struct sink *k, const char *text, size_t len)
{
    if (!k->split) {
        sink_quoted(k, text, len);
        return;
    }
    for (size_t i = 0; i < len; i++) {
        if (is_blank(text[i]))
            sink_end_word(k);
        else
            sink_quoted(k, text + i, 1);
    }
}

static char peek(const struct lexer *lx)
{
    return lx->s[lx->pos];
}

static int is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static int is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* Reads a variable name at the cursor (a name, or one special character
 * such as a digit). */
static char *read_name(struct lexer *lx)
{
    size_t start = lx->pos;
    if (is_name_start(peek(lx))) {
        while (is_name_char(peek(lx)))
            lx->pos++;
    } else if (isdigit((unsigned char)peek(lx)) || (peek(lx) && strchr("@*#?$!-", peek(lx)))) {
        lx->pos++;
    }
    return strndup(lx->s + start, lx->pos - start);
}

static int expand_into(struct lexer *lx, struct sink *k, char stop, int quoted);

/* The word of a ${VAR op word} form, expanded (as one word) up to '}'. */
static int operand(struct lexer *lx, char **out)
{
    struct sink k = { 0 };
    int rc = expand_into(lx, &k, '}', 0);
    if (rc != 0) {
        sw_strbuf_free(&k.word);
        return rc;
    }
    *out = sw_strbuf_detach(&k.word);
    return *out ? 0 : sw_error_set(lx->err, SW_ENOMEM, "out of memory");
}

/* Shell-pattern removal: # shortest prefix, ## longest, % shortest suffix,
 * %% longest; patterns use fnmatch (*, ?, [...]). */
static char *remove_pattern(const char *value, const char *pattern, char op, int longest)
{
    size_t len = strlen(value);
    char *buf = malloc(len + 1);
    if (buf == NULL)
        return NULL;
    if (op == '#') {
        for (size_t i = 0; i <= len; i++) {
            size_t cut = longest ? len - i : i;
            memcpy(buf, value, cut);
            buf[cut] = '\0';
            if (fnmatch(pattern, buf, 0) == 0) {
                free(buf);
                return strdup(value + cut);
            }
        }
    } else {
        for (size_t i = 0; i <= len; i++) {
            size_t start = longest ? i : len - i;
            if (fnmatch(pattern, value + start, 0) == 0) {
                memcpy(buf, value, start);
                buf[start] = '\0';
                return buf;
            }
        }
    }
    free(buf);
    return strdup(value);
}

/* ${VAR/pattern/replacement}, all occurrences with //: the longest match
 * at each position, as bash does. */
static char *replace_pattern(const char *value, const char *pattern, const char *replacement,
                             int all)
{
    sw_strbuf out = SW_STRBUF_INIT;
    size_t len = strlen(value);
    char *buf = malloc(len + 1);
    size_t i = 0;
    int replaced = 0;
    if (buf == NULL)
        return NULL;
    while (i <= len) {
        size_t match = 0;
        int found = 0;
        if (pattern[0] != '\0' && (all || !replaced)) {
            for (size_t end = len; end > i; end--) {
                memcpy(buf, value + i, end - i);
                buf[end - i] = '\0';
                if (fnmatch(pattern, buf, 0) == 0) {
                    match = end - i;
                    found = 1;
                    break;
                }
            }
        }
        if (found) {
            sw_strbuf_puts(&out, replacement);
            i += match;
            replaced = 1;
            continue;
        }
        if (i < len)
            sw_strbuf_putc(&out, value[i]);
        i++;
    }
    free(buf);
    return sw_strbuf_detach(&out);
}

/* After '$': a variable, ${...}, or a literal '$'. Appends the value. */
static int dollar(struct lexer *lx, struct sink *k, int quoted)
{
    char c = peek(lx);
    if (c != '{') {
        if (!is_name_start(c) && !isdigit((unsigned char)c) && !(c && strchr("@*#?$!-", c))) {
            sink_quoted(k, "$", 1); /* a lone '$' stays */
            return 0;
        }
        char *name = read_name(lx);
        if (name == NULL)
            return sw_error_set(lx->err, SW_ENOMEM, "out of memory");
        const char *value = lx->lookup(lx->ctx, name);
        free(name);
        if (value) {
            if (quoted)
                sink_quoted(k, value, strlen(value));
            else
                sink_unquoted(k, value, strlen(value));
        }
        return 0;
    }
    lx->pos++; /* '{' */
    char *name = read_name(lx);
    char *word = NULL, *pattern = NULL, *result = NULL;
    int rc = 0;
    if (name == NULL)
        return sw_error_set(lx->err, SW_ENOMEM, "out of memory");
    if (name[0] == '\0') {
        rc = sw_error_set(lx->err, SW_EINVAL, "bad substitution");
        goto cleanup;
    }
    const char *value = lx->lookup(lx->ctx, name);
    c = peek(lx);
    if (c == '}') {
        lx->pos++;
        result = value ? strdup(value) : NULL;
        goto emit;
    }
    if (c == '\0') {
        rc = sw_error_set(lx->err, SW_EINVAL, "syntax error: missing '}'");
        goto cleanup;
    }
    int colon = 0;
    if (c == ':') {
        colon = 1;
        lx->pos++;
        c = peek(lx);
    }
    if (c == '-' || c == '+' || c == '?' || c == '=') {
        lx->pos++;
        if ((rc = operand(lx, &word)) != 0)
            goto cleanup;
        if (peek(lx) != '}') {
            rc = sw_error_set(lx->err, SW_EINVAL, "syntax error: missing '}'");
            goto cleanup;
        }
        lx->pos++;
        int is_set = value != NULL && (!colon || value[0] != '\0');
        if (c == '-' || c == '=')
            result = strdup(is_set ? value : word);
        else if (c == '+')
            result = strdup(is_set ? word : "");
        else {
            if (!is_set) {
                const char *msg =
                    word[0] ? word
                            : (colon ? "is not allowed to be empty" : "is not allowed to be unset");
                rc = sw_error_set(lx->err, SW_EINVAL, "%s: %s", name, msg);
                goto cleanup;
            }
            result = strdup(value);
        }
        goto emit;
    }
    if (!colon && (c == '#' || c == '%' || c == '/')) {
        char op = c;
        int twice = 0;
        lx->pos++;
        if (peek(lx) == op) {
            twice = 1;
            lx->pos++;
        }
        if (op == '/') {
            /* pattern up to an unescaped '/', then the replacement */
            sw_strbuf pat = SW_STRBUF_INIT;
            while (peek(lx) && peek(lx) != '/' && peek(lx) != '}') {
                if (peek(lx) == lx->escape && lx->s[lx->pos + 1]) {
                    lx->pos++;
                    sw_strbuf_putc(&pat, '\\');
                }
                sw_strbuf_putc(&pat, lx->s[lx->pos++]);
            }
            pattern = sw_strbuf_detach(&pat);
            if (peek(lx) == '/') {
                lx->pos++;
                if ((rc = operand(lx, &word)) != 0)
                    goto cleanup;
            } else {
                word = strdup("");
            }
        } else if ((rc = operand(lx, &pattern)) != 0) {
            goto cleanup;
        }
        if (peek(lx) != '}') {
            rc = sw_error_set(lx->err, SW_EINVAL, "syntax error: missing '}'");
            goto cleanup;
        }
        lx->pos++;
        if (value == NULL)
            goto emit;
        result = op == '/' ? replace_pattern(value, pattern, word, twice)
                           : remove_pattern(value, pattern, op, twice);
        goto emit;
    }
    rc = sw_error_set(lx->err, SW_EINVAL, "unsupported modifier (%c) in substitution", c);
    goto cleanup;
emit:
    if (result) {
        if (quoted)
            sink_quoted(k, result, strlen(result));
        else
            sink_unquoted(k, result, strlen(result));
    }
cleanup:
    free(name);
    free(word);
    free(pattern);
    free(result);
    return rc;
}

/* Expands from the cursor until `stop` (not consumed) or the end. */
static int expand_into(struct lexer *lx, struct sink *k, char stop, int quoted)
{
    if (++lx->depth > 64) {
        lx->depth--;
        return sw_error_set(lx->err, SW_EINVAL, "expansion nested too deeply");
    }
    int rc = 0;
    while (rc == 0) {
        char c = peek(lx);
        if (c == '\0' || (stop && c == stop))
            break;
        lx->pos++;
        if (c == lx->escape) {
            char next = peek(lx);
            if (next == '\0')
                break; /* an escape at the end is dropped */
            lx->pos++;
            sink_quoted(k, &next, 1);
        } else if (c == '\'') {
            const char *end = strchr(lx->s + lx->pos, '\'');
            if (end == NULL) {
                rc = sw_error_set(lx->err, SW_EINVAL,
                                  "unexpected end of statement while "
                                  "looking for matching single-quote");
                break;
            }
            sink_quoted(k, lx->s + lx->pos, (size_t)(end - (lx->s + lx->pos)));
            lx->pos = (size_t)(end - lx->s) + 1;
        } else if (c == '"') {
            k->in_word = 1;
            for (;;) {
                char d = peek(lx);
                if (d == '\0') {
                    rc = sw_error_set(lx->err, SW_EINVAL,
                                      "unexpected end of statement while "
                                      "looking for matching double-quote");
                    break;
                }
                lx->pos++;
                if (d == '"')
                    break;
                if (d == '$') {
                    if ((rc = dollar(lx, k, 1)) != 0)
                        break;
                } else if (d == lx->escape) {
                    char e = peek(lx);
                    if (e == '\0')
                        continue;
                    if (e == '"' || e == '$' || e == lx->escape) {
                        lx->pos++;
                        sink_quoted(k, &e, 1);
                    } else {
                        sink_quoted(k, &d, 1);
                    }
                } else {
                    sink_quoted(k, &d, 1);
                }
            }
        } else if (c == '$') {
            rc = dollar(lx, k, quoted);
        } else if (quoted) {
            sink_quoted(k, &c, 1);
        } else {
            sink_unquoted(k, &c, 1);
        }
    }
    lx->depth--;
    return rc;
}

int bld_shell_expand_word(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                          char **out, sw_error **err)
{
    struct lexer lx = { .s = word, .escape = escape, .lookup = lookup, .ctx = ctx, .err = err };
    struct sink k = { 0 };
    int rc = expand_into(&lx, &k, 0, 0);
    if (rc != 0 || k.word.failed) {
        sw_strbuf_free(&k.word);
        return rc ? rc : sw_error_set(err, SW_ENOMEM, "out of memory");
    }
    *out = sw_strbuf_detach(&k.word);
    return *out ? 0 : sw_error_set(err, SW_ENOMEM, "out of memory");
}

int bld_shell_expand_words(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                           char ***words, size_t *n, sw_error **err)
{
    struct lexer lx = { .s = word, .escape = escape, .lookup = lookup, .ctx = ctx, .err = err };
    struct sink k = { .split = 1 };
    int rc = expand_into(&lx, &k, 0, 0);
    if (rc == 0)
        sink_end_word(&k);
    if (rc != 0 || k.failed) {
        bld_shell_words_free(k.words, k.n);
        sw_strbuf_free(&k.word);
        return rc ? rc : sw_error_set(err, SW_ENOMEM, "out of memory");
    }
    sw_strbuf_free(&k.word);
    *words = k.words;
    *n = k.n;
    return 0;
}

void bld_shell_words_free(char **words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words);
}
