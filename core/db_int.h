/*
 * db_int.h - inside core/db*.c only: the driver table behind core/db.h.
 */
#ifndef SW_DB_INT_H
#define SW_DB_INT_H

#include <stddef.h>

#include "core/db.h"

struct sw_db_driver {
    enum sw_db_kind kind;
    int (*open)(const char *where, int migrate, sw_db **out, sw_error **err);
    void (*close)(sw_db *db);
    int (*exec)(sw_db *db, const char *sql, char **errmsg);
    int (*begin)(sw_db *db, int concurrent);
    int (*in_transaction)(sw_db *db);
    int (*prepare)(sw_db *db, const char *sql, int nbytes, sw_stmt **stmt, const char **tail);
    const char *(*errmsg)(sw_db *db);
    int (*errcode)(sw_db *db);
    int (*disk_full)(sw_db *db);
    int (*changes)(sw_db *db);
    int64_t (*last_insert_id)(sw_db *db);
    /* migrations: take and release the cross-process migration lock */
    int (*migrate_lock)(sw_db *db, sw_error **err);
    void (*migrate_unlock)(sw_db *db);
    int (*table_exists)(sw_db *db, const char *table);
    /* notifications (db.h): channel names are checked by db.c */
    int (*listen)(sw_db *db, const char *channel, sw_error **err);
    int (*notify)(sw_db *db, const char *channel, const char *payload, sw_error **err);
    int (*wait_notify)(sw_db *db, int timeout_ms, char *channel, char *payload, sw_error **err);
    /* after COMMIT (committed 1) or ROLLBACK (0) through db.c; may be NULL */
    void (*tx_end)(sw_db *db, int committed);

    int (*bind_text)(sw_stmt *stmt, int idx, const char *text, int nbytes, sw_db_destructor d);
    int (*bind_blob)(sw_stmt *stmt, int idx, const void *data, int nbytes, sw_db_destructor d);
    int (*bind_int64)(sw_stmt *stmt, int idx, int64_t value);
    int (*bind_double)(sw_stmt *stmt, int idx, double value);
    int (*bind_null)(sw_stmt *stmt, int idx);
    int (*step)(sw_stmt *stmt);
    int (*reset)(sw_stmt *stmt);
    int (*finalize)(sw_stmt *stmt);
    int (*column_count)(sw_stmt *stmt);
    int (*column_type)(sw_stmt *stmt, int col);
    const unsigned char *(*column_text)(sw_stmt *stmt, int col);
    const void *(*column_blob)(sw_stmt *stmt, int col);
    int (*column_bytes)(sw_stmt *stmt, int col);
    int64_t (*column_int64)(sw_stmt *stmt, int col);
    double (*column_double)(sw_stmt *stmt, int col);
};

/* Every connection and statement starts with its driver. */
struct sw_db {
    const struct sw_db_driver *drv;
    /* the channels listened on (sw_db_listen), for the drivers */
    char (*channels)[SW_DB_CHANNEL_MAX];
    size_t n_channels;
};

struct sw_stmt {
    const struct sw_db_driver *drv;
    sw_db *db;
};

extern const struct sw_db_driver sw_db_sqlite_driver;
extern const struct sw_db_driver sw_db_pg_driver;

#endif
