/*
 * copy_match.c - Go's path.Match, which COPY and ADD sources are matched
 * with (see copy.h).
 */
#include "builder/copy_internal.h"

#include <string.h>

/* ---- Go's path.Match ------------------------------------------------- */

/* Matches one character class at *pp against c; advances *pp past ']'.
 * Returns 1/0, or -1 for a malformed class. */
static int match_class(const char **pp, char c)
{
    const char *p = *pp;
    int negate = 0, matched = 0, first = 1;
    if (*p == '^') {
        negate = 1;
        p++;
    }
    for (;;) {
        if (*p == '\0')
            return -1;
        if (*p == ']' && !first)
            break;
        first = 0;
        char lo = *p, hi;
        if (lo == '\\') {
            p++;
            if (*p == '\0')
                return -1;
            lo = *p;
        }
        p++;
        hi = lo;
        if (*p == '-' && p[1] != ']') {
            p++;
            hi = *p;
            if (hi == '\\') {
                p++;
                hi = *p;
            }
            if (hi == '\0')
                return -1;
            p++;
        }
        if (lo <= c && c <= hi)
            matched = 1;
    }
    *pp = p + 1;
    return matched != negate;
}

int bld_path_match(const char *pattern, const char *name)
{
    const char *p = pattern, *n = name;
    const char *star_p = NULL, *star_n = NULL;
    while (*n) {
        if (*p == '*') {
            while (*p == '*')
                p++;
            star_p = p;
            star_n = n;
            continue;
        }
        if (*p == '?' && *n != '/') {
            p++;
            n++;
            continue;
        }
        if (*p == '[' && *n != '/') {
            const char *q = p + 1;
            int m = match_class(&q, *n);
            if (m < 0)
                return -1;
            if (m) {
                p = q;
                n++;
                continue;
            }
        } else if (*p == '\\' && p[1] && p[1] == *n) {
            p += 2;
            n++;
            continue;
        } else if (*p != '\0' && *p != '[' && *p != '?' && *p != '\\' && *p == *n) {
            p++;
            n++;
            continue;
        }
        /* mismatch: let the last star swallow one more char, never a '/' */
        if (star_p && *star_n != '/') {
            star_n++;
            n = star_n;
            p = star_p;
            continue;
        }
        return 0;
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

int bld_copy_has_wildcard(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}
