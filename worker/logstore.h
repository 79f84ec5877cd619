/*
 * logstore.h - run logs in the database, so that every front end sharing
 * a PostgreSQL database can serve the log of a run that a worker on
 * another machine builds (issue 15; migration 0013, table run_logs).
 *
 * The worker still writes its local log file (runlog.h: the same bytes,
 * the same WRK_LOG_MARK rules, bounded by runs.max_log_size); a shipper
 * thread per run copies what the file gained into run_logs every
 * WRK_LOG_SHIP_MS, in chunks of at most 64 KiB at their byte offset, and
 * announces each batch on WRK_LOGS_CHANNEL (payload: the run id). The
 * worker flushes it before it marks the run finished, so a follower that
 * stops at the end has seen the whole log, as with the file.
 *
 * Readers (the API's ?follow=1 and SSE streams) read the table and sleep
 * until the process's watcher (wrk_log_watch_*) hears the run named, with
 * a fallback re-read every few seconds for a notification lost.
 *
 * Only on PostgreSQL (wrk_logstore_enabled): on SQLite everything is on
 * one machine, the table stays empty and readers read the file.
 */
#ifndef WRK_LOGSTORE_H
#define WRK_LOGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/db.h"
#include "core/error.h"
#include "registry/store.h"

#define WRK_LOGS_CHANNEL "sw_logs"
#define WRK_LOG_SHIP_MS 200

/* Non-zero when run logs go through the database (PostgreSQL). */
int wrk_logstore_enabled(sw_db *db);

/* The length of the run's log in the database (0 when it has none). */
int wrk_logstore_end(sw_db *db, const char *run_id, uint64_t *end, sw_error **err);

/* Stores len bytes of the run's log at byte offset pos (one row).
 * SW_ECONFLICT when that offset is stored already. */
int wrk_logstore_append(sw_db *db, const char *run_id, uint64_t pos, const void *data, size_t len,
                        sw_error **err);

/* Up to max bytes of the run's log from *pos, advancing *pos: the number
 * of bytes (0: none yet), or a negative SW_E* code. */
long wrk_logstore_read(sw_db *db, const char *run_id, uint64_t *pos, char *buf, size_t max,
                       sw_error **err);

/* Forgets the run's log (retention). */
int wrk_logstore_delete(sw_db *db, const char *run_id, sw_error **err);

/* Tells followers in every process that the run's log or status changed. */
void wrk_logstore_announce(sw_db *db, const char *run_id);

/* ---- the shipper (workers) ------------------------------------------------- */

typedef struct wrk_log_ship wrk_log_ship;

/* Starts copying what the log file at path gains from now on into the
 * run's log in the database (after what it holds already: an earlier
 * attempt's log, maybe from another machine). The thread has its own
 * connection (reg_store_db). */
int wrk_log_ship_start(reg_store *store, const char *path, const char *run_id, wrk_log_ship **out,
                       sw_error **err);

/* Returns once what the file holds now was copied (or one try failed: the
 * database is down; the next tick tries again). */
void wrk_log_ship_flush(wrk_log_ship *s);

/* A last flush, then stops: 0 when the database has all the file held,
 * -1 when not (the database was down). NULL is fine (returns -1). */
int wrk_log_ship_stop(wrk_log_ship *s);

/* ---- the watcher (front ends) ---------------------------------------------- */

/* Starts this process's listener on WRK_LOGS_CHANNEL (PostgreSQL only; on
 * SQLite it does nothing). Stop it before closing the store. */
int wrk_log_watch_start(reg_store *store, sw_error **err);
void wrk_log_watch_stop(void);

/* Non-zero while the listener is in force: followers may sleep until
 * wrk_log_watch_token changes (else they poll as on SQLite). */
int wrk_log_watch_active(void);

/* A number that changes whenever a notification names the run (and for
 * every run when some may have been missed). */
uint64_t wrk_log_watch_token(const char *run_id);

#endif
