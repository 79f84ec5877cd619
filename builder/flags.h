/*
 * flags.h - the flags each Dockerfile instruction accepts, with their
 * types, as BuildKit's instructions parser declares them (BFlags): a bool
 * flag is "--link", "--link=true" or "--link=false"; a string flag needs a
 * value and may be given once; a repeated flag (--mount, --exclude) may be
 * given any number of times. A flag the instruction does not accept, or one
 * Slipway does not implement, is an error at parse time:
 *
 *   Dockerfile:7: unknown flag: --foo (COPY accepts --from, --chown, ...)
 */
#ifndef BLD_FLAGS_H
#define BLD_FLAGS_H

#include <stddef.h>

#include "core/error.h"

enum bld_flag_type { BLD_FLAG_BOOL, BLD_FLAG_STRING, BLD_FLAG_LIST };

/* Checks the flags of one instruction (lower-case keyword; flags as written,
 * "--name=value" or "--name"). `file` and `line` are for the message. */
int bld_flags_check(const char *keyword, const char *const *flags, size_t n_flags, const char *file,
                    int line, sw_error **err);

/* The type of a flag the instruction accepts: 0 and *type set, or -1 when it
 * is not accepted (or not implemented: then *implemented is 0). */
int bld_flag_lookup(const char *keyword, const char *name, enum bld_flag_type *type,
                    int *implemented);

/* A bool flag's value ("" for the bare flag): 1 for "" and "true", else 0.
 * NULL (absent) is 0. */
int bld_flag_true(const char *value);

#endif
