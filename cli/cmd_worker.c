/*
 * cmd_worker.c - `slipway worker`: build workers in a process of their own,
 * on the data dir of a `slipway serve` (same config), so build capacity
 * can grow apart from the front end; with a PostgreSQL `database:`, also
 * on another machine with a data dir of its own (docs/scale-out.md,
 * "Remote workers"). Runs until SIGTERM or SIGINT; the runs in progress
 * then go back to the queue for the next worker.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/reload.h"
#include "cli/store.h"
#include "core/config.h"
#include "core/log.h"
#include "core/parse.h"
#include "registry/store.h"
#include "worker/repos.h"
#include "worker/service.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: slipway worker --config FILE [--threads N] [--name NAME]\n"
            "\n"
            "Runs build workers against the data dir, database and repositories of FILE.\n"
            "With a PostgreSQL `database:`, the data dir may be this machine's own: the\n"
            "queue and the run logs go through the database.\n"
            "\n"
            "options:\n"
            "  --config FILE   the service config, as given to `slipway serve`\n"
            "  --threads N     worker threads (default: `workers:` of the config, at least 1)\n"
            "  --name NAME     the lease owner name shown in logs (default: worker-<pid>)\n"
            "  -h, --help      this text\n");
}

/* a reloaded config's repositories: to the workers */
static void apply_repos(void *ctx, const struct wrk_repos *fresh)
{
    wrk_service_set_repos(ctx, fresh);
}

int cmd_worker(int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "threads", required_argument, NULL, 't' },
        { "name", required_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *name = NULL;
    int threads = 0, opt, status = 2, signal_number = 0;
    struct sw_config *cfg = NULL;
    struct wrk_repos *repos = NULL;
    reg_store *store = NULL;
    wrk_service *svc = NULL;
    struct cli_generations generations = { 0 };
    sw_error *err = NULL;
    char default_name[64];
    sigset_t signals;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 't':
            if (sw_parse_int(optarg, 1, 64, &threads) != 0) {
                fprintf(stderr, "slipway worker: --threads '%s': expected a number from 1 to 64\n",
                        optarg);
                return 2;
            }
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (config_path == NULL || optind != argc || threads < 0 || threads > 64) {
        usage(stderr);
        return 2;
    }
    status = 1;
    if (sw_config_load(config_path, &cfg, &err) != 0 || wrk_repos_load(cfg, &repos, &err) != 0) {
        fprintf(stderr, "slipway worker: %s\n", sw_error_message(err));
        goto cleanup;
    }
    if (cli_store_open_config(cfg, &store, &err) != 0) {
        fprintf(stderr, "slipway worker: %s\n", sw_error_message(err));
        goto cleanup;
    }
    cli_block_signals(&signals);

    if (name == NULL) {
        snprintf(default_name, sizeof(default_name), "worker-%d", (int)getpid());
        name = default_name;
    }
    struct wrk_service_options wopts = {
        .config = cfg,
        .repos = repos,
        .store = store,
        .threads = threads > 0 ? threads : (cfg->workers > 0 ? cfg->workers : 1),
        .name = name,
    };
    if (wrk_service_start(&wopts, &svc, &err) != 0) {
        fprintf(stderr, "slipway worker: %s\n", sw_error_message(err));
        goto cleanup;
    }
    sw_info("worker %s: building for %zu repositor%s from %s", name, repos->n,
            repos->n == 1 ? "y" : "ies", cfg->data_dir);
    char who[128];
    snprintf(who, sizeof(who), "worker %s", name);
    signal_number =
        cli_serve_signals(&signals, &generations, config_path, NULL, who, apply_repos, svc);
    sw_info("worker %s: %s received, stopping", name, strsignal(signal_number));
    status = 0;
cleanup:
    wrk_service_stop(svc);
    cli_generations_free(&generations);
    wrk_repos_free(repos);
    reg_store_close(store);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
