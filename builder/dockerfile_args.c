/*
 * dockerfile_args.c - the argument parsers of the Dockerfile parser, as
 * BuildKit's line_parsers.go: whitespace-split words, name=value pairs,
 * and the JSON (exec) form with its fallback to the shell form.
 */
#include "builder/dockerfile_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"

/* ---- argument parsers (BuildKit's line_parsers.go) ----------------------- */

/* Splits on runs of [\t\v\f\r ] (regexp Split semantics: empty fields at
 * the ends are kept, e.g. a leading separator gives a "" first word). */
void bld_df_split_ws(struct chain *c, const char *rest)
{
    const char *p = rest;
    for (;;) {
        const char *start = p;
        while (*p && !bld_df_is_ws(*p))
            p++;
        bld_df_chain_add(c, start, (size_t)(p - start));
        if (*p == '\0')
            break;
        while (bld_df_is_ws(*p))
            p++;
    }
}

/* parseWords: words split on unquoted whitespace, quotes and escapes kept
 * (they are removed later by the shell lexer). */
int bld_df_parse_words(const char *rest, char escape, char ***words_out, size_t *n_out)
{
    sw_strbuf word = SW_STRBUF_INIT;
    char **words = NULL;
    size_t n = 0;
    enum { IN_SPACES, IN_WORD, IN_QUOTE } phase = IN_SPACES;
    char quote = 0;
    int blank_ok = 0;
    size_t len = strlen(rest);
    for (size_t pos = 0; pos <= len; pos++) {
        char ch = pos < len ? rest[pos] : 0;
        if (phase == IN_SPACES) {
            if (pos == len)
                break;
            if (bld_df_is_space(ch))
                continue;
            phase = IN_WORD;
        }
        if ((phase == IN_WORD || phase == IN_QUOTE) && pos == len) {
            if (blank_ok || word.len > 0) {
                char **bigger = realloc(words, (n + 1) * sizeof(char *));
                if (bigger == NULL)
                    goto fail;
                words = bigger;
                words[n++] = sw_strbuf_detach(&word);
            }
            break;
        }
        if (phase == IN_WORD) {
            if (bld_df_is_space(ch)) {
                phase = IN_SPACES;
                if (blank_ok || word.len > 0) {
                    char **bigger = realloc(words, (n + 1) * sizeof(char *));
                    if (bigger == NULL)
                        goto fail;
                    words = bigger;
                    words[n++] = sw_strbuf_detach(&word);
                }
                sw_strbuf_reset(&word);
                blank_ok = 0;
                continue;
            }
            if (ch == '\'' || ch == '"') {
                quote = ch;
                blank_ok = 1;
                phase = IN_QUOTE;
            }
            if (ch == escape) {
                if (pos + 1 == len)
                    continue; /* an escape at the end is dropped */
                sw_strbuf_putc(&word, ch);
                pos++;
                ch = rest[pos];
            }
            sw_strbuf_putc(&word, ch);
            continue;
        }
        /* IN_QUOTE */
        if (ch == quote)
            phase = IN_WORD;
        if (ch == escape && quote != '\'') {
            if (pos + 1 == len) {
                phase = IN_WORD;
                continue;
            }
            pos++;
            sw_strbuf_putc(&word, ch);
            ch = rest[pos];
        }
        sw_strbuf_putc(&word, ch);
    }
    sw_strbuf_free(&word);
    *words_out = words;
    *n_out = n;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words);
    sw_strbuf_free(&word);
    return -1;
}

void bld_df_free_words(char **words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words);
}

/* ENV and LABEL: key value sep triples. */
int bld_df_parse_name_val(const char *rest, const char *keyword, char escape, struct chain *c,
                          sw_error **err)
{
    char **words = NULL;
    size_t n = 0;
    if (bld_df_parse_words(rest, escape, &words, &n) != 0)
        return sw_error_oom(err);
    int rc = 0;
    if (n == 0)
        goto cleanup;
    if (strchr(words[0], '=') == NULL) {
        /* legacy form: KEY value-with-spaces */
        const char *p = rest;
        while (*p && !bld_df_is_ws(*p))
            p++;
        if (*p == '\0') {
            rc = sw_error_set(err, SW_EINVAL, "%s must have two arguments", keyword);
            goto cleanup;
        }
        bld_df_chain_add(c, rest, (size_t)(p - rest));
        while (bld_df_is_ws(*p))
            p++;
        bld_df_chain_add(c, p, strlen(p));
        bld_df_chain_add(c, "", 0);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(words[i], '=');
        if (eq == NULL) {
            rc = sw_error_set(err, SW_EINVAL,
                              "Syntax error - can't find = in \"%s\". Must be "
                              "of the form: name=value",
                              words[i]);
            goto cleanup;
        }
        bld_df_chain_add(c, words[i], (size_t)(eq - words[i]));
        bld_df_chain_add(c, eq + 1, strlen(eq + 1));
        bld_df_chain_add(c, "=", 1);
    }
cleanup:
    bld_df_free_words(words, n);
    return rc;
}

