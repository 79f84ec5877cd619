/*
 * cmd_build.c - `slipway build`: a Dockerfile and a context become an image
 * in the store (like `docker build` followed by a push), or an archive.
 */
#include <stdatomic.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "builder/build.h"
#include "builder/mounts.h"
#include "builder/layers.h"
#include "builder/sandbox.h"
#include "builder/ssh_agent.h"
#include "cli/commands.h"
#include "cli/store.h"
#include "core/fs.h"
#include "core/strbuf.h"
#include "registry/index.h"
#include "registry/platform.h"
#include "registry/manifest.h"
#include "registry/transfer.h"
#include "worker/platforms.h"

/* Set by SIGTERM/SIGINT: the build stops its running step (the container
 * is killed, mounts are undone) instead of dying with them in place. */
/* set by the signal handler (a lock-free atomic may be), read by the build */
static atomic_int stop_signal;

static void on_stop_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: slipway build [options] CONTEXT\n"
                 "\n"
                 "Builds the Dockerfile in CONTEXT into the store (or an archive).\n"
                 "\n"
                 "options:\n"
                 "  --config FILE          the service config (data_dir, builder, registry)\n"
                 "  --data-dir DIR         the data directory (overrides the config's)\n"
                 "  -f, --file FILE        the Dockerfile (default: CONTEXT/Dockerfile)\n"
                 "  -t, --tag REPO[:TAG]   tag the result (repeatable)\n"
                 "  --build-arg K=V        set a build argument (repeatable; K alone takes it\n"
                 "                         from the environment)\n"
                 "  --target STAGE         build up to this stage\n"
                 "  --no-cache             do not use the build cache\n"
                 "  --network MODE         egress, none or host: network for RUN steps\n"
                 "                         (default: config, else egress)\n"
                 "  --platform OS/ARCH[,OS/ARCH...]\n"
                 "                         the platform(s) to build for (default: this\n"
                 "                         machine's); two or more give one image index\n"
                 "  --compression ALGO     gzip or zstd (default: config, else gzip)\n"
                 "  --timestamp EPOCH      fixed time for reproducible images\n"
                 "                         (default: $SOURCE_DATE_EPOCH when set)\n"
                 "  --output DEST          also write the image to oci-archive:FILE, oci:DIR or\n"
                 "                         docker-archive:FILE\n"
                 "  --digest-file FILE     write the image digest to FILE\n"
                 "  --secret id=ID,src=FILE | id=ID,env=NAME\n"
                 "                         a build secret for RUN --mount=type=secret,id=ID\n"
                 "                         (repeatable; never stored in the image or the log)\n"
                 "  --ssh default|ID[=SOCKET|KEY[,KEY]]\n"
                 "                         an SSH agent for RUN --mount=type=ssh,id=ID: the\n"
                 "                         agent at SOCKET ($SSH_AUTH_SOCK when no path), or\n"
                 "                         one holding the KEY files (repeatable; the step\n"
                 "                         gets a socket, never a key file)\n"
                 "  --as USER              read images of the store as this registry user (or\n"
                 "                         anonymous) under registry.auth, as the build service\n"
                 "                         does with a repository's run_as (default: no check)\n");
}

/* The repository of a -t value ("repo:tag" or "repo"), into out. */
static void tag_repo(const char *tag, char *out, size_t size)
{
    const char *slash = strrchr(tag, '/');
    const char *colon = strrchr(slash ? slash : tag, ':');
    size_t n = colon ? (size_t)(colon - tag) : strlen(tag);
    snprintf(out, size, "%.*s", (int)n, tag);
}

/* --platform A,B,...: builds each platform in turn, untagged, into one
 * repository (that of the tags, which must all name it), then one image
 * index of them, tagged with every -t. result->digest gets the index's. */
static int build_multi(reg_store *store, struct bld_build_options *opts, const char *platforms,
                       struct bld_build_result *result, sw_error **err)
{
    char *list = strdup(platforms);
    char **names = NULL;
    struct reg_index_entry *entries = NULL;
    char(*digests)[SW_DIGEST_MAX] = NULL;
    char **runnable = NULL;
    char repo[256] = "";
    size_t n = 0;
    int rc = 0;
    struct reg_manifest index = { 0 };
    const char *const *tags = opts->tags;
    size_t n_tags = opts->n_tags;

