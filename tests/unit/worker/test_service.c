/*
 * test_service.c - worker/service.c through its public API: the run
 * limits read from runs:, worker presence, and real runs taken by real
 * worker threads from a local git repository (file://): a FROM scratch
 * build that succeeds and tags its image (a build arg reaching a LABEL),
 * a repository that cannot be fetched, and a build secret whose variable
 * is gone when the run starts (the run fails saying which secret).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/fs.h"
#include "registry/blobstore.h"
#include "registry/manifest.h"
#include "registry/store.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/git.h"
#include "worker/jobs.h"
#include "worker/repos.h"
#include "worker/service.h"

static char *dir;

static struct sw_config *load_config(const char *yaml)
{
    char *path = NULL, *text = NULL;
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    if (asprintf(&path, "%s/slipway-%d.yaml", dir, rand()) < 0 ||
        asprintf(&text, "server:\n  data_dir: %s/data\n%s", dir, yaml) < 0)
        abort();
    sw_write_file_atomic(path, text, strlen(text), 0600, NULL);
    if (sw_config_load(path, &cfg, &err) != 0)
        fprintf(stderr, "config: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    free(path);
    free(text);
    return cfg;
}

static void test_run_limits(void)
{
    struct wrk_run_limits l;
    wrk_run_limits_get(NULL, &l);
    CHECK_INT_EQ(l.lease_s, 30);
    CHECK_INT_EQ(l.max_attempts, 3);
    CHECK_INT_EQ(l.keep_s, 90LL * 86400);
    CHECK_INT_EQ(l.max_log_size, 64LL << 20);

    struct sw_config *cfg =
        load_config("runs: { lease: 10s, max_attempts: 5, keep: 30d, max_log_size: 1MiB }\n");
    CHECK(cfg != NULL);
    wrk_run_limits_get(cfg, &l);
    CHECK_INT_EQ(l.lease_s, 10);
    CHECK_INT_EQ(l.max_attempts, 5);
    CHECK_INT_EQ(l.keep_s, 30LL * 86400);
    CHECK_INT_EQ(l.max_log_size, 1LL << 20);
    sw_config_free(cfg);
}

/* a git repository with one commit on main: a Dockerfile and a file */
static char *make_repo(const char *dockerfile)
{
    char *src = sw_path_join(dir, "src");
    char *cmd = NULL;
    sw_mkdir_p(src, 0755, NULL);
    char *df = sw_path_join(src, "Dockerfile"), *hello = sw_path_join(src, "hello.txt");
    sw_write_file_atomic(df, dockerfile, strlen(dockerfile), 0644, NULL);
    sw_write_file_atomic(hello, "first\n", 6, 0644, NULL);
    if (asprintf(&cmd,
                 "cd '%s' && git init -q -b main . && git -c user.name=t -c user.email=t@t add -A"
                 " && git -c user.name=t -c user.email=t@t commit -q -m 'first commit'",
                 src) < 0)
        abort();
    CHECK_INT_EQ(system(cmd), 0);
    free(cmd);
    free(df);
    free(hello);
    return src;
}

/* waits (up to 60 s) for the run to finish; its final status into run */
static int wait_run(reg_store *store, const char *run_id, struct wrk_run *run)
{
    sw_db *db = NULL;
    if (reg_store_db(store, &db, NULL) != 0)
        return -1;
    for (int i = 0; i < 600; i++) {
        if (wrk_jobs_get(db, run_id, run, NULL) != 0)
            return -1;
        if (strcmp(run->status, "queued") != 0 && strcmp(run->status, "running") != 0)
            return 0;
        wrk_run_release(run);
        usleep(100 * 1000);
    }
    return -1;
}

static void enqueue(reg_store *store, const char *repo, wrk_service *svc, char *run_id)
{
    sw_db *db = NULL;
    sw_error *err = NULL;
    int created = 0;
    struct wrk_run_request rr = {
        .repo = repo,
        .trigger = "manual",
        .source_type = "branch",
        .source_ref = "main",
        .id_prefix = "ts",
        .rule = 0,
    };
    CHECK_INT_EQ(reg_store_db(store, &db, &err), 0);
    CHECK_INT_EQ(wrk_jobs_enqueue(db, &rr, run_id, &created, &err), 0);
    CHECK_INT_EQ(created, 1);
    sw_error_clear(&err);
    wrk_service_wake(svc);
}

/* the image config of repo:tag, parsed */
static json_t *image_config(reg_store *store, const char *repo, const char *tag)
{
    struct reg_manifest m = { 0 };
    json_t *manifest = NULL, *config = NULL;
    char *text = NULL;
    if (reg_manifest_get(store, repo, tag, 1, &m, NULL) != 0)
        return NULL;
    manifest = json_loadb(m.body, m.size, 0, NULL);
    const char *digest =
        json_string_value(json_object_get(json_object_get(manifest, "config"), "digest"));
    size_t len = 0;
    if (digest && reg_blob_read_all(store, digest, 1 << 20, &text, &len, NULL) == 0)
        config = json_loads(text, 0, NULL);
    free(text);
    json_decref(manifest);
    reg_manifest_release(&m);
    return config;
}

