/*
 * log.c - one formatted write(2) per line, so lines from concurrent threads
 * never interleave mid-line.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int current_level = -1;

static int level_from_env(void)
{
    const char *v = getenv("SLIPWAY_LOG");
    if (v == NULL)
        return SW_LOG_INFO;
    if (strcmp(v, "debug") == 0)
        return SW_LOG_DEBUG;
    if (strcmp(v, "warn") == 0)
        return SW_LOG_WARN;
    if (strcmp(v, "error") == 0)
        return SW_LOG_ERROR;
    return SW_LOG_INFO;
}

void sw_log_set_level(enum sw_log_level level)
{
    current_level = (int)level;
}

void sw_log(enum sw_log_level level, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info ", "warn ", "error" };
    if (current_level < 0)
        current_level = level_from_env();
    if ((int)level < current_level)
        return;

    char line[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s ", names[level]);

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
