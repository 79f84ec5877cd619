/*
 * unpack.c - layer extraction beneath a root directory (see unpack.h).
 *
 * Each entry's parent directory is opened with openat2 relative to the root
 * with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; the entry itself is created
 * with the *at() calls on that directory fd and O_NOFOLLOW / AT_SYMLINK_-
 * NOFOLLOW, so the kernel, not string checks alone, keeps us inside.
 */
#include "builder/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"

#define WHITEOUT_PREFIX ".wh."
#define OPAQUE_MARKER ".wh..wh..opq"

struct dir_times {
    char *path;
    struct timespec times[2];
};

struct unpack {
    int root_fd;
    const char *root_path;
    const struct bld_unpack_options *opts;
    struct dir_times *dirs; /* directory times are set last: later entries
                               inside them would change them again */
    size_t n_dirs, cap_dirs;
};

static int open_beneath(int root_fd, const char *path, int flags)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
    };
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

/* Normalises an entry name into out: strips "./" and "/" prefixes and
 * repeated slashes, refuses "..", absolute names and empty results. */
static int clean_name(const char *name, char *out, size_t out_size, sw_error **err)
{
    if (name == NULL || name[0] == '\0')
        return sw_error_set(err, SW_EINVAL, "entry with an empty name");
    if (name[0] == '/')
        return sw_error_set(err, SW_EINVAL, "entry '%s' has an absolute path", name);
    size_t o = 0;
    const char *p = name;
    while (*p) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (len == 0)
            break;
        if (len == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return sw_error_set(err, SW_EINVAL, "entry '%s' has a '..' component", name);
        if (o + len + 2 > out_size)
            return sw_error_set(err, SW_EINVAL, "entry name too long: '%.64s...'", name);
        if (o > 0)
            out[o++] = '/';
        memcpy(out + o, p, len);
        o += len;
        p = end;
    }
    out[o] = '\0';
    return 0;
}

/* Opens (creating missing components with mode 0755 when create is set)
 * the directory `dir` beneath the root; "" is the root itself. */
static int open_dir(struct unpack *u, const char *dir, int create, int *out, sw_error **err)
{
    if (dir[0] == '\0') {
        *out = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 0);
        return *out < 0 ? sw_error_sys(err, SW_EIO, errno, "dup") : 0;
    }
    int fd = open_beneath(u->root_fd, dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        *out = fd;
        return 0;
    }
    if (errno == ELOOP || errno == EXDEV)
        return sw_error_set(err, SW_EPERM, "'%s' goes through a symbolic link", dir);
    if (errno != ENOENT || !create)
        return sw_error_sys(err, SW_EIO, errno, "opening directory '%s'", dir);

    /* create each missing component, one level at a time */
    char partial[SW_PATH_MAX];
    size_t len = strlen(dir);
    if (len >= sizeof(partial))
        return sw_error_set(err, SW_EINVAL, "path too long");
    memcpy(partial, dir, len + 1);
    for (size_t i = 0; i <= len; i++) {
        if (partial[i] != '/' && partial[i] != '\0')
            continue;
        char saved = partial[i];
        partial[i] = '\0';
        char *slash = strrchr(partial, '/');
        int parent_fd;
        if (slash) {
            *slash = '\0';
            parent_fd = open_beneath(u->root_fd, partial, O_RDONLY | O_DIRECTORY);
            *slash = '/';
        } else {
            parent_fd = fcntl(u->root_fd, F_DUPFD_CLOEXEC, 0);
        }
        if (parent_fd < 0) {
            partial[i] = saved;
            return sw_error_sys(err, errno == ELOOP ? SW_EPERM : SW_EIO, errno,
                                "opening directory '%s'", dir);
        }
        const char *base = slash ? slash + 1 : partial;
        int rc = mkdirat(parent_fd, base, 0755);
        int saved_errno = errno;
        close(parent_fd);
        if (rc != 0 && saved_errno != EEXIST) {
            partial[i] = saved;
            return sw_error_sys(err, SW_EIO, saved_errno, "creating directory '%s'", partial);
        }
        partial[i] = saved;
    }
    fd = open_beneath(u->root_fd, dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return sw_error_sys(err, errno == ELOOP ? SW_EPERM : SW_EIO, errno,
                            "opening directory '%s'", dir);
    *out = fd;
    return 0;
}

/* Removes whatever is at parent_fd/base so a later entry can replace it;
 * a directory stays when the new entry is a directory too. */
