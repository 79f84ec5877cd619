/*
 * error.h - the one error convention of Slipway.
 *
 * Every function that can fail returns an int: 0 on success, a negative
 * SW_E* code on failure, and takes `sw_error **err` as its last argument.
 * On failure it fills *err (allocating it) with a message that names the
 * thing that failed: a file, a digest, a repository, a line. Callers that
 * pass the error up add context with sw_error_prefix(), so a user reads
 * "pushing layer 3 of demo/app: writing blobs/sha256/ab/...: No space left".
 *
 * `err` may be NULL when the caller does not care about the message. An
 * error already set is never overwritten: the first (innermost) cause wins,
 * outer layers only prefix it.
 *
 * Modules may define their own codes below SW_E_MODULE_BASE (registry/ uses
 * the range -100..-199, builder/ -200..-299, worker/ -300..-399); the HTTP
 * layer maps every code to a status and error body in one place.
 */
#ifndef SW_ERROR_H
#define SW_ERROR_H

#include <stdarg.h>

enum sw_error_code {
    SW_OK = 0,
    SW_EINVAL = -1,       /* bad input from a user or a peer */
    SW_ENOTFOUND = -2,    /* the named thing does not exist */
    SW_EEXIST = -3,       /* it exists already and may not be replaced */
    SW_EIO = -4,          /* a system call failed (errno kept) */
    SW_ENOMEM = -5,       /* allocation failed */
    SW_EDB = -6,          /* SQLite reported an error */
    SW_EPERM = -7,        /* not allowed */
    SW_EUNSUPPORTED = -8, /* understood but not supported */
    SW_ECONFLICT = -9,    /* state changed underneath us; retry may work */
    SW_ETOOBIG = -10,     /* over a size limit */
    SW_ERANGE = -11,      /* offset or range does not fit */
    SW_ECANCELED = -12,   /* stopped on request */
    SW_ETIMEOUT = -13,    /* a deadline passed */
    SW_ENOSPACE = -14,    /* the disk (or storage.reserve) is full */
    SW_E_MODULE_BASE = -100
};

typedef struct sw_error {
    int code;      /* one of the SW_E* (or module) codes, negative */
    int sys_errno; /* errno at the time of failure, or 0 */
    char message[1024];
} sw_error;

/* Sets *err (if err and *err are not NULL-set already) and returns `code`,
 * so a failing path reads `return sw_error_set(err, SW_EINVAL, "...")`. */
int sw_error_set(sw_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like sw_error_set, appending ": strerror(errnum)" and keeping errnum.
 * SW_EIO with ENOSPC or EDQUOT becomes SW_ENOSPACE (returned and set). */
int sw_error_sys(sw_error **err, int code, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The one out-of-memory error: sets *err to a static "out of memory"
 * record (nothing is allocated on this path) and returns SW_ENOMEM. Every
 * allocation failure reports through this or SW_CHECK_ALLOC. */
int sw_error_oom(sw_error **err);

/* When ptr is NULL: rc = SW_ENOMEM with *err set, and goto label. */
#define SW_CHECK_ALLOC(ptr, rc, err, label)                                                        \
    do {                                                                                           \
        if ((ptr) == NULL) {                                                                       \
            (rc) = sw_error_oom(err);                                                              \
            goto label;                                                                            \
        }                                                                                          \
    } while (0)

/* Prepends "context: " to an error's message; a no-op on NULL. */
void sw_error_prefix(sw_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The error's message, or "unknown error" for NULL. */
const char *sw_error_message(const sw_error *err);

/* The error's code, or 0 for NULL. */
int sw_error_code(const sw_error *err);

/* Frees an error and sets the pointer to NULL; accepts NULL. */
void sw_error_clear(sw_error **err);

#endif
