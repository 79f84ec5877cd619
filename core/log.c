/*
 * log.c - one formatted write(2) per line, so lines from concurrent threads
 * never interleave mid-line; batched lines (the access log) are collected
 * whole in one buffer and written together.
 */
#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
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

/* Formats one line (time, level, escaped message, newline) into line;
 * its length, or 0 when there is nothing to write. */
static size_t format_line(enum sw_log_level level, const char *fmt, va_list ap,
                          char line[LOG_LINE_MAX])
{
    static const char *names[] = { "debug", "info ", "warn ", "error" };
    /* one formatting of the time per second and thread */
    static _Thread_local int64_t when_s = -1;
    static _Thread_local char when[SW_RFC3339_MAX];
    int64_t now = (int64_t)time(NULL);
    if (now != when_s) {
        sw_format_rfc3339(now, when);
        when_s = now;
    }
    size_t n = (size_t)snprintf(line, LOG_LINE_MAX, "%s %s ", when, names[level]);

    char message[LOG_LINE_MAX];
    int m = vsnprintf(message, sizeof(message), fmt, ap);
    if (m < 0)
        return 0;
    size_t message_len = (size_t)m < sizeof(message) ? (size_t)m : sizeof(message) - 1;
    n += sw_log_escape(line + n, LOG_LINE_MAX - n - 1, message, message_len);
    line[n++] = '\n';
    return n;
}

static void write_all(const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(STDERR_FILENO, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report it */
        data += w;
        len -= (size_t)w;
    }
}

/* ---- batched lines --------------------------------------------------------- */

#define BATCH_MAX (64 * 1024)

static pthread_mutex_t batch_lock = PTHREAD_MUTEX_INITIALIZER;
static char batch[BATCH_MAX];
static size_t batch_len;         /* under batch_lock */
static atomic_int batch_pending; /* batch_len > 0, read without the lock */
static pthread_once_t batch_once = PTHREAD_ONCE_INIT;

static void flush_locked(void)
{
    write_all(batch, batch_len);
    batch_len = 0;
    atomic_store(&batch_pending, 0);
}

void sw_log_flush(void)
{
    if (!atomic_load(&batch_pending))
        return;
    pthread_mutex_lock(&batch_lock);
    flush_locked();
    pthread_mutex_unlock(&batch_lock);
}

static void batch_setup(void)
{
    atexit(sw_log_flush);
}

/* The line of a message at level (format_line), or 0 when the level
 * is below SLIPWAY_LOG's. */
static size_t line_at(enum sw_log_level level, const char *fmt, va_list ap, char line[LOG_LINE_MAX])
{
    pthread_once(&level_once, level_from_env);
    if ((int)level < current_level)
        return 0;
    return format_line(level, fmt, ap, line);
}

void sw_log_batched(const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t n = line_at(SW_LOG_INFO, fmt, ap, line);
    va_end(ap);
    if (n == 0)
        return;
    pthread_once(&batch_once, batch_setup);
    pthread_mutex_lock(&batch_lock);
    if (batch_len + n > sizeof batch)
        flush_locked();
    memcpy(batch + batch_len, line, n);
    batch_len += n;
    atomic_store(&batch_pending, 1);
    pthread_mutex_unlock(&batch_lock);
}

void sw_log(enum sw_log_level level, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    size_t n = line_at(level, fmt, ap, line);
    va_end(ap);
    if (n == 0)
        return;
    sw_log_flush(); /* batched lines that came first are written first */
    ssize_t w = write(STDERR_FILENO, line, n);
    (void)w;
}
