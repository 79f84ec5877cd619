/*
 * cmd_gc.c - `slipway gc`: remove blobs no manifest references and, when
 * registry.gc.untagged_manifests is `delete`, manifests nothing keeps
 * alive. Safe while the server runs (registry/gc.h); --dry-run reports
 * what would go without changing anything.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/store.h"
#include "core/config.h"
#include "registry/gc.h"
#include "registry/transfer.h"

#define DEFAULT_GRACE "1h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: slipway gc (--config FILE | --data-dir DIR) [--dry-run] [--grace DURATION]\n"
            "\n"
            "Removes blobs that no manifest references and, when the config says\n"
            "registry.gc.untagged_manifests: delete, manifests no tag keeps alive.\n"
            "Prints one line per removed item, then a summary.\n"
            "\n"
            "options:\n"
            "  --config FILE        the service config (its server.data_dir is the store)\n"
            "  --data-dir DIR       the store's data directory (overrides the config's)\n"
            "  --dry-run            report what would be removed, remove nothing\n"
            "  --grace DURATION     keep blobs uploaded, mounted or checked this recently\n"
            "                       (pushes in flight); default " DEFAULT_GRACE
            ", e.g. 0, 30s, 10m\n"
            "  -h, --help           this text\n");
}

static void report_item(void *ctx, const char *kind, const char *repo, const char *digest,
                        int64_t size)
{
    if (repo)
        printf("%s %s@%s\n", kind, repo, digest);
    else
        printf("%s %s %lld bytes\n", kind, digest, (long long)size);
    fflush(stdout);
}

struct gc_args {
    struct reg_gc_options opts;
    const char *grace;
};

static int gc_option(void *ctx, int opt, const char *arg)
{
    struct gc_args *a = ctx;
    if (opt == 'n')
        a->opts.dry_run = 1;
    else if (opt == 'g')
        a->grace = arg;
    return 0;
}

int cmd_gc(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { "dry-run", no_argument, NULL, 'n' },
        { "grace", required_argument, NULL, 'g' },
        { NULL, 0, NULL, 0 },
    };
    struct cli_store_args args;
    struct gc_args a = { .grace = DEFAULT_GRACE };
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    sw_error *err = NULL;
    struct reg_gc_result result = { 0 };
    const struct cli_command command = {
        .name = "gc",
        .short_options = "hn",
        .options = options,
        .usage = usage,
        .option = gc_option,
        .ctx = &a,
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;
    status = 2;
    if ((a.opts.grace_seconds = sw_parse_duration(a.grace)) < 0) {
        fprintf(stderr, "slipway gc: --grace '%s': expected a duration such as 0, 30s, 10m\n",
                a.grace);
        goto cleanup;
    }
    status = 1;
    if (cli_open_store(args.config_path, args.data_dir, &cfg, &store, &err) != 0) {
        fprintf(stderr, "slipway gc: %s\n", sw_error_message(err));
        goto cleanup;
    }
    a.opts.delete_untagged = cfg->gc_delete_untagged;
    if (reg_gc_run(store, &a.opts, report_item, NULL, &result, &err) != 0) {
        fprintf(stderr, "slipway gc: %s\n", sw_error_message(err));
        goto cleanup;
    }
    printf("%s %llu manifests and %llu blobs, %llu bytes%s\n",
           a.opts.dry_run ? "gc (dry run): would remove" : "gc: removed",
           (unsigned long long)result.manifests_deleted, (unsigned long long)result.blobs_deleted,
           (unsigned long long)result.bytes_freed,
           a.opts.delete_untagged ? "" : " (untagged manifests kept by policy)");
    status = 0;
cleanup:
    reg_store_close(store);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
