/*
 * clock.c - RFC 3339 formatting (see clock.h).
 */
#include "core/clock.h"

#include <time.h>

char *sw_format_rfc3339(int64_t when, char out[SW_RFC3339_MAX])
{
    time_t t = (time_t)when;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, SW_RFC3339_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
    return out;
}
