/*
 * tarwriter.c - deterministic tar of a directory (see tarwriter.h).
 *
 * libarchive writes the PAX format (ustar headers, PAX extended headers
 * only when a name, size or xattr needs one) through a write callback, so
 * the bytes stream straight into the compressor and nothing is buffered.
 */
#include "builder/tarwriter.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/profile.h"
#include "core/strbuf.h"

struct hardlink {
    dev_t dev;
    ino_t ino;
    char *path;
};

struct tar_state {
    struct archive *ar;
    const struct bld_tar_options *opts;
    sw_compress_sink_fn sink;
    void *sink_ctx;
    sw_error **err;
    int sink_failed;
    struct hardlink *links;
    size_t n_links, cap_links;
};

/* A failing sink is remembered and its later data dropped, but libarchive
 * is told the write succeeded: in its fatal state libarchive would not free
 * its buffers at archive_write_free. The tar walk checks sink_failed after
 * every call and stops with the sink's error. */
static la_ssize_t tar_write_cb(struct archive *ar, void *ctx, const void *buf, size_t len)
{
    struct tar_state *st = ctx;
    (void)ar;
    if (!st->sink_failed && st->sink(st->sink_ctx, buf, len, st->err) != 0)
        st->sink_failed = 1;
    return (la_ssize_t)len;
}

/* The sink's error code, when it has failed. */
static int sink_error(const struct tar_state *st)
{
    int code = sw_error_code(*st->err);
    return code ? code : SW_EIO;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a directory's entries (without . and ..). */
static int list_dir(int dir_fd, const char *rel, char ***names_out, size_t *n_out, sw_error **err)
{
    int fd = dup(dir_fd);
    if (fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "reading directory '%s'", rel);
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return sw_error_sys(err, SW_EIO, errno, "reading directory '%s'", rel);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **bigger = realloc(names, cap * sizeof(*names));
            if (bigger == NULL) {
                rc = sw_error_oom(err);
                break;
            }
            names = bigger;
        }
        if ((names[n] = strdup(de->d_name)) == NULL) {
            rc = sw_error_oom(err);
            break;
        }
        n++;
    }
    closedir(d);
    if (rc != 0) {
        for (size_t i = 0; i < n; i++)
            free(names[i]);
        free(names);
        return rc;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    *names_out = names;
    *n_out = n;
    return 0;
}

static int is_overlay_whiteout(const struct stat *st)
{
    return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static int is_opaque_dir(int fd)
{
    char value[4];
    ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", value, sizeof(value));
    return n == 1 && value[0] == 'y';
}

/* Copies the user.* and security.capability xattrs of parent_fd/name into
 * entry, sorted by name (listxattr's order is the filesystem's). Every
 * name is kept, whatever the count; a value is re-read at its real size.
 * -1 (with st->err set) on an allocation failure or an unreadable list. */
static int add_xattrs(struct tar_state *st, struct archive_entry *entry, int parent_fd,
                      const char *name)
{
    char proc[SW_PATH_MAX];
    char *list = NULL, *value = NULL;
    const char **names = NULL;
    size_t n = 0;
    int rc = 0;
    int len = snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", parent_fd, name);
    if (len < 0 || len >= (int)sizeof(proc))
        return sw_error_set(st->err, SW_ETOOBIG, "path too long: %s", name);
    ssize_t size = listxattr(proc, NULL, 0);
    if (size <= 0)
        return 0; /* none, or a filesystem without xattrs */
    if ((list = malloc((size_t)size)) == NULL ||
        (names = calloc((size_t)size, sizeof(*names))) == NULL) {
        rc = sw_error_oom(st->err);
        goto cleanup;
    }
    if ((size = listxattr(proc, list, (size_t)size)) < 0) {
        rc = sw_error_sys(st->err, SW_EIO, errno, "listing xattrs of %s", name);
        goto cleanup;
    }
    for (char *p = list; p < list + size; p += strlen(p) + 1)
        if (strncmp(p, "user.", 5) == 0 || strcmp(p, "security.capability") == 0)
            names[n++] = p;
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_names);
    for (size_t i = 0; i < n; i++) {
        ssize_t vlen = getxattr(proc, names[i], NULL, 0);
        if (vlen < 0)
            continue; /* removed meanwhile */
        char *bigger = realloc(value, (size_t)vlen + 1);
        SW_CHECK_ALLOC(bigger, rc, st->err, cleanup);
        value = bigger;
        if ((vlen = getxattr(proc, names[i], value, (size_t)vlen)) >= 0)
            archive_entry_xattr_add_entry(entry, names[i], value, (size_t)vlen);
    }
cleanup:
    free(value);
    free(names);
    free(list);
    return rc;
}

