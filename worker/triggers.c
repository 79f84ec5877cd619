/*
 * triggers.c - base-image update triggers (see triggers.h).
 */
#include "worker/triggers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/log.h"
#include "registry/manifest.h"
#include "worker/jobs.h"

/* Splits "repo:tag" (the tag after the last ':' that follows the last '/'). */
static int split_ref(const char *ref, char **repo, const char **tag)
{
    const char *slash = strrchr(ref, '/');
    const char *colon = strrchr(ref, ':');
    if (colon == NULL || (slash && colon < slash))
        return -1;
    *repo = strndup(ref, (size_t)(colon - ref));
    *tag = colon + 1;
    return *repo ? 0 : -1;
}

int wrk_triggers_record(sw_db *db, const char *repo, int rule, const json_t *bases,
                        const char *run_id, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_begin(db, err);
    if (rc != 0)
        return rc;
    if ((rc = sw_db_prepare(db, "DELETE FROM run_bases WHERE repo = ? AND rule = ?", &stmt, err)) !=
        0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 2, rule);
    rc = sw_db_step_done(db, stmt, "forgetting old base images", err);
    stmt = NULL;
    if (rc != 0)
        goto cleanup;
    size_t i;
    json_t *item;
    json_array_foreach(bases, i, item) {
        const char *base = json_string_value(item);
        char *base_repo = NULL;
        const char *tag = NULL;
        char digest[SW_DIGEST_MAX];
        if (base == NULL || split_ref(base, &base_repo, &tag) != 0)
            continue;
        int found = reg_tag_lookup(db, base_repo, tag, digest, NULL) == 0;
        free(base_repo);
        if (!found)
            continue;
        if ((rc = sw_db_prepare(db,
                                "INSERT INTO run_bases (repo, rule, base, digest, run_id)"
                                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo, rule, base)"
                                " DO UPDATE SET digest = excluded.digest,"
                                " run_id = excluded.run_id",
                                &stmt, err)) != 0)
            goto cleanup;
        sw_stmt_bind_text(stmt, 1, repo, -1, SW_DB_STATIC);
        sw_stmt_bind_int(stmt, 2, rule);
        sw_stmt_bind_text(stmt, 3, base, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 4, digest, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 5, run_id, -1, SW_DB_STATIC);
        rc = sw_db_step_done(db, stmt, "recording base images", err);
        stmt = NULL;
        if (rc != 0)
            goto cleanup;
    }
    rc = sw_db_commit(db, err);
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

struct dependent {
    char *repo;
    int rule;
};

/* The branch or tag to rebuild for a rule: its exact source, or for a
 * regex rule the ref its last successful run built. */
static char *rebuild_ref(sw_db *db, const struct wrk_repo *repo, const struct wrk_rule *rule)
{
    if (!rule->is_regex)
        return strdup(rule->source);
    sw_stmt *stmt = NULL;
    char *ref = NULL;
    if (sw_db_prepare(db,
                      "SELECT source_ref FROM runs WHERE repo = ? AND rule = ? AND"
                      " status = 'succeeded' AND source_type = ? ORDER BY id DESC LIMIT 1",
                      &stmt, NULL) != 0)
        return NULL;
    sw_stmt_bind_text(stmt, 1, repo->name, -1, SW_DB_STATIC);
    sw_stmt_bind_int(stmt, 2, rule->index);
    sw_stmt_bind_text(stmt, 3, rule->source_type, -1, SW_DB_STATIC);
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        ref = strdup((const char *)sw_stmt_column_text(stmt, 0));
    sw_stmt_finalize(stmt);
    return ref;
}

int wrk_triggers_tag_pushed(sw_db *db, const struct wrk_repos *repos, const char *repo,
                            const char *tag, const char *digest, int *queued, sw_error **err)
{
    sw_stmt *stmt = NULL;
    struct dependent *deps = NULL;
    size_t n = 0;
    char *base = NULL;
    int rc = 0;
    if (queued)
        *queued = 0;
    if (repos == NULL || repos->n == 0)
        return 0;
    if (asprintf(&base, "%s:%s", repo, tag) < 0)
        return sw_error_oom(err);
    if ((rc = sw_db_prepare(db,
                            "SELECT repo, rule FROM run_bases WHERE base = ? AND"
                            " digest != ?",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, base, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, digest, -1, SW_DB_STATIC);
    while (sw_stmt_step(stmt) == SW_DB_ROW) {
        struct dependent *bigger = realloc(deps, (n + 1) * sizeof(*deps));
        if (bigger == NULL)
            break;
        deps = bigger;
        deps[n].repo = strdup((const char *)sw_stmt_column_text(stmt, 0));
        deps[n].rule = sw_stmt_column_int(stmt, 1);
        n++;
    }
    sw_stmt_finalize(stmt);
    stmt = NULL;

    for (size_t i = 0; i < n; i++) {
        const struct wrk_repo *r = deps[i].repo ? wrk_repos_find(repos, deps[i].repo) : NULL;
        if (r == NULL || deps[i].rule < 0 || (size_t)deps[i].rule >= r->n_rules)
            continue;
        const struct wrk_rule *rule = &r->rules[deps[i].rule];
        char *ref = rebuild_ref(db, r, rule);
        char *delivery = NULL;
        if (ref == NULL ||
            asprintf(&delivery, "base-image:%s#%d:%s@%s", r->name, rule->index, base, digest) < 0) {
            free(ref);
            continue;
        }
        struct wrk_run_request req = {
            .repo = r->name,
            .trigger = "base-image",
            .source_type = rule->source_type,
            .source_ref = ref,
            .delivery_id = delivery,
            .id_prefix = repos->id_prefix,
            .rule = rule->index,
        };
        char run_id[WRK_RUN_ID_MAX];
        int created = 0;
        sw_error *e = NULL;
        if (wrk_jobs_enqueue(db, &req, run_id, &created, &e) == 0) {
            if (created) {
                sw_info("base image %s changed: queued run %s of %s (%s %s)", base, run_id, r->name,
                        rule->source_type, ref);
                if (queued)
                    (*queued)++;
            }
        } else {
            sw_warn("base image %s changed, but queueing %s failed: %s", base, r->name,
                    sw_error_message(e));
            sw_error_clear(&e);
        }
        free(ref);
        free(delivery);
    }
cleanup:
    for (size_t i = 0; i < n; i++)
        free(deps[i].repo);
    free(deps);
    free(base);
    return rc;
}
