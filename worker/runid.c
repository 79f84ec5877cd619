/*
 * runid.c - ACR-style run ids (see runid.h).
 */
#include "worker/runid.h"

#include <string.h>

static const char digits[] = "0123456789abcdefghijklmnopqrstuv";

void wrk_run_id_format(const char *prefix, uint64_t counter, char *out)
{
    char rev[16];
    size_t n = 0;
    do {
        rev[n++] = digits[counter % 32];
        counter /= 32;
    } while (counter > 0 && n < sizeof(rev));
    size_t p = strlen(prefix);
    memcpy(out, prefix, p);
    for (size_t i = 0; i < n; i++)
        out[p + i] = rev[n - 1 - i];
    out[p + n] = '\0';
}

int64_t wrk_run_id_parse(const char *prefix, const char *run_id)
{
    size_t p = strlen(prefix);
    if (strncmp(run_id, prefix, p) != 0 || run_id[p] == '\0' || strlen(run_id + p) > 12)
        return -1;
    int64_t value = 0;
    for (const char *c = run_id + p; *c; c++) {
        const char *d = strchr(digits, *c);
        if (d == NULL || *c == '\0')
            return -1;
        value = value * 32 + (d - digits);
    }
    return value;
}

int64_t wrk_run_id_counter(const char *run_id)
{
    /* prefixes are two lowercase letters (runs.id_prefix); the config may
     * have changed it since the run was named */
    char prefix[3] = { 0 };
    if (strlen(run_id) < 3 || run_id[0] < 'a' || run_id[0] > 'z' || run_id[1] < 'a' ||
        run_id[1] > 'z')
        return -1;
    memcpy(prefix, run_id, 2);
    return wrk_run_id_parse(prefix, run_id);
}