static const char *remember_hardlink(struct tar_state *st, const struct stat *s, const char *path)
{
    for (size_t i = 0; i < st->n_links; i++)
        if (st->links[i].dev == s->st_dev && st->links[i].ino == s->st_ino)
            return st->links[i].path;
    if (st->n_links == st->cap_links) {
        size_t cap = st->cap_links ? st->cap_links * 2 : 16;
        struct hardlink *bigger = realloc(st->links, cap * sizeof(*bigger));
        if (bigger == NULL)
            return NULL;
        st->links = bigger;
        st->cap_links = cap;
    }
    st->links[st->n_links].dev = s->st_dev;
    st->links[st->n_links].ino = s->st_ino;
    st->links[st->n_links].path = strdup(path);
    st->n_links++;
    return NULL;
}

static int write_header(struct tar_state *st, struct archive_entry *entry, const char *path)
{
    if (archive_write_header(st->ar, entry) != ARCHIVE_OK)
        return sw_error_set(st->err, SW_EIO, "writing tar header for '%s': %s", path,
                            archive_error_string(st->ar));
    return st->sink_failed ? sink_error(st) : 0;
}

static void set_common(struct tar_state *st, struct archive_entry *entry, const char *path,
                       const struct stat *s)
{
    archive_entry_set_pathname(entry, path);
    archive_entry_set_uid(entry, s->st_uid);
    archive_entry_set_gid(entry, s->st_gid);
    archive_entry_set_perm(entry, s->st_mode & 07777);
    int64_t mtime = s->st_mtim.tv_sec;
    long nsec = s->st_mtim.tv_nsec;
    if (st->opts->clamp_mtime >= 0 && mtime >= st->opts->clamp_mtime) {
        mtime = st->opts->clamp_mtime;
        nsec = 0;
    }
    /* whole seconds only: sub-second times would need PAX headers and make
     * layers differ for no benefit */
    (void)nsec;
    archive_entry_set_mtime(entry, mtime, 0);
}

static int write_whiteout(struct tar_state *st, const char *parent_rel, const char *name,
                          const struct stat *s)
{
    sw_strbuf path = SW_STRBUF_INIT;
    if (parent_rel[0])
        sw_strbuf_printf(&path, "%s/", parent_rel);
    sw_strbuf_printf(&path, ".wh.%s", name);
    struct archive_entry *entry = archive_entry_new();
    struct stat fake = *s;
    fake.st_mode = S_IFREG | 0644;
    fake.st_uid = fake.st_gid = 0;
    set_common(st, entry, path.data, &fake);
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_size(entry, 0);
    int rc = write_header(st, entry, path.data);
    archive_entry_free(entry);
    sw_strbuf_free(&path);
    return rc;
}

static int copy_file_data(struct tar_state *st, int fd, const char *path)
{
    char buf[64 * 1024];
    for (;;) {
        uint64_t profiled = sw_profile_start();
        ssize_t n = read(fd, buf, sizeof(buf));
        sw_profile_stop(SW_PHASE_TAR_READ, profiled);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sw_error_sys(st->err, SW_EIO, errno, "reading '%s'", path);
        if (n == 0)
            return 0;
        if (archive_write_data(st->ar, buf, (size_t)n) != n)
            return sw_error_set(st->err, SW_EIO, "writing '%s' to tar: %s", path,
                                archive_error_string(st->ar));
        if (st->sink_failed)
            return sink_error(st);
    }
}

static int tar_dir(struct tar_state *st, int dir_fd, const char *rel);

