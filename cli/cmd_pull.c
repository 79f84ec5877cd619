/*
 * cmd_pull.c - `slipway pull`: copies an image from a remote registry into
 * the store through the registry client (registry/client.h), the same code
 * the builder uses for FROM. Mirrors come from the config file; insecure
 * hosts and credentials from the command line (see docs/pull.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/store.h"
#include "core/config.h"
#include "core/error.h"
#include "registry/client.h"
#include "registry/store.h"
#include "registry/transfer.h"

#define MAX_INSECURE 32

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: slipway pull (--config FILE | --data-dir DIR) [options] REFERENCE\n"
            "                   [LOCAL_REPO[:TAG]]\n"
            "\n"
            "Pulls REFERENCE (e.g. busybox, ghcr.io/owner/app:1.2, host:5000/a/b@sha256:...)\n"
            "into the store and tags it LOCAL_REPO:TAG (default: the reference's repository\n"
            "path and tag, e.g. library/busybox:latest).\n"
            "\n"
            "options:\n"
            "  --config FILE        the service config (its server.data_dir is the store,\n"
            "                       its registry.mirrors are tried first)\n"
            "  --data-dir DIR       the store's data directory (overrides the config's)\n"
            "  --platform P         os/arch[/variant] to select from an index (default: host)\n"
            "  --insecure HOST      speak plain HTTP to HOST[:PORT] (repeatable)\n"
            "  --creds USER:PASS    credentials for the reference's registry\n"
            "  --username USER      with --password-stdin: password read from standard input\n"
            "  --password-stdin\n"
            "  -q, --quiet          print only the manifest digest\n");
}

static void format_size(int64_t bytes, char out[32])
{
    static const char *const units[] = { "kB", "MB", "GB", "TB" };
    if (bytes < 1000) {
        snprintf(out, 32, "%lld B", (long long)bytes);
        return;
    }
    double value = (double)bytes / 1000.0;
    int unit = 0;
    while (value >= 1000.0 && unit < 3) {
        value /= 1000.0;
        unit++;
    }
    snprintf(out, 32, "%.1f %s", value, units[unit]);
}

static void print_progress(void *ctx, const char *digest, int64_t size, int was_present)
{
    const int *is_quiet = ctx;
    if (*is_quiet)
        return;
    const char *colon = strchr(digest, ':');
    int prefix = colon ? (int)(colon - digest) + 1 + 12 : 19;
    char size_text[32];
    format_size(size, size_text);
    printf("%.*s\xe2\x80\xa6 %s %s\n", prefix, digest, size_text,
           was_present ? "already present" : "done");
    fflush(stdout);
}

static int read_password_stdin(char **out)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return -1;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    *out = line;
    return 0;
}

struct pull_args {
    const char *platform, *creds, *username;
    const char *insecure[MAX_INSECURE + 1];
    int n_insecure, is_password_stdin, is_quiet;
};

static int pull_option(void *ctx, int opt, const char *arg)
{
    struct pull_args *a = ctx;
    switch (opt) {
    case 'p':
        a->platform = arg;
        return 0;
    case 'C':
        a->creds = arg;
        return 0;
    case 'u':
        a->username = arg;
        return 0;
    case 'P':
        a->is_password_stdin = 1;
        return 0;
    case 'q':
        a->is_quiet = 1;
        return 0;
    case 'i':
        if (a->n_insecure == MAX_INSECURE) {
            fprintf(stderr, "slipway pull: at most %d --insecure hosts\n", MAX_INSECURE);
            return -1;
        }
        a->insecure[a->n_insecure++] = arg;
        return 0;
    default:
        return -1;
    }
}

int cmd_pull(int argc, char **argv)
{
    static const struct option long_options[] = {
        CLI_STORE_OPTIONS,
        { "platform", required_argument, NULL, 'p' },
        { "insecure", required_argument, NULL, 'i' },
        { "creds", required_argument, NULL, 'C' },
        { "username", required_argument, NULL, 'u' },
        { "password-stdin", no_argument, NULL, 'P' },
        { "quiet", no_argument, NULL, 'q' },
        { NULL, 0, NULL, 0 },
    };
    struct pull_args a = { 0 };
    struct cli_store_args args;
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    sw_error *err = NULL;
    char *user = NULL, *password = NULL, *local_repo = NULL, *local_ref = NULL;
    struct reg_ref ref = { 0 };
    const struct cli_command command = {
        .name = "pull",
        .short_options = "qh",
        .options = long_options,
        .usage = print_usage,
        .option = pull_option,
        .ctx = &a,
        .min_operands = 1,
        .max_operands = 2,
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;
    status = 1;
    if ((a.creds && (a.username || a.is_password_stdin)) || (a.username && !a.is_password_stdin) ||
        (a.is_password_stdin && !a.username)) {
        fprintf(stderr, "slipway pull: give either --creds USER:PASS or --username USER "
                        "--password-stdin\n");
        return 2;
    }
    const char *reference = argv[optind];
    const char *local = argc - optind == 2 ? argv[optind + 1] : NULL;

    if (a.creds) {
        const char *colon = strchr(a.creds, ':');
        if (colon == NULL || colon == a.creds) {
            fprintf(stderr, "slipway pull: --creds expects USER:PASSWORD\n");
            return 2;
        }
        user = strndup(a.creds, (size_t)(colon - a.creds));
        password = strdup(colon + 1);
    } else if (a.username) {
        user = strdup(a.username);
        if (read_password_stdin(&password) != 0) {
            fprintf(stderr, "slipway pull: no password on standard input\n");
            goto cleanup;
        }
    }
    if ((a.creds || a.username) && (user == NULL || password == NULL)) {
        fprintf(stderr, "slipway pull: out of memory\n");
        goto cleanup;
    }

    /* the reference is parsed here too: credentials belong to its host and
     * the default local name is its path and tag */
    if (reg_ref_parse(reference, &ref, &err) != 0)
        goto fail;
    const char *local_tag = ref.tag;
    if (local) {
        if (reg_parse_image_ref(local, &local_repo, &local_ref, &err) != 0)
            goto fail;
        if (strchr(local_ref, ':')) {
            fprintf(stderr, "slipway pull: %s: the local name takes a tag, not a digest\n", local);
            status = 2;
            goto cleanup;
        }
        local_tag = local_ref;
    }

    if (cli_open_store(args.config_path, args.data_dir, &cfg, &store, &err) != 0)
        goto fail;

    struct reg_credential credential = { ref.domain, user, password };
    struct reg_client_options options = {
        .insecure_hosts = a.insecure,
        .credentials = user ? &credential : NULL,
        .n_credentials = user ? 1 : 0,
        .mirrors = cfg->mirrors,
        .n_mirrors = cfg->n_mirrors,
        .progress = print_progress,
        .progress_ctx = &a.is_quiet,
    };
    struct reg_pull_result result;
    const char *store_repo = local_repo ? local_repo : ref.path;
    if (reg_client_pull(store, &options, reference, a.platform, store_repo, local_tag, &result,
                        &err) != 0)
        goto fail;

    if (a.is_quiet) {
        printf("%s\n", result.manifest_digest);
    } else {
        char downloaded[32];
        format_size(result.bytes_downloaded, downloaded);
        if (result.index_digest[0])
            printf("Platform: %s (from index %s)\n", result.platform, result.index_digest);
        printf("Downloaded: %s in %d blobs\n", downloaded, result.n_blobs);
        printf("Digest: %s\n", result.manifest_digest);
        if (local_tag)
            printf("Stored: %s:%s\n", store_repo, local_tag);
        else
            printf("Stored: %s@%s\n", store_repo, result.manifest_digest);
    }
    status = 0;
    goto cleanup;

fail:
    fprintf(stderr, "slipway pull: %s\n", sw_error_message(err));
cleanup:
    sw_error_clear(&err);
    reg_ref_release(&ref);
    if (store)
        reg_store_close(store);
    sw_config_free(cfg);
    free(user);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    free(local_repo);
    free(local_ref);
    return status;
}
