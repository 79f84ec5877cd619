/*
 * test_config.c - core/config.c: YAML and JSON, defaults, and error
 * messages that name the file, the line, the key and what was expected.
 */
#include "core/config.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static char *write_config(const char *name, const char *text)
{
    char *path = sw_path_join(dir, name);
    sw_write_file_atomic(path, text, strlen(text), 0644, NULL);
    return path;
}

/* Loads text and returns the error message ("" when it loaded). */
static char *load_error(const char *text)
{
    static char msg[1024];
    char *path = write_config("c.yaml", text);
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    msg[0] = '\0';
    if (sw_config_load(path, &cfg, &err) != 0)
        snprintf(msg, sizeof(msg), "%s", sw_error_message(err));
    sw_error_clear(&err);
    sw_config_free(cfg);
    free(path);
    return msg;
}

static void test_full_yaml(void)
{
    char *path = write_config(
        "full.yaml", "server:\n"
                     "  listen: 127.0.0.1:9090\n"
                     "  public_url: http://reg.example:9090/\n"
                     "  data_dir: /srv/slipway\n"
                     "registry:\n"
                     "  delete: true\n"
                     "  local_hosts: [localhost:9090]\n"
                     "  pagination_max: 50\n"
                     "  max_manifest_size: 1MiB\n"
                     "  auth:\n"
                     "    htpasswd: /etc/slipway/htpasswd\n"
                     "    anonymous_pull: true\n"
                     "    rules:\n"
                     "      - { repo: \"team/*\", users: [alice, bob], access: [pull, push] }\n"
                     "      - repo: \"*\"\n"
                     "        users: \"*\"\n"
                     "        access: [pull]\n"
                     "  mirrors:\n"
                     "    docker.io: [http://127.0.0.1:5000]\n"
                     "  gc: { untagged_manifests: delete }\n"
                     "builder:\n"
                     "  runtime: /usr/sbin/runc\n"
                     "  network: host\n"
                     "  compression: zstd\n"
                     "  step_timeout: 1h30m\n"
                     "workers: 3\n"
                     "repos: []\n");
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, &err), 0);
    if (cfg == NULL) {
        fprintf(stderr, "  %s\n", sw_error_message(err));
        sw_error_clear(&err);
        free(path);
        return;
    }
    CHECK_STR_EQ(cfg->listen_host, "127.0.0.1");
    CHECK_INT_EQ(cfg->listen_port, 9090);
    CHECK_STR_EQ(cfg->public_url, "http://reg.example:9090");
    CHECK_STR_EQ(cfg->data_dir, "/srv/slipway");
    CHECK_INT_EQ(cfg->delete_enabled, 1);
    CHECK_STR_EQ(cfg->local_hosts[0], "localhost:9090");
    CHECK(cfg->local_hosts[1] == NULL);
    CHECK_INT_EQ(cfg->max_page_size, 50);
    CHECK_INT_EQ(cfg->max_manifest_size, 1024 * 1024);
    CHECK_STR_EQ(cfg->htpasswd, "/etc/slipway/htpasswd");
    CHECK_INT_EQ(cfg->anonymous_pull, 1);
    CHECK_INT_EQ(cfg->n_rules, 2);
    CHECK_STR_EQ(cfg->rules[0].repo_pattern, "team/*");
    CHECK_STR_EQ(cfg->rules[0].users[1], "bob");
    CHECK(cfg->rules[0].can_pull && cfg->rules[0].can_push);
    CHECK_STR_EQ(cfg->rules[1].users[0], "*");
    CHECK(cfg->rules[1].can_pull && !cfg->rules[1].can_push);
    CHECK_INT_EQ(cfg->n_mirrors, 1);
    CHECK_STR_EQ(cfg->mirrors[0].host, "docker.io");
    CHECK_STR_EQ(cfg->mirrors[0].endpoints[0], "http://127.0.0.1:5000");
    CHECK_INT_EQ(cfg->gc_delete_untagged, 1);
    CHECK_STR_EQ(cfg->runtime, "/usr/sbin/runc");
    CHECK_STR_EQ(cfg->network, "host");
    CHECK_STR_EQ(cfg->compression, "zstd");
    CHECK_INT_EQ(cfg->step_timeout_s, 5400);
    CHECK_INT_EQ(cfg->workers, 3);
    CHECK(json_is_array(sw_config_section(cfg, "repos")));
    sw_config_free(cfg);
    free(path);
}

