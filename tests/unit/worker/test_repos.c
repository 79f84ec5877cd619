/*
 * test_repos.c - worker/repos.c and worker/tags.c: the repos: config,
 * URL normalisation, rule matching and the tags a run applies.
 */
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/git.h"
#include "worker/repos.h"
#include "worker/tags.h"

static char *dir;

/* Loads YAML text (server section added) into repos; the error message in
 * msg (or "" on success). */
static int load(const char *yaml, struct wrk_repos **repos, char *msg, size_t size)
{
    char *path = NULL, *text = NULL;
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    if (asprintf(&path, "%s/slipway.yaml", dir) < 0 ||
        asprintf(&text, "server:\n  data_dir: %s/data\n%s", dir, yaml) < 0)
        abort();
    sw_write_file_atomic(path, text, strlen(text), 0644, NULL);
    *repos = NULL;
    int rc = sw_config_load(path, &cfg, &err);
    if (rc == 0)
        rc = wrk_repos_load(cfg, repos, &err);
    snprintf(msg, size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    sw_config_free(cfg);
    free(path);
    free(text);
    return rc;
}

static const char *full_config =
    "runs: { id_prefix: xb, lease: 10s, max_attempts: 2, keep: 30d }\n"
    "repos:\n"
    "  - name: demo/hello\n"
    "    git: https://GitHub.com/acme/hello.git\n"
    "    token: env:TEST_REPOS_TOKEN\n"
    "    secret: s3cret\n"
    "    status_token: tok\n"
    "    status_api: http://127.0.0.1:9/api\n"
    "    known_hosts: /etc/slipway/known_hosts\n"
    "    submodules: true\n"
    "    autotest: test -f /hello\n"
    "    notify: [http://127.0.0.1:9/hook]\n"
    "    cache: false\n"
    "    rules:\n"
    "      - source_type: branch\n"
    "        source: main\n"
    "        dockerfile: docker/Dockerfile\n"
    "        context: app\n"
    "        build_args: { A: 1, B: two }\n"
    "        tags: [latest, \"{run_id}\", \"sha-{commit:7}\"]\n"
    "      - source_type: tag\n"
    "        source: /^v([0-9]+)\\.([0-9]+)-beta$/\n"
    "        tags: [\"beta-{\\\\1}-{\\\\2}\"]\n"
    "        autotest: [\"sh\", \"-c\", \"true\"]\n"
    "        notify: []\n"
    "        cache: true\n"
    "      - { source_type: tag, source: \"/^v[0-9.]+.*$/\", semver: true }\n"
    "      - { source_type: branch, source: /release/ }\n"
    "  - name: other/repo\n"
    "    git: git@example.com:team/other.git\n"
    "    submodules: { allow_local: true }\n"
    "    insecure: true\n"
    "    run_as: alice\n"
    "    rules: [{ source_type: branch, source: dev }]\n"
    "  - name: local/repo\n"
    "    git: /srv/git/local\n"
    "    rules: [{ source_type: branch, source: dev }]\n";

static void test_load_full(void)
{
    struct wrk_repos *repos = NULL;
    char msg[1024];
    setenv("TEST_REPOS_TOKEN", "ghp_secret", 1);
    CHECK_INT_EQ(load(full_config, &repos, msg, sizeof(msg)), 0);
    CHECK_STR_EQ(msg, "");
    if (repos == NULL)
        return;
    CHECK_STR_EQ(repos->id_prefix, "xb");
    CHECK_INT_EQ(repos->n, 3);
    const struct wrk_repo *r = wrk_repos_find(repos, "demo/hello");
    CHECK(r != NULL);
    if (r == NULL)
        goto cleanup;
    CHECK_STR_EQ(r->git_normalized, "github.com/acme/hello");
    CHECK_STR_EQ(r->token, "ghp_secret");
    CHECK_STR_EQ(r->secret, "s3cret");
    CHECK_STR_EQ(r->status_token, "tok");
    CHECK_STR_EQ(r->status_api, "http://127.0.0.1:9/api");
    CHECK_STR_EQ(r->known_hosts, "/etc/slipway/known_hosts");
    CHECK_INT_EQ(r->submodules, 1);
    CHECK_INT_EQ(r->n_rules, 4);
    const struct wrk_rule *r0 = &r->rules[0];
    CHECK_STR_EQ(r0->dockerfile, "docker/Dockerfile");
    CHECK_STR_EQ(r0->context, "app");
    CHECK_INT_EQ(r0->n_build_args, 2);
    CHECK_STR_EQ(r0->build_args[0], "A=1");
    CHECK_STR_EQ(r0->build_args[1], "B=two");
    CHECK_INT_EQ(r0->n_tags, 3);
    /* repo defaults reach the rules that do not override them */
    CHECK(r0->autotest && strcmp(r0->autotest[0], "sh") == 0 &&
          strcmp(r0->autotest[2], "test -f /hello") == 0 && r0->autotest[3] == NULL);
    CHECK_INT_EQ(r0->n_notify, 1);
    CHECK_INT_EQ(r0->cache, 0);
    const struct wrk_rule *r1 = &r->rules[1];
    CHECK_INT_EQ(r1->is_regex, 1);
    CHECK_STR_EQ(r1->source, "^v([0-9]+)\\.([0-9]+)-beta$");
    CHECK_STR_EQ(r1->autotest[2], "true");
    CHECK_INT_EQ(r1->n_notify, 0);
    CHECK_INT_EQ(r1->cache, 1);
    CHECK_INT_EQ(r->rules[2].semver, 1);
    CHECK_INT_EQ(r->rules[2].n_tags, 0);
    /* no tags and no semver: {sourceref} */
    CHECK_INT_EQ(r->rules[3].n_tags, 1);
    CHECK_STR_EQ(r->rules[3].tags[0], "{sourceref}");
    CHECK_STR_EQ(r->rules[3].dockerfile, "Dockerfile");
    CHECK_STR_EQ(r->rules[3].context, ".");
    CHECK(r->run_as == NULL && r->insecure == 0);
    const struct wrk_repo *other = wrk_repos_find(repos, "other/repo");
    CHECK_STR_EQ(other->git_normalized, "example.com/team/other");
    CHECK_INT_EQ(other->submodules, WRK_GIT_SUBMODULES | WRK_GIT_SUBMODULES_LOCAL);
    CHECK_INT_EQ(other->insecure, 1);
    CHECK_STR_EQ(other->run_as, "alice");
    CHECK_STR_EQ(wrk_repos_find(repos, "local/repo")->git, "file:///srv/git/local");
    CHECK(wrk_repos_find(repos, "nope") == NULL);
cleanup:
    wrk_repos_free(repos);
}

static void test_no_repos(void)
{
    struct wrk_repos *repos = NULL;
    char msg[1024];
    CHECK_INT_EQ(load("", &repos, msg, sizeof(msg)), 0);
    CHECK(repos != NULL && repos->n == 0 && strcmp(repos->id_prefix, "ca") == 0);
    wrk_repos_free(repos);
}

/* Each bad config fails with a message containing every fragment. */
static void expect_error(const char *yaml, const char *const *fragments)
{
    struct wrk_repos *repos = NULL;
    char msg[1024];
    int rc = load(yaml, &repos, msg, sizeof(msg));
    CHECK(rc != 0);
    for (size_t i = 0; fragments[i]; i++) {
        if (strstr(msg, fragments[i]) == NULL) {
            test_failures++;
            fprintf(stderr, "%s: error \"%s\" lacks \"%s\"\n", test_current, msg, fragments[i]);
        }
    }
    wrk_repos_free(repos);
}

#define REPO_HEAD "repos:\n  - name: demo/x\n    git: file:///srv/x\n"

static void test_errors(void)
{
    expect_error(REPO_HEAD "    rulez: []\n",
                 (const char *[]){ "slipway.yaml:6", "repos[demo/x].rulez", "unknown key", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branches, source: main }\n",
                 (const char *[]){ ":7", "repos[demo/x].rules[1].source_type", "branches", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: tag, source: \"/v(1/\" }\n",
                 (const char *[]){ ":7", "repos[demo/x].rules[1].source", "invalid regex", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main }\n"
                           "      - { source_type: tag, source: "
                           "\"/(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)/\" }\n",
                 (const char *[]){ ":8", "rules[2].source", "10 capture groups", NULL });
    expect_error(REPO_HEAD, (const char *[]){ "repos[demo/x].rules", "required", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " dockerfile: /etc/passwd }\n",
                 (const char *[]){ "rules[1].dockerfile", "relative", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " context: a/../../b }\n",
                 (const char *[]){ "rules[1].context", "..", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " tags: [\"v{version}\"] }\n",
                 (const char *[]){ "rules[1].tags", "unknown placeholder {version}", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " tags: [\"{\\\\1}\"] }\n",
                 (const char *[]){ "rules[1].tags", "needs a /regex/", NULL });
    expect_error(REPO_HEAD "    rules: [{ source_type: branch, source: main }]\n"
                           "  - name: demo/x\n    git: file:///srv/y\n"
                           "    rules: [{ source_type: branch, source: main }]\n",
                 (const char *[]){ ":7", "repos[demo/x].name", "configured already", NULL });
    expect_error("repos:\n  - name: Demo/X\n    git: file:///x\n"
                 "    rules: [{ source_type: branch, source: main }]\n",
                 (const char *[]){ ":4", "repos[Demo/X].name", "not a valid repository", NULL });
    expect_error("repos:\n  - name: demo/x\n    git: srv/x\n"
                 "    rules: [{ source_type: branch, source: main }]\n",
                 (const char *[]){ ":5", "repos[demo/x].git", "not a Git URL", NULL });
    unsetenv("TEST_REPOS_UNSET");
    expect_error(REPO_HEAD "    secret: env:TEST_REPOS_UNSET\n"
                           "    rules: [{ source_type: branch, source: main }]\n",
                 (const char *[]){ ":6", "repos[demo/x].secret", "TEST_REPOS_UNSET", NULL });
    expect_error(REPO_HEAD "    rules: [{ source_type: branch, source: main, semver: true }]\n",
                 (const char *[]){ "rules[1].semver", "source_type: tag", NULL });
    expect_error(REPO_HEAD "    submodules: { allow_lokal: true }\n"
                           "    rules: [{ source_type: branch, source: main }]\n",
                 (const char *[]){ "repos[demo/x].submodules.allow_lokal", "unknown key", NULL });
    expect_error(REPO_HEAD "    submodules: local\n"
                           "    rules: [{ source_type: branch, source: main }]\n",
                 (const char *[]){ "repos[demo/x].submodules", "allow_local", NULL });
    char htpasswd[1100], run_as_yaml[1400];
    snprintf(htpasswd, sizeof(htpasswd), "%s/htpasswd", dir);
    sw_write_file_atomic(htpasswd, "alice:$2y$05$x\n", 14, 0644, NULL);
    snprintf(run_as_yaml, sizeof(run_as_yaml),
             "registry: { auth: { htpasswd: %s } }\n" REPO_HEAD "    run_as: mallory\n"
             "    rules: [{ source_type: branch, source: main }]\n",
             htpasswd);
    expect_error(run_as_yaml,
                 (const char *[]){ "repos[demo/x].run_as", "mallory is not a user of", NULL });
    expect_error("runs: { id_prefix: CA }\n",
                 (const char *[]){ ":3", "runs.id_prefix", "lowercase", NULL });
    expect_error("runs: { keep: 10m }\n",
                 (const char *[]){ "runs.keep", "at least 1h", "forever", NULL });
    expect_error("runs: { leese: 10s }\n", (const char *[]){ "runs.leese", "unknown key", NULL });
}

/* rules[].platforms: normalised, each once, and errors naming the key. */
static void test_platforms(void)
{
    struct wrk_repos *repos = NULL;
    char msg[512];
    CHECK_INT_EQ(load(REPO_HEAD
                      "    rules:\n"
                      "      - { source_type: branch, source: main,"
                      " platforms: [linux/x86_64, linux/aarch64, linux/armhf] }\n"
                      "      - { source_type: branch, source: one, platforms: linux/arm64 }\n"
                      "      - { source_type: branch, source: host }\n",
                      &repos, msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(msg, "");
    if (repos) {
        const struct wrk_rule *r = &repos->repos[0].rules[0];
        CHECK_INT_EQ(r->n_platforms, 3);
        if (r->n_platforms == 3) {
            CHECK_STR_EQ(r->platforms[0], "linux/amd64");
            CHECK_STR_EQ(r->platforms[1], "linux/arm64");
            CHECK_STR_EQ(r->platforms[2], "linux/arm/v7");
        }
        CHECK_INT_EQ(repos->repos[0].rules[1].n_platforms, 1);
        CHECK_INT_EQ(repos->repos[0].rules[2].n_platforms, 0);
    }
    wrk_repos_free(repos);
    expect_error(
        REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                  " platforms: [linux/amd64, linux/x86_64] }\n",
        (const char *[]){ ":7", "rules[1].platforms", "linux/amd64 is listed twice", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " platforms: [arm64] }\n",
                 (const char *[]){ "rules[1].platforms", "invalid platform 'arm64'", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " platforms: [] }\n",
                 (const char *[]){ "rules[1].platforms", "empty list", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                           " platforms: { linux: amd64 } }\n",
                 (const char *[]){ "rules[1].platforms", "list of strings", NULL });
}

static void test_notify_formats(void)
{
    struct wrk_repos *repos = NULL;
    char msg[512];
    CHECK_INT_EQ(
        load("repos:\n"
             "  - name: demo/n\n"
             "    git: https://example.test/n.git\n"
             "    notify: [https://a.example/hook,\n"
             "             {url: https://b.example/x, format: cloudevents},\n"
             "             {url: https://hooks.slack.example/T/B/X, format: slack}]\n"
             "    rules:\n"
             "      - { source_type: branch, source: main }\n"
             "      - { source_type: tag, source: v1, notify: {url: https://c.example/y} }\n",
             &repos, msg, sizeof(msg)),
        0);
    if (repos) {
        const struct wrk_rule *r = &repos->repos[0].rules[0];
        CHECK_INT_EQ(r->n_notify, 3);
        CHECK_STR_EQ(r->notify[1], "https://b.example/x");
        CHECK_INT_EQ(r->notify_format[0], WRK_NOTIFY_DOCKERHUB);
        CHECK_INT_EQ(r->notify_format[1], WRK_NOTIFY_CLOUDEVENTS);
        CHECK_INT_EQ(r->notify_format[2], WRK_NOTIFY_SLACK);
        const struct wrk_rule *t = &repos->repos[0].rules[1];
        CHECK_INT_EQ(t->n_notify, 1);
        CHECK_INT_EQ(t->notify_format[0], WRK_NOTIFY_DOCKERHUB);
    }
    wrk_repos_free(repos);
    CHECK(load("repos:\n  - name: demo/n\n    git: https://example.test/n.git\n"
               "    notify: [{url: https://a.example/h, format: teams}]\n"
               "    rules: [{ source_type: branch, source: main }]\n",
               &repos, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "format: expected dockerhub, cloudevents or slack") != NULL);
    CHECK(load("repos:\n  - name: demo/n\n    git: https://example.test/n.git\n"
               "    notify: [{url: ftp://a.example/h}]\n"
               "    rules: [{ source_type: branch, source: main }]\n",
               &repos, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "expected an http:// or https:// URL") != NULL);
}

static void test_runs_keep(void)
{
    static const struct {
        const char *text;
        long long want;
    } cases[] = {
        { "90d", 90LL * 86400 }, { "1h", 3600 }, { "forever", 0 },  { "0", 0 },
        { "59m", -1 },           { "soon", -1 }, { "200000d", -1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *v = json_string(cases[i].text);
        CHECK_INT_EQ((long long)wrk_runs_keep_parse(v), cases[i].want);
        json_decref(v);
    }
    json_t *n = json_integer(7200);
    CHECK_INT_EQ((long long)wrk_runs_keep_parse(n), 7200);
    json_decref(n);
}

static void test_url_normalize(void)
{
    const struct {
        const char *in, *out;
    } cases[] = {
        { "https://github.com/acme/hello.git", "github.com/acme/hello" },
        { "https://github.com/acme/hello", "github.com/acme/hello" },
        { "https://github.com/acme/hello/", "github.com/acme/hello" },
        { "HTTPS://GitHub.COM/acme/hello.git/", "github.com/acme/hello" },
        { "http://github.com:80/acme/hello", "github.com/acme/hello" },
        { "https://github.com:443/acme/hello", "github.com/acme/hello" },
        { "https://user:pass@github.com/acme/hello.git", "github.com/acme/hello" },
        { "git://github.com/acme/hello.git", "github.com/acme/hello" },
        { "ssh://git@github.com/acme/hello.git", "github.com/acme/hello" },
        { "ssh://git@github.com:22/acme/hello.git", "github.com/acme/hello" },
        { "git@github.com:acme/hello.git", "github.com/acme/hello" },
        { "https://gitea.local:3000/acme/hello.git", "gitea.local:3000/acme/hello" },
        { "https://github.com/Acme/Hello", "github.com/Acme/Hello" }, /* path case kept */
        { "file:///srv/git/hello.git", "file:///srv/git/hello" },
        { "file:///srv/git/hello/", "file:///srv/git/hello" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *n = wrk_git_url_normalize(cases[i].in);
        CHECK_STR_EQ(n, cases[i].out);
        free(n);
    }
    CHECK(wrk_git_url_normalize("/just/a/path") == NULL);
}

static void test_match(void)
{
    struct wrk_repos *repos = NULL;
    char msg[1024];
    CHECK_INT_EQ(load(full_config, &repos, msg, sizeof(msg)), 0);
    if (repos == NULL)
        return;
    const struct wrk_repo *r = wrk_repos_find(repos, "demo/hello");
    struct wrk_match m[8];
    /* exact names match exactly */
    CHECK_INT_EQ(wrk_repo_match(r, "branch", "main", m, 8), 1);
    CHECK_INT_EQ(m[0].rule->index, 0);
    wrk_match_clear(&m[0]);
    CHECK_INT_EQ(wrk_repo_match(r, "branch", "main2", m, 8), 0);
    CHECK_INT_EQ(wrk_repo_match(r, "tag", "main", m, 8), 0);
    /* regexes are searched unanchored, like Docker Hub */
    CHECK_INT_EQ(wrk_repo_match(r, "branch", "pre-release-7", m, 8), 1);
    CHECK_INT_EQ(m[0].rule->index, 3);
    wrk_match_clear(&m[0]);
    /* anchored ones with captures; a tag may match two rules */
    size_t n = wrk_repo_match(r, "tag", "v2.7-beta", m, 8);
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(m[0].rule->index, 1);
    CHECK_STR_EQ(m[0].groups[0], "v2.7-beta");
    CHECK_STR_EQ(m[0].groups[1], "2");
    CHECK_STR_EQ(m[0].groups[2], "7");
    CHECK_INT_EQ(m[1].rule->index, 2);
    for (size_t i = 0; i < n; i++)
        wrk_match_clear(&m[i]);
    /* the anchors of the first rule hold */
    CHECK_INT_EQ(wrk_repo_match(r, "tag", "v2.7-beta-x", m, 8), 1);
    CHECK_INT_EQ(m[0].rule->index, 2);
    wrk_match_clear(&m[0]);
    CHECK_INT_EQ(wrk_repo_match(r, "tag", "xv2.7-beta", m, 8), 0);
    wrk_repos_free(repos);
}

/* Renders a rule's tags into one comma-separated string ("!" marks an
 * immutable tag), or the error message. */
static void render(const struct wrk_rule *rule, const char *ref, const struct wrk_match *m,
                   char *out, size_t size)
{
    struct wrk_tag_context ctx = {
        .source_ref = ref,
        .run_id = "ca7",
        .commit = "0123456789abcdef0123456789abcdef01234567",
        .commit_time = 1764000000, /* 2025-11-24 */
        .match = m,
    };
    struct wrk_tag *tags = NULL;
    size_t n = 0;
    sw_error *err = NULL;
    out[0] = '\0';
    if (wrk_tags_render(rule, &ctx, &tags, &n, &err) != 0) {
        snprintf(out, size, "error: %s", sw_error_message(err));
        sw_error_clear(&err);
        return;
    }
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s%s", i ? "," : "", tags[i].name,
                 tags[i].immutable ? "!" : "");
    wrk_tags_free(tags, n);
}

static void test_render(void)
{
    char out[512];
    char *plain[] = { "latest",      "{run_id}", "sha-{commit:7}", "{commit}",
                      "{sourceref}", "d{date}",  "latest" };
    struct wrk_rule rule = { .source_type = "branch", .tags = plain, .n_tags = 7 };
    render(&rule, "main", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "latest,ca7,sha-0123456,0123456789abcdef0123456789abcdef01234567,main,"
                      "d20251124");
    /* branch names become valid tags */
    char *ref_only[] = { "{sourceref}" };
    rule.tags = ref_only;
    rule.n_tags = 1;
    render(&rule, "feature/x+y", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "feature-x-y");
    render(&rule, "-dash", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "_dash");
    /* captures */
    char *groups[] = { "beta-{\\1}-{\\2}{\\3}" };
    struct wrk_match m = { .rule = &rule, .n_groups = 3 };
    m.groups[0] = "v2.7-beta";
    m.groups[1] = "2";
    m.groups[2] = "7";
    rule.tags = groups;
    render(&rule, "v2.7-beta", &m, out, sizeof(out));
    CHECK_STR_EQ(out, "beta-2-7");
    /* semver */
    struct wrk_rule sv = { .source_type = "tag", .semver = 1 };
    render(&sv, "v2.1.5", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "2.1.5!,2.1,2,latest");
    render(&sv, "2.1.5+build.7", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "2.1.5!,2.1,2,latest");
    render(&sv, "v2.2.0-rc.1", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "2.2.0-rc.1!");
    render(&sv, "v2.2", NULL, out, sizeof(out));
    CHECK(strstr(out, "error: tag v2.2 is not a semantic version") == out);
    render(&sv, "v01.2.3", NULL, out, sizeof(out));
    CHECK(strncmp(out, "error:", 6) == 0);
    char *extra[] = { "{sourceref}", "latest" };
    sv.tags = extra;
    sv.n_tags = 2;
    render(&sv, "v3.0.0", NULL, out, sizeof(out));
    CHECK_STR_EQ(out, "3.0.0!,3.0,3,latest,v3.0.0");
}

static void test_template_check(void)
{
    CHECK_INT_EQ(wrk_tags_check_template("sha-{commit:7}", 0, NULL), 0);
    CHECK(wrk_tags_check_template("{commit:0}", 0, NULL) != 0);
    CHECK(wrk_tags_check_template("{commit:41}", 0, NULL) != 0);
    CHECK(wrk_tags_check_template("{run_id", 0, NULL) != 0);
    CHECK(wrk_tags_check_template("a}", 0, NULL) != 0);
    CHECK_INT_EQ(wrk_tags_check_template("{\\9}", 9, NULL), 0);
    CHECK_INT_EQ(wrk_tags_check_template("pr-{number}", 0, NULL), 0);
    CHECK(wrk_tags_check_template("pr-{numbers}", 0, NULL) != 0);
}

/* source_type: pull_request rules: the target branch, forks:, no tag
 * unless the rule names some, {number}. */
static void test_pull_request_rules(void)
{
    struct wrk_repos *repos = NULL;
    char msg[1024];
    CHECK_INT_EQ(load(REPO_HEAD "    rules:\n"
                                "      - { source_type: branch, source: main }\n"
                                "      - { source_type: pull_request, source: main }\n"
                                "      - { source_type: pull_request, source: \"/^release-/\","
                                " forks: true, tags: [\"pr-{number}\"] }\n",
                      &repos, msg, sizeof(msg)),
                 0);
    CHECK_STR_EQ(msg, "");
    if (repos == NULL)
        return;
    const struct wrk_repo *r = wrk_repos_find(repos, "demo/x");
    CHECK_STR_EQ(r->rules[1].source_type, "pull_request");
    CHECK_INT_EQ(r->rules[1].n_tags, 0); /* pushes nothing by default */
    CHECK_INT_EQ(r->rules[1].forks, 0);
    CHECK_INT_EQ(r->rules[2].forks, 1);
    CHECK_INT_EQ(r->rules[2].n_tags, 1);
    struct wrk_match m[4];
    /* a pull request into main matches the pull_request rule, not the branch one */
    CHECK_INT_EQ(wrk_repo_match(r, "pull_request", "main", m, 4), 1);
    CHECK_INT_EQ(m[0].rule->index, 1);
    wrk_match_clear(&m[0]);
    CHECK_INT_EQ(wrk_repo_match(r, "pull_request", "release-2", m, 4), 1);
    CHECK_INT_EQ(m[0].rule->index, 2);
    char out[256];
    struct wrk_tag_context ctx = { .source_ref = "release-2",
                                   .commit = "0123456789abcdef0123"
                                             "456789abcdef01234567",
                                   .match = &m[0],
                                   .pr_number = 7 };
    struct wrk_tag *tags = NULL;
    size_t n = 0;
    CHECK_INT_EQ(wrk_tags_render(&r->rules[2], &ctx, &tags, &n, NULL), 0);
    snprintf(out, sizeof(out), "%s", n == 1 ? tags[0].name : "?");
    CHECK_STR_EQ(out, "pr-7");
    wrk_tags_free(tags, n);
    wrk_match_clear(&m[0]);
    CHECK_INT_EQ(wrk_tags_render(&r->rules[1], &ctx, &tags, &n, NULL), 0);
    CHECK_INT_EQ(n, 0);
    wrk_tags_free(tags, n);
    wrk_repos_free(repos);

    expect_error(REPO_HEAD
                 "    rules:\n      - { source_type: branch, source: main, forks: true }\n",
                 (const char *[]){ "rules[1].forks", "source_type: pull_request", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: pull_request, source: main,"
                           " forks: yes please }\n",
                 (const char *[]){ "rules[1].forks", "true or false", NULL });
    expect_error(
        REPO_HEAD "    rules:\n      - { source_type: branch, source: main,"
                  " tags: [\"pr-{number}\"] }\n",
        (const char *[]){ "rules[1].tags", "{number}", "source_type: pull_request", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: pull_request, source: main,"
                           " semver: true }\n",
                 (const char *[]){ "rules[1].semver", "source_type: tag", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: pull_request, source: main,"
                           " tags: [] }\n",
                 (const char *[]){ "rules[1].tags", "an empty list", NULL });
    expect_error(REPO_HEAD "    rules:\n      - { source_type: merge_request, source: main }\n",
                 (const char *[]){ "rules[1].source_type", "branch, tag or pull_request", NULL });
}

/* repos[].secrets: ID -> env:NAME | file:PATH, checked at load. */
static void test_build_secrets(void)
{
    setenv("SLIPWAY_TEST_BUILD_SECRET", "x", 1);
    char *yaml = NULL;
    if (asprintf(&yaml,
                 REPO_HEAD "    secrets:\n      tok: env:SLIPWAY_TEST_BUILD_SECRET\n"
                           "      npmrc: file:%s/slipway.yaml\n"
                           "    rules:\n      - { source_type: branch, source: main }\n",
                 dir) < 0)
        abort();
    struct wrk_repos *repos = NULL;
    char msg[1024];
    CHECK_INT_EQ(load(yaml, &repos, msg, sizeof(msg)), 0);
    if (repos && repos->n == 1) {
        CHECK_INT_EQ((int)repos->repos[0].n_secrets, 2);
        CHECK_STR_EQ(repos->repos[0].secret_ids[0], "tok");
        CHECK_STR_EQ(repos->repos[0].secret_refs[0], "env:SLIPWAY_TEST_BUILD_SECRET");
    }
    wrk_repos_free(repos);
    free(yaml);
    expect_error(
        REPO_HEAD "    secrets:\n      tok: literal-value\n"
                  "    rules:\n      - { source_type: branch, source: main }\n",
        (const char *[]){ "repos[demo/x].secrets", "expected env:NAME or file:PATH", NULL });
    expect_error(REPO_HEAD "    secrets:\n      tok: env:SLIPWAY_TEST_UNSET_VARIABLE\n"
                           "    rules:\n      - { source_type: branch, source: main }\n",
                 (const char *[]){ "SLIPWAY_TEST_UNSET_VARIABLE is not set", NULL });
    expect_error(REPO_HEAD "    secrets:\n      tok: file:/nonexistent/secret\n"
                           "    rules:\n      - { source_type: branch, source: main }\n",
                 (const char *[]){ "not a readable file", NULL });
}

/* repos[].forward_ssh: off by default, needs ssh_key. */
static void test_forward_ssh(void)
{
    char *yaml = NULL;
    if (asprintf(&yaml,
                 REPO_HEAD "    ssh_key: %s/slipway.yaml\n    forward_ssh: true\n"
                           "    rules:\n      - { source_type: branch, source: main }\n",
                 dir) < 0)
        abort();
    struct wrk_repos *repos = NULL;
    char msg[1024];
    CHECK_INT_EQ(load(yaml, &repos, msg, sizeof(msg)), 0);
    if (repos && repos->n == 1)
        CHECK_INT_EQ(repos->repos[0].forward_ssh, 1);
    wrk_repos_free(repos);
    free(yaml);
    CHECK_INT_EQ(load(REPO_HEAD "    rules:\n      - { source_type: branch, source: main }\n",
                      &repos, msg, sizeof(msg)),
                 0);
    if (repos && repos->n == 1)
        CHECK_INT_EQ(repos->repos[0].forward_ssh, 0);
    wrk_repos_free(repos);
    expect_error(REPO_HEAD "    forward_ssh: true\n"
                           "    rules:\n      - { source_type: branch, source: main }\n",
                 (const char *[]){ "repos[demo/x].forward_ssh", "needs ssh_key", NULL });
    expect_error(REPO_HEAD "    forward_ssh: maybe\n"
                           "    rules:\n      - { source_type: branch, source: main }\n",
                 (const char *[]){ "repos[demo/x].forward_ssh", NULL });
}

int main(void)
{
    dir = scratch_dir("test_repos");
    RUN(test_forward_ssh);
    RUN(test_load_full);
    RUN(test_no_repos);
    RUN(test_errors);
    RUN(test_notify_formats);
    RUN(test_platforms);
    RUN(test_build_secrets);
    RUN(test_runs_keep);
    RUN(test_url_normalize);
    RUN(test_match);
    RUN(test_render);
    RUN(test_template_check);
    RUN(test_pull_request_rules);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
