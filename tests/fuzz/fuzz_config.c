/*
 * fuzz_config.c - libFuzzer target for the YAML configuration loader
 * (core/config.c): parse, key checks, typed values, defaults. The input is
 * written to a scratch file that sw_config_load reads, as `slipway serve
 * --config` would.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"

static char path[256];

static void remove_scratch(void)
{
    if (path[0])
        unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (path[0] == '\0') {
        const char *tmp = getenv("TMPDIR");
        snprintf(path, sizeof(path), "%s/fuzz_config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        int fd = mkstemp(path);
        if (fd < 0)
            abort();
        close(fd);
        atexit(remove_scratch);
    }
    FILE *f = fopen(path, "w");
    if (f == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, f) != size)
        abort();
    if (fclose(f) != 0)
        abort();

    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    if (sw_config_load(path, &cfg, &err) == 0) {
        if (cfg == NULL)
            abort();
        sw_config_free(cfg);
    } else if (err == NULL) {
        abort();
    }
    sw_error_clear(&err);
    return 0;
}