static void test_json_is_accepted(void)
{
    char *path = write_config(
        "c.json", "{\"server\": {\"listen\": \"127.0.0.1:7000\", \"data_dir\": \"/d\"},\n"
                  " \"registry\": {\"delete\": false}}\n");
    struct sw_config *cfg = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
    CHECK(cfg && cfg->listen_port == 7000 && cfg->delete_enabled == 0);
    CHECK(cfg && strcmp(cfg->public_url, "http://127.0.0.1:7000") == 0);
    sw_config_free(cfg);
    free(path);
}

static void test_defaults_and_relative_paths(void)
{
    char *path = write_config("min.yaml", "server:\n  data_dir: ./var\n");
    struct sw_config *cfg = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
    if (cfg) {
        CHECK_INT_EQ(cfg->listen_port, 8080);
        CHECK(cfg->data_dir[0] == '/');
        CHECK(strstr(cfg->data_dir, "/var") != NULL);
        CHECK_STR_EQ(cfg->runtime, "runc");
        CHECK_STR_EQ(cfg->network, "egress");
        CHECK_INT_EQ(cfg->max_manifest_size, 4 * 1024 * 1024);
        CHECK(cfg->htpasswd == NULL);
    }
    sw_config_free(cfg);
    free(path);
}

static void test_errors_name_file_line_key(void)
{
    const char *msg = load_error("registry:\n  delete: maybe\n");
    CHECK(strstr(msg, "c.yaml:2: registry.delete: expected true or false, got \"maybe\"") != NULL);

    msg = load_error("server:\n  listen: 8080\n");
    CHECK(strstr(msg, "c.yaml:2: server.listen: expected host:port") != NULL);

    msg = load_error("server:\n  lsten: 1.2.3.4:5\n");
    CHECK(strstr(msg, "server.lsten: unknown key") != NULL);

    msg = load_error("builder:\n  network: bridge\n");
    CHECK(strstr(msg, "builder.network: expected egress, none or host, got \"bridge\"") != NULL);

    msg = load_error("builder:\n  step_timeout: soon\n");
    CHECK(strstr(msg, "builder.step_timeout: expected a duration") != NULL);

    msg = load_error("registry:\n  auth:\n    anonymous_pull: true\n");
    CHECK(strstr(msg, "registry.auth.htpasswd: missing") != NULL);

    msg = load_error("registry:\n  auth:\n    htpasswd: /x\n    rules:\n      - { repo: a, users: "
                     "[x], access: [read] }\n");
    CHECK(strstr(msg, "registry.auth.rules[0].access: expected pull or push, got \"read\"") !=
          NULL);

    msg = load_error("registry:\n  auth:\n    htpasswd: /x\n    rules:\n      - { repo: a, users: "
                     "[anonymous, x], access: [pull, push] }\n");
    CHECK(strstr(msg, "registry.auth.rules[0].access: anonymous may only pull") != NULL);

    msg = load_error("registry:\n  auth:\n    htpasswd: /x\n    challenge: digest\n");
    CHECK(strstr(msg, "registry.auth.challenge: expected bearer or basic, got \"digest\"") != NULL);

    msg = load_error("registry:\n  auth:\n    htpasswd: /x\n    token_ttl: 1s\n");
    CHECK(strstr(msg, "registry.auth.token_ttl: expected a duration from 10s to 24h") != NULL);

    msg = load_error("server: [1, 2]\n");
    CHECK(strstr(msg, "server: expected a mapping, got a list") != NULL);

    msg = load_error("server:\n  listen: \"127.0.0.1:80\n");
    CHECK(strstr(msg, "c.yaml:") != NULL); /* YAML syntax errors carry a line */

    msg = load_error("workers: 1000\n");
    CHECK(strstr(msg, "workers: expected a number from 0 to 64, got 1000") != NULL);

    msg = load_error("registry:\n  delete: true\n  delete: false\n");
    CHECK(strstr(msg, "c.yaml:3: key 'delete' appears twice") != NULL);
}

