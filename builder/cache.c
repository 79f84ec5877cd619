/*
 * cache.c - the build cache table (see cache.h).
 */
#include "builder/cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/db.h"
#include "core/fs.h"
#include "core/profile.h"
#include "registry/blobstore.h"

static int cache_get(reg_store *store, const char *key, struct bld_layer *out, int64_t *created_at,
                     sw_error **err)
{
    sw_db *db = NULL;
    sw_stmt *stmt = NULL;
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    if ((rc = sw_db_prepare(db,
                            "SELECT diff_id, digest, size, media_type, created_at FROM build_cache"
                            " WHERE cache_key = ?",
                            &stmt, err)) != 0)
        return rc;
    sw_stmt_bind_text(stmt, 1, key, -1, SW_DB_STATIC);
    int step = sw_stmt_step(stmt);
    if (step == SW_DB_DONE) {
        rc = SW_ENOTFOUND; /* a miss is not worth an error message */
        goto cleanup;
    }
    if (step != SW_DB_ROW) {
        rc = sw_db_error(db, err, "reading the build cache");
        goto cleanup;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->diff_id, sizeof(out->diff_id), "%s", sw_stmt_column_text(stmt, 0));
    snprintf(out->digest, sizeof(out->digest), "%s", sw_stmt_column_text(stmt, 1));
    out->size = sw_stmt_column_int64(stmt, 2);
    snprintf(out->media_type, sizeof(out->media_type), "%s", sw_stmt_column_text(stmt, 3));
    if (created_at)
        *created_at = sw_stmt_column_int64(stmt, 4);
    /* the layer's bytes must still be there (GC may have taken them) */
    if (reg_blob_exists(store, out->digest, NULL, NULL) != 0)
        rc = SW_ENOTFOUND;
cleanup:
    sw_stmt_finalize(stmt);
    return rc;
}

static int cache_put(reg_store *store, const char *key, const struct bld_layer *layer,
                     sw_error **err)
{
    sw_db *db = NULL;
    sw_stmt *stmt = NULL;
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    if ((rc = sw_db_prepare(db,
                            "INSERT INTO build_cache (cache_key, diff_id, digest, size,"
                            " media_type, created_at, used_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                            " ON CONFLICT (cache_key) DO UPDATE SET diff_id = excluded.diff_id,"
                            " digest = excluded.digest, size = excluded.size,"
                            " media_type = excluded.media_type, created_at ="
                            " excluded.created_at, used_at = excluded.used_at",
                            &stmt, err)) != 0)
        return rc;
    int64_t now = (int64_t)time(NULL);
    sw_stmt_bind_text(stmt, 1, key, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 2, layer->diff_id, -1, SW_DB_STATIC);
    sw_stmt_bind_text(stmt, 3, layer->digest, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 4, layer->size);
    sw_stmt_bind_text(stmt, 5, layer->media_type, -1, SW_DB_STATIC);
    sw_stmt_bind_int64(stmt, 6, now);
    sw_stmt_bind_int64(stmt, 7, now);
    if (sw_stmt_step(stmt) != SW_DB_DONE)
        rc = sw_db_error(db, err, "writing the build cache");
    sw_stmt_finalize(stmt);
    return rc;
}

int bld_cache_get(reg_store *store, const char *key, struct bld_layer *out, int64_t *created_at,
                  sw_error **err)
{
    uint64_t profiled = sw_profile_start();
    int rc = cache_get(store, key, out, created_at, err);
    sw_profile_stop(SW_PHASE_CACHE, profiled);
    return rc;
}

int bld_cache_put(reg_store *store, const char *key, const struct bld_layer *layer, sw_error **err)
{
    uint64_t profiled = sw_profile_start();
    int rc = cache_put(store, key, layer, err);
    sw_profile_stop(SW_PHASE_CACHE, profiled);
    return rc;
}
