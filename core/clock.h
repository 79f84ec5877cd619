/*
 * clock.h - wall-clock time as Slipway writes it everywhere: RFC 3339 in
 * UTC with second precision ("2026-12-06T02:10:24Z"), as in image configs,
 * API answers and log lines.
 */
#ifndef SW_CLOCK_H
#define SW_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Room for any RFC 3339 time this module writes, with its NUL. */
#define SW_RFC3339_MAX 32

/* Formats seconds since the epoch; returns out. */
char *sw_format_rfc3339(int64_t when, char out[SW_RFC3339_MAX]);

/* The CLOCK_REALTIME time ms milliseconds from now: the deadline of a
 * pthread_cond_timedwait. */
struct timespec sw_deadline_in(int ms);

#endif