/* The front door's limits: defaults, values, and bad values named. */
static void test_server_limits(void)
{
    char *path = write_config("limits.yaml", "server:\n  max_connections: 100\n"
                                             "  max_connections_per_ip: 8\n"
                                             "  header_timeout: 5s\n  idle_timeout: 2m\n"
                                             "  threads: 4\n");
    struct sw_config *cfg = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
    if (cfg) {
        CHECK_INT_EQ(cfg->max_connections, 100);
        CHECK_INT_EQ(cfg->max_connections_per_ip, 8);
        CHECK_INT_EQ(cfg->header_timeout_s, 5);
        CHECK_INT_EQ(cfg->idle_timeout_s, 120);
        CHECK_INT_EQ(cfg->server_threads, 4);
    }
    sw_config_free(cfg);
    free(path);
    path = write_config("min.yaml", "server:\n  data_dir: ./var\n");
    cfg = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
    if (cfg) {
        CHECK_INT_EQ(cfg->max_connections, 4096);
        CHECK_INT_EQ(cfg->max_connections_per_ip, 64);
        CHECK_INT_EQ(cfg->header_timeout_s, 10);
        CHECK_INT_EQ(cfg->idle_timeout_s, 60);
        CHECK_INT_EQ(cfg->server_threads, 0);
    }
    sw_config_free(cfg);
    free(path);

    const char *msg = load_error("server:\n  max_connections_per_ip: 0\n");
    CHECK(strstr(msg, "server.max_connections_per_ip: expected a number from 1") != NULL);
    msg = load_error("server:\n  header_timeout: 0s\n");
    CHECK(strstr(msg, "server.header_timeout: expected 1s to 1h") != NULL);
    msg = load_error("server:\n  max_connections: 3\n");
    CHECK(strstr(msg, "server.max_connections: expected a number from 16") != NULL);
}

static void test_registry_credentials(void)
{
    setenv("SW_TEST_REG_PASS", "hunter2", 1);
    char *path = write_config(
        "creds.yaml",
        "registry:\n"
        "  insecure: [\"127.0.0.1:5000\"]\n"
        "  credentials:\n"
        "    - { host: \"127.0.0.1:5000\", username: alice, password: env:SW_TEST_REG_PASS }\n");
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, &err), 0);
    if (cfg) {
        CHECK_STR_EQ(cfg->insecure_hosts[0], "127.0.0.1:5000");
        CHECK_INT_EQ(cfg->n_credentials, 1);
        CHECK_STR_EQ(cfg->credentials[0].username, "alice");
        CHECK_STR_EQ(cfg->credentials[0].password, "hunter2");
    }
    sw_config_free(cfg);
    free(path);
    const char *msg = load_error("registry:\n  credentials:\n    - { host: h, username: u, "
                                 "password: env:SW_TEST_UNSET_VAR }\n");
    CHECK(strstr(msg, "registry.credentials[0].password") != NULL);
    CHECK(strstr(msg, "SW_TEST_UNSET_VAR is not set") != NULL);
    CHECK(strstr(msg, "hunter2") == NULL);
    msg = load_error("registry:\n  credentials:\n    - { host: h }\n");
    CHECK(strstr(msg, "needs host, username and password") != NULL);
}

static void test_missing_file(void)
{
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    CHECK(sw_config_load("/nonexistent/slipway.yaml", &cfg, &err) != 0);
    CHECK(strstr(sw_error_message(err), "/nonexistent/slipway.yaml") != NULL);
    sw_error_clear(&err);
}

static void test_durations_and_sizes(void)
{
    CHECK_INT_EQ(sw_parse_duration("30s"), 30);
    CHECK_INT_EQ(sw_parse_duration("10m"), 600);
    CHECK_INT_EQ(sw_parse_duration("1h30m"), 5400);
    CHECK_INT_EQ(sw_parse_duration("90d"), 90 * 86400);
    CHECK_INT_EQ(sw_parse_duration("45"), 45);
    CHECK_INT_EQ(sw_parse_duration("0s"), 0);
    CHECK_INT_EQ(sw_parse_duration("5x"), -1);
    CHECK_INT_EQ(sw_parse_duration(""), -1);
    CHECK_INT_EQ(sw_parse_duration("-5s"), -1);
    CHECK_INT_EQ(sw_parse_size("4MiB"), 4 * 1024 * 1024);
    CHECK_INT_EQ(sw_parse_size("512KiB"), 512 * 1024);
    CHECK_INT_EQ(sw_parse_size("1GB"), 1000000000);
    CHECK_INT_EQ(sw_parse_size("100"), 100);
    CHECK_INT_EQ(sw_parse_size("4 MiB"), -1);
    CHECK_INT_EQ(sw_parse_size("MiB"), -1);
}

