/*
 * copy.c - COPY and ADD semantics (see copy.h).
 *
 * Sources are opened relative to their root with RESOLVE_IN_ROOT (symlinks
 * resolve as if the root were "/"); the destination likewise in the image's
 * root. Entries below a copied directory are walked with *at() calls and
 * never followed: symlinks are copied as symlinks.
 */
#include "builder/copy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "builder/dockerignore.h"
#include "builder/unpack.h"
#include "core/compress.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "builder/copy_internal.h"

/* 1 when rel (relative to the source root) is left out: by .dockerignore
 * (the callback) or by --exclude, matched relative to the current source. */
int bld_copy_skipped(const struct copier *c, const char *rel, int is_dir)
{
    if (c->spec->excluded && c->spec->excluded(c->spec->excluded_ctx, rel, is_dir))
        return 1;
    if (c->exclude == NULL)
        return 0;
    const char *sub = rel;
    const char *base = strrchr(rel, '/');
    base = base ? base + 1 : rel;
    if (c->cur_src && c->cur_src[0]) {
        size_t n = strlen(c->cur_src);
        if (strncmp(rel, c->cur_src, n) == 0 && rel[n] == '/')
            sub = rel + n + 1;
        else if (strcmp(rel, c->cur_src) == 0)
            sub = base;
    }
    int hit = bld_ignore_matches(c->exclude, sub) ||
              ((c->cur_src == NULL || sub == base) && bld_ignore_matches(c->exclude, base));
    return hit && !(is_dir && bld_ignore_dir_needed(c->exclude, sub));
}

/* The --exclude matcher of spec (NULL when none). */
int bld_copy_load_exclude(struct copier *c, sw_error **err)
{
    if (c->spec->n_exclude == 0)
        return 0;
    sw_strbuf text = SW_STRBUF_INIT;
    for (size_t i = 0; i < c->spec->n_exclude; i++) {
        if (c->spec->exclude[i][0] == '!') {
            sw_strbuf_free(&text);
            return sw_error_set(err, SW_EINVAL, "%s: --exclude=%s: exceptions (!) are not allowed",
                                c->verb, c->spec->exclude[i]);
        }
        sw_strbuf_printf(&text, "%s\n", c->spec->exclude[i]);
    }
    int rc = bld_ignore_parse(text.data ? text.data : "", &c->exclude, err);
    sw_strbuf_free(&text);
    if (rc != 0)
        sw_error_prefix(err, "%s --exclude", c->verb);
    return rc;
}

int bld_copy_open_in_root(int root_fd, const char *path, int flags, int follow_last)
{
    struct open_how how = {
        .flags = (unsigned long long)(flags | O_CLOEXEC),
        .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    if (!follow_last)
        how.flags |= O_NOFOLLOW;
    while (*path == '/')
        path++;
    if (*path == '\0')
        path = ".";
    return (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
}

/* ---- source expansion -------------------------------------------------- */

static int path_list_add(struct path_list *l, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **bigger = realloc(l->items, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        l->items = bigger;
        l->cap = cap;
    }
    if ((l->items[l->n] = strdup(path)) == NULL)
        return -1;
    l->n++;
    return 0;
}

void bld_copy_path_list_free(struct path_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Strips leading "/" and "./", trailing "/", collapses "//" into out. */
static void clean_rel(const char *in, char *out, size_t size)
{
    size_t o = 0;
    while (*in == '/' || (in[0] == '.' && (in[1] == '/' || in[1] == '\0'))) {
        in += (*in == '/') ? 1 : (in[1] ? 2 : 1);
    }
    for (; *in && o + 1 < size; in++) {
        if (*in == '/' && (o == 0 || out[o - 1] == '/'))
            continue;
        out[o++] = *in;
    }
    while (o > 0 && out[o - 1] == '/')
        o--;
    out[o] = '\0';
}

/* out = rel + "/" + name (just name when rel is ""); -1 when it does not
 * fit in SW_PATH_MAX (nothing useful can be done with a cut path). */
int bld_copy_join_rel(char out[SW_PATH_MAX], const char *rel, const char *name)
{
    int n = snprintf(out, SW_PATH_MAX, "%s%s%s", rel, rel[0] ? "/" : "", name);
    return n < 0 || n >= SW_PATH_MAX ? -1 : 0;
}

/* Walks dir `rel` (relative to root) collecting paths that match the
 * pattern components from `depth` on. */
static int glob_walk(struct copier *c, const char *rel, char **parts, size_t n_parts, size_t depth,
                     struct path_list *out)
{
    int fd = bld_copy_open_in_root(c->src_root_fd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY, 1);
    if (fd < 0)
        return 0;
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return 0;
    }
    struct path_list names = { 0 };
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int m = bld_path_match(parts[depth], de->d_name);
        if (m < 0) {
            rc = -2;
            break;
        }
        if (m && path_list_add(&names, de->d_name) != 0) {
            rc = -1;
            break;
        }
    }
    closedir(d);
    if (names.n > 1)
        qsort(names.items, names.n, sizeof(char *), cmp_str);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char path[SW_PATH_MAX];
        if (bld_copy_join_rel(path, rel, names.items[i]) != 0) {
            rc = -1;
            break;
        }
        if (depth + 1 == n_parts)
            rc = path_list_add(out, path);
        else
            rc = glob_walk(c, path, parts, n_parts, depth + 1, out);
    }
    bld_copy_path_list_free(&names);
    return rc;
}

