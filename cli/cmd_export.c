/*
 * cmd_export.c - `slipway export`: write an image of the store to a file
 * or directory (oci:, oci-archive:, docker-archive:), offline, safe to run
 * next to `slipway serve` on the same data dir (registry/transfer.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/store.h"
#include "registry/transfer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: slipway export (--config FILE | --data-dir DIR) REPO[:TAG|@DIGEST] DEST\n"
            "\n"
            "Writes an image of the store to DEST, one of:\n"
            "  oci:DIR[:TAG]              an OCI image layout directory (created or extended;\n"
            "                             TAG defaults to the image's tag)\n"
            "  oci-archive:FILE[:TAG]     a tar of an OCI image layout\n"
            "  docker-archive:FILE[:NAME:TAG]  a docker save tarball (uncompressed layers;\n"
            "                             NAME:TAG defaults to REPO:TAG)\n"
            "\n"
            "options:\n"
            "  --config FILE        the service config (its server.data_dir is the store)\n"
            "  --data-dir DIR       the store's data directory (overrides the config's)\n"
            "  -h, --help           this text\n");
}

int cmd_export(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { NULL, 0, NULL, 0 },
    };
    struct cli_store_args args;
    char *repo = NULL, *reference = NULL;
    reg_store *store = NULL;
    sw_error *err = NULL;
    struct reg_transfer_result result;
    const struct cli_command command = {
        .name = "export",
        .short_options = "h",
        .options = options,
        .usage = usage,
        .min_operands = 2,
        .max_operands = 2,
        .operands = "REPO[:TAG] and DEST",
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;
    status = 2;
    if (reg_parse_image_ref(argv[optind], &repo, &reference, &err) != 0) {
        fprintf(stderr, "slipway export: %s\n", sw_error_message(err));
        goto cleanup;
    }
    status = 1;
    if (cli_open_store(args.config_path, args.data_dir, NULL, &store, &err) != 0 ||
        reg_export(store, repo, reference, argv[optind + 1], &result, &err) != 0) {
        fprintf(stderr, "slipway export: %s\n", sw_error_message(err));
        goto cleanup;
    }
    printf("exported %s %s to %s (%llu blobs, %llu bytes)\n", argv[optind], result.digest,
           argv[optind + 1], (unsigned long long)result.blobs, (unsigned long long)result.bytes);
    status = 0;
cleanup:
    reg_store_close(store);
    sw_error_clear(&err);
    free(repo);
    free(reference);
    return status;
}
