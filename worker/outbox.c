/*
 * outbox.c - queued notify webhooks and commit statuses (see outbox.h).
 */
#include "worker/outbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/db.h"
#include "core/hash.h"
#include "worker/repos.h"

#define MAX_BACKOFF_S 300

static int64_t now(void)
{
    return (int64_t)time(NULL);
}

void wrk_delivery_release(struct wrk_delivery *d)
{
    if (d == NULL)
        return;
    free(d->run_id);
    free(d->repo);
    free(d->kind);
    free(d->url);
    free(d->body);
    memset(d, 0, sizeof(*d));
}

int wrk_outbox_add(sw_db *db, const char *run_id, const char *repo, const char *kind,
                   const char *url, const json_t *body, sw_error **err)
{
    char *text = json_dumps(body, JSON_COMPACT);
    if (text == NULL)
        return sw_error_oom(err);
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "INSERT INTO deliveries (run_id, repo, kind, url, body, next_at,"
                           " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           &stmt, err);
    if (rc == 0) {
        int64_t t = now();
        sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 2, repo, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 3, kind, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 4, url, -1, SW_DB_STATIC);
        sw_stmt_bind_text(stmt, 5, text, -1, SW_DB_STATIC);
        sw_stmt_bind_int64(stmt, 6, t);
        sw_stmt_bind_int64(stmt, 7, t);
        rc = sw_db_step_done(db, stmt, "queueing a delivery", err);
    }
    free(text);
    if (rc == 0)
        sw_db_notify(db, WRK_OUTBOX_CHANNEL, run_id, NULL); /* the poll is the fallback */
    return rc;
}

int wrk_outbox_next_due(sw_db *db, int64_t *at, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "SELECT MIN(CASE WHEN lease_owner IS NULL THEN next_at"
                           " ELSE lease_expires_at END) FROM deliveries WHERE state = 'pending'",
                           &stmt, err);
    if (rc != 0)
        return rc;
    *at = 0;
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        *at = sw_stmt_column_int64(stmt, 0);
    else
        rc = sw_db_error(db, err, "reading when the next delivery is due");
    sw_stmt_finalize(stmt);
    return rc;
}

