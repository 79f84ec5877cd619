/*
 * test_outbox.c - worker/outbox.c: deliveries go out in order per run and
 * URL, failures back off and give up, a dead courier's delivery is taken
 * again, and what the API shows of a URL is only its origin.
 */
#include <string.h>

#include "core/db.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/outbox.h"
#include "worker/repos.h"

static char *dir;
static char *db_path;

static sw_db *open_db(void)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    if (sw_db_open(db_path, 1, &db, &err) != 0) {
        fprintf(stderr, "%s\n", sw_error_message(err));
        abort();
    }
    sw_db_exec(db, "DELETE FROM deliveries", NULL);
    return db;
}

static void add(sw_db *db, const char *run, const char *kind, const char *url, const char *state)
{
    sw_error *err = NULL;
    json_t *body = json_pack("{s:s}", "state", state);
    CHECK_INT_EQ(wrk_outbox_add(db, run, "demo/app", kind, url, body, &err), 0);
    json_decref(body);
    sw_error_clear(&err);
}

/* Claims and returns the claimed delivery's body ("" when none was due). */
static const char *claim(sw_db *db, const char *owner, struct wrk_delivery *d)
{
    static char body[256];
    sw_error *err = NULL;
    int rc = wrk_outbox_claim(db, owner, 60, d, &err);
    sw_error_clear(&err);
    if (rc == SW_ENOTFOUND)
        return "";
    CHECK_INT_EQ(rc, 0);
    snprintf(body, sizeof(body), "%s %s", d->url, d->body);
    return body;
}

static void done(sw_db *db, struct wrk_delivery *d, const char *owner, const char *error, int retry)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_outbox_done(db, d, owner, error, retry, &err), 0);
    sw_error_clear(&err);
    wrk_delivery_release(d);
}

static const char *state_of(sw_db *db, int64_t id)
{
    static char out[64];
    sw_stmt *stmt = NULL;
    out[0] = '\0';
    CHECK_INT_EQ(sw_db_prepare(db, "SELECT state || '/' || attempts FROM deliveries WHERE id = ?",
                               &stmt, NULL),
                 0);
    sw_stmt_bind_int64(stmt, 1, id);
    if (sw_stmt_step(stmt) == SW_DB_ROW)
        snprintf(out, sizeof(out), "%s", sw_stmt_column_text(stmt, 0));
    sw_stmt_finalize(stmt);
    return out;
}

static void test_order_per_run_and_url(void)
{
    sw_db *db = open_db();
    struct wrk_delivery d, e;
    add(db, "ca1", "status", "https://api.example/s/1", "pending");
    add(db, "ca1", "status", "https://api.example/s/1", "success");
    add(db, "ca1", "notify", "http://hooks.example/a", "pushed");
    add(db, "ca2", "status", "https://api.example/s/2", "pending");

    CHECK_STR_EQ(claim(db, "c1", &d), "https://api.example/s/1 {\"state\":\"pending\"}");
    /* the success of ca1 waits for its pending; the others do not */
    CHECK_STR_EQ(claim(db, "c2", &e), "http://hooks.example/a {\"state\":\"pushed\"}");
    done(db, &e, "c2", NULL, 0);
    CHECK_STR_EQ(claim(db, "c2", &e), "https://api.example/s/2 {\"state\":\"pending\"}");
    done(db, &e, "c2", NULL, 0);
    CHECK_STR_EQ(claim(db, "c2", &e), "");
    done(db, &d, "c1", NULL, 0);
    CHECK_STR_EQ(claim(db, "c2", &e), "https://api.example/s/1 {\"state\":\"success\"}");
    CHECK_INT_EQ(e.attempts, 1);
    done(db, &e, "c2", NULL, 0);
    CHECK_STR_EQ(claim(db, "c2", &e), "");
    sw_db_close(db);
}

static void test_retry_backoff_and_giving_up(void)
{
    sw_db *db = open_db();
    struct wrk_delivery d;
    add(db, "ca3", "notify", "http://hooks.example/down", "pushed");
    CHECK(claim(db, "c1", &d)[0] != '\0');
    int64_t id = d.id;
    done(db, &d, "c1", "HTTP 503", 1);
    CHECK_STR_EQ(state_of(db, id), "pending/1");
    CHECK_STR_EQ(claim(db, "c1", &d), ""); /* not before its backoff */
    sw_db_exec(db, "UPDATE deliveries SET next_at = 0", NULL);
    CHECK(claim(db, "c1", &d)[0] != '\0');
    CHECK_INT_EQ(d.attempts, 2);

    /* a courier that stops gives its attempt back */
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_outbox_giveback(db, &d, "c1", &err), 0);
    wrk_delivery_release(&d);
    CHECK_STR_EQ(state_of(db, id), "pending/1");

    /* the last attempt fails for good */
    sw_db_exec(db, "UPDATE deliveries SET attempts = 7", NULL);
    CHECK(claim(db, "c1", &d)[0] != '\0');
    CHECK_INT_EQ(d.attempts, WRK_OUTBOX_MAX_ATTEMPTS);
    done(db, &d, "c1", "HTTP 503", 1);
    CHECK_STR_EQ(state_of(db, id), "failed/8");

    /* an answer that retrying cannot change fails at once */
    add(db, "ca4", "status", "https://api.example/s/4", "pending");
    CHECK(claim(db, "c1", &d)[0] != '\0');
    id = d.id;
    done(db, &d, "c1", "HTTP 401", 0);
    CHECK_STR_EQ(state_of(db, id), "failed/1");
    CHECK_STR_EQ(claim(db, "c1", &d), "");
    sw_error_clear(&err);
    sw_db_close(db);
}

