/*
 * shell_lex_internal.h - what the files of word expansion share
 * (shell_lex.c, shell_runes.c, shell_pattern.c); not for use outside
 * builder/. The public API is shell_lex.h.
 */
#ifndef BLD_SHELL_LEX_INTERNAL_H
#define BLD_SHELL_LEX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "builder/shell_lex.h"
#include "core/error.h"
#include "core/strbuf.h"

#define RUNE_EOF (-1)
#define RUNE_ERROR 0xFFFD
#define MAX_DEPTH 200 /* nested ${...} / quotes: keeps the C stack bounded */
/* Bounds on hostile words (BuildKit has none, and a word that doubles its
 * value in every nested ${} would exhaust memory): the length of any
 * expansion, and the pattern-matching work for one word. */
#define MAX_EXPANSION (1 << 20)
#define MAX_MATCH_CELLS (1 << 25)

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

/* shell_lex.c */
int bld_shell_fail(struct lexer *lx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int bld_shell_too_long(struct lexer *lx, const sw_strbuf *sb);
void bld_shell_rune_str(int32_t r, char out[5]);

/* shell_runes.c */
int32_t bld_shell_decode_rune(const unsigned char *s, size_t len, size_t *width);
void bld_shell_put_rune(sw_strbuf *sb, int32_t r);
int bld_shell_go_is_letter(int32_t r);
int bld_shell_go_is_digit(int32_t r);
int bld_shell_go_is_space(int32_t r);

/* shell_pattern.c */
int bld_shell_trim_prefix(struct lexer *lx, const char *pattern, const char *value, size_t vlen,
                          int greedy, sw_strbuf *out);
int bld_shell_trim_suffix(struct lexer *lx, const char *pattern, const char *value, int greedy,
                          sw_strbuf *out);
int bld_shell_replace_pattern(struct lexer *lx, const char *pattern, const char *repl,
                              const char *value, int all, sw_strbuf *out);

#endif