int wrk_outbox_claim(sw_db *db, const char *owner, int lease_s, struct wrk_delivery *out,
                     sw_error **err)
{
    sw_stmt *stmt = NULL;
    int64_t t = now();
    int rc = sw_db_begin(db, err);
    if (rc != 0)
        return rc;

    /* deliveries whose courier died on their last attempt */
    if ((rc = sw_db_prepare(db,
                            "UPDATE deliveries SET state = 'failed', finished_at = ?1,"
                            " lease_owner = NULL, last_error = COALESCE(last_error ||"
                            " '; ', '') || 'the process sending it stopped'"
                            " WHERE state = 'pending' AND lease_owner IS NOT NULL AND"
                            " lease_expires_at < ?1 AND attempts >= ?2",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_int64(stmt, 1, t);
    sw_stmt_bind_int(stmt, 2, WRK_OUTBOX_MAX_ATTEMPTS);
    rc = sw_db_step_done(db, stmt, "failing abandoned deliveries", err);
    stmt = NULL;
    if (rc != 0)
        goto cleanup;

    /* due, not being sent, and nothing older to the same URL for the same
     * run still waiting */
    if ((rc = sw_db_prepare(db,
                            "UPDATE deliveries SET lease_owner = ?1, lease_expires_at = ?2,"
                            " attempts = attempts + 1 WHERE id = (SELECT d.id FROM deliveries d"
                            " WHERE d.state = 'pending' AND d.next_at <= ?3 AND"
                            " (d.lease_owner IS NULL OR d.lease_expires_at < ?3) AND"
                            " NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.run_id = d.run_id"
                            " AND p.url = d.url AND p.id < d.id AND p.state = 'pending')"
                            " ORDER BY d.next_at, d.id LIMIT 1)"
                            " RETURNING id, run_id, repo, kind, url, body, attempts",
                            &stmt, err)) != 0)
        goto cleanup;
    sw_stmt_bind_text(stmt, 1, owner, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 2, t + lease_s);
    sw_stmt_bind_int64(stmt, 3, t);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_DONE) {
        rc = SW_ENOTFOUND;
    } else if (step != SW_DB_ROW) {
        rc = sw_db_error(db, err, "claiming a delivery");
        goto cleanup;
    } else {
        memset(out, 0, sizeof(*out));
        out->id = sw_stmt_column_int64(stmt, 0);
        out->run_id = sw_db_column_dup(stmt, 1);
        out->repo = sw_db_column_dup(stmt, 2);
        out->kind = sw_db_column_dup(stmt, 3);
        out->url = sw_db_column_dup(stmt, 4);
        out->body = sw_db_column_dup(stmt, 5);
        out->attempts = sw_stmt_column_int(stmt, 6);
        if (!out->run_id || !out->repo || !out->kind || !out->url || !out->body) {
            wrk_delivery_release(out);
            rc = sw_error_oom(err);
            goto cleanup;
        }
    }
    sw_stmt_finalize(stmt);
    stmt = NULL;
    int commit = sw_db_commit(db, err);
    if (commit != 0) {
        if (rc == 0)
            wrk_delivery_release(out);
        rc = commit;
    }
cleanup:
    sw_stmt_finalize(stmt);
    if (rc != 0 && rc != SW_ENOTFOUND)
        sw_db_rollback(db);
    return rc;
}

int wrk_outbox_done(sw_db *db, const struct wrk_delivery *d, const char *owner, const char *error,
                    int retry, sw_error **err)
{
    int64_t t = now();
    const char *state = "delivered";
    int64_t next_at = t;
    if (error != NULL) {
        if (retry && d->attempts < WRK_OUTBOX_MAX_ATTEMPTS) {
            int shift = d->attempts > 1 ? d->attempts - 1 : 0;
            int64_t wait = (int64_t)1 << (shift < 20 ? shift : 20);
            state = "pending";
            next_at = t + (wait < MAX_BACKOFF_S ? wait : MAX_BACKOFF_S);
        } else {
            state = "failed";
        }
    }
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE deliveries SET state = ?, last_error = ?, next_at = ?,"
                           " finished_at = CASE WHEN ? = 'pending' THEN NULL ELSE ? END,"
                           " lease_owner = NULL, lease_expires_at = NULL"
                           " WHERE id = ? AND lease_owner = ?",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, state, -1, SW_DB_STATIC);
    if (error)
        sw_stmt_bind_text(stmt, 2, error, -1, SW_DB_STATIC);
    else
        sw_stmt_bind_null(stmt, 2);
    sw_stmt_bind_int64(stmt, 3, next_at);
    sw_stmt_bind_text(stmt, 4, state, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 5, t);
    sw_stmt_bind_int64(stmt, 6, d->id);
    sw_stmt_bind_text(stmt, 7, owner, -1, SW_DB_STATIC);
    return sw_db_step_done(db, stmt, "recording a delivery", err);
}

int wrk_outbox_giveback(sw_db *db, const struct wrk_delivery *d, const char *owner, sw_error **err)
{
    sw_stmt *stmt = NULL;
    int rc = sw_db_prepare(db,
                           "UPDATE deliveries SET attempts = attempts - 1,"
                           " lease_owner = NULL, lease_expires_at = NULL"
                           " WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_int64(stmt, 1, d->id);
    sw_stmt_bind_text(stmt, 2, owner, -1, SW_DB_STATIC);
    if ((rc = sw_db_step_done(db, stmt, "giving a delivery back", err)) != 0)
        return rc;
    /* the courier of another process sends it now */
    return sw_db_notify(db, WRK_OUTBOX_CHANNEL, d->run_id, err);
}

int wrk_outbox_list(sw_db *db, const char *run_id, json_t **out, sw_error **err)
{
    sw_stmt *stmt = NULL;
    /* times as integers, formatted here: SQLite's strftime is not SQL
     * that PostgreSQL knows */
    int rc = sw_db_prepare(db,
                           "SELECT kind, url, state, attempts, last_error, created_at,"
                           " finished_at, CASE WHEN state = 'pending' THEN next_at END"
                           " FROM deliveries WHERE run_id = ? ORDER BY id",
                           &stmt, err);
    if (rc != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, run_id, -1, SW_DB_STATIC);
    json_t *list = json_array();
    int step;
    while ((step = sw_stmt_step(stmt)) == SW_DB_ROW) {
        char *target = wrk_outbox_target((const char *)sw_stmt_column_text(stmt, 1));
        json_t *item = json_object();
        json_object_set_new(item, "kind", json_string((const char *)sw_stmt_column_text(stmt, 0)));
        json_object_set_new(item, "target", target ? json_string(target) : json_null());
        json_object_set_new(item, "state", json_string((const char *)sw_stmt_column_text(stmt, 2)));
        json_object_set_new(item, "attempts", json_integer(sw_stmt_column_int(stmt, 3)));
        static const char *const nullable[] = { "error", "queued_at", "finished_at",
                                                "next_try_at" };
        for (int i = 0; i < 4; i++) {
            const unsigned char *v = sw_stmt_column_text(stmt, 4 + i);
            char when[SW_RFC3339_MAX];
            if (i > 0 && v != NULL)
                v = (const unsigned char *)sw_format_rfc3339(sw_stmt_column_int64(stmt, 4 + i),
                                                             when);
            json_object_set_new(item, nullable[i], v ? json_string((const char *)v) : json_null());
        }
        json_array_append_new(list, item);
        free(target);
    }
    if (step != SW_DB_DONE) {
        rc = sw_db_error(db, err, "listing a run's deliveries");
        json_decref(list);
        list = NULL;
    }
    sw_stmt_finalize(stmt);
    *out = list;
    return rc;
}

#define NOTIFY_PREFIX "notify:"

/* The hex SHA-256 of a URL into out (65 bytes). */
static void url_hash(const char *url, char out[65])
{
    char digest[SW_DIGEST_MAX];
    sw_sha256_digest(url, strlen(url), digest);
    memcpy(out, digest + 7, 64); /* after "sha256:" */
    out[64] = '\0';
}

char *wrk_notify_ref(const char *url)
{
    char hash[65], *ref = NULL;
    char *origin = wrk_url_origin(url);
    url_hash(url, hash);
    if (origin == NULL || asprintf(&ref, NOTIFY_PREFIX "%s:%s", hash, origin) < 0)
        ref = NULL;
    free(origin);
    return ref;
}

const char *wrk_notify_resolve(const struct wrk_repo *repo, const char *ref)
{
    size_t n = strlen(NOTIFY_PREFIX);
    if (repo == NULL || strncmp(ref, NOTIFY_PREFIX, n) != 0 || strlen(ref) < n + 65 ||
        ref[n + 64] != ':')
        return NULL;
    for (size_t r = 0; r < repo->n_rules; r++) {
        for (size_t i = 0; i < repo->rules[r].n_notify; i++) {
            char hash[65];
            url_hash(repo->rules[r].notify[i], hash);
            if (memcmp(hash, ref + n, 64) == 0)
                return repo->rules[r].notify[i];
        }
    }
    return NULL;
}

char *wrk_outbox_target(const char *stored)
{
    size_t n = strlen(NOTIFY_PREFIX);
    if (stored && strncmp(stored, NOTIFY_PREFIX, n) == 0 && strlen(stored) > n + 65)
        return strdup(stored + n + 65); /* made by wrk_url_origin already */
    return wrk_url_origin(stored);
}

char *wrk_url_origin(const char *url)
{
    if (url == NULL)
        return NULL;
    const char *scheme = strstr(url, "://");
    if (scheme == NULL)
        return strdup("(not a URL)");
    const char *host = scheme + 3;
    size_t host_len = strcspn(host, "/?#");
    /* user:password@ goes, whatever the password holds */
    const char *at = memchr(host, '@', host_len);
    while (at != NULL) {
        host_len -= (size_t)(at + 1 - host);
        host = at + 1;
        at = memchr(host, '@', host_len);
    }
    const char *rest = host + host_len;
    int more = rest[0] != '\0' && strcmp(rest, "/") != 0;
    char *out = NULL;
    if (asprintf(&out, "%.*s%.*s%s", (int)(scheme + 3 - url), url, (int)host_len, host,
                 more ? "/…" : "") < 0)
        return NULL;
    return out;
}