static void test_runs(void)
{
    char *src = make_repo("FROM scratch\nARG GREETING=unset\nLABEL greeting=$GREETING\n"
                          "COPY hello.txt /hello.txt\n");
    char *yaml = NULL;
    setenv("TEST_SERVICE_SECRET", "s3cret-value", 1);
    if (asprintf(&yaml,
                 "workers: 1\n"
                 "runs: { id_prefix: ts }\n"
                 "repos:\n"
                 "  - name: demo/hello\n"
                 "    git: file://%s\n"
                 "    rules:\n"
                 "      - { source_type: branch, source: main, tags: [latest, \"sha-{commit:7}\"],"
                 " build_args: { GREETING: hi } }\n"
                 "  - name: demo/gone\n"
                 "    git: file://%s/does-not-exist\n"
                 "    rules:\n"
                 "      - { source_type: branch, source: main, tags: [latest] }\n"
                 "  - name: demo/secret\n"
                 "    git: file://%s\n"
                 "    secrets: { token: env:TEST_SERVICE_SECRET }\n"
                 "    rules:\n"
                 "      - { source_type: branch, source: main, tags: [latest] }\n",
                 src, dir, src) < 0)
        abort();
    struct sw_config *cfg = load_config(yaml);
    struct wrk_repos *repos = NULL;
    reg_store *store = NULL;
    wrk_service *svc = NULL;
    sw_error *err = NULL;
    CHECK(cfg != NULL);
    if (cfg == NULL)
        goto cleanup;
    CHECK_INT_EQ(wrk_repos_load(cfg, &repos, &err), 0);
    struct reg_options opts;
    reg_options_from_config(cfg, &opts);
    CHECK_INT_EQ(reg_store_open(cfg->data_dir, &opts, &store, &err), 0);
    if (repos == NULL || store == NULL)
        goto cleanup;

    int processes = -1, threads = -1;
    CHECK_INT_EQ(wrk_workers_alive(store, &processes, &threads, &err), 0);
    CHECK_INT_EQ(processes, 0);
    CHECK_INT_EQ(threads, 0);

    struct wrk_service_options wopts = {
        .config = cfg, .repos = repos, .store = store, .threads = 1, .name = "test-service"
    };
    CHECK_INT_EQ(wrk_service_start(&wopts, &svc, &err), 0);
    if (svc == NULL) {
        fprintf(stderr, "wrk_service_start: %s\n", sw_error_message(err));
        goto cleanup;
    }
    CHECK_INT_EQ(wrk_service_threads(svc), 1);
    for (int i = 0; i < 50 && processes < 1; i++) {
        wrk_workers_alive(store, &processes, &threads, NULL);
        usleep(100 * 1000);
    }
    CHECK_INT_EQ(processes, 1);
    CHECK_INT_EQ(threads, 1);

    /* a build that succeeds: tagged, with the build arg in its label */
    char run_id[WRK_RUN_ID_MAX];
    struct wrk_run run;
    enqueue(store, "demo/hello", svc, run_id);
    CHECK_INT_EQ(wait_run(store, run_id, &run), 0);
    CHECK_STR_EQ(run.status, "succeeded");
    if (strcmp(run.status, "succeeded") != 0)
        fprintf(stderr, "  error: %s\n", run.error ? run.error : "(none)");
    CHECK(run.digest != NULL && strncmp(run.digest, "sha256:", 7) == 0);
    CHECK(run.commit_sha != NULL && strlen(run.commit_sha) == 40);
    CHECK_INT_EQ(json_array_size(run.tags), 2);
    json_t *config = image_config(store, "demo/hello", "latest");
    CHECK(config != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(
                     json_object_get(json_object_get(config, "config"), "Labels"), "greeting")),
                 "hi");
    json_decref(config);
    wrk_run_release(&run);

    /* a repository that cannot be fetched */
    enqueue(store, "demo/gone", svc, run_id);
    CHECK_INT_EQ(wait_run(store, run_id, &run), 0);
    CHECK_STR_EQ(run.status, "failed");
    CHECK(run.error != NULL && run.error[0] != '\0');
    wrk_run_release(&run);

    /* the secret's variable is gone when the run starts */
    unsetenv("TEST_SERVICE_SECRET");
    enqueue(store, "demo/secret", svc, run_id);
    CHECK_INT_EQ(wait_run(store, run_id, &run), 0);
    CHECK_STR_EQ(run.status, "failed");
    CHECK(run.error && strstr(run.error, "build secret token of demo/secret") != NULL);
    if (run.error && strstr(run.error, "build secret token of demo/secret") == NULL)
        fprintf(stderr, "  error: %s\n", run.error);
    wrk_run_release(&run);

    wrk_service_stop(svc);
    svc = NULL;
    /* a stopped service is no longer present */
    CHECK_INT_EQ(wrk_workers_alive(store, &processes, &threads, &err), 0);
    CHECK_INT_EQ(processes, 0);
cleanup:
    wrk_service_stop(svc);
    wrk_service_wake(NULL);
    sw_error_clear(&err);
    reg_store_close(store);
    wrk_repos_free(repos);
    sw_config_free(cfg);
    free(yaml);
    free(src);
}

int main(int argc, char **argv)
{
    /* wrk_service_start makes git fetches run as `/proc/self/exe
     * __git-fetch ...` (worker/git.h): this binary answers them as the
     * slipway binary does, and any other argument never starts the tests
     * again */
    if (argc > 1 && strcmp(argv[1], "__git-fetch") == 0)
        return wrk_git_fetch_helper_main(argc - 1, argv + 1);
    if (argc > 1)
        return 2;
    dir = scratch_dir("test_service");
    RUN(test_run_limits);
    RUN(test_runs);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
