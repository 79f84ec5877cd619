/*
 * base64.c - standard base64 (see base64.h).
 */
#include "core/base64.h"

#include <openssl/evp.h>
#include <stdlib.h>

char *sw_base64_encode(const void *data, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, data, (int)n);
    return out;
}

static int value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int sw_base64_decode(const char *in, size_t in_len, unsigned char *out, size_t out_size,
                     size_t *out_len)
{
    size_t i = 0, n = 0;
    unsigned bits = 0, acc = 0;
    for (; i < in_len && in[i] != '='; i++) {
        int v = value_of(in[i]);
        if (v < 0)
            return -1;
        acc = ((acc << 6) | (unsigned)v) & 0xffffu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= out_size)
                return -1;
            out[n++] = (unsigned char)((acc >> bits) & 0xff);
        }
    }
    size_t pad = 0;
    for (; i < in_len && in[i] == '='; i++)
        pad++;
    if (i != in_len || pad > 2)
        return -1;
    *out_len = n;
    return 0;
}
