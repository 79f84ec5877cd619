/*
 * opts.c - the shared getopt loop of the store subcommands (cli/opts.h).
 */
#include "cli/opts.h"

#include "cli/store.h"

int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_store_args *store)
{
    int opt;
    store->config_path = NULL;
    store->data_dir = NULL;
    optind = 1;
    while ((opt = getopt_long(argc, argv, cmd->short_options, cmd->options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            store->config_path = optarg;
            break;
        case 'd':
            store->data_dir = optarg;
            break;
        case 'h':
            cmd->usage(stdout);
            return 0;
        case '?':
        case ':':
            cmd->usage(stderr);
            return 2;
        default:
            if (cmd->option == NULL) {
                cmd->usage(stderr);
                return 2;
            }
            if (cmd->option(cmd->ctx, opt, optarg) != 0)
                return 2;
        }
    }
    int operands = argc - optind;
    if (operands < cmd->min_operands || operands > cmd->max_operands) {
        if (cmd->operands)
            fprintf(stderr, "slipway %s: expected %s\n\n", cmd->name, cmd->operands);
        else if (operands > cmd->max_operands)
            fprintf(stderr, "slipway %s: unexpected argument '%s'\n\n", cmd->name,
                    argv[optind + cmd->max_operands]);
        cmd->usage(stderr);
        return 2;
    }
    if (!cmd->store_optional &&
        cli_store_given(cmd->name, store->config_path, store->data_dir) != 0) {
        cmd->usage(stderr);
        return 2;
    }
    return CLI_GO;
}
