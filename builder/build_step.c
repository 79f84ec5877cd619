/*
 * build_step.c - the machinery of a build step: the variables a step
 * sees, the overlay of a stage's layers (a step's working area, read-only
 * views for --from), the cache key chain, and committing a layer.
 */
#include "builder/build_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "builder/cache.h"
#include "builder/users.h"
#include "builder/layers.h"
#include "builder/overlay.h"
#include "core/fs.h"

/* ---- the environment a step sees ---------------------------------------- */

/* Variables for word expansion in a stage: the image's Env, then the
 * stage's ARGs where no ENV of the same name exists (ENV wins, as in Docker). */
int bld_stage_vars(struct stage *st, struct kv_list *out)
{
    json_t *env = json_object_get(bld_image_runconfig(&st->image), "Env");
    size_t i;
    json_t *item;
    for (i = 0; i < st->args.n; i++)
        if (bld_kv_set(out, st->args.items[i].key, st->args.items[i].value) != 0)
            return -1;
    json_array_foreach(env, i, item) {
        const char *kv = json_string_value(item);
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (eq == NULL)
            continue;
        char *key = strndup(kv, (size_t)(eq - kv));
        int rc = key ? bld_kv_set(out, key, eq + 1) : -1;
        free(key);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- layers and mounts -------------------------------------------------- */

/* The unpacked directories of a stage's layers, bottom first. */
int bld_layer_dirs(struct build *b, struct stage *st, char ***out, sw_error **err)
{
    char **dirs = calloc(st->image.n_layers + 1, sizeof(char *));
    if (dirs == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < st->image.n_layers; i++) {
        int rc = bld_layer_unpacked(b->store, &st->image.layers[i], &dirs[i], err);
        if (rc != 0) {
            for (size_t j = 0; j < i; j++)
                free(dirs[j]);
            free(dirs);
            return rc;
        }
    }
    *out = dirs;
    return 0;
}

void bld_free_dirs(char **dirs)
{
    if (dirs == NULL)
        return;
    for (char **d = dirs; *d; d++)
        free(*d);
    free(dirs);
}

int bld_step_area_open(struct build *b, struct stage *st, int mount_it, struct step_area *a,
                       sw_error **err)
{
    char **dirs = NULL;
    char *work = NULL, *empty = NULL;
    int rc;
    memset(a, 0, sizeof(*a));
    if ((rc = bld_scratch_dir(b->store, "step", &a->scratch, err)) != 0)
        return rc;
    a->upper = sw_path_join(a->scratch, "upper");
    a->rootfs = sw_path_join(a->scratch, "rootfs");
    work = sw_path_join(a->scratch, "work");
    empty = sw_path_join(a->scratch, "empty");
    if (!a->upper || !a->rootfs || !work || !empty) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(a->upper, 0755, err)) != 0)
        goto cleanup;
    if (!mount_it)
        goto cleanup;
    if ((rc = sw_mkdir_p(a->rootfs, 0755, err)) || (rc = sw_mkdir_p(work, 0700, err)) ||
        (rc = sw_mkdir_p(empty, 0755, err)) || (rc = bld_layer_dirs(b, st, &dirs, err)))
        goto cleanup;
    if ((rc = bld_overlay_mount((const char *const *)dirs, st->image.n_layers, a->upper, work,
                                empty, a->rootfs, err)) != 0)
        goto cleanup;
    a->mounted = 1;
cleanup:
    bld_free_dirs(dirs);
    free(work);
    free(empty);
    return rc;
}

/* Unmounts, and removes the scratch area unless the upper dir was taken
 * (moved into the layer cache). */
void bld_step_area_close(struct step_area *a)
{
    if (a->mounted)
        bld_overlay_unmount(a->rootfs, NULL);
    if (a->scratch)
        sw_rm_rf(a->scratch, NULL);
    free(a->scratch);
    free(a->upper);
    free(a->rootfs);
    memset(a, 0, sizeof(*a));
}

