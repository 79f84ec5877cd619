/*
 * strbuf.h - a growable byte string, always NUL-terminated.
 *
 * Allocation failure is sticky: once an append fails, `failed` is set and
 * later appends are no-ops, so a builder of text checks once at the end.
 */
#ifndef SW_STRBUF_H
#define SW_STRBUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct sw_strbuf {
    char *data; /* NUL-terminated; NULL until the first append */
    size_t len;
    size_t cap;
    int failed;
} sw_strbuf;

#define SW_STRBUF_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void sw_strbuf_append(sw_strbuf *sb, const void *data, size_t len);
void sw_strbuf_puts(sw_strbuf *sb, const char *s);
void sw_strbuf_putc(sw_strbuf *sb, char c);
void sw_strbuf_printf(sw_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sw_strbuf_reset(sw_strbuf *sb);
/* Returns the string (never NULL unless allocation failed; "" if empty),
 * transferring ownership to the caller and resetting sb. */
char *sw_strbuf_detach(sw_strbuf *sb);
void sw_strbuf_free(sw_strbuf *sb);

/* Frees a NULL-terminated vector of malloc'd strings and the vector
 * itself; accepts NULL. */
void sw_strv_free(char **v);

/* Frees the first n entries of a vector (NULL entries allowed: one that
 * failed to be filled) and the vector itself; accepts NULL. */
void sw_strv_free_n(char **v, size_t n);

#endif
