/*
 * triggers.h - base-image update triggers (Docker Hub's repository links,
 * ACR's base image trigger).
 *
 * After a successful build the worker records the base images the final
 * stage was built FROM that live in our store ("repo:tag" and the digest
 * the tag had). When such a tag later moves to another digest (a build of
 * another repository, or a push with any client), each repository built on
 * it is queued for a rebuild, once per new digest (the delivery id is
 * derived from it). Runs started by a base-image trigger do not trigger
 * further rebuilds, so cycles cannot loop.
 */
#ifndef WRK_TRIGGERS_H
#define WRK_TRIGGERS_H

#include <jansson.h>
#include "core/db.h"

#include "core/error.h"
#include "worker/repos.h"

/* Records the bases ("repo:tag", a JSON array) of repo's rule, with the
 * digests their tags have now, replacing what the rule had before. */
int wrk_triggers_record(sw_db *db, const char *repo, int rule, const json_t *bases,
                        const char *run_id, sw_error **err);

/* repo:tag now points at digest: queues the rebuilds it triggers; *queued
 * (may be NULL) gets how many runs were created. */
int wrk_triggers_tag_pushed(sw_db *db, const struct wrk_repos *repos, const char *repo,
                            const char *tag, const char *digest, int *queued, sw_error **err);

#endif