    SW_CHECK_ALLOC(list, rc, err, cleanup);
    names = calloc(strlen(platforms) + 1, sizeof(char *));
    entries = calloc(strlen(platforms) + 1, sizeof(*entries));
    digests = calloc(strlen(platforms) + 1, sizeof(*digests));
    SW_CHECK_ALLOC(names, rc, err, cleanup);
    SW_CHECK_ALLOC(entries, rc, err, cleanup);
    SW_CHECK_ALLOC(digests, rc, err, cleanup);
    wrk_platforms_runnable(NULL, &runnable, NULL);
    char *save = NULL;
    for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char normal[100];
        if ((rc = reg_platform_normalize_text(p, normal, err)) != 0)
            goto cleanup;
        names[n] = strdup(normal);
        SW_CHECK_ALLOC(names[n], rc, err, cleanup);
        n++;
        sw_error *why = NULL;
        if (runnable && wrk_platform_check(normal, runnable, &why) != 0)
            fprintf(stderr, "slipway build: warning: RUN steps will fail: %s\n",
                    sw_error_message(why));
        sw_error_clear(&why);
    }
    if (n == 0) {
        rc = sw_error_set(err, SW_EINVAL, "--platform %s names no platform", platforms);
        goto cleanup;
    }
    for (size_t i = 0; i < n_tags; i++) {
        char other[256];
        tag_repo(tags[i], i == 0 ? repo : other, sizeof(repo));
        if (i > 0 && strcmp(repo, other) != 0) {
            rc = sw_error_set(err, SW_EINVAL,
                              "a multi-platform build tags one repository: %s and %s differ", repo,
                              other);
            goto cleanup;
        }
    }
    opts->tags = NULL;
    opts->n_tags = 0;
    opts->repo = repo[0] ? repo : NULL;
    for (size_t i = 0; i < n; i++) {
        struct bld_build_result one = { 0 };
        printf("== %s: building (platform %zu of %zu)\n", names[i], i + 1, n);
        fflush(stdout);
        opts->platform = names[i];
        if ((rc = bld_build(store, opts, &one, err)) != 0) {
            sw_error_prefix(err, "%s", names[i]);
            goto cleanup;
        }
        snprintf(digests[i], SW_DIGEST_MAX, "%s", one.digest);
        if (repo[0] == '\0')
            snprintf(repo, sizeof(repo), "%s", one.repo);
        opts->repo = repo;
        if (i == 0) {
            *result = one;
        } else {
            bld_build_result_release(&one);
        }
        printf("== %s: %s\n", names[i], digests[i]);
        entries[i].platform = names[i];
        entries[i].digest = digests[i];
    }
    if ((rc = reg_index_put(store, repo, entries, n, result->digest, err)) != 0 ||
        (rc = reg_manifest_get(store, repo, result->digest, 1, &index, err)) != 0)
        goto cleanup;
    snprintf(result->repo, sizeof(result->repo), "%s", repo);
    printf("Image index %s\n", result->digest);
    for (size_t i = 0; i < n_tags; i++) {
        const char *slash = strrchr(tags[i], '/');
        const char *colon = strrchr(slash ? slash : tags[i], ':');
        char digest[SW_DIGEST_MAX];
        if ((rc = reg_manifest_put(store, repo, colon ? colon + 1 : "latest", REG_MT_OCI_INDEX,
                                   index.body, index.size, digest, NULL, err)) != 0) {
            sw_error_prefix(err, "tagging %s", tags[i]);
            goto cleanup;
        }
    }
cleanup:
    opts->tags = tags;
    opts->n_tags = n_tags;
    reg_manifest_release(&index);
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
    free(entries);
    free(digests);
    sw_strv_free(runnable);
    free(list);
    return rc;
}

