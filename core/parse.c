/*
 * parse.c - checked number parsing (see parse.h).
 */
#include "core/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

int sw_parse_int64_prefix(const char *text, int64_t min, int64_t max, int64_t *out,
                          const char **end)
{
    const char *p = text;
    char *stop = NULL;
    if (text == NULL)
        return -1;
    if (*p == '-')
        p++;
    if (!isdigit((unsigned char)*p))
        return -1;
    errno = 0;
    long long v = strtoll(text, &stop, 10);
    if (errno != 0 || v < min || v > max)
        return -1;
    *out = (int64_t)v;
    if (end)
        *end = stop;
    return 0;
}

int sw_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out)
{
    const char *end = NULL;
    int64_t v;
    if (sw_parse_int64_prefix(text, min, max, &v, &end) != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int sw_parse_int(const char *text, int min, int max, int *out)
{
    int64_t v;
    if (sw_parse_int64(text, min, max, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}