/* A read-only view of a stage's (or image's) root filesystem, for COPY
 * --from; unmounted at the end of the build. */
int bld_mount_readonly(struct build *b, struct stage *st, char **root_out, sw_error **err)
{
    char **dirs = NULL;
    char *scratch = NULL, *root = NULL, *empty = NULL;
    int rc;
    if (b->n_ro_mounts >= sizeof(b->ro_mounts) / sizeof(b->ro_mounts[0]))
        return sw_error_set(err, SW_EUNSUPPORTED, "too many COPY --from sources");
    if ((rc = bld_scratch_dir(b->store, "from", &scratch, err)) != 0)
        return rc;
    root = sw_path_join(scratch, "rootfs");
    empty = sw_path_join(scratch, "empty");
    if (!root || !empty) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(root, 0755, err)) || (rc = sw_mkdir_p(empty, 0755, err)) ||
        (rc = bld_layer_dirs(b, st, &dirs, err)))
        goto cleanup;
    if ((rc = bld_overlay_mount((const char *const *)dirs, st->image.n_layers, NULL, NULL, empty,
                                root, err)) != 0)
        goto cleanup;
    b->ro_mounts[b->n_ro_mounts++] = scratch;
    scratch = NULL;
    *root_out = root;
    root = NULL;
cleanup:
    if (scratch) {
        sw_rm_rf(scratch, NULL);
        free(scratch);
    }
    free(root);
    free(empty);
    bld_free_dirs(dirs);
    return rc;
}

/* ---- the cache key chain ------------------------------------------------ */

/* key = sha256(previous key, instruction keyword, parts...). The config
 * state a RUN depends on (Env, WorkingDir, User, Shell) is one of the parts
 * where it matters. */
/* Makes the stage's key one that matches nothing: when a part of a key
 * could not be made (allocation failure), the step and every step after it
 * must miss the cache rather than risk the key of another state. */
static void poison_key(struct stage *st)
{
    static atomic_uint counter;
    unsigned char r[16];
    char hex[sizeof(r) * 2 + 1];
    if (sw_random_bytes(r, sizeof(r), NULL) == 0) {
        sw_hex_encode(r, sizeof(r), hex);
        snprintf(st->key, sizeof(st->key), "nocache:%s", hex);
    } else {
        snprintf(st->key, sizeof(st->key), "nocache:%ld-%u-%lld", (long)getpid(),
                 atomic_fetch_add(&counter, 1), (long long)time(NULL));
    }
}

/* key = sha256(key, keyword, parts...). A NULL part means the caller could
 * not make it: the key is poisoned instead (see poison_key). */
void bld_chain_key(struct stage *st, const char *keyword, const char *const *parts, size_t n_parts)
{
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i] == NULL) {
            poison_key(st);
            return;
        }
    }
    sw_hash *h = sw_hash_new(SW_HASH_SHA256);
    if (h == NULL) {
        poison_key(st);
        return;
    }
    sw_hash_update(h, st->key, strlen(st->key) + 1);
    sw_hash_update(h, keyword, strlen(keyword) + 1);
    for (size_t i = 0; i < n_parts; i++)
        sw_hash_update(h, parts[i], strlen(parts[i]) + 1);
    sw_hash_digest(h, st->key);
    sw_hash_free(h);
}