static void test_dead_courier(void)
{
    sw_db *db = open_db();
    struct wrk_delivery d, late;
    add(db, "ca5", "notify", "http://hooks.example/slow", "pushed");
    CHECK(claim(db, "dead", &late)[0] != '\0');
    CHECK_STR_EQ(claim(db, "alive", &d), ""); /* leased */
    sw_db_exec(db, "UPDATE deliveries SET lease_expires_at = 0", NULL);
    CHECK(claim(db, "alive", &d)[0] != '\0');
    CHECK_INT_EQ(d.attempts, 2);
    /* the first courier comes back too late: its outcome is not recorded */
    done(db, &late, "dead", "timed out", 1);
    CHECK_STR_EQ(state_of(db, d.id), "pending/2");
    int64_t id = d.id;
    done(db, &d, "alive", NULL, 0);
    CHECK_STR_EQ(state_of(db, id), "delivered/2");

    /* a courier that died on the last attempt leaves a failed delivery */
    add(db, "ca6", "notify", "http://hooks.example/slow", "pushed");
    CHECK(claim(db, "dead", &late)[0] != '\0');
    id = late.id;
    wrk_delivery_release(&late);
    sw_db_exec(db, "UPDATE deliveries SET lease_expires_at = 0, attempts = 8 WHERE run_id = 'ca6'",
               NULL);
    CHECK_STR_EQ(claim(db, "alive", &d), "");
    CHECK_STR_EQ(state_of(db, id), "failed/8");
    sw_db_close(db);
}

static void test_list_shows_origins_only(void)
{
    sw_db *db = open_db();
    struct wrk_delivery d;
    add(db, "ca7", "notify", "https://hooks.example.com/services/T0/B0/SECRET", "pushed");
    add(db, "ca7", "notify", "https://user:pa%40ss@ci.example:8443/hook?token=SECRET", "pushed");
    add(db, "ca7", "status", "http://127.0.0.1:9/", "pending");
    add(db, "ca8", "notify", "http://other.example/", "pushed");
    CHECK(claim(db, "c1", &d)[0] != '\0');
    done(db, &d, "c1", "HTTP 500", 1);

    json_t *list = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(wrk_outbox_list(db, "ca7", &list, &err), 0);
    CHECK_INT_EQ((int)json_array_size(list), 3);
    json_t *first = json_array_get(list, 0);
    CHECK_STR_EQ(json_string_value(json_object_get(first, "target")),
                 "https://hooks.example.com/…");
    CHECK_STR_EQ(json_string_value(json_object_get(first, "state")), "pending");
    CHECK_STR_EQ(json_string_value(json_object_get(first, "error")), "HTTP 500");
    CHECK_INT_EQ((int)json_integer_value(json_object_get(first, "attempts")), 1);
    CHECK(json_is_string(json_object_get(first, "next_try_at")));
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(list, 1), "target")),
                 "https://ci.example:8443/…");
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(list, 2), "target")),
                 "http://127.0.0.1:9");
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(list, 2), "kind")), "status");
    char *text = json_dumps(list, 0);
    CHECK(strstr(text, "SECRET") == NULL && strstr(text, "pa%40ss") == NULL);
    free(text);
    json_decref(list);
    sw_error_clear(&err);
    sw_db_close(db);
}

/* A notify URL's secret path is not in what is stored, and the stored
 * reference finds the URL in the config again. */
static void test_notify_reference(void)
{
    const char *url = "https://hooks.example/services/T0/B0/s3cr3t-path";
    char *ref = wrk_notify_ref(url);
    CHECK(ref != NULL && strncmp(ref, "notify:", 7) == 0);
    CHECK(ref && strstr(ref, "s3cr3t") == NULL);
    char *target = wrk_outbox_target(ref);
    CHECK_STR_EQ(target, "https://hooks.example/…");
    free(target);

    char *urls_a[] = { (char *)"https://other.example/x" };
    char *urls_b[] = { (char *)"https://hooks.example/a", (char *)url };
    struct wrk_rule rules[2];
    memset(rules, 0, sizeof rules);
    rules[0].notify = urls_a;
    rules[0].n_notify = 1;
    rules[1].notify = urls_b;
    rules[1].n_notify = 2;
    struct wrk_repo repo;
    memset(&repo, 0, sizeof repo);
    repo.rules = rules;
    repo.n_rules = 2;
    CHECK(wrk_notify_resolve(&repo, ref) == url);
    /* removed from the config: not found; a malformed reference: not found */
    repo.n_rules = 1;
    CHECK(wrk_notify_resolve(&repo, ref) == NULL);
    CHECK(wrk_notify_resolve(&repo, "notify:zz") == NULL);
    CHECK(wrk_notify_resolve(NULL, ref) == NULL);
    free(ref);
}

int main(void)
{
    dir = scratch_dir("test_outbox");
    db_path = sw_path_join(dir, "slipway.db");
    RUN(test_order_per_run_and_url);
    RUN(test_retry_backoff_and_giving_up);
    RUN(test_dead_courier);
    RUN(test_list_shows_origins_only);
    RUN(test_notify_reference);
    sw_rm_rf(dir, NULL);
    free(db_path);
    free(dir);
    return TEST_EXIT();
}
