/*
 * cmd_import.c - `slipway import`: bring an image into the store from a
 * file (tar:, oci:, oci-archive:, docker-archive:), offline, safe to run
 * next to `slipway serve` on the same data dir (registry/transfer.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/store.h"
#include "core/config.h"
#include "registry/names.h"
#include "registry/transfer.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: slipway import (--config FILE | --data-dir DIR) [options] SOURCE REPO[:TAG]\n"
        "\n"
        "Imports an image into the store and tags it REPO:TAG (TAG defaults to latest).\n"
        "\n"
        "SOURCE is one of:\n"
        "  tar:FILE                   a root filesystem tarball (plain, gzip, zstd, xz or\n"
        "                             bzip2) imported as a one-layer image, like docker import\n"
        "  oci:DIR[:TAG]              an OCI image layout directory\n"
        "  oci-archive:FILE[:TAG]     a tar of an OCI image layout\n"
        "  docker-archive:FILE[:NAME:TAG]  a docker save tarball\n"
        "\n"
        "options:\n"
        "  --config FILE        the service config (its server.data_dir is the store)\n"
        "  --data-dir DIR       the store's data directory (overrides the config's)\n"
        "image settings for tar: sources:\n"
        "  --cmd CMD            default command: a JSON array, or a string run by /bin/sh -c\n"
        "  --entrypoint CMD     entrypoint, the same way\n"
        "  --env KEY=VALUE      an environment variable (repeatable)\n"
        "  --workdir DIR        working directory\n"
        "  --change 'INSTR'     a Dockerfile instruction: CMD, ENTRYPOINT, ENV or WORKDIR\n"
        "  -h, --help           this text\n");
}

struct import_args {
    json_t *cmd;
    json_t *entrypoint;
    const char **env; /* NULL-terminated; strings from argv or owned_env */
    size_t n_env;
    char **owned_env;
    size_t n_owned_env;
    const char *workdir;
};

static int add_env(struct import_args *a, const char *kv, int is_owned)
{
    const char **grown = realloc(a->env, (a->n_env + 2) * sizeof(char *));
    if (grown == NULL)
        return -1;
    a->env = grown;
    a->env[a->n_env++] = kv;
    a->env[a->n_env] = NULL;
    if (is_owned) {
        char **owned = realloc(a->owned_env, (a->n_owned_env + 1) * sizeof(char *));
        if (owned == NULL)
            return -1;
        a->owned_env = owned;
        a->owned_env[a->n_owned_env++] = (char *)kv;
    }
    return 0;
}

static int set_command(json_t **slot, const char *arg, const char *what)
{
    sw_error *err = NULL;
    json_t *cmd = NULL;
    if (reg_command_parse(arg, &cmd, &err) != 0) {
        fprintf(stderr, "slipway import: %s %s\n", what, sw_error_message(err));
        sw_error_clear(&err);
        return -1;
    }
    json_decref(*slot);
    *slot = cmd;
    return 0;
}

/* --change 'CMD ["x"]', 'ENV K=V' or 'ENV K V', 'WORKDIR /x', 'ENTRYPOINT x'. */
static int apply_change(struct import_args *a, const char *change)
{
    size_t klen = strcspn(change, " \t");
    const char *rest = change + klen;
    rest += strspn(rest, " \t");
    if (klen == 3 && strncasecmp(change, "CMD", 3) == 0 && *rest)
        return set_command(&a->cmd, rest, "--change CMD");
    if (klen == 10 && strncasecmp(change, "ENTRYPOINT", 10) == 0 && *rest)
        return set_command(&a->entrypoint, rest, "--change ENTRYPOINT");
    if (klen == 7 && strncasecmp(change, "WORKDIR", 7) == 0 && *rest) {
        a->workdir = rest;
        return 0;
    }
    if (klen == 3 && strncasecmp(change, "ENV", 3) == 0 && *rest) {
        size_t name_len = strcspn(rest, "= \t");
        char *kv = NULL;
        if (rest[name_len] == '=')
            return add_env(a, rest, 0);
        const char *value = rest + name_len + strspn(rest + name_len, " \t");
        if (name_len == 0 || asprintf(&kv, "%.*s=%s", (int)name_len, rest, value) < 0)
            return -1;
        return add_env(a, kv, 1);
    }
    fprintf(stderr,
            "slipway import: --change '%s': supported are CMD, ENTRYPOINT, ENV and "
            "WORKDIR with an argument\n",
            change);
    return -1;
}

static int import_option(void *ctx, int opt, const char *arg)
{
    struct import_args *a = ctx;
    switch (opt) {
    case 'C':
        return set_command(&a->cmd, arg, "--cmd");
    case 'E':
        return set_command(&a->entrypoint, arg, "--entrypoint");
    case 'e':
        if (strchr(arg, '=') == NULL || arg[0] == '=') {
            fprintf(stderr, "slipway import: --env '%s': expected KEY=VALUE\n", arg);
            return -1;
        }
        return add_env(a, arg, 0);
    case 'w':
        a->workdir = arg;
        return 0;
    case 'x':
        return apply_change(a, arg);
    default:
        return -1;
    }
}

int cmd_import(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { "cmd", required_argument, NULL, 'C' },
        { "entrypoint", required_argument, NULL, 'E' },
        { "env", required_argument, NULL, 'e' },
        { "workdir", required_argument, NULL, 'w' },
        { "change", required_argument, NULL, 'x' },
        { NULL, 0, NULL, 0 },
    };
    struct import_args a = { 0 };
    struct cli_store_args args;
    char *repo = NULL, *tag = NULL;
    reg_store *store = NULL;
    sw_error *err = NULL;
    struct reg_transfer_result result;
    const struct cli_command command = {
        .name = "import",
        .short_options = "h",
        .options = options,
        .usage = usage,
        .option = import_option,
        .ctx = &a,
        .min_operands = 2,
        .max_operands = 2,
        .operands = "SOURCE and REPO[:TAG]",
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        goto cleanup;
    status = 2;
    if (reg_parse_image_ref(argv[optind + 1], &repo, &tag, &err) != 0) {
        fprintf(stderr, "slipway import: %s\n", sw_error_message(err));
        goto cleanup;
    }
    if (reg_reference_is_digest(tag)) {
        fprintf(stderr, "slipway import: %s: import needs a tag, not a digest\n", argv[optind + 1]);
        goto cleanup;
    }
    status = 1;
    struct reg_image_settings settings = {
        .cmd = a.cmd,
        .entrypoint = a.entrypoint,
        .env = a.env,
        .workdir = a.workdir,
        .created = -1,
    };
    if (cli_open_store(args.config_path, args.data_dir, NULL, &store, &err) != 0 ||
        reg_import(store, argv[optind], repo, tag, &settings, &result, &err) != 0) {
        fprintf(stderr, "slipway import: %s\n", sw_error_message(err));
        goto cleanup;
    }
    printf("imported %s:%s %s (%llu blobs, %llu bytes)\n", repo, tag, result.digest,
           (unsigned long long)result.blobs, (unsigned long long)result.bytes);
    status = 0;
cleanup:
    reg_store_close(store);
    sw_error_clear(&err);
    json_decref(a.cmd);
    json_decref(a.entrypoint);
    for (size_t i = 0; i < a.n_owned_env; i++)
        free(a.owned_env[i]);
    free(a.owned_env);
    free(a.env);
    free(repo);
    free(tag);
    return status;
}