int bld_copy_expand_source(struct copier *c, const char *source, struct path_list *out,
                           sw_error **err)
{
    char clean[SW_PATH_MAX];
    clean_rel(source, clean, sizeof(clean));
    if (!bld_copy_has_wildcard(clean)) {
        if (path_list_add(out, clean) != 0)
            return sw_error_oom(err);
        return 0;
    }
    char *copy = strdup(clean);
    char *parts[256];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok && n < 256;
         tok = strtok_r(NULL, "/", &save))
        parts[n++] = tok;
    /* literal leading components need no matching, but matching them is
     * equivalent and keeps one code path */
    size_t before = out->n;
    int rc = n ? glob_walk(c, "", parts, n, 0, out) : 0;
    free(copy);
    if (rc == -2)
        return sw_error_set(err, SW_EINVAL, "%s: bad pattern '%s'", c->verb, source);
    if (rc != 0)
        return sw_error_oom(err);
    /* drop matches excluded by .dockerignore */
    size_t kept = before;
    for (size_t i = before; i < out->n; i++) {
        struct stat st;
        int is_dir = fstatat(c->src_root_fd, out->items[i], &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                     S_ISDIR(st.st_mode);
        c->cur_src = NULL;
        if (bld_copy_skipped(c, out->items[i], is_dir))
            free(out->items[i]);
        else
            out->items[kept++] = out->items[i];
    }
    out->n = kept;
    return 0;
}

/* ---- destination ------------------------------------------------------- */

static void owner_for(const struct copier *c, const struct stat *st, uid_t *uid, gid_t *gid)
{
    if (c->spec->has_chown) {
        *uid = c->spec->uid;
        *gid = c->spec->gid;
    } else if (c->spec->from_context) {
        *uid = 0;
        *gid = 0;
    } else {
        *uid = st->st_uid;
        *gid = st->st_gid;
    }
}

static mode_t mode_for(const struct copier *c, const struct stat *st)
{
    return c->spec->has_chmod ? c->spec->mode : (st->st_mode & 07777);
}

/* Opens directory `path` in the image root, creating missing components
 * (0755, owned by the --chown user or root). Symlinks on the way resolve
 * inside the root, as they would in a container, and dangling ones get
 * their target created, as Docker does. */
