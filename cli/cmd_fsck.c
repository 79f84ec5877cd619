/*
 * cmd_fsck.c - `slipway fsck`: verify a store (registry/fsck.h) and print
 * what was found; exits 1 when anything is damaged (after --repair: when
 * damage remains that the repair could not fix).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/store.h"
#include "core/config.h"
#include "registry/fsck.h"
#include "registry/transfer.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: slipway fsck (--config FILE | --data-dir DIR) [--repair]\n"
                 "\n"
                 "Re-hashes every blob and checks the database against the files both ways:\n"
                 "blob rows and files, manifest references, tags, upload sessions, and\n"
                 "SQLite's quick_check. Prints one line per finding (damage, notice,\n"
                 "repaired), then a summary; exits 1 when damage was found.\n"
                 "\n"
                 "options:\n"
                 "  --config FILE        the service config (its server.data_dir is the store)\n"
                 "  --data-dir DIR       the store's data directory (overrides the config's)\n"
                 "  --repair             move damaged blobs to lost+found/ and forget their rows\n"
                 "                       (clients push them again), drop upload sessions\n"
                 "                       without files; never deletes manifests or tags\n"
                 "  -h, --help           this text\n");
}

static void report_finding(void *ctx, const char *kind, const char *message)
{
    (void)ctx;
    printf("%s: %s\n", kind, message);
    fflush(stdout);
}

static int fsck_option(void *ctx, int opt, const char *arg)
{
    struct reg_fsck_options *opts = ctx;
    (void)arg;
    if (opt == 'r')
        opts->repair = 1;
    return 0;
}

int cmd_fsck(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { "repair", no_argument, NULL, 'r' },
        { NULL, 0, NULL, 0 },
    };
    struct cli_store_args args;
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    sw_error *err = NULL;
    struct reg_fsck_options opts = { 0 };
    struct reg_fsck_result result = { 0 };
    const struct cli_command command = {
        .name = "fsck",
        .short_options = "h",
        .options = options,
        .usage = usage,
        .option = fsck_option,
        .ctx = &opts,
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;

    status = 1;
    if (cli_open_store(args.config_path, args.data_dir, &cfg, &store, &err) != 0) {
        fprintf(stderr, "slipway fsck: %s\n", sw_error_message(err));
        goto cleanup;
    }
    if (reg_fsck_run(store, &opts, report_finding, NULL, &result, &err) != 0) {
        fprintf(stderr, "slipway fsck: %s\n", sw_error_message(err));
        goto cleanup;
    }
    printf("fsck: %llu blobs (%llu bytes) checked: %llu damaged, %llu notices, %llu repaired\n",
           (unsigned long long)result.blobs_checked, (unsigned long long)result.bytes_checked,
           (unsigned long long)result.damage, (unsigned long long)result.notices,
           (unsigned long long)result.repaired);
    /* with --repair, damage that got repaired does not fail the run; what
     * remains (manifests missing blobs, a failed quick_check) does */
    status = result.damage > result.repaired ? 1 : 0;
cleanup:
    reg_store_close(store);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
