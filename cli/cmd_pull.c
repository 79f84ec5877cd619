/*
 * cmd_pull.c - `slipway pull`: copies an image from a remote registry into
 * the store through the registry client (registry/client.h), the same code
 * the builder uses for FROM. Mirrors come from the config file; insecure
 * hosts and credentials from the command line (see docs/pull.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
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

int cmd_pull(int argc, char **argv)
{
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' },   { "data-dir", required_argument, NULL, 'd' },
        { "platform", required_argument, NULL, 'p' }, { "insecure", required_argument, NULL, 'i' },
        { "creds", required_argument, NULL, 'C' },    { "username", required_argument, NULL, 'u' },
        { "password-stdin", no_argument, NULL, 'P' }, { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },           { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *data_dir = NULL, *platform = NULL, *creds = NULL,
               *username = NULL;
    const char *insecure[MAX_INSECURE + 1] = { NULL };
    int n_insecure = 0, is_password_stdin = 0, is_quiet = 0, status = 1, opt;
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    sw_error *err = NULL;
    char *user = NULL, *password = NULL, *local_repo = NULL, *local_ref = NULL;
    struct reg_ref ref = { 0 };

    optind = 1;
    while ((opt = getopt_long(argc, argv, "qh", long_options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'd':
            data_dir = optarg;
            break;
        case 'p':
            platform = optarg;
            break;
        case 'C':
            creds = optarg;
            break;
        case 'u':
            username = optarg;
            break;
        case 'P':
            is_password_stdin = 1;
            break;
        case 'q':
            is_quiet = 1;
            break;
        case 'i':
            if (n_insecure == MAX_INSECURE) {
                fprintf(stderr, "slipway pull: at most %d --insecure hosts\n", MAX_INSECURE);
                return 2;
            }
            insecure[n_insecure++] = optarg;
            break;
        case 'h':
            print_usage(stdout);
            return 0;
        default:
            print_usage(stderr);
            return 2;
        }
    }
    if (argc - optind < 1 || argc - optind > 2) {
        print_usage(stderr);
        return 2;
    }
    if ((creds && (username || is_password_stdin)) || (username && !is_password_stdin) ||
        (is_password_stdin && !username)) {
        fprintf(stderr, "slipway pull: give either --creds USER:PASS or --username USER "
                        "--password-stdin\n");
        return 2;
    }
    if (cli_store_given("pull", config_path, data_dir) != 0) {
        print_usage(stderr);
        return 2;
    }
    const char *reference = argv[optind];
    const char *local = argc - optind == 2 ? argv[optind + 1] : NULL;

    if (creds) {
        const char *colon = strchr(creds, ':');
        if (colon == NULL || colon == creds) {
            fprintf(stderr, "slipway pull: --creds expects USER:PASSWORD\n");
            return 2;
        }
        user = strndup(creds, (size_t)(colon - creds));
        password = strdup(colon + 1);
    } else if (username) {
        user = strdup(username);
        if (read_password_stdin(&password) != 0) {
            fprintf(stderr, "slipway pull: no password on standard input\n");
            goto cleanup;
        }
    }
    if ((creds || username) && (user == NULL || password == NULL)) {
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

    if (cli_open_store(config_path, data_dir, &cfg, &store, &err) != 0)
        goto fail;

    struct reg_credential credential = { ref.domain, user, password };
    struct reg_client_options options = {
        .insecure_hosts = insecure,
        .credentials = user ? &credential : NULL,
        .n_credentials = user ? 1 : 0,
        .mirrors = cfg->mirrors,
        .n_mirrors = cfg->n_mirrors,
        .progress = print_progress,
        .progress_ctx = &is_quiet,
    };
    struct reg_pull_result result;
    const char *store_repo = local_repo ? local_repo : ref.path;
    if (reg_client_pull(store, &options, reference, platform, store_repo, local_tag, &result,
                        &err) != 0)
        goto fail;

    if (is_quiet) {
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
