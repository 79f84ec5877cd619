/*
 * dockerfile_internal.h - what the files of the Dockerfile parser share
 * (dockerfile.c, dockerfile_args.c, dockerfile_dump.c); not for use
 * outside builder/. The public API is dockerfile.h.
 */
#ifndef BLD_DOCKERFILE_INTERNAL_H
#define BLD_DOCKERFILE_INTERNAL_H

#include <stddef.h>

#include "builder/dockerfile.h"
#include "core/error.h"

#define MAX_DOCKERFILE_SIZE (64 * 1024 * 1024)

/* A chain builder: appends nodes to a next-list. */
struct chain {
    bld_node *head, *tail;
    int failed;
};

/* dockerfile.c */
int bld_df_is_ws(char c);
int bld_df_is_space(char c);
void bld_df_chain_add(struct chain *c, const char *value, size_t len);

/* dockerfile_args.c */
void bld_df_split_ws(struct chain *c, const char *rest);
int bld_df_parse_words(const char *rest, char escape, char ***words_out, size_t *n_out);
void bld_df_free_words(char **words, size_t n);
int bld_df_parse_name_val(const char *rest, const char *keyword, char escape, struct chain *c,
                          sw_error **err);
int bld_df_parse_maybe_json(const char *rest, struct chain *c, int *is_json, sw_error **err);
int bld_df_parse_maybe_json_to_list(const char *rest, struct chain *c, int *is_json,
                                    sw_error **err);

/* dockerfile_dump.c */
size_t bld_df_utf8_decode(const unsigned char *s, size_t len, unsigned *rune);

#endif
