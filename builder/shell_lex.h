/*
 * shell_lex.h - Docker's word expansion for Dockerfiles (what BuildKit's
 * shell lexer does for ProcessWord and ProcessWords): variables with their
 * ${VAR...} operators, single and double quotes, and the escape token.
 * RUN, CMD and ENTRYPOINT are not expanded by the builder (the shell in the
 * container does it); everything else is, through these two functions.
 */
#ifndef BLD_SHELL_LEX_H
#define BLD_SHELL_LEX_H

#include <stddef.h>

#include "core/error.h"

/* Returns the value of variable `name`, or NULL when it is unset. */
typedef const char *(*bld_env_lookup_fn)(void *ctx, const char *name);

/* Expands `word` as a single word: quotes removed, escapes applied,
 * variables substituted, no field splitting. escape is '\\' or '`'.
 * *out is malloc'd. Errors (SW_EINVAL): "X: message" for ${X?message} with
 * X unset, "syntax error: missing '}'", unterminated quotes, bad
 * substitutions. */
int bld_shell_expand_word(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                          char **out, sw_error **err);

/* Expands `word` into words: unquoted whitespace separates words, also
 * whitespace coming from an unquoted variable's value; quoted text keeps
 * its whitespace; an unquoted expansion to nothing makes no word.
 * *words is a malloc'd array of *n malloc'd strings. */
int bld_shell_expand_words(const char *word, char escape, bld_env_lookup_fn lookup, void *ctx,
                           char ***words, size_t *n, sw_error **err);

void bld_shell_words_free(char **words, size_t n);

#endif
