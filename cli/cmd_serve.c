/*
 * cmd_serve.c - `slipway serve`: open the store and run the HTTP server
 * (registry API, web UI) until SIGTERM or SIGINT, then shut down
 * gracefully: stop accepting, let requests in flight finish, close the
 * store.
 *
 * The signals are blocked before any thread starts, so every server
 * thread inherits the mask and the main thread alone takes them with
 * sigwait(): no async-signal-safety puzzles in handlers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/reload.h"
#include "cli/store.h"
#include "core/config.h"
#include "core/fs.h"
#include "core/log.h"
#include "registry/store.h"
#include "server/server.h"
#include "worker/logstore.h"
#include "worker/repos.h"
#include "worker/service.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: slipway serve [--config FILE] [--data-dir DIR] [--listen HOST:PORT]\n"
                 "\n"
                 "Runs the registry (OCI Distribution API under /v2/), the web UI, the\n"
                 "webhook receivers and JSON API of the build service, and `workers: N`\n"
                 "build workers.\n"
                 "Stops cleanly on SIGTERM or SIGINT.\n"
                 "\n"
                 "options:\n"
                 "  --config FILE        the service config (YAML or JSON; docs/config.md);\n"
                 "                       without it, built-in defaults\n"
                 "  --data-dir DIR       the data directory (overrides server.data_dir)\n"
                 "  --listen HOST:PORT   the address to listen on (overrides server.listen;\n"
                 "                       port 0 picks a free port, printed at start)\n"
                 "  -h, --help           this text\n");
}

/* "host:port" or "[v6]:port" into a malloc'd host and a port; -1 if bad. */
static int parse_listen(const char *text, char **host, int *port)
{
    const char *colon;
    const char *host_start = text;
    size_t host_len;

    if (text[0] == '[') {
        const char *close_bracket = strchr(text, ']');
        if (close_bracket == NULL || close_bracket[1] != ':')
            return -1;
        host_start = text + 1;
        host_len = (size_t)(close_bracket - host_start);
        colon = close_bracket + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL)
            return -1;
        host_len = (size_t)(colon - text);
    }
    char *end = NULL;
    errno = 0;
    long value = strtol(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end != '\0' || value < 0 || value > 65535)
        return -1;
    *host = strndup(host_start, host_len);
    if (*host == NULL)
        return -1;
    *port = (int)value;
    return 0;
}

static int serve_option(void *ctx, int opt, const char *arg)
{
    const char **listen = ctx;
    if (opt == 'l')
        *listen = arg;
    return 0;
}

struct serve_parts {
    srv_server *srv;
    wrk_service *workers;
};

/* a reloaded config's repositories: to the server and its workers */
static void apply_repos(void *ctx, const struct wrk_repos *fresh)
{
    struct serve_parts *p = ctx;
    srv_set_repos(p->srv, fresh);
    wrk_service_set_repos(p->workers, fresh);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { "listen", required_argument, NULL, 'l' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = NULL;
    struct cli_store_args args;
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    srv_server *srv = NULL;
    struct wrk_repos *repos = NULL;
    wrk_service *workers = NULL;
    struct cli_generations generations = { 0 };
    sw_error *err = NULL;
    sigset_t signals;
    int signal_number = 0;
    const struct cli_command command = {
        .name = "serve",
        .short_options = "h",
        .options = options,
        .usage = usage,
        .option = serve_option,
        .ctx = &listen,
        .store_optional = 1,
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;
    status = 1;
    if (cli_load_config(args.config_path, args.data_dir, &cfg, &err) != 0) {
        fprintf(stderr, "slipway serve: %s\n", sw_error_message(err));
        goto cleanup;
    }
    if (listen) {
        char *host = NULL;
        int port = 0;
        if (parse_listen(listen, &host, &port) != 0) {
            fprintf(stderr, "slipway serve: --listen '%s': expected HOST:PORT\n", listen);
            status = 2;
            goto cleanup;
        }
        free(cfg->listen_host);
        cfg->listen_host = host;
        cfg->listen_port = port;
    }

    if (wrk_repos_load(cfg, &repos, &err) != 0 || cli_store_open_config(cfg, &store, &err) != 0) {
        fprintf(stderr, "slipway serve: %s\n", sw_error_message(err));
        goto cleanup;
    }

    cli_block_signals(&signals);

    /* the workers first: once srv_start returns, requests are answered, and
     * a manual run or a delivery must find the build service wired */
    if (cfg->workers > 0) {
        char name[64];
        snprintf(name, sizeof(name), "serve-%d", (int)getpid());
        struct wrk_service_options wopts = {
            .config = cfg,
            .repos = repos,
            .store = store,
            .threads = cfg->workers,
            .name = name,
        };
        if (wrk_service_start(&wopts, &workers, &err) != 0) {
            fprintf(stderr, "slipway serve: %s\n", sw_error_message(err));
            goto cleanup;
        }
    }
    /* PostgreSQL: followed logs hear a worker anywhere append (logstore.h) */
    if (wrk_log_watch_start(store, &err) != 0) {
        sw_warn("server: %s (followed logs poll)", sw_error_message(err));
        sw_error_clear(&err);
    }
    if (srv_start(cfg, store, &srv, &err) != 0) {
        fprintf(stderr, "slipway serve: %s\n", sw_error_message(err));
        goto cleanup;
    }
    srv_set_build_service(srv, repos, workers, wrk_service_threads(workers));
    int is_v6 = strchr(cfg->listen_host, ':') != NULL;
    sw_info("server: listening on %s://%s%s%s:%d (data in %s)", cfg->tls_cert ? "https" : "http",
            is_v6 ? "[" : "", cfg->listen_host[0] ? cfg->listen_host : "0.0.0.0", is_v6 ? "]" : "",
            srv_port(srv), cfg->data_dir);

    if (cli_pid_file_write(cfg->data_dir, &err) != 0) {
        sw_warn("server: %s (slipway reload will not find this server)", sw_error_message(err));
        sw_error_clear(&err);
    }
    struct serve_parts parts = { srv, workers };
    signal_number = cli_serve_signals(&signals, &generations, args.config_path, args.data_dir,
                                      "server", apply_repos, &parts);
    cli_pid_file_remove(cfg->data_dir);
    sw_info("server: %s received, shutting down", strsignal(signal_number));
    srv_stop(srv);
    srv = NULL;
    wrk_service_stop(workers);
    workers = NULL;
    sw_info("server: stopped");
    status = 0;
cleanup:
    srv_stop(srv);
    wrk_service_stop(workers);
    wrk_log_watch_stop();
    cli_generations_free(&generations);
    wrk_repos_free(repos);
    reg_store_close(store);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
