/*
 * commands.h - the subcommands of the `slipway` binary.
 *
 * Each subcommand lives in its own cli/cmd_<name>.c and gets argv with
 * argv[0] set to the subcommand's name. It returns the process exit status:
 * 0 success, 1 failure (message already printed), 2 usage error.
 */
#ifndef SW_CLI_COMMANDS_H
#define SW_CLI_COMMANDS_H

int cmd_serve(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_fsck(int argc, char **argv);
int cmd_dockerfile(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_runs(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_rerun(int argc, char **argv);
int cmd_cancel(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_reload(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_migrate(int argc, char **argv);

#endif
