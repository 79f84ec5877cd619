/*
 * fuzz_mounts.c - libFuzzer target for RUN --mount specs and instruction
 * flags (builder/mounts.c, builder/flags.c): parse a spec (with and without
 * a working directory); when it parses, the target is absolute and clean
 * and the cache key text is made; check the input as a list of flags for a
 * few instructions; mask the input with a part of itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "builder/flags.h"
#include "builder/mounts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    const char *cwds[] = { NULL, "/src/app" };
    for (size_t c = 0; c < 2; c++) {
        struct bld_mount m;
        if (bld_mount_parse(text, cwds[c], &m, NULL) != 0)
            continue;
        if (m.target && (m.target[0] != '/' || strstr(m.target, "/../") || strstr(m.target, "//")))
            abort();
        free(bld_mount_key(&m));
        bld_mount_free(&m);
    }
    /* the input as flags, split on newlines */
    const char *flags[16];
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(text, "\n", &save); tok && n < 16;
         tok = strtok_r(NULL, "\n", &save))
        flags[n++] = tok;
    static const char *const keywords[] = { "run", "copy", "add", "from", "healthcheck", "env" };
    for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++)
        (void)bld_flags_check(keywords[k], flags, n, "Dockerfile", 1, NULL);
    if (n > 0) {
        const char *values[] = { flags[0] };
        free(bld_mask_text((const char *)data, size, values, 1));
    }
    free(text);
    return 0;
}
