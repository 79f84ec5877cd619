/*
 * fs.c - filesystem helpers.
 */
#include "core/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sw_mkdir_p(const char *path, mode_t mode, sw_error **err)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return sw_error_set(err, SW_EINVAL, "bad directory path '%s'", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0 && errno != EEXIST)
            return sw_error_sys(err, SW_EIO, errno, "creating directory %s", buf);
        buf[i] = saved;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sw_error_set(err, SW_EIO, "%s exists and is not a directory", path);
    return 0;
}

int sw_mkdir_mode(const char *path, mode_t mode, sw_error **err)
{
    int rc = sw_mkdir_p(path, mode, err);
    if (rc == 0 && chmod(path, mode) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "setting the mode of %s", path);
    return rc;
}

int sw_fsync_dir(const char *dir, sw_error **err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "opening directory %s", dir);
    int rc = 0;
    if (fsync(fd) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "fsync of directory %s", dir);
    close(fd);
    return rc;
}

int sw_read_file(const char *path, size_t max_size, char **out, size_t *len, sw_error **err)
{
    int rc = 0;
    char *data = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sw_error_sys(err, errno == ENOENT ? SW_ENOTFOUND : SW_EIO, errno, "opening %s",
                            path);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "stat of %s", path);
        goto cleanup;
    }
    if ((size_t)st.st_size > max_size) {
        rc = sw_error_set(err, SW_ETOOBIG, "%s is larger than %zu bytes", path, max_size);
        goto cleanup;
    }
    size_t cap = (size_t)st.st_size + 1, used = 0;
    data = malloc(cap);
    if (data == NULL) {
        rc = sw_error_set(err, SW_ENOMEM, "reading %s: out of memory", path);
        goto cleanup;
    }
    for (;;) {
        if (used + 1 >= cap) {
            if (cap > max_size + 1) {
                rc = sw_error_set(err, SW_ETOOBIG, "%s is larger than %zu bytes", path, max_size);
                goto cleanup;
            }
            char *bigger = realloc(data, cap * 2);
            if (bigger == NULL) {
                rc = sw_error_set(err, SW_ENOMEM, "reading %s: out of memory", path);
                goto cleanup;
            }
            data = bigger;
            cap *= 2;
        }
        ssize_t n = read(fd, data + used, cap - used - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "reading %s", path);
            goto cleanup;
        }
        if (n == 0)
            break;
        used += (size_t)n;
    }
    if (used > max_size) {
        rc = sw_error_set(err, SW_ETOOBIG, "%s is larger than %zu bytes", path, max_size);
        goto cleanup;
    }
    data[used] = '\0';
    *out = data;
    data = NULL;
    if (len)
        *len = used;
cleanup:
    free(data);
    close(fd);
    return rc;
}

void sw_child_error(int fd, const char *what, int errnum)
{
    char num[16];
    size_t n = sizeof(num);
    unsigned v = errnum < 0 ? 0u : (unsigned)errnum;
    do {
        num[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0 && n > 0);
    ssize_t w;
    SW_EINTR_LOOP(w, write(fd, "slipway: ", 9));
    SW_EINTR_LOOP(w, write(fd, what, strlen(what)));
    SW_EINTR_LOOP(w, write(fd, " (errno ", 8));
    SW_EINTR_LOOP(w, write(fd, num + n, sizeof(num) - n));
    SW_EINTR_LOOP(w, write(fd, ")\n", 2));
    (void)w;
}

int sw_flock(int fd, int operation)
{
    int rc;
    SW_EINTR_LOOP(rc, flock(fd, operation));
    return rc;
}

int sw_write_all(int fd, const void *buf, size_t len, sw_error **err)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return sw_error_sys(err, SW_EIO, errno, "write");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int sw_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         sw_error **err)
{
    int rc = 0;
    char *tmp = NULL;
    char *dir_copy = NULL;
    int fd = -1;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0) {
        tmp = NULL;
        return sw_error_oom(err);
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", tmp);
        goto cleanup;
    }
    if ((rc = sw_write_all(fd, data, len, err)) != 0) {
        sw_error_prefix(err, "writing %s", tmp);
        goto cleanup;
    }
    if (fsync(fd) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "fsync of %s", tmp);
        goto cleanup;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "renaming %s to %s", tmp, path);
        goto cleanup;
    }
    dir_copy = strdup(path);
    SW_CHECK_ALLOC(dir_copy, rc, err, cleanup);
    rc = sw_fsync_dir(dirname(dir_copy), err);
cleanup:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    free(tmp);
    free(dir_copy);
    return rc;
}

static int rm_rf_at(int parent_fd, const char *name, sw_error **err)
{
    if (unlinkat(parent_fd, name, 0) == 0 || errno == ENOENT)
        return 0;
    if (errno != EISDIR && errno != EPERM)
        return sw_error_sys(err, SW_EIO, errno, "removing %s", name);
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "opening %s", name);
    DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return sw_error_sys(err, SW_EIO, errno, "reading %s", name);
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((rc = rm_rf_at(dirfd(d), de->d_name, err)) != 0)
            break;
    }
    closedir(d);
    if (rc == 0 && unlinkat(parent_fd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        rc = sw_error_sys(err, SW_EIO, errno, "removing directory %s", name);
    return rc;
}

int sw_rm_rf(const char *path, sw_error **err)
{
    int rc = rm_rf_at(AT_FDCWD, path, err);
    if (rc != 0)
        sw_error_prefix(err, "removing %s", path);
    return rc;
}

char *sw_path_join(const char *a, const char *b)
{
    char *out = NULL;
    size_t alen = strlen(a);
    while (alen > 1 && a[alen - 1] == '/')
        alen--;
    while (*b == '/')
        b++;
    if (alen == 1 && a[0] == '/')
        alen = 0; /* "/" + "x" is "/x", not "//x" */
    if (asprintf(&out, "%.*s/%s", (int)alen, a, b) < 0)
        return NULL;
    return out;
}

int sw_path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int sw_boot_id(char *buf, size_t cap)
{
    char *id = NULL;
    size_t len = 0;
    int ok = sw_read_file("/proc/sys/kernel/random/boot_id", 64, &id, &len, NULL) == 0 && len >= 32;
    if (ok) {
        id[strcspn(id, "\n")] = '\0';
        ok = snprintf(buf, cap, "%s", id) < (int)cap;
    }
    if (!ok && cap > 0)
        buf[0] = '\0';
    free(id);
    return ok;
}

int sw_path_format(char out[SW_PATH_MAX], sw_error **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, SW_PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= SW_PATH_MAX)
        return sw_error_set(err, SW_ETOOBIG, "path too long: %.64s...", out);
    return 0;
}