static int clear_target(int parent_fd, const char *base, int new_is_dir, sw_error **err)
{
    struct stat st;
    if (fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : sw_error_sys(err, SW_EIO, errno, "stat of '%s'", base);
    if (S_ISDIR(st.st_mode)) {
        if (new_is_dir)
            return 0;
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", parent_fd);
        char *full = sw_path_join(path, base);
        int rc = full ? sw_rm_rf(full, err) : sw_error_oom(err);
        free(full);
        return rc;
    }
    if (unlinkat(parent_fd, base, 0) != 0 && errno != ENOENT)
        return sw_error_sys(err, SW_EIO, errno, "replacing '%s'", base);
    return 0;
}

static int xattr_allowed(const char *name)
{
    return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

static int apply_xattrs(struct archive_entry *entry, int fd, sw_error **err)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(entry);
    while (archive_entry_xattr_next(entry, &name, &value, &size) == ARCHIVE_OK) {
        if (!xattr_allowed(name))
            continue;
        if (fsetxattr(fd, name, value, size, 0) != 0 && errno != ENOTSUP)
            return sw_error_sys(err, SW_EIO, errno, "setting xattr %s", name);
    }
    return 0;
}

static void entry_times(struct archive_entry *entry, struct timespec times[2])
{
    times[0].tv_sec =
        archive_entry_atime_is_set(entry) ? archive_entry_atime(entry) : archive_entry_mtime(entry);
    times[0].tv_nsec = archive_entry_atime_is_set(entry) ? archive_entry_atime_nsec(entry) : 0;
    times[1].tv_sec = archive_entry_mtime(entry);
    times[1].tv_nsec = archive_entry_mtime_nsec(entry);
}

static int write_file_data(struct archive *ar, int fd, const char *name, sw_error **err)
{
    const void *buf;
    size_t size;
    la_int64_t offset;
    for (;;) {
        int r = archive_read_data_block(ar, &buf, &size, &offset);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return sw_error_set(err, SW_EINVAL, "reading data of '%s': %s", name,
                                archive_error_string(ar));
        const char *p = buf;
        while (size > 0) {
            ssize_t n = pwrite(fd, p, size, offset);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                return sw_error_sys(err, SW_EIO, errno, "writing '%s'", name);
            p += n;
            size -= (size_t)n;
            offset += n;
        }
    }
    /* a sparse file may end in a hole */
    off_t end = lseek(fd, 0, SEEK_END);
    (void)end;
    return 0;
}

static int remember_dir(struct unpack *u, const char *path, struct archive_entry *entry)
{
    if (u->n_dirs == u->cap_dirs) {
        size_t cap = u->cap_dirs ? u->cap_dirs * 2 : 64;
        struct dir_times *d = realloc(u->dirs, cap * sizeof(*d));
        if (d == NULL)
            return -1;
        u->dirs = d;
        u->cap_dirs = cap;
    }
    u->dirs[u->n_dirs].path = strdup(path);
    if (u->dirs[u->n_dirs].path == NULL)
        return -1;
    entry_times(entry, u->dirs[u->n_dirs].times);
    u->n_dirs++;
    return 0;
}

static int extract_entry(struct unpack *u, struct archive *ar, struct archive_entry *entry,
                         sw_error **err)
{
    char name[SW_PATH_MAX], parent[SW_PATH_MAX];
    const char *raw = archive_entry_pathname(entry);
    int rc, parent_fd = -1, fd = -1;

    if ((rc = clean_name(raw, name, sizeof(name), err)) != 0)
        return rc;
    if (name[0] == '\0')
        return 0; /* "./" itself: the root's metadata is the caller's */

    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    size_t parent_len = slash ? (size_t)(slash - name) : 0;
    memcpy(parent, name, parent_len);
    parent[parent_len] = '\0';

    if ((rc = open_dir(u, parent, 1, &parent_fd, err)) != 0)
        goto cleanup;

    mode_t type = archive_entry_filetype(entry);
    mode_t perm = archive_entry_perm(entry);
    uid_t uid = (uid_t)archive_entry_uid(entry);
    gid_t gid = (gid_t)archive_entry_gid(entry);
    struct timespec times[2];
    entry_times(entry, times);

    if (u->opts->convert_whiteouts && strncmp(base, WHITEOUT_PREFIX, 4) == 0) {
        if (strcmp(base, OPAQUE_MARKER) == 0) {
            if (fsetxattr(parent_fd, "trusted.overlay.opaque", "y", 1, 0) != 0)
                rc = sw_error_sys(err, SW_EIO, errno, "marking '%s' opaque", parent);
            goto cleanup;
        }
        const char *hidden = base + 4;
        if (hidden[0] == '\0' || strcmp(hidden, ".") == 0 || strcmp(hidden, "..") == 0) {
            rc = sw_error_set(err, SW_EINVAL, "bad whiteout '%s'", raw);
            goto cleanup;
        }
        if ((rc = clear_target(parent_fd, hidden, 0, err)) != 0)
            goto cleanup;
        if (mknodat(parent_fd, hidden, S_IFCHR | 0, makedev(0, 0)) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "creating whiteout for '%s'", raw);
        goto cleanup;
    }

    const char *hardlink = archive_entry_hardlink(entry);
    if (hardlink != NULL) {
        char target[SW_PATH_MAX], target_parent[SW_PATH_MAX];
        int target_dir_fd = -1;
        if ((rc = clean_name(hardlink, target, sizeof(target), err)) != 0)
            goto cleanup;
        const char *tslash = strrchr(target, '/');
        size_t tlen = tslash ? (size_t)(tslash - target) : 0;
        memcpy(target_parent, target, tlen);
        target_parent[tlen] = '\0';
        if ((rc = open_dir(u, target_parent, 0, &target_dir_fd, err)) != 0) {
            sw_error_prefix(err, "hardlink '%s' -> '%s'", raw, hardlink);
            goto cleanup;
        }
        if ((rc = clear_target(parent_fd, base, 0, err)) == 0 &&
            linkat(target_dir_fd, tslash ? tslash + 1 : target, parent_fd, base, 0) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "hardlink '%s' -> '%s'", raw, hardlink);
        close(target_dir_fd);
        goto cleanup;
    }

    switch (type) {
    case AE_IFDIR:
        if ((rc = clear_target(parent_fd, base, 1, err)) != 0)
            goto cleanup;
        if (mkdirat(parent_fd, base, 0700) != 0 && errno != EEXIST) {
            rc = sw_error_sys(err, SW_EIO, errno, "creating directory '%s'", name);
            goto cleanup;
        }
        fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "opening directory '%s'", name);
            goto cleanup;
        }
        if (fchown(fd, uid, gid) != 0 || fchmod(fd, perm) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "setting owner/mode of '%s'", name);
            goto cleanup;
        }
        if ((rc = apply_xattrs(entry, fd, err)) != 0 || remember_dir(u, name, entry) != 0) {
            rc = rc ? rc : sw_error_oom(err);
            goto cleanup;
        }
        break;
    case AE_IFREG:
        if ((rc = clear_target(parent_fd, base, 0, err)) != 0)
            goto cleanup;
        fd = openat(parent_fd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "creating '%s'", name);
            goto cleanup;
        }
        if ((rc = write_file_data(ar, fd, name, err)) != 0)
            goto cleanup;
        if (ftruncate(fd, archive_entry_size(entry)) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "sizing '%s'", name);
            goto cleanup;
        }
        /* chown before chmod: chown clears set-id bits */
        if (fchown(fd, uid, gid) != 0 || fchmod(fd, perm) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "setting owner/mode of '%s'", name);
            goto cleanup;
        }
        if ((rc = apply_xattrs(entry, fd, err)) != 0)
            goto cleanup;
        if (futimens(fd, times) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "setting times of '%s'", name);
        break;
    case AE_IFLNK:
        if (archive_entry_symlink(entry) == NULL) {
            rc = sw_error_set(err, SW_EINVAL, "symlink '%s' has no target", name);
            goto cleanup;
        }
        if ((rc = clear_target(parent_fd, base, 0, err)) != 0)
            goto cleanup;
        if (symlinkat(archive_entry_symlink(entry), parent_fd, base) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "creating symlink '%s'", name);
            goto cleanup;
        }
        if (fchownat(parent_fd, base, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            utimensat(parent_fd, base, times, AT_SYMLINK_NOFOLLOW) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "setting owner/times of symlink '%s'", name);
        break;
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        if ((rc = clear_target(parent_fd, base, 0, err)) != 0)
            goto cleanup;
        if (mknodat(parent_fd, base, type | perm, archive_entry_rdev(entry)) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "creating device node '%s'", name);
            goto cleanup;
        }
        if (fchownat(parent_fd, base, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            fchmodat(parent_fd, base, perm, 0) != 0 ||
            utimensat(parent_fd, base, times, AT_SYMLINK_NOFOLLOW) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "setting owner/mode of '%s'", name);
        break;
    default:
        break; /* sockets and unknown types are skipped, as Docker does */
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (parent_fd >= 0)
        close(parent_fd);
    if (rc != 0)
        sw_error_prefix(err, "layer entry '%s'", raw ? raw : "");
    return rc;
}

