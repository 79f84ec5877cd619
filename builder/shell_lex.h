/*
 * shell_lex.h - Docker's word expansion for Dockerfiles, as BuildKit's
 * shell lexer (frontend/dockerfile/shell/lex.go) does it for ProcessWord
 * and ProcessWords: variables with their ${VAR...} operators, single and
 * double quotes, and the escape token. RUN, CMD and ENTRYPOINT are not
 * expanded by the builder (the shell in the container does it);
 * everything else is, through these functions.
 *
 * The rules, all as BuildKit:
 *   $NAME ${NAME}   NAME is letters (any Unicode letter), digits and '_';
 *                   a leading digit reads all the digits ($123); one of
 *                   @ * # ? - $ ! 0 is a one-character name. Unset: "".
 *   ${V-w} ${V:-w}  default; ${V+w} ${V:+w} alternative;
 *   ${V?w} ${V:?w}  error "V: w", or "V: is not allowed to be unset" /
 *                   "V: is not allowed to be empty" without a word;
 *   ${V#p} ${V##p} ${V%p} ${V%%p}   remove the shortest/longest matching
 *                   prefix/suffix: in p only * and ? are wildcards, escapes
 *                   are kept (\* is a star, \? a question mark, \\ a
 *                   backslash; any other escape is an "invalid pattern");
 *   ${V/p/r} ${V//p/r}   replace the first/every longest match of p;
 *                   variables are expanded in p and r, escapes kept in r;
 *                   the second '/' is required;
 *   ${V=w} ${V:=w} and any other operator: "unsupported modifier (X) in
 *                   substitution".
 * Input is read as UTF-8 (an invalid byte reads as U+FFFD, as Go does).
 */
#ifndef BLD_SHELL_LEX_H
#define BLD_SHELL_LEX_H

#include <stddef.h>

#include "core/error.h"

/* Returns the value of variable `name`, or NULL when it is unset. */
typedef const char *(*bld_env_lookup_fn)(void *ctx, const char *name);

/* BuildKit's Lex options (the parser uses them to find heredocs). */
struct bld_shell_opts {
    char escape;        /* '\\' or '`' */
    int raw_quotes;     /* keep the quote characters in the output */
    int raw_escapes;    /* keep the escape characters in the output */
    int skip_unset_env; /* leave $X / ${X...} as written when X is unset */
    int skip_quotes;    /* quotes are ordinary characters (SkipProcessQuotes) */
};

/* Expands `word`: *result (if not NULL) gets the single-word expansion,
 * *words and *n (if words is not NULL) the ProcessWords split: unquoted
 * whitespace separates words, also whitespace from an unquoted variable's
 * value; quoted text keeps its whitespace; a word that ends up empty is not
 * kept (so `""` alone makes no word). All outputs are malloc'd. */
int bld_shell_process(const char *word, const struct bld_shell_opts *opts, bld_env_lookup_fn lookup,
                      void *ctx, char **result, char ***words, size_t *n, sw_error **err);

/* ProcessWord with escape token `escape`. Errors (SW_EINVAL) carry
 * BuildKit's messages, e.g. "X: is not allowed to be unset",
 * "syntax error: missing '}'", "unsupported modifier (=) in substitution". */
int bld_shell_expand_word(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                          char **out, sw_error **err);

/* ProcessWords with escape token `escape` (see bld_shell_process). */
int bld_shell_expand_words(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                           char ***words, size_t *n, sw_error **err);

/* The body of a COPY/ADD heredoc with an unquoted delimiter, expanded as
 * BuildKit's ExpandRaw does: variables are expanded, quotes are ordinary
 * characters, and the escape is '\\' whatever the escape directive (it is
 * removed: "a\\$b" gives "a$b", "\\n" gives "n"). */
int bld_shell_expand_heredoc(const char *content, bld_env_lookup_fn lookup, void *ctx, char **out,
                             sw_error **err);

void bld_shell_words_free(char **words, size_t n);

#endif
