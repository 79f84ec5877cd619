/*
 * runlog.h - the log file of a run: <data_dir>/logs/<run_id>.log.
 *
 * A worker appends to it as the run goes (its own lines start with "# ",
 * the builder's container output is written as it comes); readers (the
 * API, `slipway logs --follow`) read the file, so a log survives restarts
 * and can be followed from another process.
 */
#ifndef WRK_RUNLOG_H
#define WRK_RUNLOG_H

#include "core/error.h"

/* <data_dir>/logs/<run_id>.log, malloc'd; NULL for a run id that is not
 * a plain name. */
char *wrk_log_path(const char *data_dir, const char *run_id);

/* Opens the run's log for appending (creating logs/ and the file). */
int wrk_log_open(const char *data_dir, const char *run_id, int *fd, sw_error **err);

/* Appends one line "# TEXT\n" (a worker's own line). Errors are ignored: a
 * full disk must not fail the build over its log. */
void wrk_log_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
