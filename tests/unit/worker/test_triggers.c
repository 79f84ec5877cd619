/*
 * test_triggers.c - worker/triggers.c on a real store: the bases a rule was
 * built FROM are recorded with their tags' digests (refs that are not
 * repo:tag or not in the store are skipped, a new record replaces the old
 * one); when such a tag moves, each dependent repository is queued once per
 * new digest, with the rule's branch (a /regex/ rule: the ref of its last
 * good run); unchanged digests, repositories or rules no longer configured
 * and no config at all queue nothing.
 */
#include <jansson.h>

#include "core/config.h"
#include "core/fs.h"
#include "core/hash.h"
#include "registry/meta.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/repos.h"
#include "worker/triggers.h"

static char *dir;
static reg_store *store;
static sw_db *db;
static struct wrk_repos *repos;

static void tag_base(const char *repo, const char *tag, const char *content,
                     char digest[SW_DIGEST_MAX])
{
    sw_error *err = NULL;
    int64_t id = 0;
    sw_sha256_digest(content, strlen(content), digest);
    struct reg_meta_manifest_row row = { .digest = digest,
                                         .media_type = "application/vnd.oci.image.manifest.v1+json",
                                         .size = 1,
                                         .created_at = 1 };
    if (reg_meta_repo_ensure(db, repo, &id, &err) != 0)
        abort();
    row.repo_id = id;
    if (reg_meta_manifest_upsert(db, &row, &err) != 0 ||
        reg_meta_tag_set(db, id, tag, digest, 1, &err) != 0)
        abort();
}

static long long count(const char *sql)
{
    sw_stmt *stmt = NULL;
    long long n = -1;
    if (sw_db_prepare_raw(db, sql, -1, &stmt, NULL) == SW_DB_OK && sw_stmt_step(stmt) == SW_DB_ROW)
        n = sw_stmt_column_int64(stmt, 0);
    sw_stmt_finalize(stmt);
    return n;
}

static void load_repos(void)
{
    char *path = NULL, *text = NULL;
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    if (asprintf(&path, "%s/slipway.yaml", dir) < 0 ||
        asprintf(&text,
                 "server:\n  data_dir: %s\n"
                 "runs: { id_prefix: tr }\n"
                 "repos:\n"
                 "  - name: demo/app\n"
                 "    git: https://git.example.test/app.git\n"
                 "    rules:\n"
                 "      - { source_type: branch, source: main, tags: [latest] }\n"
                 "      - { source_type: tag, source: \"/^v(.*)$/\", tags: [\"{\\\\1}\"] }\n",
                 dir) < 0)
        abort();
    sw_write_file_atomic(path, text, strlen(text), 0644, NULL);
    if (sw_config_load(path, &cfg, &err) != 0 || wrk_repos_load(cfg, &repos, &err) != 0) {
        fprintf(stderr, "config: %s\n", sw_error_message(err));
        abort();
    }
    sw_config_free(cfg);
    free(path);
    free(text);
}

static void test_record(void)
{
    char d1[SW_DIGEST_MAX];
    sw_error *err = NULL;
    tag_base("base/os", "1", "os v1", d1);
    json_t *bases = json_pack("[s,s,s,s,i]", "base/os:1", "no/such:1", "no-tag-here",
                              "127.0.0.1:5000/base/os", 42);
    CHECK_INT_EQ(wrk_triggers_record(db, "demo/app", 0, bases, "tr1", &err), 0);
    json_decref(bases);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM run_bases"), 1);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM run_bases WHERE repo = 'demo/app' AND rule = 0 AND"
                       " base = 'base/os:1' AND run_id = 'tr1'"),
                 1);
    /* a new record replaces the rule's old one */
    bases = json_pack("[]");
    CHECK_INT_EQ(wrk_triggers_record(db, "demo/app", 0, bases, "tr2", &err), 0);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM run_bases"), 0);
    json_decref(bases);
    bases = json_pack("[s]", "base/os:1");
    CHECK_INT_EQ(wrk_triggers_record(db, "demo/app", 0, bases, "tr3", &err), 0);
    CHECK_INT_EQ(wrk_triggers_record(db, "demo/app", 0, bases, "tr4", &err), 0);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM run_bases WHERE run_id = 'tr4'"), 1);
    /* a rule index not in the config and a repository that is gone */
    CHECK_INT_EQ(wrk_triggers_record(db, "demo/app", 7, bases, "tr5", &err), 0);
    CHECK_INT_EQ(wrk_triggers_record(db, "gone/repo", 0, bases, "tr6", &err), 0);
    json_decref(bases);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM run_bases"), 3);
}