static void test_secret_from_env(void)
{
    char *value = NULL;
    sw_error *err = NULL;
    setenv("SW_TEST_SECRET", "s3cret", 1);
    CHECK_INT_EQ(sw_config_secret("env:SW_TEST_SECRET", &value, &err), 0);
    CHECK_STR_EQ(value, "s3cret");
    free(value);
    CHECK_INT_EQ(sw_config_secret("literal", &value, &err), 0);
    CHECK_STR_EQ(value, "literal");
    free(value);
    unsetenv("SW_TEST_SECRET");
    CHECK_INT_EQ(sw_config_secret("env:SW_TEST_SECRET", &value, &err), SW_ENOTFOUND);
    CHECK(strstr(sw_error_message(err), "SW_TEST_SECRET is not set") != NULL);
    sw_error_clear(&err);
}

static void test_builder_egress_keys(void)
{
    struct sw_config *cfg = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, NULL), 0);
    if (cfg) {
        CHECK_STR_EQ(cfg->network, "egress");
        CHECK_STR_EQ(cfg->egress_deny[0], "10.0.0.0/8");
        CHECK_STR_EQ(cfg->egress_deny[4], "fc00::/7");
        CHECK(cfg->egress_deny[5] == NULL);
        CHECK(cfg->egress_allow == NULL);
        CHECK(cfg->builder_allow == NULL);
        CHECK(cfg->add_max_size == (int64_t)2 * 1024 * 1024 * 1024);
    }
    sw_config_free(cfg);

    char *path = write_config("egress.yaml", "builder:\n"
                                             "  network: none\n"
                                             "  egress:\n"
                                             "    deny: [203.0.113.0/24]\n"
                                             "    allow: 10.1.2.3\n"
                                             "  allow: [network.host, security.insecure]\n"
                                             "  add_max_size: 100MiB\n");
    cfg = NULL;
    CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
    if (cfg) {
        CHECK_STR_EQ(cfg->network, "none");
        CHECK_STR_EQ(cfg->egress_deny[0], "203.0.113.0/24");
        CHECK(cfg->egress_deny[1] == NULL);
        CHECK_STR_EQ(cfg->egress_allow[0], "10.1.2.3");
        CHECK_STR_EQ(cfg->builder_allow[0], "network.host");
        CHECK_STR_EQ(cfg->builder_allow[1], "security.insecure");
        CHECK(cfg->add_max_size == 100 * 1024 * 1024);
    }
    sw_config_free(cfg);
    free(path);

    const char *msg = load_error("builder:\n  egress:\n    deny: [10.0.0.0/8, 10.0.0.0/40]\n");
    CHECK(strstr(msg, "c.yaml:3: builder.egress.deny[1]: expected an address range") != NULL);
    msg = load_error("builder:\n  egress:\n    allow: [example.com]\n");
    CHECK(strstr(msg, "builder.egress.allow[0]: expected an address range") != NULL);
    msg = load_error("builder:\n  egress:\n    block: []\n");
    CHECK(strstr(msg, "builder.egress.block: unknown key") != NULL);
    msg = load_error("builder:\n  allow: [network.host, root]\n");
    CHECK(
        strstr(msg, "builder.allow[1]: expected network.host or security.insecure, got \"root\"") !=
        NULL);
    msg = load_error("builder:\n  add_max_size: lots\n");
    CHECK(strstr(msg, "builder.add_max_size: expected a size") != NULL);
}