static int tar_entry(struct tar_state *st, int dir_fd, const char *rel, const char *name)
{
    struct stat s;
    int rc = 0, fd = -1;
    struct archive_entry *entry = NULL;
    sw_strbuf path = SW_STRBUF_INIT;

    if (fstatat(dir_fd, name, &s, AT_SYMLINK_NOFOLLOW) != 0)
        return sw_error_sys(st->err, SW_EIO, errno, "stat of '%s/%s'", rel, name);
    if (rel[0])
        sw_strbuf_printf(&path, "%s/%s", rel, name);
    else
        sw_strbuf_puts(&path, name);
    if (path.failed)
        return sw_error_oom(st->err);

    if (st->opts->overlay_whiteouts && is_overlay_whiteout(&s)) {
        rc = write_whiteout(st, rel, name, &s);
        goto cleanup;
    }
    if (S_ISSOCK(s.st_mode))
        goto cleanup; /* sockets are not part of images */

    entry = archive_entry_new();
    set_common(st, entry, path.data, &s);

    if (S_ISDIR(s.st_mode)) {
        fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = sw_error_sys(st->err, SW_EIO, errno, "opening '%s'", path.data);
            goto cleanup;
        }
        archive_entry_set_filetype(entry, AE_IFDIR);
        if ((rc = add_xattrs(st, entry, dir_fd, name)) != 0)
            goto cleanup;
        /* directories are written "name/" like docker and buildkit do */
        sw_strbuf_putc(&path, '/');
        archive_entry_set_pathname(entry, path.data);
        if ((rc = write_header(st, entry, path.data)) != 0)
            goto cleanup;
        path.data[--path.len] = '\0';
        if (st->opts->overlay_whiteouts && is_opaque_dir(fd)) {
            if ((rc = write_whiteout(st, path.data, ".wh..opq", &s)) != 0)
                goto cleanup;
        }
        rc = tar_dir(st, fd, path.data);
        goto cleanup;
    }

    if (S_ISREG(s.st_mode) && s.st_nlink > 1) {
        const char *first = remember_hardlink(st, &s, path.data);
        if (first != NULL) {
            archive_entry_set_filetype(entry, AE_IFREG);
            archive_entry_set_hardlink(entry, first);
            archive_entry_set_size(entry, 0);
            rc = write_header(st, entry, path.data);
            goto cleanup;
        }
    }

    if (S_ISLNK(s.st_mode)) {
        char target[SW_PATH_MAX];
        ssize_t n = readlinkat(dir_fd, name, target, sizeof(target) - 1);
        if (n < 0) {
            rc = sw_error_sys(st->err, SW_EIO, errno, "reading link '%s'", path.data);
            goto cleanup;
        }
        target[n] = '\0';
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, target);
        rc = write_header(st, entry, path.data);
    } else if (S_ISREG(s.st_mode)) {
        fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = sw_error_sys(st->err, SW_EIO, errno, "opening '%s'", path.data);
            goto cleanup;
        }
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, s.st_size);
        if ((rc = add_xattrs(st, entry, dir_fd, name)) == 0 &&
            (rc = write_header(st, entry, path.data)) == 0)
            rc = copy_file_data(st, fd, path.data);
    } else if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode) || S_ISFIFO(s.st_mode)) {
        archive_entry_set_filetype(entry, s.st_mode & S_IFMT);
        archive_entry_set_rdev(entry, s.st_rdev);
        rc = write_header(st, entry, path.data);
    }
cleanup:
    if (fd >= 0)
        close(fd);
    archive_entry_free(entry);
    sw_strbuf_free(&path);
    return rc;
}

static int tar_dir(struct tar_state *st, int dir_fd, const char *rel)
{
    char **names = NULL;
    size_t n = 0;
    int rc = list_dir(dir_fd, rel, &names, &n, st->err);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = tar_entry(st, dir_fd, rel, names[i]);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

int bld_tar_dir(const char *dir, const struct bld_tar_options *opts, sw_compress_sink_fn sink,
                void *sink_ctx, sw_error **err)
{
    static const struct bld_tar_options defaults = { .clamp_mtime = -1 };
    struct tar_state st = {
        .opts = opts ? opts : &defaults, .sink = sink, .sink_ctx = sink_ctx, .err = err
    };
    int rc = 0;
    int root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "opening %s", dir);
    st.ar = archive_write_new();
    SW_CHECK_ALLOC(st.ar, rc, err, cleanup);
    archive_write_set_format_pax_restricted(st.ar);
    /* xattrs as SCHILY.xattr.* only, as Go's archive/tar (docker, buildkit)
     * writes and reads them; libarchive would add a second copy */
    archive_write_set_format_option(st.ar, "pax", "xattrheader", "SCHILY");
    /* Unblocked: no padding to 10 KiB records (the stream ends right after
     * the two zero blocks), and file data reaches the sink in the pieces it
     * was read in. With 512-byte blocks libarchive called the sink once
     * per 512 bytes; every record is a multiple of 512 bytes either way, so
     * the bytes are the same. */
    archive_write_set_bytes_per_block(st.ar, 0);
    if (archive_write_open(st.ar, &st, NULL, tar_write_cb, NULL) != ARCHIVE_OK) {
        rc = sw_error_set(err, SW_EIO, "starting tar: %s", archive_error_string(st.ar));
        goto cleanup;
    }
    rc = tar_dir(&st, root_fd, "");
    /* close in every case, so libarchive releases what it holds */
    if (archive_write_close(st.ar) != ARCHIVE_OK && rc == 0)
        rc = sw_error_set(err, SW_EIO, "finishing tar: %s", archive_error_string(st.ar));
    if (rc == 0 && st.sink_failed)
        rc = sink_error(&st);
    if (rc != 0)
        goto cleanup;
cleanup:
    if (rc != 0)
        sw_error_prefix(err, "writing layer from %s", dir);
    if (st.ar)
        archive_write_free(st.ar);
    for (size_t i = 0; i < st.n_links; i++)
        free(st.links[i].path);
    free(st.links);
    close(root_fd);
    return rc;
}