static int open_dest_dir_depth(struct copier *c, const char *path, int is_dest, int depth, int *out,
                               sw_error **err)
{
    char clean[SW_PATH_MAX];
    clean_rel(path, clean, sizeof(clean));
    int fd = bld_copy_open_in_root(c->dest_root_fd, clean, O_RDONLY | O_DIRECTORY, 1);
    if (fd >= 0) {
        *out = fd;
        return 0;
    }
    if (errno != ENOENT)
        return sw_error_sys(err, SW_EIO, errno, "%s: destination /%s", c->verb, clean);
    if (depth > 40)
        return sw_error_set(err, SW_EINVAL, "%s: too many symlinks resolving /%s", c->verb, clean);
    int parent = bld_copy_open_in_root(c->dest_root_fd, ".", O_RDONLY | O_DIRECTORY, 1);
    if (parent < 0)
        return sw_error_sys(err, SW_EIO, errno, "%s: opening the image root", c->verb);
    size_t done = 0; /* clean[0..done) is resolved, as a prefix */
    while (clean[done]) {
        char *comp = clean + done;
        char *slash = strchr(comp, '/');
        size_t comp_len = slash ? (size_t)(slash - comp) : strlen(comp);
        char name[256];
        if (comp_len >= sizeof(name)) {
            close(parent);
            return sw_error_set(err, SW_EINVAL, "%s: path component too long", c->verb);
        }
        memcpy(name, comp, comp_len);
        name[comp_len] = '\0';
        int next = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(parent, name, 0755) != 0 && errno != EEXIST) {
                int saved = errno;
                close(parent);
                return sw_error_sys(err, SW_EIO, saved, "%s: creating directory /%.*s", c->verb,
                                    (int)(done + comp_len), clean);
            }
            /* with dest_parents_root, only the destination directory itself
             * takes --chown; the directories above it stay root's */
            int is_last = slash == NULL || slash[1] == '\0';
            int owned = c->spec->has_chown && (!c->spec->dest_parents_root || (is_dest && is_last));
            uid_t uid = owned ? c->spec->uid : 0;
            gid_t gid = owned ? c->spec->gid : 0;
            if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
                int saved = errno;
                close(parent);
                return sw_error_sys(err, SW_EIO, saved, "%s: setting the owner of /%.*s", c->verb,
                                    (int)(done + comp_len), clean);
            }
            next = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        struct stat link_st;
        if (next < 0 && (errno == ELOOP || errno == ENOTDIR) &&
            fstatat(parent, name, &link_st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(link_st.st_mode)) {
            /* a symlink: continue from its target, inside the root */
            char target[SW_PATH_MAX];
            ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
            close(parent);
            if (n < 0)
                return sw_error_sys(err, SW_EIO, errno, "%s: reading link /%.*s", c->verb,
                                    (int)(done + comp_len), clean);
            target[n] = '\0';
            const char *rest = slash ? slash + 1 : "";
            char resolved[SW_PATH_MAX];
            int len = target[0] == '/' ? snprintf(resolved, sizeof(resolved), "%s/%s", target, rest)
                                       : snprintf(resolved, sizeof(resolved), "%.*s%s/%s",
                                                  (int)done, clean, target, rest);
            if (len < 0 || len >= (int)sizeof(resolved))
                return sw_error_set(err, SW_ETOOBIG, "%s: path too long after link /%.*s", c->verb,
                                    (int)(done + comp_len), clean);
            return open_dest_dir_depth(c, resolved, is_dest, depth + 1, out, err);
        }
        close(parent);
        if (next < 0)
            return sw_error_sys(err, SW_EIO, errno, "%s: /%.*s is not a directory", c->verb,
                                (int)(done + comp_len), clean);
        parent = next;
        done += comp_len + (slash ? 1 : 0);
    }
    *out = parent;
    return 0;
}

/* Opens (creating what is missing) a directory of the destination: the
 * destination directory itself (is_dest) or the parent of a file
 * destination. */
static int open_dest_dir(struct copier *c, const char *path, int is_dest, int *out, sw_error **err)
{
    return open_dest_dir_depth(c, path, is_dest, 0, out, err);
}

static int clear_dest(int dir_fd, const char *name, int keep_dir, sw_error **err)
{
    struct stat st;
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return 0;
    if (S_ISDIR(st.st_mode)) {
        if (keep_dir)
            return 0;
        /* replacing a directory with a file: Docker refuses too */
        return sw_error_set(err, SW_EEXIST, "cannot replace directory %s with a file", name);
    }
    if (unlinkat(dir_fd, name, 0) != 0)
        return sw_error_sys(err, SW_EIO, errno, "replacing %s", name);
    return 0;
}

