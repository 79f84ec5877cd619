/*
 * tagruns.h - which run pushed which tag (the table tag_runs): the
 * worker's data access for its tag bookkeeping, used by the build service
 * (worker/service.c) when it tags an image and by the API (server/api.c)
 * to show an image's run.
 */
#ifndef WRK_TAGRUNS_H
#define WRK_TAGRUNS_H

#include <stdint.h>

#include "core/db.h"
#include "core/error.h"

/* Records (or replaces) that run_id pushed repo:tag as digest at time t.
 * Part of the caller's transaction when one is open. */
int wrk_tag_runs_record(sw_db *db, const char *repo, const char *tag, const char *digest,
                        const char *run_id, int64_t t, sw_error **err);

/* The run that pushed repo:tag as digest or, with tag NULL, the latest run
 * that pushed digest to repo under any tag. malloc'd; NULL when none (or
 * on a database error: the caller shows no run). */
char *wrk_tag_runs_find(sw_db *db, const char *repo, const char *tag, const char *digest);

#endif
