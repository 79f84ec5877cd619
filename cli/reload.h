/*
 * reload.h - re-reading the config on SIGHUP (`slipway serve`, `slipway
 * worker`) and `slipway reload`.
 *
 * A reload re-reads the whole file and, when it is valid, replaces the
 * repositories (`repos:`) the server and the workers use: repositories and
 * rules can be added, changed and removed while runs go on; a run keeps the
 * repository and rule it started with. An invalid file is refused with its
 * error in the log and the old configuration stays. The other sections
 * (server, registry, builder, storage, runs) are read at start only:
 * changing them needs a restart, and a reload says so in the log.
 *
 * Every generation loaded is kept until the process exits (a run, or a
 * request, may still hold a pointer into an older one); a reload costs the
 * memory of one config, a few kilobytes.
 */
#ifndef SW_CLI_RELOAD_H
#define SW_CLI_RELOAD_H

#include <signal.h>

#include "core/config.h"
#include "core/error.h"
#include "worker/repos.h"

struct cli_generations {
    struct sw_config **configs;
    struct wrk_repos **repos;
    size_t n;
};

/* Loads config_path (with data_dir_override applied, when not NULL) and its
 * repositories as a new generation; *repos_out points into it. 0, or an
 * error naming the file and line (nothing kept). */
int cli_reload_load(struct cli_generations *g, const char *config_path,
                    const char *data_dir_override, const struct wrk_repos **repos_out,
                    sw_error **err);

void cli_generations_free(struct cli_generations *g);

/* The main thread of serve and worker: waits for the signals of *signals
 * (cli_block_signals); SIGHUP reloads config_path as a new generation and
 * hands its repositories to apply(ctx, fresh), an invalid config is logged
 * and the running one stays. Returns the signal that ends the wait
 * (SIGTERM, SIGINT). who prefixes the log lines ("server", "worker w-1"). */
int cli_serve_signals(const sigset_t *signals, struct cli_generations *g, const char *config_path,
                      const char *data_dir_override, const char *who,
                      void (*apply)(void *ctx, const struct wrk_repos *fresh), void *ctx);

/* <data_dir>/serve.pid: written by `slipway serve`, read by `slipway reload`. */
int cli_pid_file_write(const char *data_dir, sw_error **err);
void cli_pid_file_remove(const char *data_dir);

#endif
