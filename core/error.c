/*
 * error.c - allocation and formatting of sw_error records.
 */
#include "core/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Statically allocated fallback used when malloc itself fails: the caller
 * still learns that something went wrong. Never freed. */
static sw_error oom_error = { SW_ENOMEM, 0, "out of memory" };

__attribute__((format(printf, 4, 0))) static int error_vset(sw_error **err, int code, int errnum,
                                                            const char *fmt, va_list ap)
{
    if (err == NULL || *err != NULL)
        return code;
    sw_error *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        *err = &oom_error;
        return code;
    }
    e->code = code;
    e->sys_errno = errnum;
    int n = vsnprintf(e->message, sizeof(e->message), fmt, ap);
    if (errnum != 0 && n >= 0 && (size_t)n < sizeof(e->message)) {
        char buf[256];
        const char *s = strerror_r(errnum, buf, sizeof(buf));
        snprintf(e->message + n, sizeof(e->message) - (size_t)n, ": %s", s);
    }
    *err = e;
    return code;
}

int sw_error_oom(sw_error **err)
{
    if (err != NULL && *err == NULL)
        *err = &oom_error;
    return SW_ENOMEM;
}

int sw_error_set(sw_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    error_vset(err, code, 0, fmt, ap);
    va_end(ap);
    return code;
}

int sw_error_sys(sw_error **err, int code, int errnum, const char *fmt, ...)
{
    va_list ap;
    if (code == SW_EIO && (errnum == ENOSPC || errnum == EDQUOT))
        code = SW_ENOSPACE;
    va_start(ap, fmt);
    error_vset(err, code, errnum, fmt, ap);
    va_end(ap);
    return code;
}

void sw_error_prefix(sw_error **err, const char *fmt, ...)
{
    if (err == NULL || *err == NULL || *err == &oom_error)
        return;
    sw_error *e = *err;
    char prefix[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    char joined[sizeof(e->message) + 258];
    snprintf(joined, sizeof(joined), "%s: %s", prefix, e->message);
    size_t n = strnlen(joined, sizeof(e->message) - 1);
    memcpy(e->message, joined, n);
    e->message[n] = '\0';
}

const char *sw_error_message(const sw_error *err)
{
    return err ? err->message : "unknown error";
}

int sw_error_code(const sw_error *err)
{
    return err ? err->code : 0;
}

void sw_error_clear(sw_error **err)
{
    if (err == NULL || *err == NULL)
        return;
    if (*err != &oom_error)
        free(*err);
    *err = NULL;
}
