/*
 * flags.c - the per-instruction flag table (see flags.h).
 */
#include "builder/flags.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/strbuf.h"

struct flag_def {
    const char *keyword;
    const char *name;
    enum bld_flag_type type;
    int implemented; /* 0: BuildKit has it, Slipway does not (an error) */
};

/* BuildKit's instructions/parse.go, in its order per instruction. */
static const struct flag_def table[] = {
    { "from", "platform", BLD_FLAG_STRING, 1 },
    { "run", "mount", BLD_FLAG_LIST, 1 },
    { "run", "network", BLD_FLAG_STRING, 1 },
    { "run", "security", BLD_FLAG_STRING, 1 },
    { "run", "device", BLD_FLAG_LIST, 0 },
    { "copy", "from", BLD_FLAG_STRING, 1 },
    { "copy", "chown", BLD_FLAG_STRING, 1 },
    { "copy", "chmod", BLD_FLAG_STRING, 1 },
    { "copy", "link", BLD_FLAG_BOOL, 1 },
    { "copy", "parents", BLD_FLAG_BOOL, 1 },
    { "copy", "exclude", BLD_FLAG_LIST, 1 },
    { "add", "chown", BLD_FLAG_STRING, 1 },
    { "add", "chmod", BLD_FLAG_STRING, 1 },
    { "add", "link", BLD_FLAG_BOOL, 1 },
    { "add", "keep-git-dir", BLD_FLAG_BOOL, 1 },
    { "add", "checksum", BLD_FLAG_STRING, 1 },
    { "add", "exclude", BLD_FLAG_LIST, 1 },
    { "add", "unpack", BLD_FLAG_BOOL, 0 },
    { "healthcheck", "interval", BLD_FLAG_STRING, 1 },
    { "healthcheck", "timeout", BLD_FLAG_STRING, 1 },
    { "healthcheck", "start-period", BLD_FLAG_STRING, 1 },
    { "healthcheck", "start-interval", BLD_FLAG_STRING, 1 },
    { "healthcheck", "retries", BLD_FLAG_STRING, 1 },
};

#define N_TABLE (sizeof(table) / sizeof(table[0]))

int bld_flag_lookup(const char *keyword, const char *name, enum bld_flag_type *type,
                    int *implemented)
{
    for (size_t i = 0; i < N_TABLE; i++)
        if (strcasecmp(table[i].keyword, keyword) == 0 && strcmp(table[i].name, name) == 0) {
            if (implemented)
                *implemented = table[i].implemented;
            if (!table[i].implemented)
                return -1;
            if (type)
                *type = table[i].type;
            return 0;
        }
    if (implemented)
        *implemented = 1;
    return -1;
}

int bld_flag_true(const char *value)
{
    return value != NULL && (value[0] == '\0' || strcasecmp(value, "true") == 0);
}

/* " (COPY accepts --from, --chown, ...)" or " (RUN accepts no flags)". */
static void accepted(sw_strbuf *sb, const char *keyword)
{
    char upper[32];
    size_t i = 0;
    for (; keyword[i] && i + 1 < sizeof(upper); i++)
        upper[i] = (char)toupper((unsigned char)keyword[i]);
    upper[i] = '\0';
    int n = 0;
    for (size_t k = 0; k < N_TABLE; k++) {
        if (strcasecmp(table[k].keyword, keyword) != 0 || !table[k].implemented)
            continue;
        if (n++ == 0)
            sw_strbuf_printf(sb, " (%s accepts:", upper);
        sw_strbuf_printf(sb, "%s --%s", n > 1 ? "," : "", table[k].name);
    }
    if (n == 0)
        sw_strbuf_printf(sb, " (%s accepts no flags)", upper);
    else
        sw_strbuf_puts(sb, ")");
}

int bld_flags_check(const char *keyword, const char *const *flags, size_t n_flags, const char *file,
                    int line, sw_error **err)
{
    for (size_t i = 0; i < n_flags; i++) {
        const char *f = flags[i];
        if (strncmp(f, "--", 2) != 0)
            return sw_error_set(err, SW_EINVAL, "%s:%d: invalid flag: %s", file, line, f);
        f += 2;
        const char *eq = strchr(f, '=');
        size_t name_len = eq ? (size_t)(eq - f) : strlen(f);
        char name[64];
        if (name_len == 0 || name_len >= sizeof(name))
            return sw_error_set(err, SW_EINVAL, "%s:%d: unknown flag: %.80s", file, line, flags[i]);
        memcpy(name, f, name_len);
        name[name_len] = '\0';
        enum bld_flag_type type;
        int implemented = 1;
        if (bld_flag_lookup(keyword, name, &type, &implemented) != 0) {
            sw_strbuf sb = SW_STRBUF_INIT;
            accepted(&sb, keyword);
            int rc;
            if (!implemented)
                rc = sw_error_set(err, SW_EUNSUPPORTED,
                                  "%s:%d: flag --%s is not supported by Slipway%s", file, line,
                                  name, sb.data ? sb.data : "");
            else
                rc = sw_error_set(err, SW_EINVAL, "%s:%d: unknown flag: --%s%s", file, line, name,
                                  sb.data ? sb.data : "");
            sw_strbuf_free(&sb);
            return rc;
        }
        const char *value = eq ? eq + 1 : NULL;
        switch (type) {
        case BLD_FLAG_BOOL:
            if (value && strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
                return sw_error_set(err, SW_EINVAL,
                                    "%s:%d: expecting boolean value for flag --%s, not: %.80s",
                                    file, line, name, value);
            break;
        case BLD_FLAG_STRING:
        case BLD_FLAG_LIST:
            if (value == NULL || (type == BLD_FLAG_LIST && value[0] == '\0'))
                return sw_error_set(err, SW_EINVAL, "%s:%d: missing a value on flag: --%s", file,
                                    line, name);
            break;
        }
        if (type == BLD_FLAG_LIST)
            continue;
        for (size_t j = 0; j < i; j++) {
            const char *g = flags[j] + 2;
            if (strncmp(g, name, name_len) == 0 && (g[name_len] == '=' || g[name_len] == '\0'))
                return sw_error_set(err, SW_EINVAL, "%s:%d: duplicate flag specified: --%s", file,
                                    line, name);
        }
    }
    return 0;
}
