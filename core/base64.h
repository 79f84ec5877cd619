/*
 * base64.h - standard base64 (RFC 4648 section 4), for HTTP Basic
 * credentials and SSH keys in known_hosts files.
 */
#ifndef SW_BASE64_H
#define SW_BASE64_H

#include <stddef.h>

/* Encodes n bytes with padding; malloc'd and NUL-terminated, NULL when out
 * of memory. */
char *sw_base64_encode(const void *data, size_t n);

/* Decodes in_len characters of in (padding optional; nothing may follow
 * it) into out; *out_len gets the byte count. -1 when the input is not
 * base64 or does not fit in out_size bytes. */
int sw_base64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_size,
                     size_t *out_len);

#endif
