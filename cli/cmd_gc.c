/*
 * cmd_gc.c - `slipway gc`: remove blobs no manifest references and, when
 * registry.gc.untagged_manifests is `delete`, manifests nothing keeps
 * alive. Safe while the server runs (registry/gc.h); --dry-run reports
 * what would go without changing anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "builder/mounts.h"
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
            "Prints one line per removed item, then a summary. Then keeps each\n"
            "repository's RUN --mount=type=cache directories under\n"
            "builder.cache_mounts.max_size, evicting the least recently used, and\n"
            "lists them (repository, id, size, last use, in use or evicted).\n"
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

/* Applies the cache mount bound and prints one line per cache:
 *   cache-mount REPOSITORY id=ID size=BYTES last_use=TIME kept|in use|evicted */
static int report_cache_mounts(const struct sw_config *cfg, reg_store *store, int dry_run,
                               sw_error **err)
{
    struct bld_cache_mount_info *caches = NULL;
    size_t n = 0;
    int rc = bld_cache_mounts_gc(reg_store_data_dir(store), NULL, cfg->cache_mounts_max_size,
                                 dry_run, &caches, &n, err);
    if (rc != 0)
        return rc;
    int64_t freed = 0;
    size_t evicted = 0;
    for (size_t i = 0; i < n; i++) {
        char when[32] = "-";
        time_t t = (time_t)caches[i].last_use;
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        printf("cache-mount %s id=%s size=%lld last_use=%s %s\n",
               caches[i].scope[0] ? caches[i].scope : "(no repository)", caches[i].id,
               (long long)caches[i].size, when,
               caches[i].evict    ? (dry_run ? "would evict" : "evicted")
               : caches[i].in_use ? "in use"
                                  : "kept");
        if (caches[i].evict) {
            freed += caches[i].size;
            evicted++;
        }
    }
    printf("%s %zu of %zu cache mounts, %lld bytes (bound %lld bytes per repository)\n",
           dry_run ? "gc (dry run): would evict" : "gc: evicted", evicted, n, (long long)freed,
           (long long)cfg->cache_mounts_max_size);
    bld_cache_mount_infos_free(caches, n);
    return 0;
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
    /* the cache mounts first: the registry summary stays the last line */
    if (report_cache_mounts(cfg, store, a.opts.dry_run, &err) != 0) {
        fprintf(stderr, "slipway gc: cache mounts: %s\n", sw_error_message(err));
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
