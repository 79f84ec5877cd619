/*
 * runid.h - short run ids in Azure Container Registry's style: a two-letter
 * prefix and a per-registry counter in lowercase base 32 (0-9, a-v):
 * ca1 ... cav, ca10, ...
 */
#ifndef WRK_RUNID_H
#define WRK_RUNID_H

#include <stddef.h>
#include <stdint.h>

/* Writes prefix + base-32 counter into out (at least strlen(prefix) + 14
 * bytes). */
void wrk_run_id_format(const char *prefix, uint64_t counter, char *out);

/* The counter of a run id with the given prefix; -1 when it is not one. */
int64_t wrk_run_id_parse(const char *prefix, const char *run_id);

/* The counter of a run id with whatever two-letter prefix it has; -1 when
 * it is not a run id. */
int64_t wrk_run_id_counter(const char *run_id);

#endif