/* The value of 4 hex digits at s, or -1. */
static long hex4(const char *s)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* JSON text rewritten so that jansson reads it as Go's encoding/json does:
 * a byte that is not valid UTF-8 becomes U+FFFD, and so does a \uXXXX
 * surrogate that does not pair with the \uXXXX right after it. */
static char *json_like_go(const char *s)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), i = 0;
    int in_string = 0;
    while (i < len) {
        if (in_string && p[i] == '\\' && i + 1 < len) {
            long u = p[i + 1] == 'u' && i + 6 <= len ? hex4(s + i + 2) : -1;
            if (u >= 0xD800 && u <= 0xDFFF) {
                long low =
                    i + 12 <= len && p[i + 6] == '\\' && p[i + 7] == 'u' ? hex4(s + i + 8) : -1;
                if (u <= 0xDBFF && low >= 0xDC00 && low <= 0xDFFF) {
                    sw_strbuf_append(&sb, s + i, 12);
                    i += 12;
                } else {
                    sw_strbuf_puts(&sb, "\\ufffd");
                    i += 6;
                }
                continue;
            }
            sw_strbuf_append(&sb, s + i, 2);
            i += 2;
            continue;
        }
        if (p[i] == '"')
            in_string = !in_string;
        unsigned rune;
        size_t w = bld_df_utf8_decode(p + i, len - i, &rune);
        if (w == 0) {
            sw_strbuf_puts(&sb, "\xEF\xBF\xBD");
            i++;
        } else {
            sw_strbuf_append(&sb, p + i, w);
            i += w;
        }
    }
    if (sb.data == NULL && !sb.failed)
        return strdup("");
    return sw_strbuf_detach(&sb);
}

/* JSON array of strings; 1 when rest is one, 0 when it is not JSON, -1
 * (with err) when it is JSON with a non-string element. */
static int parse_json(const char *rest, struct chain *c, sw_error **err)
{
    while (bld_df_is_space(*rest))
        rest++;
    if (*rest != '[')
        return 0;
    /* Go's encoding/json takes \u0000 and reads invalid UTF-8 and lone
     * surrogates as U+FFFD */
    char *valid = json_like_go(rest);
    if (valid == NULL)
        return -1;
    json_t *doc = json_loads(valid, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(valid);
    if (!json_is_array(doc)) {
        json_decref(doc);
        return 0;
    }
    size_t i;
    json_t *item;
    json_array_foreach(doc, i, item) {
        if (!json_is_string(item)) {
            json_decref(doc);
            sw_error_set(err, SW_EINVAL,
                         "when using JSON array syntax, arrays must be "
                         "comprised of strings only");
            return -1;
        }
    }
    json_array_foreach(doc, i, item)
        bld_df_chain_add(c, json_string_value(item), json_string_length(item));
    json_decref(doc);
    return 1;
}

int bld_df_parse_maybe_json(const char *rest, struct chain *c, int *is_json, sw_error **err)
{
    if (*rest == '\0')
        return 0;
    int r = parse_json(rest, c, err);
    if (r < 0)
        return SW_EINVAL;
    if (r == 1) {
        *is_json = 1;
        return 0;
    }
    bld_df_chain_add(c, rest, strlen(rest));
    return 0;
}

int bld_df_parse_maybe_json_to_list(const char *rest, struct chain *c, int *is_json, sw_error **err)
{
    int r = parse_json(rest, c, err);
    if (r < 0)
        return SW_EINVAL;
    if (r == 1) {
        *is_json = 1;
        return 0;
    }
    if (*rest)
        bld_df_split_ws(c, rest);
    return 0;
}
