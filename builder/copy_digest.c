/*
 * copy_digest.c - the content digest of COPY/ADD sources for the cache
 * key (see copy.h): names, metadata and content of every file a COPY
 * would copy, walked without following symlinks.
 */
#include "builder/copy_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "core/fs.h"
#include "core/strbuf.h"

/* ---- content digest for the cache -------------------------------------- */

static void hash_meta(sw_hash *h, const char *rel, const struct stat *st, int with_owner)
{
    /* rel is at most SW_PATH_MAX bytes (bld_copy_join_rel), the rest < 64 */
    char line[SW_PATH_MAX + 128];
    int n = snprintf(line, sizeof(line), "%s\n%o %lld", rel, (unsigned)st->st_mode,
                     S_ISREG(st->st_mode) ? (long long)st->st_size : 0LL);
    if (with_owner && n > 0 && (size_t)n < sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %u:%u", (unsigned)st->st_uid,
                      (unsigned)st->st_gid);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = (int)sizeof(line) - 1;
    sw_hash_update(h, line, (size_t)n + 1);
}

/* The sha256 of what fd holds, as "sha256:<hex>". */
static int file_digest(int fd, const char *rel, char out[SW_DIGEST_MAX], sw_error **err)
{
    char buf[64 * 1024];
    sw_hash *h = sw_hash_new(SW_HASH_SHA256);
    if (h == NULL)
        return sw_error_oom(err);
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sw_hash_free(h);
            return sw_error_sys(err, SW_EIO, errno, "reading %s", rel);
        }
        if (n == 0)
            break;
        sw_hash_update(h, buf, (size_t)n);
    }
    sw_hash_digest(h, out);
    sw_hash_free(h);
    return 0;
}

/* A file's content, as its own digest, into h: from the memo when it
 * knows the (regular) file st describes, else read from fd (or, when fd < 0, from
 * name in dir_fd) and remembered. */
static int hash_content(struct copier *c, sw_hash *h, int dir_fd, const char *name, int fd,
                        const struct stat *st, const char *rel, sw_error **err)
{
    const char *known = bld_digest_memo_lookup(c->spec->memo, st);
    char digest[SW_DIGEST_MAX];
    struct stat opened;
    int rc, own = -1;
    if (known) {
        sw_hash_update(h, known, strlen(known) + 1);
        return 0;
    }
    if (fd < 0) {
        own = fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return sw_error_sys(err, SW_EIO, errno, "opening %s", rel);
    }
    rc = file_digest(fd, rel, digest, err);
    /* remembered only for the inode st describes (not one renamed over it
     * between the stat and the open) */
    if (rc == 0 && (own < 0 || (fstat(own, &opened) == 0 && opened.st_dev == st->st_dev &&
                                opened.st_ino == st->st_ino)))
        bld_digest_memo_record(c->spec->memo, st, digest);
    if (own >= 0)
        close(own);
    if (rc == 0)
        sw_hash_update(h, digest, strlen(digest) + 1);
    return rc;
}

static int hash_tree(struct copier *c, sw_hash *h, int dir_fd, const char *rel, sw_error **err);

static int hash_entry(struct copier *c, sw_hash *h, int dir_fd, const char *name, const char *rel,
                      sw_error **err)
{
    struct stat st;
    int rc = 0, fd = -1;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return sw_error_sys(err, SW_EIO, errno, "stat of %s", rel);
    if (bld_copy_skipped(c, rel, S_ISDIR(st.st_mode)))
        return 0;
    hash_meta(h, rel, &st, !c->spec->from_context);
    if (S_ISDIR(st.st_mode)) {
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = fd < 0 ? sw_error_sys(err, SW_EIO, errno, "opening %s", rel)
                    : hash_tree(c, h, fd, rel, err);
    } else if (S_ISREG(st.st_mode)) {
        rc = hash_content(c, h, dir_fd, name, -1, &st, rel, err);
    } else if (S_ISLNK(st.st_mode)) {
        char target[SW_PATH_MAX];
        ssize_t n = readlinkat(dir_fd, name, target, sizeof(target));
        if (n >= 0)
            sw_hash_update(h, target, (size_t)n);
    }
    if (fd >= 0)
        close(fd);
    return rc;
}

static int hash_tree(struct copier *c, sw_hash *h, int dir_fd, const char *rel, sw_error **err)
{
    struct path_list names = { 0 };
    int rc = bld_copy_read_dir_sorted(dir_fd, rel, &names, err);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char child[SW_PATH_MAX];
        if (bld_copy_join_rel(child, rel, names.items[i]) != 0) {
            rc = sw_error_set(err, SW_ETOOBIG, "%s: path too long: %s/%s", c->verb, rel,
                              names.items[i]);
            break;
        }
        rc = hash_entry(c, h, dir_fd, names.items[i], child, err);
    }
    bld_copy_path_list_free(&names);
    return rc;
}

int bld_copy_digest(const struct bld_copy_spec *spec, char out[SW_DIGEST_MAX], sw_error **err)
{
    struct copier c = { .spec = spec,
                        .src_root_fd = -1,
                        .dest_root_fd = -1,
                        .verb = spec->is_add ? "ADD" : "COPY",
                        .dest = spec->dest,
                        .reuse_fd = -1 };
    struct path_list sources = { 0 };
    sw_hash *h = sw_hash_new(SW_HASH_SHA256);
    int rc = 0;
    if (h == NULL)
        return sw_error_oom(err);
    c.src_root_fd = open(spec->src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c.src_root_fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "%s: opening %s", c.verb, spec->src_root);
        goto cleanup;
    }
    if ((rc = bld_copy_load_exclude(&c, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < spec->n_sources && rc == 0; i++) {
        char unpivoted[SW_PATH_MAX];
        rc = bld_copy_expand_source(&c, bld_copy_pivot_split(spec->sources[i], unpivoted, NULL),
                                    &sources, err);
    }
    for (size_t i = 0; i < sources.n && rc == 0; i++) {
        const char *src = sources.items[i];
        c.cur_src = src;
        if (c.exclude && bld_copy_skipped(&c, src, 0)) {
            struct stat lst;
            if (fstatat(c.src_root_fd, src, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
                !S_ISDIR(lst.st_mode))
                continue;
        }
        int fd = bld_copy_open_in_root(c.src_root_fd, src, O_RDONLY, 1);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) != 0) {
            /* the copy itself will report it; the digest just records it */
            sw_hash_update(h, "missing:", 8);
            sw_hash_update(h, src, strlen(src) + 1);
            if (fd >= 0)
                close(fd);
            continue;
        }
        hash_meta(h, src, &st, !spec->from_context);
        rc = S_ISDIR(st.st_mode) ? hash_tree(&c, h, fd, src, err)
                                 : hash_content(&c, h, -1, NULL, fd, &st, src, err);
        close(fd);
    }
    if (rc == 0)
        sw_hash_digest(h, out);
cleanup:
    sw_hash_free(h);
    bld_ignore_free(c.exclude);
    bld_copy_path_list_free(&sources);
    if (c.src_root_fd >= 0)
        close(c.src_root_fd);
    return rc;
}