static void test_tag_pushed(void)
{
    sw_error *err = NULL;
    int queued = -1;
    char d1[SW_DIGEST_MAX], d2[SW_DIGEST_MAX], d3[SW_DIGEST_MAX];
    sw_sha256_digest("os v1", 5, d1);
    sw_sha256_digest("os v2", 5, d2);
    sw_sha256_digest("os v3", 5, d3);

    /* the same digest: nothing to do */
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/os", "1", d1, &queued, &err), 0);
    CHECK_INT_EQ(queued, 0);
    /* no repositories configured: nothing, and no error */
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, NULL, "base/os", "1", d2, &queued, &err), 0);
    CHECK_INT_EQ(queued, 0);
    /* another tag of the base: nothing */
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/os", "2", d2, &queued, &err), 0);
    CHECK_INT_EQ(queued, 0);

    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/os", "1", d2, &queued, &err), 0);
    CHECK_INT_EQ(queued, 1); /* demo/app rule 0 only: rule 7 and gone/repo are skipped */
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM runs WHERE repo = 'demo/app' AND trigger ="
                       " 'base-image' AND source_type = 'branch' AND source_ref = 'main' AND"
                       " status = 'queued' AND run_id LIKE 'tr%'"),
                 1);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM runs"), 1);
    /* the same move again (a second push of the same digest): queued once */
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/os", "1", d2, &queued, NULL), 0);
    CHECK_INT_EQ(queued, 0);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM runs"), 1);
    /* a further move: one more */
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/os", "1", d3, NULL, &err), 0);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM runs WHERE trigger = 'base-image'"), 2);
    CHECK(err == NULL);
}

static void test_regex_rule_uses_last_good_run(void)
{
    sw_error *err = NULL;
    int queued = -1;
    char d1[SW_DIGEST_MAX], d2[SW_DIGEST_MAX];
    tag_base("base/lang", "3", "lang 3", d1);
    json_t *bases = json_pack("[s]", "base/lang:3");
    CHECK_INT_EQ(wrk_triggers_record(db, "demo/app", 1, bases, "tr9", &err), 0);
    json_decref(bases);
    sw_sha256_digest("lang 3.1", 8, d2);
    /* no successful run of the regex rule yet: no ref to rebuild */
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/lang", "3", d2, &queued, &err), 0);
    CHECK_INT_EQ(queued, 0);

    char *msg = NULL;
    CHECK_INT_EQ(sw_db_exec_raw(db,
                                "INSERT INTO runs (run_id, repo, trigger, source_type, source_ref,"
                                " status, queued_at, rule) VALUES ('old1', 'demo/app', 'push',"
                                " 'tag', 'v1.0', 'succeeded', 1, 1), ('old2', 'demo/app', 'push',"
                                " 'tag', 'v1.1', 'succeeded', 2, 1), ('old3', 'demo/app', 'push',"
                                " 'tag', 'v9.9', 'failed', 3, 1)",
                                NULL, NULL, &msg),
                 SW_DB_OK);
    sw_db_free(msg);
    char d3[SW_DIGEST_MAX];
    sw_sha256_digest("lang 3.2", 8, d3);
    CHECK_INT_EQ(wrk_triggers_tag_pushed(db, repos, "base/lang", "3", d3, &queued, &err), 0);
    CHECK_INT_EQ(queued, 1);
    CHECK_INT_EQ(count("SELECT COUNT(*) FROM runs WHERE trigger = 'base-image' AND"
                       " source_type = 'tag' AND source_ref = 'v1.1' AND rule = 1"),
                 1);
}

int main(void)
{
    sw_error *err = NULL;
    dir = scratch_dir("wrk-triggers");
    if (reg_store_open(dir, NULL, &store, &err) != 0 || reg_store_db(store, &db, &err) != 0) {
        fprintf(stderr, "store: %s\n", sw_error_message(err));
        return 2;
    }
    load_repos();
    RUN(test_record);
    RUN(test_tag_pushed);
    RUN(test_regex_rule_uses_last_good_run);
    wrk_repos_free(repos);
    reg_store_close(store);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
