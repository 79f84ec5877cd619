/*
 * fuzz_dockerfile.c - libFuzzer target for the Dockerfile parser, its dump
 * and the lint rules: any input must give a tree or an error, never a
 * crash, a hang or a sanitizer report.
 */
#include <stdint.h>
#include <stdlib.h>

#include "builder/dockerfile.h"
#include "builder/dockerfile_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bld_dockerfile *df = NULL;
    sw_error *err = NULL;
    if (bld_dockerfile_parse((const char *)data, size, "fuzz", &df, &err) != 0) {
        sw_error_clear(&err);
        return 0;
    }
    char *dump = bld_dockerfile_dump(df);
    free(dump);
    struct bld_problem *problems = NULL;
    size_t n = 0;
    if (bld_dockerfile_check(df, &problems, &n, &err) == 0)
        bld_problems_free(problems, n);
    sw_error_clear(&err);
    bld_dockerfile_free(df);
    return 0;
}