static void copy_xattrs(int src_fd, int dst_fd)
{
    char list[SW_PATH_MAX];
    ssize_t len = flistxattr(src_fd, list, sizeof(list));
    for (char *p = list; len > 0 && p < list + len; p += strlen(p) + 1) {
        if (strncmp(p, "user.", 5) != 0 && strcmp(p, "security.capability") != 0)
            continue;
        char value[65536];
        ssize_t v = fgetxattr(src_fd, p, value, sizeof(value));
        if (v >= 0)
            fsetxattr(dst_fd, p, value, (size_t)v, 0);
    }
}

/* Copies in to out. size is what the source's stat said: once that much
 * is copied the copy ends without a call to find the end (the bytes of a
 * file still growing are those the stat and the cache key saw). */
static int copy_data(int in, int out, off_t size, const char *name, sw_error **err)
{
    off_t copied = 0;
    for (;;) {
        if (size > 0 && copied >= size)
            return 0;
        ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
        if (n == 0)
            return 0;
        if (n > 0) {
            copied += n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
            return sw_error_sys(err, SW_EIO, errno, "copying %s", name);
        break;
    }
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sw_error_sys(err, SW_EIO, errno, "reading %s", name);
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return sw_error_sys(err, SW_EIO, errno, "writing %s", name);
            off += w;
        }
    }
}

/* Files up to this size are compared byte for byte for reuse; larger ones
 * are copied. */
#define REUSE_MAX_SIZE (4 * 1024 * 1024)

/* 1 when the two open files hold the same bytes (size already equal). */
static int same_bytes(int a, int b, off_t size)
{
    char x[64 * 1024], y[64 * 1024];
    for (off_t off = 0; off < size;) {
        size_t want = size - off < (off_t)sizeof(x) ? (size_t)(size - off) : sizeof(x);
        ssize_t n = pread(a, x, want, off), m = pread(b, y, want, off);
        if (n <= 0 || n != m || memcmp(x, y, (size_t)n) != 0)
            return 0;
        off += n;
    }
    return 1;
}

/* Hard-links the previous layer's copy of dst_dir/name when it is the
 * file the copy would make: the same size, mtime, mode, owner and bytes,
 * and no extended attributes on either. 1 when linked, 0 otherwise (then
 * the file is copied as usual). */
