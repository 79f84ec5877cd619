/*
 * reload.c - config reload on SIGHUP and `slipway reload` (see reload.h).
 */
#include "cli/reload.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/opts.h"
#include "cli/store.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/parse.h"

#define PID_FILE "serve.pid"

int cli_reload_load(struct cli_generations *g, const char *config_path,
                    const char *data_dir_override, const struct wrk_repos **repos_out,
                    sw_error **err)
{
    struct sw_config *cfg = NULL;
    struct wrk_repos *repos = NULL;
    int rc;
    if (config_path == NULL)
        return sw_error_set(err, SW_EINVAL, "no config file to reload (started without --config)");
    if ((rc = cli_load_config(config_path, data_dir_override, &cfg, err)) != 0 ||
        (rc = wrk_repos_load(cfg, &repos, err)) != 0)
        goto fail;
    struct sw_config **configs = realloc(g->configs, (g->n + 1) * sizeof(*configs));
    if (configs)
        g->configs = configs;
    struct wrk_repos **list = realloc(g->repos, (g->n + 1) * sizeof(*list));
    if (list)
        g->repos = list;
    if (configs == NULL || list == NULL) {
        rc = sw_error_oom(err);
        goto fail;
    }
    g->configs[g->n] = cfg;
    g->repos[g->n] = repos;
    g->n++;
    *repos_out = repos;
    return 0;
fail:
    wrk_repos_free(repos);
    sw_config_free(cfg);
    return rc;
}

void cli_generations_free(struct cli_generations *g)
{
    for (size_t i = 0; i < g->n; i++) {
        wrk_repos_free(g->repos[i]);
        sw_config_free(g->configs[i]);
    }
    free(g->repos);
    free(g->configs);
    memset(g, 0, sizeof(*g));
}

int cli_serve_signals(const sigset_t *signals, struct cli_generations *g, const char *config_path,
                      const char *data_dir_override, const char *who,
                      void (*apply)(void *ctx, const struct wrk_repos *fresh), void *ctx)
{
    int signal_number = 0;
    sw_error *err = NULL;
    for (;;) {
        if (sigwait(signals, &signal_number) != 0)
            continue;
        if (signal_number != SIGHUP)
            return signal_number;
        const struct wrk_repos *fresh = NULL;
        if (cli_reload_load(g, config_path, data_dir_override, &fresh, &err) != 0) {
            sw_err("%s: config reload refused, the running config stays: %s", who,
                   sw_error_message(err));
            sw_error_clear(&err);
            continue;
        }
        apply(ctx, fresh);
        sw_info("%s: config reloaded from %s: %zu repositor%s (only repos: is re-read; "
                "other sections need a restart)",
                who, config_path, fresh->n, fresh->n == 1 ? "y" : "ies");
    }
}

int cli_pid_file_write(const char *data_dir, sw_error **err)
{
    char *path = sw_path_join(data_dir, PID_FILE);
    char text[32];
    if (path == NULL)
        return sw_error_oom(err);
    snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    int rc = sw_write_file_atomic(path, text, strlen(text), 0600, err);
    free(path);
    return rc;
}

void cli_pid_file_remove(const char *data_dir)
{
    char *path = sw_path_join(data_dir, PID_FILE);
    char *text = NULL;
    int64_t pid = 0;
    /* only our own: another serve may have started on the data dir since */
    if (path && sw_read_file(path, 64, &text, NULL, NULL) == 0 &&
        sw_parse_int64_prefix(text, 1, INT32_MAX, &pid, NULL) == 0 && pid == (int64_t)getpid())
        unlink(path);
    free(text);
    free(path);
}

/* 1 when /proc/PID/cmdline is "...slipway serve ..." */
static int is_slipway_serve(pid_t pid)
{
    char path[64], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    if (sw_read_file(path, 65536, &text, &len, NULL) != 0)
        return 0;
    /* argv is NUL-separated: argv[0] ends in "slipway", argv[1] is "serve" */
    size_t first = strnlen(text, len);
    const char *base = memrchr(text, '/', first);
    base = base ? base + 1 : text;
    int ok =
        first < len && strncmp(base, "slipway", 7) == 0 && strcmp(text + first + 1, "serve") == 0;
    free(text);
    return ok;
}

static void reload_usage(FILE *out)
{
    fprintf(out, "usage: slipway reload (--config FILE | --data-dir DIR)\n"
                 "\n"
                 "Asks the running `slipway serve` of that data directory to re-read its\n"
                 "config (the same as sending it SIGHUP): repositories and build rules are\n"
                 "added, changed or removed without a restart, runs in progress keep the\n"
                 "rule they started with, and an invalid config is refused (the server log\n"
                 "says why) while the old one stays. `slipway worker` processes re-read\n"
                 "theirs on SIGHUP too. Other sections need a restart.\n");
}

int cmd_reload(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct cli_store_args args;
    struct sw_config *cfg = NULL;
    sw_error *err = NULL;
    char *path = NULL, *text = NULL;
    const struct cli_command command = {
        .name = "reload",
        .short_options = "h",
        .options = options,
        .usage = reload_usage,
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;
    status = 1;
    /* the file is checked here too, so a typo is reported to whoever typed it */
    if (cli_load_config(args.config_path, args.data_dir, &cfg, &err) != 0) {
        fprintf(stderr, "slipway reload: %s\n", sw_error_message(err));
        goto cleanup;
    }
    struct wrk_repos *repos = NULL;
    if (args.config_path && wrk_repos_load(cfg, &repos, &err) != 0) {
        fprintf(stderr, "slipway reload: %s (the server keeps its config)\n",
                sw_error_message(err));
        goto cleanup;
    }
    wrk_repos_free(repos);
    int64_t pid = 0;
    if ((path = sw_path_join(cfg->data_dir, PID_FILE)) == NULL ||
        sw_read_file(path, 64, &text, NULL, &err) != 0 ||
        sw_parse_int64_prefix(text, 2, INT32_MAX, &pid, NULL) != 0) {
        fprintf(stderr, "slipway reload: no running slipway serve found for %s (%s)\n",
                cfg->data_dir, err ? sw_error_message(err) : "bad pid file");
        goto cleanup;
    }
    /* a stale pid file may name a pid the system has since given to
     * another program: signal it only when it is a `slipway serve` */
    if (!is_slipway_serve((pid_t)pid)) {
        fprintf(stderr,
                "slipway reload: pid %lld in %s is not a running slipway serve (a stale pid "
                "file?)\n",
                (long long)pid, path);
        goto cleanup;
    }
    if (kill((pid_t)pid, SIGHUP) != 0) {
        fprintf(stderr, "slipway reload: signalling slipway serve (pid %lld): %s\n", (long long)pid,
                strerror(errno));
        goto cleanup;
    }
    printf("asked slipway serve (pid %lld) to reload its config\n", (long long)pid);
    status = 0;
cleanup:
    free(path);
    free(text);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
