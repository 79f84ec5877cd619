/*
 * cmd_config.c - `slipway config check FILE...`: loads each config file as
 * `slipway serve` would (every section, the repositories and their build
 * rules, env: secrets resolved) and says what is wrong, with the file and
 * line, without starting anything or touching the data directory.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/config.h"
#include "worker/repos.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: slipway config check [--quiet] FILE...\n"
                 "\n"
                 "Checks config files (YAML or JSON; docs/config.md) as `slipway serve`\n"
                 "loads them: unknown keys, wrong types, build rules and their regexes\n"
                 "and tag templates, env: secrets (the variables must be set).\n"
                 "Prints \"FILE: ok\" or the error with its line; exits 1 when any\n"
                 "file is wrong.\n"
                 "\n"
                 "  --quiet    print only errors\n");
}

static int check_one(const char *path, int quiet)
{
    struct sw_config *cfg = NULL;
    struct wrk_repos *repos = NULL;
    sw_error *err = NULL;
    int rc = sw_config_load(path, &cfg, &err);
    if (rc == 0)
        rc = wrk_repos_load(cfg, &repos, &err);
    if (rc != 0)
        fprintf(stderr, "slipway config check: %s\n", sw_error_message(err));
    else if (!quiet)
        printf("%s: ok (%zu source repositor%s)\n", path, repos->n, repos->n == 1 ? "y" : "ies");
    wrk_repos_free(repos);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return rc == 0 ? 0 : 1;
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "check") != 0) {
        fprintf(stderr, "slipway config: unknown subcommand '%s'\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    int quiet = 0, n_files = 0, status = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
            quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "slipway config check: unknown option '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0)
            continue;
        n_files++;
        if (check_one(argv[i], quiet) != 0)
            status = 1;
    }
    if (n_files == 0) {
        fprintf(stderr, "slipway config check: no FILE given\n\n");
        usage(stderr);
        return 2;
    }
    return status;
}
