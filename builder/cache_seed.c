/*
 * cache_seed.c - RUN --mount=type=cache,from=...: filling a new cache (see
 * mounts.h). Apart from mounts.c because it needs the copier, which the
 * --mount spec fuzz target does not link.
 */
#include <dirent.h>
#include <string.h>

#include "builder/copy.h"
#include "builder/mounts.h"

/* 1 when dir has no entries (or cannot be read: then nothing is seeded). */
static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

int bld_cache_mount_seed(const char *dir, const char *src_root, const char *source, uid_t uid,
                         gid_t gid, sw_error **err)
{
    if (!dir_is_empty(dir))
        return 0;
    while (source && *source == '/')
        source++;
    const char *srcs[] = { source && *source ? source : "." };
    struct bld_copy_spec spec = { .src_root = src_root,
                                  .sources = srcs,
                                  .n_sources = 1,
                                  .dest = "/",
                                  .dest_root = dir,
                                  .has_chown = 1,
                                  .uid = uid,
                                  .gid = gid };
    int rc = bld_copy(&spec, err);
    if (rc != 0)
        sw_error_prefix(err, "seeding the cache from %s", srcs[0]);
    return rc;
}
