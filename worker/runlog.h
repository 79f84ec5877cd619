/*
 * runlog.h - the log file of a run: <data_dir>/logs/<run_id>.log.
 *
 * A worker appends to it as the run goes; readers (the API, `slipway logs
 * --follow`) read the file, so a log survives restarts and can be followed
 * from another process.
 *
 * Two kinds of lines share the file, and build output must not be able to
 * pass for Slipway's own (a RUN that prints "# Run ID: ca9 was successful"):
 *
 *   - Slipway's lines start with the byte WRK_LOG_MARK (0x1E, ASCII record
 *     separator), then "# " and the text, with control characters escaped
 *     (a branch name with a newline stays on its line);
 *   - everything the build's processes print goes through a pipe and a
 *     thread (wrk_log_output_start) that replaces every 0x1E byte with
 *     U+241E "␞", so build output never holds the mark.
 *
 * Readers show a line as Slipway's only when it starts with the mark
 * (docs/api.md, "Run log format").
 */
#ifndef WRK_RUNLOG_H
#define WRK_RUNLOG_H

#include "core/error.h"

#define WRK_LOG_MARK '\x1e'

/* <data_dir>/logs/<run_id>.log, malloc'd; NULL for a run id that is not
 * a plain name. */
char *wrk_log_path(const char *data_dir, const char *run_id);

/* Opens the run's log for appending (creating logs/ and the file). */
int wrk_log_open(const char *data_dir, const char *run_id, int *fd, sw_error **err);

/* Starts the escaping pipe for build output into the log file fd: *output_fd
 * is what containers write to (their stdout and stderr). Stop it with
 * wrk_log_output_stop(fd) before closing fd; it drains what is left. */
int wrk_log_output_start(int fd, int *output_fd, sw_error **err);
void wrk_log_output_stop(int fd);

/* Appends one of Slipway's lines: WRK_LOG_MARK "# TEXT\n", TEXT with
 * control characters escaped, after whatever build output came first.
 * Errors are ignored: a full disk must not fail the build over its log. */
void wrk_log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
