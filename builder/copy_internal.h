/*
 * copy_internal.h - what the files of COPY/ADD semantics share (copy.c,
 * copy_match.c, copy_digest.c); not for use outside builder/. The public
 * API is copy.h.
 */
#ifndef BLD_COPY_INTERNAL_H
#define BLD_COPY_INTERNAL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "builder/copy.h"
#include "builder/dockerignore.h"
#include "core/error.h"
#include "core/fs.h"

struct copier {
    const struct bld_copy_spec *spec;
    int src_root_fd;
    int dest_root_fd;
    const char *verb;    /* "COPY" or "ADD", for messages */
    bld_ignore *exclude; /* --exclude patterns, or NULL */
    const char *cur_src; /* the source being copied (NULL: a wildcard match) */
    const char *dest;    /* spec->dest, or the --parents destination */
    int reuse_fd;        /* spec->reuse_root's directory matching the
                            destination directory being filled, or -1 */
};

struct path_list {
    char **items;
    size_t n, cap;
};

/* copy.c */
int bld_copy_skipped(const struct copier *c, const char *rel, int is_dir);
int bld_copy_load_exclude(struct copier *c, sw_error **err);
int bld_copy_open_in_root(int root_fd, const char *path, int flags, int follow_last);
void bld_copy_path_list_free(struct path_list *l);
int bld_copy_join_rel(char out[SW_PATH_MAX], const char *rel, const char *name);
int bld_copy_expand_source(struct copier *c, const char *source, struct path_list *out,
                           sw_error **err);
int bld_copy_read_dir_sorted(int dir_fd, const char *rel, struct path_list *names, sw_error **err);
const char *bld_copy_pivot_split(const char *source, char buf[SW_PATH_MAX], size_t *kept_from);

/* copy_match.c */
int bld_copy_has_wildcard(const char *s);

#endif
