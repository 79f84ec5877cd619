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

struct timespec sw_deadline_in(int ms)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}