static void apply_dir_times(struct unpack *u)
{
    /* deepest first does not matter for utimensat: it only touches the
     * named directory, whose own entries are all written by now */
    for (size_t i = u->n_dirs; i-- > 0;) {
        int fd = open_beneath(u->root_fd, u->dirs[i].path, O_RDONLY | O_DIRECTORY);
        if (fd >= 0) {
            /* a failure leaves the build time on a directory: a layer
             * that differs by an mtime, so it is reported */
            if (futimens(fd, u->dirs[i].times) != 0)
                sw_warn("unpacking: cannot set the time of %s: %s", u->dirs[i].path,
                        strerror(errno));
            close(fd);
        }
    }
}

/* Reads entries from an opened archive into dest_dir. */
static int unpack_archive(struct archive *ar, const char *dest_dir,
                          const struct bld_unpack_options *opts, sw_error **err)
{
    static const struct bld_unpack_options defaults = { .convert_whiteouts = 1 };
    struct unpack u = { .root_fd = -1, .root_path = dest_dir, .opts = opts ? opts : &defaults };
    struct archive_entry *entry;
    int rc = 0;

    u.root_fd = open(dest_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (u.root_fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "opening %s", dest_dir);
        goto cleanup;
    }
    for (;;) {
        int r = archive_read_next_header(ar, &entry);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            rc = sw_error_set(err, SW_EINVAL, "reading tar: %s", archive_error_string(ar));
            goto cleanup;
        }
        if ((rc = extract_entry(&u, ar, entry, err)) != 0)
            goto cleanup;
    }
    apply_dir_times(&u);
