/*
 * platform.c - platforms "os/arch[/variant]" (see platform.h): the host's,
 * parsing and normalising as containerd does, and matching an image or an
 * index entry against a wanted platform.
 */
#include "registry/platform.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/strbuf.h"
#include "registry/errors.h"

/* The architecture this binary was compiled for, when uname fails. */
#if defined(__aarch64__)
#define COMPILED_ARCH "arm64"
#elif defined(__arm__)
#define COMPILED_ARCH "arm"
#elif defined(__i386__)
#define COMPILED_ARCH "386"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define COMPILED_ARCH "ppc64le"
#elif defined(__s390x__)
#define COMPILED_ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define COMPILED_ARCH "riscv64"
#else
#define COMPILED_ARCH "amd64"
#endif

static void copy_lower(char *dst, size_t cap, const char *src, size_t n)
{
    size_t i = 0;
    for (; i < n && i + 1 < cap; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* containerd's Normalize: one spelling per architecture and variant. */
void reg_platform_normalize(struct reg_platform *p)
{
    char *arch = p->architecture, *variant = p->variant;
    if (strcmp(p->os, "macos") == 0)
        snprintf(p->os, sizeof(p->os), "darwin");
    if (strcmp(arch, "i386") == 0 || strcmp(arch, "i686") == 0) {
        snprintf(arch, sizeof(p->architecture), "386");
        variant[0] = '\0';
    } else if (strcmp(arch, "x86_64") == 0 || strcmp(arch, "x86-64") == 0 ||
               strcmp(arch, "amd64") == 0) {
        snprintf(arch, sizeof(p->architecture), "amd64");
        if (strcmp(variant, "v1") == 0 || strcmp(variant, "1") == 0)
            variant[0] = '\0';
    } else if (strcmp(arch, "aarch64") == 0 || strcmp(arch, "arm64") == 0) {
        snprintf(arch, sizeof(p->architecture), "arm64");
        if (strcmp(variant, "8") == 0 || strcmp(variant, "v8") == 0 || strcmp(variant, "v8.0") == 0)
            variant[0] = '\0';
    } else if (strcmp(arch, "armhf") == 0) {
        snprintf(arch, sizeof(p->architecture), "arm");
        snprintf(variant, sizeof(p->variant), "v7");
    } else if (strcmp(arch, "armel") == 0) {
        snprintf(arch, sizeof(p->architecture), "arm");
        snprintf(variant, sizeof(p->variant), "v6");
    } else if (strcmp(arch, "arm") == 0) {
        if (variant[0] == '\0' || strcmp(variant, "7") == 0)
            snprintf(variant, sizeof(p->variant), "v7");
        else if (strcmp(variant, "5") == 0 || strcmp(variant, "6") == 0 ||
                 strcmp(variant, "8") == 0) {
            char digit = variant[0];
            snprintf(variant, sizeof(p->variant), "v%c", digit);
        }
    }
}

/* The host's platform, from the kernel's machine name: computed here and
 * nowhere else (builder, registry and worker ask this function). */
static struct reg_platform host_platform;
static char host_text[100];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_init(void)
{
    struct utsname u;
    struct reg_platform *p = &host_platform;
    snprintf(p->os, sizeof(p->os), "linux");
    if (uname(&u) != 0)
        snprintf(p->architecture, sizeof(p->architecture), "%s", COMPILED_ARCH);
    else if (strncmp(u.machine, "armv", 4) == 0) {
        snprintf(p->architecture, sizeof(p->architecture), "arm");
        snprintf(p->variant, sizeof(p->variant), "v%c", u.machine[4]);
    } else
        copy_lower(p->architecture, sizeof(p->architecture), u.machine, strlen(u.machine));
    reg_platform_normalize(p);
    reg_platform_format(p, host_text);
}

void reg_platform_host(struct reg_platform *out)
{
    pthread_once(&host_once, host_init);
    *out = host_platform;
}

const char *reg_platform_host_text(void)
{
    pthread_once(&host_once, host_init);
    return host_text;
}

static int platform_part_valid(const char *s, size_t n)
{
    if (n == 0 || n >= 32)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return 0;
    }
    return 1;
}

int reg_platform_parse(const char *text, struct reg_platform *out, sw_error **err)
{
    memset(out, 0, sizeof(*out));
    if (text == NULL || *text == '\0') {
        reg_platform_host(out);
        return 0;
    }
    const char *parts[3] = { NULL, NULL, NULL };
    size_t lens[3] = { 0, 0, 0 };
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 3 || !platform_part_valid(p, len))
            return sw_error_set(err, SW_EINVAL,
                                "invalid platform '%s' (expected os/arch[/variant], e.g. "
                                "linux/amd64 or linux/arm/v7)",
                                text);
        parts[n] = p;
        lens[n++] = len;
        if (slash == NULL)
            break;
        p = slash + 1;
    }
    if (n < 2)
        return sw_error_set(err, SW_EINVAL,
                            "invalid platform '%s' (expected os/arch[/variant], e.g. "
                            "linux/amd64 or linux/arm/v7)",
                            text);
    copy_lower(out->os, sizeof(out->os), parts[0], lens[0]);
    copy_lower(out->architecture, sizeof(out->architecture), parts[1], lens[1]);
    if (n == 3)
        copy_lower(out->variant, sizeof(out->variant), parts[2], lens[2]);
    reg_platform_normalize(out);
    return 0;
}