char *bld_config_state(struct stage *st)
{
    json_t *cfg = bld_image_runconfig(&st->image);
    json_t *state = json_pack("{s:O?, s:O?, s:O?, s:O?}", "Env", json_object_get(cfg, "Env"),
                              "WorkingDir", json_object_get(cfg, "WorkingDir"), "User",
                              json_object_get(cfg, "User"), "Shell", json_object_get(cfg, "Shell"));
    char *text = state ? json_dumps(state, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(state);
    return text;
}

/* The build args in effect, for a cache key; NULL when it could not be made. */
char *bld_args_state(struct stage *st)
{
    sw_strbuf sb = SW_STRBUF_INIT;
    for (size_t i = 0; i < st->args.n; i++)
        sw_strbuf_printf(&sb, "%s=%s\n", st->args.items[i].key, st->args.items[i].value);
    if (sb.failed) {
        sw_strbuf_free(&sb);
        return NULL;
    }
    return sw_strbuf_detach(&sb);
}

/* ---- steps that make layers --------------------------------------------- */

/* Looks the step's key up in the cache; on a hit adds the layer. Returns
 * 1 on a hit, 0 on a miss. */
int bld_try_cache(struct build *b, struct stage *st, const char *created_by, double started)
{
    return bld_try_cache_at(b, st, st->key, created_by, started);
}

int bld_try_cache_at(struct build *b, struct stage *st, const char *key, const char *created_by,
                     double started)
{
    struct bld_layer layer;
    int64_t made = 0;
    if (b->opts->no_cache || bld_cache_get(b->store, key, &layer, &made, NULL) != 0) {
        bld_egress_prewarm(b, st);
        return 0;
    }
    if (b->opts->source_date_epoch < 0 && made > 0)
        st->last_time = made;
    else
        st->last_time = bld_build_time(b);
    if (bld_image_add_layer(&st->image, &layer, created_by, st->last_time, NULL) != 0)
        return 0;
    b->cached_steps++;
    if (b->opts->on_step == NULL)
        bld_progress(b, "CACHED %.1fs\n", bld_now_s() - started);
    return 1;
}

/* Makes the step's upper directory the next layer of the stage. */
int bld_commit_layer(struct build *b, struct stage *st, struct step_area *a, const char *created_by,
                     sw_error **err)
{
    return bld_commit_layer_at(b, st, a, st->key, created_by, err);
}

int bld_commit_layer_at(struct build *b, struct stage *st, struct step_area *a, const char *key,
                        const char *created_by, sw_error **err)
{
    struct bld_layer layer;
    int rc = bld_layer_commit_dir(b->store, a->upper, b->opts->compression,
                                  b->opts->source_date_epoch, &layer, err);
    if (rc != 0)
        return rc;
    /* the upper dir now lives in layers/ (or was removed as a duplicate) */
    free(a->upper);
    a->upper = NULL;
    st->last_time = bld_build_time(b);
    if ((rc = bld_image_add_layer(&st->image, &layer, created_by, st->last_time, err)) != 0)
        return rc;
    bld_cache_put(b->store, key, &layer, NULL); /* the cache is best effort */
    return 0;
}

/* What every chain of keys holds besides its steps. */
void bld_key_seed(struct build *b, struct stage *st)
{
    /* layers made with another compression, or with mtimes clamped to
     * another epoch, are other blobs: not the same cache */
    char epoch[32];
    snprintf(epoch, sizeof(epoch), "%lld", (long long)b->opts->source_date_epoch);
    const char *layer_format[] = { sw_compression_oci_media_type(b->opts->compression), epoch };
    bld_chain_key(st, "layer-format", layer_format, 2);
    /* caches are per repository and identity: no cache hit hands this
     * build a layer that another repository's build made */
    if (b->opts->cache_scope) {
        const char *scope[] = { b->opts->cache_scope };
        bld_chain_key(st, "cache-scope", scope, 1);
    }
}

/* ---- history ------------------------------------------------------------ */

char *bld_created_by(const char *text)
{
    char *out = NULL;
    return asprintf(&out, "%s" BLD_HISTORY_SUFFIX, text) < 0 ? NULL : out;
}

/* ---- users -------------------------------------------------------------- */

int bld_resolve_user(struct build *b, struct stage *st, const char *spec, enum bld_user_mode mode,
                     uid_t *uid, gid_t *gid, sw_error **err)
{
    char **dirs = NULL;
    int rc = bld_layer_dirs(b, st, &dirs, err);
    if (rc == 0)
        rc = bld_user_resolve(spec, mode, dirs, st->image.n_layers, uid, gid, err);
    bld_free_dirs(dirs);
    return rc;
}