cleanup:
    if (rc != 0)
        sw_error_prefix(err, "unpacking into %s", dest_dir);
    for (size_t i = 0; i < u.n_dirs; i++)
        free(u.dirs[i].path);
    free(u.dirs);
    if (u.root_fd >= 0)
        close(u.root_fd);
    return rc;
}

static struct archive *new_tar_reader(int with_filters)
{
    struct archive *ar = archive_read_new();
    if (ar == NULL)
        return NULL;
    if (with_filters)
        archive_read_support_filter_all(ar);
    archive_read_support_format_tar(ar);
    archive_read_support_format_gnutar(ar);
    return ar;
}

int bld_unpack_fd(int fd, const char *dest_dir, const struct bld_unpack_options *opts,
                  sw_error **err)
{
    struct archive *ar = new_tar_reader(1);
    int rc;
    if (ar == NULL)
        return sw_error_oom(err);
    if (archive_read_open_fd(ar, fd, 64 * 1024) != ARCHIVE_OK)
        rc = sw_error_set(err, SW_EINVAL, "unpacking into %s: not a tar archive: %s", dest_dir,
                          archive_error_string(ar));
    else
        rc = unpack_archive(ar, dest_dir, opts, err);
    archive_read_free(ar);
    return rc;
}

struct source_reader {
    sw_source_fn source;
    void *ctx;
    sw_error **err;
    int failed;
    char buf[64 * 1024];
};

static la_ssize_t source_read_cb(struct archive *ar, void *ctx, const void **out)
{
    struct source_reader *r = ctx;
    size_t got = 0;
    if (r->source(r->ctx, r->buf, sizeof(r->buf), &got, r->err) != 0) {
        r->failed = 1;
        archive_set_error(ar, EIO, "%s", sw_error_message(*r->err));
        return -1;
    }
    *out = r->buf;
    return (la_ssize_t)got;
}

int bld_unpack_source(sw_source_fn source, void *source_ctx, const char *dest_dir,
                      const struct bld_unpack_options *opts, sw_error **err)
{
    struct archive *ar = new_tar_reader(0);
    struct source_reader *reader = calloc(1, sizeof(*reader));
    int rc;
    if (ar == NULL || reader == NULL) {
        archive_read_free(ar);
        free(reader);
        return sw_error_oom(err);
    }
    reader->source = source;
    reader->ctx = source_ctx;
    reader->err = err;
    if (archive_read_open(ar, reader, NULL, source_read_cb, NULL) != ARCHIVE_OK)
        rc = reader->failed ? sw_error_code(*err)
                            : sw_error_set(err, SW_EINVAL,
                                           "unpacking into %s: not a tar "
                                           "archive: %s",
                                           dest_dir, archive_error_string(ar));
    else
        rc = unpack_archive(ar, dest_dir, opts, err);
    if (rc != 0 && reader->failed && sw_error_code(*err) == 0)
        rc = SW_EIO;
    archive_read_free(ar);
    free(reader);
    return rc;
}

int bld_unpack_file(const char *path, const char *dest_dir, const struct bld_unpack_options *opts,
                    sw_error **err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "opening %s", path);
    int rc = bld_unpack_fd(fd, dest_dir, opts, err);
    close(fd);
    return rc;
}