void reg_platform_format(const struct reg_platform *p, char out[100])
{
    snprintf(out, 100, "%s/%s%s%s", p->os, p->architecture, p->variant[0] ? "/" : "", p->variant);
}

/* A variant's level on its architecture's ladder (arm v5 < v6 < v7 < v8;
 * amd64 v1 < v2 < v3 < v4), or -1 where variants do not form a ladder. */
static int variant_level(const char *arch, const char *variant)
{
    if (strcmp(arch, "amd64") == 0 && variant[0] == '\0')
        return 1;
    if ((strcmp(arch, "arm") == 0 || strcmp(arch, "amd64") == 0) && variant[0] == 'v' &&
        variant[1] >= '1' && variant[1] <= '9' && variant[2] == '\0')
        return variant[1] - '0';
    return -1;
}

/* 0 for an exact match, a positive distance for a compatible older
 * variant, -1 when `have` does not run on `want`. */
int reg_platform_rank(const struct reg_platform *want, const struct reg_platform *have)
{
    if (strcmp(want->os, have->os) != 0 || strcmp(want->architecture, have->architecture) != 0)
        return -1;
    if (strcmp(want->variant, have->variant) == 0)
        return 0;
    int want_level = variant_level(want->architecture, want->variant);
    int have_level = variant_level(have->architecture, have->variant);
    if (want_level < 0 || have_level < 0 || have_level > want_level)
        return -1;
    return want_level - have_level;
}

int reg_platform_of_json(json_t *obj, struct reg_platform *out)
{
    const char *os = json_string_value(json_object_get(obj, "os"));
    const char *arch = json_string_value(json_object_get(obj, "architecture"));
    const char *variant = json_string_value(json_object_get(obj, "variant"));
    memset(out, 0, sizeof(*out));
    if (os == NULL || arch == NULL || strcmp(os, "unknown") == 0 || strcmp(arch, "unknown") == 0)
        return -1;
    copy_lower(out->os, sizeof(out->os), os, strlen(os));
    copy_lower(out->architecture, sizeof(out->architecture), arch, strlen(arch));
    if (variant)
        copy_lower(out->variant, sizeof(out->variant), variant, strlen(variant));
    reg_platform_normalize(out);
    return 0;
}

int reg_index_select(json_t *index, const struct reg_platform *want, json_t **desc, sw_error **err)
{
    json_t *manifests = json_object_get(index, "manifests");
    json_t *best = NULL, *item;
    int best_rank = -1;
    size_t i;
    char wanted[100];
    *desc = NULL;
    reg_platform_format(want, wanted);
    if (!json_is_array(manifests))
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "index has no 'manifests' array");
    json_array_foreach(manifests, i, item) {
        struct reg_platform have;
        if (!json_is_object(item) ||
            reg_platform_of_json(json_object_get(item, "platform"), &have) != 0)
            continue;
        int rank = reg_platform_rank(want, &have);
        if (rank >= 0 && (best == NULL || rank < best_rank)) {
            best = item;
            best_rank = rank;
        }
    }
    if (best) {
        *desc = best;
        return 0;
    }
    sw_strbuf offered = SW_STRBUF_INIT;
    json_array_foreach(manifests, i, item) {
        struct reg_platform have;
        char text[100];
        if (!json_is_object(item) ||
            reg_platform_of_json(json_object_get(item, "platform"), &have) != 0)
            continue;
        reg_platform_format(&have, text);
        sw_strbuf_printf(&offered, "%s%s", offered.len ? ", " : "", text);
    }
    sw_error_set(err, SW_ENOTFOUND, "no image for platform %s in the index (it offers: %s)", wanted,
                 offered.len && !offered.failed ? offered.data : "none");
    sw_strbuf_free(&offered);
    return SW_ENOTFOUND;
}

int reg_platform_normalize_text(const char *text, char out[100], sw_error **err)
{
    struct reg_platform p;
    if (text && *text == '\0')
        return sw_error_set(err, SW_EINVAL, "empty platform: expected os/arch[/variant]");
    int rc = reg_platform_parse(text, &p, err);
    if (rc != 0)
        return rc;
    reg_platform_format(&p, out);
    return 0;
}
