/*
 * main.c - the `slipway` binary: global options and subcommand dispatch.
 */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "worker/git.h"

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "serve", cmd_serve, "run the registry, web UI and build workers" },
    { "import", cmd_import,
      "import an image into the store (tar:, oci:, oci-archive:, docker-archive:)" },
    { "export", cmd_export,
      "export an image from the store (oci:, oci-archive:, docker-archive:)" },
    { "pull", cmd_pull, "pull an image from a remote registry into the store" },
    { "gc", cmd_gc, "remove unreferenced blobs and untagged manifests" },
    { "fsck", cmd_fsck, "verify a store: re-hash blobs, check rows against files" },
    { "migrate", cmd_migrate, "copy an embedded installation to PostgreSQL and S3" },
    { "dockerfile", cmd_dockerfile, "inspect Dockerfiles: dump, check, expand, words" },
    { "build", cmd_build, "build an image from a Dockerfile into the store" },
    { "worker", cmd_worker, "run build workers in their own process (same data dir)" },
    { "runs", cmd_runs, "list build runs of a running server" },
    { "logs", cmd_logs, "print (or follow) a run's log" },
    { "run", cmd_run, "start a manual run of a repository's build rule" },
    { "rerun", cmd_rerun, "queue a finished run again (same rule, ref and commit)" },
    { "cancel", cmd_cancel, "cancel a queued or running run" },
    { "reload", cmd_reload, "make the running server re-read its config (SIGHUP)" },
    { "token", cmd_token, "create, list and revoke users' access tokens" },
    { "config", cmd_config, "check config files as serve loads them: config check FILE" },
    { NULL, NULL, NULL },
};

static void print_usage(FILE *out)
{
    fprintf(out, "usage: slipway <command> [options]\n"
                 "\n"
                 "Slipway builds container images from Git pushes and serves them\n"
                 "from its built-in OCI registry.\n"
                 "\n"
                 "commands:\n");
    for (const struct command *c = commands; c->name; c++)
        fprintf(out, "  %-11s %s\n", c->name, c->summary);
    fprintf(out, "  %-11s %s\n", "version", "print the version");
    fprintf(out, "\nRun 'slipway <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    /* internal: the workers' git fetches run here (worker/git.h) */
    if (strcmp(name, "__git-fetch") == 0)
        return wrk_git_fetch_helper_main(argc - 1, argv + 1);
    if (strcmp(name, "version") == 0 || strcmp(name, "--version") == 0) {
        printf("slipway %s\n", SLIPWAY_VERSION);
        return 0;
    }
    for (const struct command *c = commands; c->name; c++) {
        if (strcmp(c->name, name) == 0)
            return c->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "slipway: unknown command '%s'\n\n", name);
    print_usage(stderr);
    return 2;
}