static int reuse_file(struct copier *c, int src_fd, const struct stat *st, int dst_dir,
                      const char *name)
{
    struct stat prev;
    uid_t uid;
    gid_t gid;
    owner_for(c, st, &uid, &gid);
    if (c->reuse_fd < 0 || st->st_size > REUSE_MAX_SIZE ||
        fstatat(c->reuse_fd, name, &prev, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(prev.st_mode) ||
        prev.st_size != st->st_size || prev.st_mtim.tv_sec != st->st_mtim.tv_sec ||
        prev.st_mtim.tv_nsec != st->st_mtim.tv_nsec || (prev.st_mode & 07777) != mode_for(c, st) ||
        prev.st_uid != uid || prev.st_gid != gid)
        return 0;
    char list[8];
    if (flistxattr(src_fd, list, sizeof(list)) != 0)
        return 0;
    int fd = openat(c->reuse_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    int same =
        fd >= 0 && flistxattr(fd, list, sizeof(list)) == 0 && same_bytes(src_fd, fd, st->st_size);
    if (fd >= 0)
        close(fd);
    return same && linkat(c->reuse_fd, name, dst_dir, name, 0) == 0;
}

/* Copies the open source file to dst_dir/name. */
static int copy_file(struct copier *c, int src_fd, const struct stat *st, int dst_dir,
                     const char *name, const char *label, sw_error **err)
{
    int rc;
    if (reuse_file(c, src_fd, st, dst_dir, name))
        return 0;
    /* the destination is new in most copies: look for one in the way only
     * when the create says so */
    int out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0 && errno == EEXIST) {
        if ((rc = clear_dest(dst_dir, name, 0, err)) != 0)
            return rc;
        if (reuse_file(c, src_fd, st, dst_dir, name))
            return 0;
        out = openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (out < 0)
        return sw_error_sys(err, SW_EIO, errno, "%s: creating %s", c->verb, label);
    uid_t uid;
    gid_t gid;
    owner_for(c, st, &uid, &gid);
    struct timespec times[2] = { st->st_atim, st->st_mtim };
    if ((rc = copy_data(src_fd, out, st->st_size, label, err)) == 0) {
        copy_xattrs(src_fd, out);
        if (fchown(out, uid, gid) != 0 || fchmod(out, mode_for(c, st)) != 0 ||
            futimens(out, times) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "%s: setting owner/mode of %s", c->verb, label);
    }
    close(out);
    return rc;
}

static int copy_tree(struct copier *c, int src_dir, int dst_dir, const char *rel, sw_error **err);

/* Copies entry `name` of src_dir (not following symlinks) into dst_dir. */
static int copy_entry(struct copier *c, int src_dir, int dst_dir, const char *name, const char *rel,
                      sw_error **err)
{
    struct stat st;
    int rc = 0, fd = -1, sub = -1;
    if (fstatat(src_dir, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return sw_error_sys(err, SW_EIO, errno, "%s: stat of %s", c->verb, rel);
    if (bld_copy_skipped(c, rel, S_ISDIR(st.st_mode)))
        return 0;
    uid_t uid;
    gid_t gid;
    owner_for(c, &st, &uid, &gid);
    struct timespec times[2] = { st.st_atim, st.st_mtim };

    if (S_ISDIR(st.st_mode)) {
        if ((rc = clear_dest(dst_dir, name, 1, err)) != 0)
            return rc;
        if (mkdirat(dst_dir, name, 0700) != 0 && errno != EEXIST)
            return sw_error_sys(err, SW_EIO, errno, "%s: creating %s", c->verb, rel);
        fd = openat(src_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        sub = openat(dst_dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || sub < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "%s: opening %s", c->verb, rel);
            goto cleanup;
        }
        int outer = c->reuse_fd;
        c->reuse_fd =
            outer >= 0 ? openat(outer, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
        rc = copy_tree(c, fd, sub, rel, err);
        if (c->reuse_fd >= 0)
            close(c->reuse_fd);
        c->reuse_fd = outer;
        if (rc != 0)
            goto cleanup;
        if (fchown(sub, uid, gid) != 0 || fchmod(sub, mode_for(c, &st)) != 0 ||
            futimens(sub, times) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "%s: setting owner/mode of %s", c->verb, rel);
    } else if (S_ISREG(st.st_mode)) {
        fd = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return sw_error_sys(err, SW_EIO, errno, "%s: opening %s", c->verb, rel);
        rc = copy_file(c, fd, &st, dst_dir, name, rel, err);
    } else if (S_ISLNK(st.st_mode)) {
        char target[SW_PATH_MAX];
        ssize_t n = readlinkat(src_dir, name, target, sizeof(target) - 1);
        if (n < 0)
            return sw_error_sys(err, SW_EIO, errno, "%s: reading link %s", c->verb, rel);
        target[n] = '\0';
        if ((rc = clear_dest(dst_dir, name, 0, err)) != 0)
            return rc;
        if (symlinkat(target, dst_dir, name) != 0 ||
            fchownat(dst_dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0 ||
            utimensat(dst_dir, name, times, AT_SYMLINK_NOFOLLOW) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "%s: creating link %s", c->verb, rel);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
        if (c->spec->from_context)
            return 0; /* device nodes in a checkout are not copied */
        if ((rc = clear_dest(dst_dir, name, 0, err)) != 0)
            return rc;
        if (mknodat(dst_dir, name, st.st_mode, st.st_rdev) != 0 ||
            fchownat(dst_dir, name, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
            rc = sw_error_sys(err, SW_EIO, errno, "%s: creating node %s", c->verb, rel);
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (sub >= 0)
        close(sub);
    return rc;
}

/* The entries of a directory (without . and ..), sorted by name. */
int bld_copy_read_dir_sorted(int dir_fd, const char *rel, struct path_list *names, sw_error **err)
{
    int fd = dup(dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        if (fd >= 0)
            close(fd);
        return sw_error_sys(err, SW_EIO, errno, "reading %s", rel[0] ? rel : ".");
    }
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (path_list_add(names, de->d_name) != 0) {
            rc = sw_error_oom(err);
            break;
        }
    }
    closedir(d);
    if (names->n > 1)
        qsort(names->items, names->n, sizeof(char *), cmp_str);
    return rc;
}

static int copy_tree(struct copier *c, int src_dir, int dst_dir, const char *rel, sw_error **err)
{
    struct path_list names = { 0 };
    int rc = bld_copy_read_dir_sorted(src_dir, rel, &names, err);
    for (size_t i = 0; rc == 0 && i < names.n; i++) {
        char child[SW_PATH_MAX];
        if (bld_copy_join_rel(child, rel, names.items[i]) != 0) {
            rc = sw_error_set(err, SW_ETOOBIG, "%s: path too long: %s/%s", c->verb, rel,
                              names.items[i]);
            break;
        }
        rc = copy_entry(c, src_dir, dst_dir, names.items[i], child, err);
    }
    bld_copy_path_list_free(&names);
    return rc;
}

/* 1 when the open file is a tar archive, possibly compressed. */
static int is_tar_archive(int fd)
{
    sw_decompressor *d = NULL;
    char block[512];
    size_t total = 0, got = 0;
    int is_tar = 0;
    if (sw_decompress_open_fd(fd, "ADD source", &d, NULL) != 0)
        goto cleanup;
    while (total < sizeof(block)) {
        if (sw_decompress_read(d, block + total, sizeof(block) - total, &got, NULL) != 0 ||
            got == 0)
            break;
        total += got;
    }
    is_tar = total == sizeof(block) && memcmp(block + 257, "ustar", 5) == 0;
cleanup:
    sw_decompress_close(d);
    /* the caller reads the file again from its start: -1 if it cannot */
    if (lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    return is_tar;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The directory of spec->reuse_root at the destination path, reached
 * without following any symlink, or -1. */
static int open_reuse_dir(const struct copier *c, const char *dest)
{
    if (c->spec->reuse_root == NULL)
        return -1;
    char clean[SW_PATH_MAX];
    clean_rel(dest, clean, sizeof(clean));
    int root = open(c->spec->reuse_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return -1;
    struct open_how how = { .flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS };
    int fd = clean[0] ? (int)syscall(SYS_openat2, root, clean, &how, sizeof(how)) : dup(root);
    close(root);
    return fd;
}

static int copy_one_source(struct copier *c, const char *src, int dest_is_dir, sw_error **err)
{
    const struct bld_copy_spec *spec = c->spec;
    int fd = -1, dst = -1, rc = 0;
    struct stat st;

    if (spec->excluded && src[0] && spec->excluded(spec->excluded_ctx, src, 0) &&
        spec->excluded(spec->excluded_ctx, src, 1)) {
        return sw_error_set(err, SW_ENOTFOUND,
                            "%s failed: file not found in build context "
                            "or excluded by .dockerignore: %s",
                            c->verb, src);
    }
    fd = bld_copy_open_in_root(c->src_root_fd, src, O_RDONLY, 1);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = sw_error_set(err, SW_ENOTFOUND, "%s failed: file not found in %s: %s", c->verb,
                          spec->from_context ? "build context" : "source", src[0] ? src : ".");
        goto cleanup;
    }
    if (!S_ISDIR(st.st_mode) && c->exclude && bld_copy_skipped(c, src, 0))
        goto cleanup; /* COPY --exclude of a file source */
    if (S_ISDIR(st.st_mode)) {
        if ((rc = open_dest_dir(c, c->dest, 1, &dst, err)) != 0)
            goto cleanup;
        c->reuse_fd = open_reuse_dir(c, c->dest);
        rc = copy_tree(c, fd, dst, src, err);
        if (c->reuse_fd >= 0)
            close(c->reuse_fd);
        c->reuse_fd = -1;
        goto cleanup;
    }
    if (!S_ISREG(st.st_mode)) {
        rc =
            sw_error_set(err, SW_EINVAL, "%s: %s is not a regular file or directory", c->verb, src);
        goto cleanup;
    }
    int tar = spec->is_add ? is_tar_archive(fd) : 0;
    if (tar < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "%s: rewinding %s", c->verb, src);
        goto cleanup;
    }
    if (tar) {
        if ((rc = open_dest_dir(c, c->dest, 1, &dst, err)) != 0)
            goto cleanup;
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dst);
        struct bld_unpack_options keep = { .convert_whiteouts = 0 };
        rc = bld_unpack_fd(fd, proc, &keep, err);
        if (rc != 0)
            sw_error_prefix(err, "ADD: extracting %s", src);
        goto cleanup;
    }

    /* a file: into the directory, or as the destination path itself */
    char dest_clean[SW_PATH_MAX];
    clean_rel(c->dest, dest_clean, sizeof(dest_clean));
    int probe = bld_copy_open_in_root(c->dest_root_fd, dest_clean, O_RDONLY | O_DIRECTORY, 1);
    if (probe >= 0) {
        dest_is_dir = 1;
        close(probe);
    }
    if (dest_is_dir || dest_clean[0] == '\0') {
        if ((rc = open_dest_dir(c, dest_clean, 1, &dst, err)) != 0)
            goto cleanup;
        rc = copy_file(c, fd, &st, dst, base_name(src), src, err);
    } else {
        char parent[SW_PATH_MAX];
        const char *slash = strrchr(dest_clean, '/');
        size_t len = slash ? (size_t)(slash - dest_clean) : 0;
        memcpy(parent, dest_clean, len);
        parent[len] = '\0';
        if ((rc = open_dest_dir(c, parent, 0, &dst, err)) != 0)
            goto cleanup;
        rc = copy_file(c, fd, &st, dst, base_name(dest_clean), src, err);
    }
cleanup:
    if (fd >= 0)
        close(fd);
    if (dst >= 0)
        close(dst);
    return rc;
}

/* ---- COPY --parents ----------------------------------------------------- */

/* A source with its "/./" pivot removed ("./a/./b/c" -> "a/b/c"), into
 * buf; *kept_from (when not NULL) receives the length of the cleaned part
 * before the pivot (0: no pivot, all parents are kept). */
const char *bld_copy_pivot_split(const char *source, char buf[SW_PATH_MAX], size_t *kept_from)
{
    const char *pivot = strstr(source, "/./");
    if (kept_from)
        *kept_from = 0;
    if (pivot == NULL)
        return source;
    char before[SW_PATH_MAX];
    snprintf(before, sizeof(before), "%.*s", (int)(pivot - source), source);
    char clean[SW_PATH_MAX];
    clean_rel(before, clean, sizeof(clean));
    if (kept_from)
        *kept_from = strlen(clean);
    snprintf(buf, SW_PATH_MAX, "%s%s%s", clean, clean[0] ? "/" : "", pivot + 3);
    return buf;
}

/* Each match of each source goes to dest + its path from the pivot: a
 * directory's contents into dest/<path>/, a file into dest/<dir of path>/. */
static int copy_parents(struct copier *c, sw_error **err)
{
    const struct bld_copy_spec *spec = c->spec;
    int rc = 0;
    size_t copied = 0;
    for (size_t i = 0; i < spec->n_sources && rc == 0; i++) {
        char buf[SW_PATH_MAX];
        size_t kept_from = 0;
        const char *source = bld_copy_pivot_split(spec->sources[i], buf, &kept_from);
        struct path_list matches = { 0 };
        if ((rc = bld_copy_expand_source(c, source, &matches, err)) != 0) {
            bld_copy_path_list_free(&matches);
            break;
        }
        for (size_t k = 0; k < matches.n && rc == 0; k++) {
            const char *m = matches.items[k];
            const char *keep = m;
            if (kept_from > 0)
                keep = strlen(m) > kept_from ? m + kept_from + 1 : "";
            struct stat st;
            int fd = bld_copy_open_in_root(c->src_root_fd, m, O_RDONLY, 1);
            int is_dir = fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
            if (fd >= 0)
                close(fd);
            char sub[SW_PATH_MAX];
            snprintf(sub, sizeof(sub), "%s", keep);
            if (!is_dir) {
                char *slash = strrchr(sub, '/');
                if (slash)
                    *slash = '\0';
                else
                    sub[0] = '\0';
            }
            char dest[2 * SW_PATH_MAX + 2];
            size_t dl = strlen(spec->dest);
            int n = snprintf(dest, sizeof(dest), "%s%s%s/", spec->dest,
                             dl && spec->dest[dl - 1] == '/' ? "" : "/", sub);
            if (n < 0 || (size_t)n >= sizeof(dest)) {
                rc = sw_error_set(err, SW_ETOOBIG, "%s: path too long: %s", c->verb, m);
                break;
            }
            c->dest = dest;
            c->cur_src = m;
            rc = copy_one_source(c, m, 1, err);
            c->dest = spec->dest;
            copied++;
        }
        bld_copy_path_list_free(&matches);
    }
    if (rc == 0 && copied == 0)
        rc = sw_error_set(err, SW_ENOTFOUND, "%s failed: no source files were specified", c->verb);
    return rc;
}

int bld_copy(const struct bld_copy_spec *spec, sw_error **err)
{
    struct copier c = { .spec = spec,
                        .src_root_fd = -1,
                        .dest_root_fd = -1,
                        .verb = spec->is_add ? "ADD" : "COPY",
                        .dest = spec->dest,
                        .reuse_fd = -1 };
    struct path_list sources = { 0 };
    int rc = 0, any_wildcard = 0;

    if (spec->n_sources == 0)
        return sw_error_set(err, SW_EINVAL, "%s: no source files were specified", c.verb);
    c.src_root_fd = open(spec->src_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    c.dest_root_fd = open(spec->dest_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c.src_root_fd < 0 || c.dest_root_fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "%s: opening %s", c.verb,
                          c.src_root_fd < 0 ? spec->src_root : spec->dest_root);
        goto cleanup;
    }
    if ((rc = bld_copy_load_exclude(&c, err)) != 0)
        goto cleanup;
    if (spec->parents) {
        rc = copy_parents(&c, err);
        goto cleanup;
    }
    for (size_t i = 0; i < spec->n_sources; i++) {
        any_wildcard |= bld_copy_has_wildcard(spec->sources[i]);
        if ((rc = bld_copy_expand_source(&c, spec->sources[i], &sources, err)) != 0)
            goto cleanup;
    }
    if (sources.n == 0) {
        rc = sw_error_set(err, SW_ENOTFOUND,
                          "%s failed: no source files were specified "
                          "(no file matches %s)",
                          c.verb, spec->sources[0]);
        goto cleanup;
    }
    size_t dest_len = strlen(spec->dest);
    int dest_is_dir = dest_len > 0 && spec->dest[dest_len - 1] == '/';
    if ((sources.n > 1 || spec->n_sources > 1) && !dest_is_dir) {
        rc = sw_error_set(err, SW_EINVAL,
                          "When using %s with more than one source file, the "
                          "destination must be a directory and end with a /",
                          c.verb);
        goto cleanup;
    }
    (void)any_wildcard;
    for (size_t i = 0; i < sources.n && rc == 0; i++) {
        c.cur_src = sources.items[i];
        rc = copy_one_source(&c, sources.items[i], dest_is_dir, err);
    }
cleanup:
    bld_ignore_free(c.exclude);
    bld_copy_path_list_free(&sources);
    if (c.src_root_fd >= 0)
        close(c.src_root_fd);
    if (c.dest_root_fd >= 0)
        close(c.dest_root_fd);
    return rc;
}

int bld_copy_make_dest(const struct bld_copy_spec *spec, sw_error **err)
{
    struct copier c = { .spec = spec,
                        .src_root_fd = -1,
                        .verb = spec->is_add ? "ADD" : "COPY",
                        .dest = spec->dest,
                        .reuse_fd = -1 };
    int dst = -1;
    c.dest_root_fd = open(spec->dest_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c.dest_root_fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "%s: opening %s", c.verb, spec->dest_root);
    int rc = open_dest_dir(&c, spec->dest, 1, &dst, err);
    if (dst >= 0)
        close(dst);
    close(c.dest_root_fd);
    return rc;
}