static void test_builder_limits_and_userns(void)
{
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, &err), 0);
    CHECK(cfg->limit_memory == 4LL << 30);
    CHECK(cfg->limit_pids == 4096);
    CHECK(cfg->limit_cpus == 0);
    CHECK(cfg->limit_disk == 20LL << 30);
    CHECK_INT_EQ(cfg->userns_enabled, 1);
    CHECK(cfg->userns_uid == 100000 && cfg->userns_gid == 100000 && cfg->userns_size == 65536);
    sw_config_free(cfg);
    cfg = NULL;

    char *path = write_config(
        "limits.yaml", "builder:\n"
                       "  limits: { memory: 512MiB, pids: 100, cpus: 1.5, disk: unlimited }\n"
                       "  userns: { uid: 200000, gid: 300000, size: 65536 }\n");
    CHECK_INT_EQ(sw_config_load(path, &cfg, &err), 0);
    if (cfg) {
        CHECK(cfg->limit_memory == 512LL << 20);
        CHECK(cfg->limit_pids == 100);
        CHECK(cfg->limit_cpus > 1.49 && cfg->limit_cpus < 1.51);
        CHECK(cfg->limit_disk == 0);
        CHECK(cfg->userns_uid == 200000 && cfg->userns_gid == 300000);
    }
    sw_config_free(cfg);
    cfg = NULL;
    free(path);
    path = write_config("nouserns.yaml", "builder:\n  userns: false\n");
    CHECK_INT_EQ(sw_config_load(path, &cfg, &err), 0);
    CHECK(cfg && cfg->userns_enabled == 0);
    sw_config_free(cfg);
    free(path);

    const char *msg = load_error("builder:\n  limits: { memory: lots }\n");
    CHECK(strstr(msg, "builder.limits.memory: expected a size") != NULL);
    msg = load_error("builder:\n  limits: { pids: 0 }\n");
    CHECK(strstr(msg, "builder.limits.pids: expected a number from 1") != NULL);
    msg = load_error("builder:\n  limits: { cpus: many }\n");
    CHECK(strstr(msg, "builder.limits.cpus: expected a number of CPUs") != NULL);
    msg = load_error("builder:\n  limits: { swap: 1GiB }\n");
    CHECK(strstr(msg, "builder.limits.swap: unknown key") != NULL);
    msg = load_error("builder:\n  userns: { uid: 0 }\n");
    CHECK(strstr(msg, "builder.userns.uid: expected a number from 1000") != NULL);
    msg = load_error("builder:\n  userns: { uid: 100000, size: 1000 }\n");
    CHECK(strstr(msg, "builder.userns.size: expected at least 65536") != NULL);
}

static void test_access_log(void)
{
    struct sw_config *cfg = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, NULL), 0);
    CHECK_INT_EQ(cfg->access_log, SW_ACCESS_LOG_ON);
    sw_config_free(cfg);
    const char *docs[][2] = { { "server:\n  access_log: off\n", "off" },
                              { "server:\n  access_log: errors\n", "errors" },
                              { "server:\n  access_log: \"on\"\n", "on" } };
    int want[] = { SW_ACCESS_LOG_OFF, SW_ACCESS_LOG_ERRORS, SW_ACCESS_LOG_ON };
    for (int i = 0; i < 3; i++) {
        char *path = write_config("access.yaml", docs[i][0]);
        cfg = NULL;
        CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
        if (cfg)
            CHECK_INT_EQ(cfg->access_log, want[i]);
        sw_config_free(cfg);
        free(path);
    }
    const char *msg = load_error("server:\n  access_log: verbose\n");
    CHECK(strstr(msg, "server.access_log: expected on, off or errors") != NULL);
}

static void test_database_sync(void)
{
    struct sw_config *cfg = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, NULL), 0);
    CHECK_INT_EQ(cfg->database_sync_full, 0);
    sw_config_free(cfg);
    const char *docs[] = { "database_sync: normal\n", "database_sync: full\n" };
    for (int i = 0; i < 2; i++) {
        char *path = write_config("sync.yaml", docs[i]);
        cfg = NULL;
        CHECK_INT_EQ(sw_config_load(path, &cfg, NULL), 0);
        if (cfg)
            CHECK_INT_EQ(cfg->database_sync_full, i);
        sw_config_free(cfg);
        free(path);
    }
    const char *msg = load_error("database_sync: always\n");
    CHECK(strstr(msg, "database_sync: expected normal or full, got \"always\"") != NULL);
}

int main(void)
{
    dir = scratch_dir("test_config");
    RUN(test_full_yaml);
    RUN(test_json_is_accepted);
    RUN(test_defaults_and_relative_paths);
    RUN(test_errors_name_file_line_key);
    RUN(test_server_limits);
    RUN(test_registry_credentials);
    RUN(test_missing_file);
    RUN(test_durations_and_sizes);
    RUN(test_secret_from_env);
    RUN(test_builder_egress_keys);
    RUN(test_builder_limits_and_userns);
    RUN(test_access_log);
    RUN(test_database_sync);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
