/*
 * dockerfile_check.h - problems in a Dockerfile a user should fix, found
 * without building it (like BuildKit's lint rules).
 */
#ifndef BLD_DOCKERFILE_CHECK_H
#define BLD_DOCKERFILE_CHECK_H

#include <stddef.h>

#include "builder/dockerfile.h"

struct bld_problem {
    int line;
    char *rule; /* e.g. "UnknownInstruction", "DuplicateStageName" */
    char *message;
};

/* Checks a parsed Dockerfile; *problems is a malloc'd array of *n entries,
 * in line order. Free with bld_problems_free. */
int bld_dockerfile_check(const struct bld_dockerfile *df, struct bld_problem **problems, size_t *n,
                         sw_error **err);

void bld_problems_free(struct bld_problem *problems, size_t n);

#endif
