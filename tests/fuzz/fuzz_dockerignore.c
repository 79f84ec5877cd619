/*
 * fuzz_dockerignore.c - libFuzzer target for .dockerignore files: the
 * pattern compiler and the matcher.
 *
 * Input layout: the ignore-file text up to the first NUL byte; after it,
 * '\n'-separated context paths to match (a fixed set is always matched
 * too). Patterns come from the repository being built, so any text must
 * compile or give an error, and matching must stay bounded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/dockerignore.h"

static const char *const fixed_paths[] = {
    "Dockerfile", ".git",        ".git/config",         "a",
    "a/b",        "a/b/c.txt",   "node_modules/x/y.js", "src/main.c",
    "docs/a.md",  "build/out.o", ".dockerignore",       "x/y/z/w/v/u.log",
};

static void match(const bld_ignore *ig, const char *path)
{
    int m = bld_ignore_matches(ig, path);
    int d = bld_ignore_dir_needed(ig, path);
    if ((m != 0 && m != 1) || (d != 0 && d != 1))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    size_t text_len = strlen(text);
    char *paths = text_len < size ? text + text_len + 1 : NULL;

    bld_ignore *ig = NULL;
    sw_error *err = NULL;
    if (bld_ignore_parse(text, &ig, &err) == 0) {
        for (size_t i = 0; i < sizeof(fixed_paths) / sizeof(fixed_paths[0]); i++)
            match(ig, fixed_paths[i]);
        int count = 0;
        for (char *p = paths; p != NULL && count < 64; count++) {
            char *nl = strchr(p, '\n');
            if (nl != NULL)
                *nl = '\0';
            match(ig, p);
            p = nl ? nl + 1 : NULL;
        }
        bld_ignore_free(ig);
    } else if (err == NULL) {
        abort();
    }
    sw_error_clear(&err);
    free(text);
    return 0;
}
