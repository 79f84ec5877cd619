/*
 * log.h - leveled logging to standard error, safe from any thread.
 *
 * Lines look like `2026-11-24T19:20:01Z info  server: listening on ...`.
 * Secrets (webhook secrets, passwords, tokens) must never be passed here.
 * A message is one line whatever it holds: control characters in it (a
 * newline in a branch name or a request path) are written escaped, as \n,
 * \r, \t or \xHH, so nothing a client sends can start a line of its own.
 */
#include <stddef.h>

#ifndef SW_LOG_H
#define SW_LOG_H

enum sw_log_level { SW_LOG_DEBUG = 0, SW_LOG_INFO, SW_LOG_WARN, SW_LOG_ERROR };

/* Writes one line to stderr. Messages below the level named by SLIPWAY_LOG
 * (debug|info|warn|error; default info) are dropped. */
void sw_log(enum sw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* An info line (the server's access log) kept in a 64 KiB buffer and
 * written with others in one write(2): when the buffer is full, by
 * sw_log_flush (the server calls it every 50 ms and when it stops), before
 * any sw_log line (so lines stay in order) and at exit. A crash loses at
 * most the last 50 ms of these lines. */
void sw_log_batched(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sw_log_flush(void);

/* Copies in[0..len) to out (NUL-terminated, at most out_size - 1 bytes,
 * cut at a character boundary of the escapes) with control characters and
 * DEL escaped as above; returns the bytes written. */
size_t sw_log_escape(char *out, size_t out_size, const char *in, size_t len);

#define sw_debug(...) sw_log(SW_LOG_DEBUG, __VA_ARGS__)
#define sw_info(...) sw_log(SW_LOG_INFO, __VA_ARGS__)
#define sw_warn(...) sw_log(SW_LOG_WARN, __VA_ARGS__)
#define sw_err(...) sw_log(SW_LOG_ERROR, __VA_ARGS__)

#endif
