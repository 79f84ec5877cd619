/*
 * store.h - CLI plumbing shared by the subcommands that work on a store
 * directly (gc, fsck, import, export, pull, build).
 */
#ifndef SW_CLI_STORE_H
#define SW_CLI_STORE_H

#include <signal.h>

#include "core/config.h"
#include "core/error.h"
#include "registry/store.h"

/* Prints "slipway CMD: no store given ..." and returns -1 when neither
 * --config nor --data-dir was given; 0 otherwise. */
int cli_store_given(const char *cmd, const char *config_path, const char *data_dir);

/* --data-dir DIR: cfg->data_dir becomes DIR made absolute (symlinks
 * resolved), created (0700) when missing. */
int cli_set_data_dir(struct sw_config *cfg, const char *data_dir, sw_error **err);

/* The config of --config FILE (the built-in defaults without one) with
 * --data-dir DIR applied as cli_set_data_dir does; *out is freed by the
 * caller with sw_config_free (NULL on failure). */
int cli_load_config(const char *config_path, const char *data_dir, struct sw_config **out,
                    sw_error **err);

/* Opens the store of cfg->data_dir with cfg's registry options. */
int cli_store_open_config(const struct sw_config *cfg, reg_store **out, sw_error **err);

/* For the long-running commands (serve, worker), before any thread starts:
 * blocks SIGTERM, SIGINT and SIGHUP (every thread inherits the mask; the
 * main thread takes them with sigwait on *signals) and ignores SIGPIPE. */
void cli_block_signals(sigset_t *signals);

/* Opens the store named by --config FILE and/or --data-dir DIR: the
 * config's server.data_dir, overridden by data_dir (made absolute, created
 * when missing); with no config_path, the built-in defaults with data_dir
 * (which is then required). *cfg_out (may be NULL) receives the config,
 * freed by the caller with sw_config_free; *out is closed with
 * reg_store_close. */
int cli_open_store(const char *config_path, const char *data_dir, struct sw_config **cfg_out,
                   reg_store **out, sw_error **err);

#endif
