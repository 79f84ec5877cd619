/*
 * fs.h - filesystem helpers with crash-safe semantics.
 *
 * "Atomic" here means: written to a temporary name in the same directory,
 * fsynced, renamed over the target, and the directory fsynced, so after a
 * crash the target holds either the old or the new content, never a mix.
 */
#ifndef SW_FS_H
#define SW_FS_H

#include <errno.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

/* mkdir -p with the given mode for created directories. */
int sw_mkdir_p(const char *path, mode_t mode, sw_error **err);

/* sw_mkdir_p, then the last directory's mode set to exactly `mode` with
 * chmod (whatever the umask, and also when it existed already): for
 * directories that must stay private. */
int sw_mkdir_mode(const char *path, mode_t mode, sw_error **err);

/* fsync(2) on a directory, making renames and unlinks inside it durable. */
int sw_fsync_dir(const char *dir, sw_error **err);

/* Reads a whole (small) file. *out is NUL-terminated, owned by the caller.
 * Files larger than max_size fail with SW_ETOOBIG. */
int sw_read_file(const char *path, size_t max_size, char **out, size_t *len, sw_error **err);

/* Writes data to path atomically (see above). */
int sw_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
                         sw_error **err);

/* Size of a buffer that holds any path the store builds (Linux PATH_MAX);
 * every snprintf into one is checked for truncation. */
#define SW_PATH_MAX 4096

/* snprintf into a path buffer of SW_PATH_MAX bytes: SW_ETOOBIG naming the
 * start of the path when it does not fit, never a silently cut path. */
int sw_path_format(char out[SW_PATH_MAX], sw_error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Runs `expr` (a system call returning -1 and errno on failure) into `rc`
 * again for as long as it fails with EINTR. */
#define SW_EINTR_LOOP(rc, expr)                                                                    \
    do {                                                                                           \
        (rc) = (expr);                                                                             \
    } while ((rc) == -1 && errno == EINTR)

/* For a child between fork and exec (async-signal-safe: write(2) only,
 * no stdio, no strerror, no allocation): writes "slipway: WHAT (errno N)\n"
 * to fd. */
void sw_child_error(int fd, const char *what, int errnum);

/* flock(2), retried on EINTR: 0, or -1 with errno. */
int sw_flock(int fd, int operation);

/* Writes all of buf to fd, retrying on EINTR and short writes. */
int sw_write_all(int fd, const void *buf, size_t len, sw_error **err);

/* rm -rf; a missing path is not an error. Does not follow symlinks. */
int sw_rm_rf(const char *path, sw_error **err);

/* Returns a malloc'd "a/b" (one slash between); NULL on allocation failure. */
char *sw_path_join(const char *a, const char *b);

/* Returns 1 if path exists (lstat), 0 otherwise. */
int sw_path_exists(const char *path);

/* This boot's id (/proc/sys/kernel/random/boot_id, a UUID) into buf;
 * returns 1, or 0 when the kernel has none (buf is then ""). What the page
 * cache held is gone when it changed. */
int sw_boot_id(char *buf, size_t cap);

#endif
