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

size_t sw_log_escape(char *out, size_t out_size, const char *in, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = 0;
    if (out_size == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)in[i];
        char esc[5];
        size_t esc_len = 0;
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            esc[0] = '\\';
            esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
            esc_len = 2;
        } else if (ch < 0x20 || ch == 0x7f) {
            esc[0] = '\\';
            esc[1] = 'x';
            esc[2] = hex[ch >> 4];
            esc[3] = hex[ch & 15];
            esc_len = 4;
        } else {
            esc[0] = (char)ch;
            esc_len = 1;
        }
        if (n + esc_len >= out_size)
            break;
        memcpy(out + n, esc, esc_len);
        n += esc_len;
    }
    out[n] = '\0';
    return n;
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

    char message[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t message_len = (size_t)m < sizeof(message) ? (size_t)m : sizeof(message) - 1;
    n += sw_log_escape(line + n, sizeof(line) - n - 1, message, message_len);
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
