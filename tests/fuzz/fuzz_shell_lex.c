/*
 * fuzz_shell_lex.c - libFuzzer target for word expansion. The first byte
 * picks the escape token (bit 0) and the lexer options the parser uses
 * for heredocs and heredoc bodies (bits 1-4: raw quotes, raw escapes,
 * unset variables kept, quotes as text);
 * bytes up to the first NUL are "NAME=value" variables separated by
 * newlines, the rest is the word; both ProcessWord and ProcessWords forms
 * run on it, then both at once with the options.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/shell_lex.h"

struct vars {
    char *text;
};

static const char *lookup(void *ctx, const char *name)
{
    const struct vars *v = ctx;
    size_t len = strlen(name);
    for (const char *line = v->text; line && *line;) {
        const char *end = strchr(line, '\n');
        if (strncmp(line, name, len) == 0 && line[len] == '=') {
            static __thread char value[4096];
            size_t vlen = end ? (size_t)(end - line - (ptrdiff_t)len - 1) : strlen(line + len + 1);
            if (vlen >= sizeof(value))
                vlen = sizeof(value) - 1;
            memcpy(value, line + len + 1, vlen);
            value[vlen] = '\0';
            return value;
        }
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char escape = (data[0] & 1) ? '`' : '\\';
    char *copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    struct vars v = { copy };
    const char *word = copy;
    char *nul = memchr(copy, '\0', size - 1);
    if (nul && nul < copy + size - 1)
        word = nul + 1;
    else
        v.text = NULL;
    char *out = NULL;
    sw_error *err = NULL;
    if (bld_shell_expand_word(word, escape, lookup, &v, &out, &err) == 0)
        free(out);
    sw_error_clear(&err);
    char **words = NULL;
    size_t n = 0;
    if (bld_shell_expand_words(word, escape, lookup, &v, &words, &n, &err) == 0)
        bld_shell_words_free(words, n);
    sw_error_clear(&err);
    struct bld_shell_opts o = { .escape = escape,
                                .raw_quotes = (data[0] & 2) != 0,
                                .raw_escapes = (data[0] & 4) != 0,
                                .skip_unset_env = (data[0] & 8) != 0,
                                .skip_quotes = (data[0] & 16) != 0 };
    if (bld_shell_process(word, &o, lookup, &v, &out, &words, &n, &err) == 0) {
        free(out);
        bld_shell_words_free(words, n);
    }
    sw_error_clear(&err);
    free(copy);
    return 0;
}
