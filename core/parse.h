/*
 * parse.h - checked number parsing for every number that comes from
 * outside (command lines, query strings, config values, headers, file
 * names): the whole string must be a base-10 integer within [min, max].
 * No atoi: "12abc", "", " 7" and out-of-range values are refused instead
 * of turning into 12, 0 or a wrapped value.
 */
#ifndef SW_PARSE_H
#define SW_PARSE_H

#include <stdint.h>

/* 0 with *out set, or -1 (nothing stored) when text is NULL, empty, has
 * anything but an optional '-' and digits, or is outside [min, max]. */
int sw_parse_int64(const char *text, int64_t min, int64_t max, int64_t *out);

/* The same for an int. */
int sw_parse_int(const char *text, int min, int max, int *out);

/* Like sw_parse_int64 for the digits at the start of text: *end is set
 * to the first character after them (e.g. "0003_init.sql" -> 3, "_init.sql"). */
int sw_parse_int64_prefix(const char *text, int64_t min, int64_t max, int64_t *out,
                          const char **end);

#endif
