/*
 * opts.h - the command-line parsing every store subcommand shares: the
 * getopt loop with --config FILE, --data-dir DIR and -h/--help, the
 * operand count and the "no store given" check (cli/store.h), so each
 * cmd_*.c keeps only its own options.
 */
#ifndef SW_CLI_OPTS_H
#define SW_CLI_OPTS_H

#include <getopt.h>
#include <stdio.h>

/* The long options cli_parse handles itself; put them first in a
 * command's table, which ends with { NULL, 0, NULL, 0 }. */
#define CLI_STORE_OPTIONS                                                                          \
    { "config", required_argument, NULL, 'c' }, { "data-dir", required_argument, NULL, 'd' },      \
    {                                                                                              \
        "help", no_argument, NULL, 'h'                                                             \
    }

/* cli_parse's answer when the command should go on with its work; any
 * other answer is the exit status (0 after --help, 2 after a usage error,
 * both with the usage printed). */
#define CLI_GO (-1)

struct cli_command {
    const char *name;             /* "gc": the messages say "slipway gc: ..." */
    const char *short_options;    /* "h" and the command's own short letters */
    const struct option *options; /* starts with CLI_STORE_OPTIONS */
    void (*usage)(FILE *out);     /* the command's help text */
    /* the command's own options (NULL if none): 0, or -1 after saying why */
    int (*option)(void *ctx, int opt, const char *arg);
    void *ctx;
    int min_operands, max_operands; /* what may follow the options */
    const char *operands;           /* "REPO[:TAG] and DEST", for a wrong count; NULL: usage only */
    int store_optional;             /* 1: neither --config nor --data-dir is needed (serve) */
};

struct cli_store_args {
    const char *config_path; /* --config, or NULL */
    const char *data_dir;    /* --data-dir, or NULL */
};

/* Parses argv (getopt_long from optind 1) into *store and the command's
 * own options, checks the operand count (they start at optind) and that a
 * store was named. Returns CLI_GO or an exit status (see above). */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, struct cli_store_args *store);

#endif
