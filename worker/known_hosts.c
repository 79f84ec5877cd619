/*
 * known_hosts.c - OpenSSH known_hosts lookups (see known_hosts.h).
 */
#include "worker/known_hosts.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/hash.h"

#define MAX_KEY_BLOB 16384

/* `*` and `?` glob, case-insensitive (host names). */
static int glob_match(const char *pat, size_t pat_len, const char *s)
{
    size_t p = 0;
    const char *star_p = NULL, *star_s = NULL;
    while (*s) {
        if (p < pat_len &&
            (pat[p] == '?' || tolower((unsigned char)pat[p]) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (p < pat_len && pat[p] == '*') {
            star_p = pat + ++p;
            star_s = s;
        } else if (star_p) {
            p = (size_t)(star_p - pat);
            s = ++star_s;
        } else {
            return 0;
        }
    }
    while (p < pat_len && pat[p] == '*')
        p++;
    return p == pat_len;
}

/* |1|SALT|HASH: HMAC-SHA1 of name under SALT. */
static int hashed_match(const char *field, size_t len, const char *name)
{
    const char *salt = field + 3;
    const char *bar = memchr(salt, '|', len - 3);
    if (bar == NULL)
        return 0;
    unsigned char salt_bin[64], want[32], got[20];
    size_t salt_len = 0, want_len = 0;
    if (sw_base64_decode(salt, (size_t)(bar - salt), salt_bin, sizeof(salt_bin), &salt_len) != 0 ||
        sw_base64_decode(bar + 1, (size_t)(field + len - bar - 1), want, sizeof(want), &want_len) !=
            0 ||
        want_len != sizeof(got))
        return 0;
    sw_hmac_sha1(salt_bin, salt_len, name, strlen(name), got);
    return memcmp(got, want, sizeof(got)) == 0;
}

/* Whether the host-patterns field names `name` (OpenSSH: a negated
 * pattern that matches rules the line out). */
static int hosts_match(const char *field, size_t len, const char *name)
{
    if (len > 3 && strncmp(field, "|1|", 3) == 0)
        return hashed_match(field, len, name);
    int matched = 0;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && field[end] != ',')
            end++;
        int negated = field[i] == '!';
        size_t start = i + (size_t)negated;
        if (end > start && glob_match(field + start, end - start, name)) {
            if (negated)
                return 0;
            matched = 1;
        }
        i = end + 1;
    }
    return matched;
}

/* The key type string at the start of an SSH key blob, or NULL. */
static const unsigned char *blob_type(const unsigned char *blob, size_t len, size_t *type_len)
{
    if (len < 4)
        return NULL;
    uint32_t n =
        (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
    if (n == 0 || n > len - 4)
        return NULL;
    *type_len = n;
    return blob + 4;
}

/* Splits off the next space-separated field of *p. */
static const char *next_field(const char **p, size_t *len)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    const char *e = s;
    while (*e && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n')
        e++;
    *p = e;
    *len = (size_t)(e - s);
    return *len ? s : NULL;
}

int wrk_known_hosts_check(const char *path, const char *host, int port, const unsigned char *key,
                          size_t key_len, enum wrk_host_key *result, char *where, size_t where_size,
                          sw_error **err)
{
    *result = WRK_HOST_UNKNOWN;
    if (where && where_size)
        where[0] = '\0';
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return sw_error_sys(err, SW_EIO, errno, "reading %s", path);
    }
    char name[512];
    if (port <= 0 || port == 22)
        snprintf(name, sizeof(name), "%s", host);
    else
        snprintf(name, sizeof(name), "[%s]:%d", host, port);
    size_t key_type_len = 0;
    const unsigned char *key_type = blob_type(key, key_len, &key_type_len);

    unsigned char *blob = malloc(MAX_KEY_BLOB);
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0;
    if (blob == NULL) {
        fclose(f);
        return sw_error_oom(err);
    }
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        const char *p = line;
        size_t len;
        const char *field = next_field(&p, &len);
        if (field == NULL || field[0] == '#')
            continue;
        int revoked = 0;
        if (field[0] == '@') {
            if (len == 8 && strncmp(field, "@revoked", 8) == 0)
                revoked = 1;
            else
                continue; /* @cert-authority, or a marker we do not know */
            if ((field = next_field(&p, &len)) == NULL)
                continue;
        }
        if (!hosts_match(field, len, name))
            continue;
        size_t type_len, b64_len, blob_len = 0;
        const char *type = next_field(&p, &type_len);
        const char *b64 = next_field(&p, &b64_len);
        if (type == NULL || b64 == NULL ||
            sw_base64_decode(b64, b64_len, blob, MAX_KEY_BLOB, &blob_len) != 0)
            continue; /* a malformed line names no key */
        int same_key = blob_len == key_len && memcmp(blob, key, key_len) == 0;
        int same_type =
            key_type && type_len == key_type_len && memcmp(type, key_type, type_len) == 0;
        enum wrk_host_key finding = revoked     ? (same_key ? WRK_HOST_REVOKED : WRK_HOST_UNKNOWN)
                                    : same_key  ? WRK_HOST_MATCH
                                    : same_type ? WRK_HOST_MISMATCH
                                                : WRK_HOST_UNKNOWN;
        if (finding > *result) {
            *result = finding;
            if (where && where_size)
                snprintf(where, where_size, "%s:%d", path, lineno);
        }
        if (finding == WRK_HOST_REVOKED)
            break;
    }
    int rc = ferror(f) ? sw_error_sys(err, SW_EIO, errno, "reading %s", path) : 0;
    free(line);
    free(blob);
    fclose(f);
    return rc;
}
