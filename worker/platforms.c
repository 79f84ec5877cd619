/*
 * platforms.c - the platforms a worker can run: native + binfmt_misc
 * entries of QEMU user emulation (see platforms.h).
 */
#include "worker/platforms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/strbuf.h"
#include "registry/index.h"
#include "registry/platform.h"

#define BINFMT_DIR "/proc/sys/fs/binfmt_misc"

/* binfmt_misc entry names of Debian's qemu-user-static and the platforms
 * each runs. */
static const struct {
    const char *entry;
    const char *platforms[3];
} qemu_entries[] = {
    { "qemu-aarch64", { "linux/arm64", NULL } },
    { "qemu-arm", { "linux/arm/v7", "linux/arm/v6", NULL } },
    { "qemu-x86_64", { "linux/amd64", NULL } },
    { "qemu-i386", { "linux/386", NULL } },
    { "qemu-ppc64le", { "linux/ppc64le", NULL } },
    { "qemu-s390x", { "linux/s390x", NULL } },
    { "qemu-riscv64", { "linux/riscv64", NULL } },
    { "qemu-mips64el", { "linux/mips64le", NULL } },
};

#define N_QEMU (sizeof(qemu_entries) / sizeof(qemu_entries[0]))

enum entry_state { ENTRY_ABSENT, ENTRY_DISABLED, ENTRY_NO_F, ENTRY_NO_INTERPRETER, ENTRY_OK };

/* Reads <dir>/<name>: "enabled", "interpreter PATH", "flags: PF". */
static enum entry_state entry_state(const char *dir, const char *name)
{
    char path[512], line[512], interpreter[400] = "";
    int enabled = 0, has_f = 0;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return ENTRY_ABSENT;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strcmp(line, "enabled") == 0)
            enabled = 1;
        else if (strncmp(line, "interpreter ", 12) == 0)
            snprintf(interpreter, sizeof(interpreter), "%.399s", line + 12);
        else if (strncmp(line, "flags:", 6) == 0)
            has_f = strchr(line + 6, 'F') != NULL;
    }
    fclose(f);
    struct stat st;
    if (!enabled)
        return ENTRY_DISABLED;
    if (!has_f)
        return ENTRY_NO_F;
    if (interpreter[0] == '\0' || stat(interpreter, &st) != 0 || !S_ISREG(st.st_mode))
        return ENTRY_NO_INTERPRETER;
    return ENTRY_OK;
}

static int strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

int wrk_platforms_runnable(const char *binfmt_dir, char ***out, sw_error **err)
{
    size_t cap = 2 + N_QEMU * 2, n = 0;
    char **v = calloc(cap, sizeof(char *));
    char host[100];
    int rc = 0;
    *out = NULL;
    SW_CHECK_ALLOC(v, rc, err, cleanup);
    if ((rc = reg_platform_normalize_text(NULL, host, err)) != 0)
        goto cleanup;
    v[n] = strdup(host);
    SW_CHECK_ALLOC(v[n], rc, err, cleanup);
    n++;
    const char *dir = binfmt_dir ? binfmt_dir : BINFMT_DIR;
    for (size_t i = 0; i < N_QEMU; i++) {
        if (entry_state(dir, qemu_entries[i].entry) != ENTRY_OK)
            continue;
        for (size_t j = 0; qemu_entries[i].platforms[j]; j++) {
            if (strv_has(v, n, qemu_entries[i].platforms[j]))
                continue;
            v[n] = strdup(qemu_entries[i].platforms[j]);
            SW_CHECK_ALLOC(v[n], rc, err, cleanup);
            n++;
        }
    }
    *out = v;
    v = NULL;
cleanup:
    sw_strv_free(v);
    return rc;
}

int wrk_platform_check(const char *platform, char *const *runnable, sw_error **err)
{
    size_t n = 0;
    while (runnable && runnable[n])
        n++;
    if (strv_has(runnable, n, platform))
        return 0;
    const char *entry = NULL;
    for (size_t i = 0; i < N_QEMU && entry == NULL; i++)
        for (size_t j = 0; qemu_entries[i].platforms[j]; j++)
            if (strcmp(qemu_entries[i].platforms[j], platform) == 0)
                entry = qemu_entries[i].entry;
    if (entry == NULL)
        return sw_error_set(err, SW_EUNSUPPORTED,
                            "%s: this worker cannot run it (no QEMU user emulation known for it;"
                            " it runs: %s%s)",
                            platform, runnable && runnable[0] ? runnable[0] : "none",
                            n > 1 ? " and others" : "");
    struct stat st;
    const char *why = "no binfmt_misc handler";
    if (stat(BINFMT_DIR "/register", &st) != 0)
        why = "no binfmt_misc handler (binfmt_misc is not mounted: mount -t binfmt_misc"
              " binfmt_misc " BINFMT_DIR ")";
    else if (entry_state(BINFMT_DIR, entry) == ENTRY_NO_F)
        why = "its binfmt_misc handler lacks the F flag (it cannot work inside containers)";
    else if (entry_state(BINFMT_DIR, entry) == ENTRY_NO_INTERPRETER)
        why = "the interpreter of its binfmt_misc handler is missing";
    return sw_error_set(err, SW_EUNSUPPORTED,
                        "%s: %s; install qemu-user-static and run update-binfmts --enable %s",
                        platform, why, entry);
}

void wrk_platforms_join(char *const *platforms, char *out, size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; platforms && platforms[i] && used < size; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? ", " : "", platforms[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