int cmd_build(int argc, char **argv)
{
    enum {
        OPT_CONFIG = 256,
        OPT_DATA_DIR,
        OPT_BUILD_ARG,
        OPT_TARGET,
        OPT_NO_CACHE,
        OPT_NETWORK,
        OPT_PLATFORM,
        OPT_COMPRESSION,
        OPT_TIMESTAMP,
        OPT_OUTPUT,
        OPT_DIGEST_FILE,
        OPT_AS,
        OPT_SECRET,
        OPT_SSH,
        OPT_HELP
    };
    static const struct option long_opts[] = {
        { "config", required_argument, NULL, OPT_CONFIG },
        { "data-dir", required_argument, NULL, OPT_DATA_DIR },
        { "file", required_argument, NULL, 'f' },
        { "tag", required_argument, NULL, 't' },
        { "build-arg", required_argument, NULL, OPT_BUILD_ARG },
        { "target", required_argument, NULL, OPT_TARGET },
        { "no-cache", no_argument, NULL, OPT_NO_CACHE },
        { "network", required_argument, NULL, OPT_NETWORK },
        { "platform", required_argument, NULL, OPT_PLATFORM },
        { "compression", required_argument, NULL, OPT_COMPRESSION },
        { "timestamp", required_argument, NULL, OPT_TIMESTAMP },
        { "output", required_argument, NULL, OPT_OUTPUT },
        { "digest-file", required_argument, NULL, OPT_DIGEST_FILE },
        { "as", required_argument, NULL, OPT_AS },
        { "secret", required_argument, NULL, OPT_SECRET },
        { "ssh", required_argument, NULL, OPT_SSH },
        { "help", no_argument, NULL, OPT_HELP },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL, *data_dir = NULL, *network = NULL, *compression = NULL;
    const char *timestamp = NULL, *output = NULL, *digest_file = NULL;
    static char as_scope[300];
    const char **tags = calloc((size_t)argc, sizeof(char *));
    const char **build_args = calloc((size_t)argc, sizeof(char *));
    struct bld_secret *secrets = calloc((size_t)argc, sizeof(*secrets));
    size_t n_secrets = 0;
    struct bld_ssh_source *ssh = calloc((size_t)argc, sizeof(*ssh));
    size_t n_ssh = 0;
    struct bld_build_options opts = { .progress_fd = STDOUT_FILENO,
                                      .source_date_epoch = -1,
                                      .context_memo = 1 };
    struct sw_config *cfg = NULL;
    reg_store *store = NULL;
    struct bld_build_result result = { 0 };
    sw_error *err = NULL;
    int status = 1, c;

    if (tags == NULL || build_args == NULL || secrets == NULL || ssh == NULL) {
        fprintf(stderr, "slipway build: out of memory\n");
        goto cleanup;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:t:", long_opts, NULL)) != -1) {
        switch (c) {
        case OPT_CONFIG:
            config_path = optarg;
            break;
        case OPT_DATA_DIR:
            data_dir = optarg;
            break;
        case 'f':
            opts.dockerfile = optarg;
            break;
        case 't':
            tags[opts.n_tags++] = optarg;
            break;
        case OPT_BUILD_ARG:
            build_args[opts.n_build_args++] = optarg;
            break;
        case OPT_SECRET: {
            char *id = NULL, *value = NULL;
            if (bld_secret_from_cli(optarg, &id, &value, &err) != 0) {
                fprintf(stderr, "slipway build: %s\n", sw_error_message(err));
                sw_error_clear(&err);
                status = 2;
                goto cleanup;
            }
            secrets[n_secrets].id = id;
            secrets[n_secrets++].value = value;
            break;
        }
        case OPT_SSH:
            if (bld_ssh_from_cli(optarg, &ssh[n_ssh], &err) != 0) {
                fprintf(stderr, "slipway build: %s\n", sw_error_message(err));
                sw_error_clear(&err);
                status = 2;
                goto cleanup;
            }
            n_ssh++;
            break;
        case OPT_TARGET:
            opts.target = optarg;
            break;
        case OPT_NO_CACHE:
            opts.no_cache = 1;
            break;
        case OPT_NETWORK:
            network = optarg;
            break;
        case OPT_PLATFORM:
            opts.platform = optarg;
            break;
        case OPT_COMPRESSION:
            compression = optarg;
            break;
        case OPT_TIMESTAMP:
            timestamp = optarg;
            break;
        case OPT_OUTPUT:
            output = optarg;
            break;
        case OPT_DIGEST_FILE:
            digest_file = optarg;
            break;
        case OPT_AS:
            /* the operator builds as a tenant would: same access checks,
             * a cache of its own */
            opts.check_access = 1;
            opts.run_as = strcmp(optarg, "anonymous") == 0 ? NULL : optarg;
            opts.identity_of = "--as";
            snprintf(as_scope, sizeof(as_scope), "--as %s", optarg);
            opts.cache_scope = as_scope;
            break;
        case OPT_HELP:
            usage(stdout);
            status = 0;
            goto cleanup;
        default:
            usage(stderr);
            status = 2;
            goto cleanup;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "slipway build: expected exactly one CONTEXT directory\n\n");
        usage(stderr);
        status = 2;
        goto cleanup;
    }
    opts.context_dir = argv[optind];
    opts.tags = tags;
    opts.build_args = build_args;
    opts.secrets = secrets;
    opts.n_secrets = n_secrets;
    opts.ssh = ssh;
    opts.n_ssh = n_ssh;
    if (!sw_path_exists(opts.context_dir)) {
        fprintf(stderr, "slipway build: context %s does not exist\n", opts.context_dir);
        goto cleanup;
    }
    if (cli_open_store(config_path, data_dir, &cfg, &store, &err) != 0) {
        fprintf(stderr, "slipway build: %s\n", sw_error_message(err));
        goto cleanup;
    }
    /* what builds of killed processes left: containers, then scratch */
    bld_sandbox_sweep_bundles(cfg->runtime, NULL, NULL);
    bld_scratch_sweep(store, NULL, NULL);
    opts.config = cfg;
    opts.runtime = cfg->runtime;
    opts.step_timeout_s = cfg->step_timeout_s;
    if (network == NULL)
        network = cfg->network;
    opts.network = network;
    if (strcmp(network, "host") == 0) {
        opts.network_host = 1;
    } else if (strcmp(network, "none") != 0 && strcmp(network, "egress") != 0) {
        fprintf(stderr, "slipway build: --network must be egress, none or host, not '%s'\n",
                network);
        status = 2;
        goto cleanup;
    }
    int algo = sw_compression_parse(compression ? compression : cfg->compression);
    if (algo != SW_COMPRESSION_GZIP && algo != SW_COMPRESSION_ZSTD) {
        fprintf(stderr, "slipway build: --compression must be gzip or zstd\n");
        status = 2;
        goto cleanup;
    }
    opts.compression = (enum sw_compression)algo;
    if (timestamp == NULL)
        timestamp = getenv("SOURCE_DATE_EPOCH");
    if (timestamp && *timestamp) {
        char *end = NULL;
        long long t = strtoll(timestamp, &end, 10);
        if (*end != '\0' || t < 0) {
            fprintf(stderr, "slipway build: timestamp '%s' is not seconds since the epoch\n",
                    timestamp);
            status = 2;
            goto cleanup;
        }
        opts.source_date_epoch = t;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    opts.cancel = &stop_signal;
    if ((opts.platform && strchr(opts.platform, ',')
             ? build_multi(store, &opts, opts.platform, &result, &err)
             : bld_build(store, &opts, &result, &err)) != 0) {
        fprintf(stderr, "slipway build: %s\n", sw_error_message(err));
        if (stop_signal)
            status = 128 + stop_signal; /* as if the signal had ended us */
        goto cleanup;
    }
    for (size_t i = 0; i < opts.n_tags; i++)
        printf("Tagged %s\n", tags[i]);
    if (output) {
        struct reg_transfer_result exported;
        if (reg_export(store, result.repo, result.digest, output, &exported, &err) != 0) {
            fprintf(stderr, "slipway build: %s\n", sw_error_message(err));
            goto cleanup;
        }
        printf("Wrote %s\n", output);
    }
    if (digest_file) {
        char line[SW_DIGEST_MAX + 2];
        snprintf(line, sizeof(line), "%s\n", result.digest);
        if (sw_write_file_atomic(digest_file, line, strlen(line), 0644, &err) != 0) {
            fprintf(stderr, "slipway build: %s\n", sw_error_message(err));
            goto cleanup;
        }
    }
    status = 0;
cleanup:
    bld_build_result_release(&result);
    sw_error_clear(&err);
    if (store)
        reg_store_close(store);
    sw_config_free(cfg);
    free(tags);
    free(build_args);
    for (size_t i = 0; secrets && i < n_secrets; i++) {
        free((char *)secrets[i].id);
        explicit_bzero((char *)secrets[i].value, strlen(secrets[i].value));
        free((char *)secrets[i].value);
    }
    free(secrets);
    for (size_t i = 0; ssh && i < n_ssh; i++)
        bld_ssh_source_free(&ssh[i]);
    free(ssh);
    return status;
}
