/*
 * store.c - CLI plumbing shared by the subcommands that open a store.
 */
#include "cli/store.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/fs.h"

int cli_store_given(const char *cmd, const char *config_path, const char *data_dir)
{
    if (config_path || data_dir)
        return 0;
    fprintf(stderr, "slipway %s: no store given: use --config FILE or --data-dir DIR\n\n", cmd);
    return -1;
}

int cli_set_data_dir(struct sw_config *cfg, const char *data_dir, sw_error **err)
{
    char *abs = realpath(data_dir, NULL);
    if (abs == NULL && errno == ENOENT && sw_mkdir_p(data_dir, 0700, NULL) == 0)
        abs = realpath(data_dir, NULL);
    if (abs == NULL)
        return sw_error_sys(err, SW_EIO, errno, "--data-dir %s", data_dir);
    free(cfg->data_dir);
    cfg->data_dir = abs;
    return 0;
}

int cli_load_config(const char *config_path, const char *data_dir, struct sw_config **out,
                    sw_error **err)
{
    struct sw_config *cfg = NULL;
    int rc = config_path ? sw_config_load(config_path, &cfg, err) : sw_config_defaults(&cfg, err);
    if (rc == 0 && data_dir && (rc = cli_set_data_dir(cfg, data_dir, err)) != 0) {
        sw_config_free(cfg);
        cfg = NULL;
    }
    *out = cfg;
    return rc;
}

int cli_store_open_config(const struct sw_config *cfg, reg_store **out, sw_error **err)
{
    struct reg_options opts;
    reg_options_from_config(cfg, &opts);
    return reg_store_open(cfg->data_dir, &opts, out, err);
}

void cli_block_signals(sigset_t *signals)
{
    sigemptyset(signals);
    sigaddset(signals, SIGTERM);
    sigaddset(signals, SIGINT);
    sigaddset(signals, SIGHUP); /* reload the config (cli/reload.h) */
    pthread_sigmask(SIG_BLOCK, signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cli_open_store(const char *config_path, const char *data_dir, struct sw_config **cfg_out,
                   reg_store **out, sw_error **err)
{
    struct sw_config *cfg = NULL;
    int rc;
    if (config_path == NULL && data_dir == NULL)
        return sw_error_set(err, SW_EINVAL, "no store given: use --config FILE or --data-dir DIR");
    if ((rc = cli_load_config(config_path, data_dir, &cfg, err)) != 0)
        return rc;
    if ((rc = cli_store_open_config(cfg, out, err)) != 0)
        goto cleanup;
    if (cfg_out) {
        *cfg_out = cfg;
        cfg = NULL;
    }
cleanup:
    sw_config_free(cfg);
    return rc;
}
