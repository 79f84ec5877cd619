/*
 * log.c - one formatted write(2) per line, so lines from concurrent threads
 * never interleave mid-line.
 */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

/* Longer lines are cut (the cut is still one write, one line). */
#define LOG_LINE_MAX 4096

/* Read once from SLIPWAY_LOG, by whichever thread logs first. */
static int current_level = SW_LOG_INFO;
static pthread_once_t level_once = PTHREAD_ONCE_INIT;

static void level_from_env(void)
{
    const char *v = getenv("SLIPWAY_LOG");
    if (v == NULL)
        return;
    if (strcmp(v, "debug") == 0)
        current_level = SW_LOG_DEBUG;
    else if (strcmp(v, "warn") == 0)
        current_level = SW_LOG_WARN;
    else if (strcmp(v, "error") == 0)
        current_level = SW_LOG_ERROR;
}

void sw_log(enum sw_log_level level, const char *fmt, ...)
{
    static const char *names[] = { "debug", "info ", "warn ", "error" };
    pthread_once(&level_once, level_from_env);
    if ((int)level < current_level)
        return;

    char line[LOG_LINE_MAX];
    char when[SW_RFC3339_MAX];
    size_t n = (size_t)snprintf(line, sizeof(line), "%s %s ",
                                sw_format_rfc3339((int64_t)time(NULL), when), names[level]);

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
