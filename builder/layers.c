/*
 * layers.c - unpacking layer blobs into cached directories and turning
 * step results into layer blobs (see layers.h).
 */
#include "builder/layers.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/tarwriter.h"
#include "builder/unpack.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/profile.h"
#include "registry/blobstore.h"

static const char *digest_hex(const char *digest)
{
    const char *colon = strchr(digest, ':');
    return colon ? colon + 1 : digest;
}

static char *data_path(reg_store *store, const char *rel)
{
    return sw_path_join(reg_store_data_dir(store), rel);
}

char *bld_layer_dir(reg_store *store, const char *diff_id)
{
    char rel[SW_DIGEST_MAX + 16];
    snprintf(rel, sizeof(rel), "layers/%s", digest_hex(diff_id));
    return data_path(store, rel);
}

/* Unmounts everything mounted at or below dir, deepest first. */
static void unmount_below(const char *dir)
{
    FILE *f = fopen("/proc/self/mountinfo", "re");
    char **points = NULL;
    size_t n = 0, dlen = strlen(dir);
    char line[8192];
    while (f && fgets(line, sizeof(line), f)) {
        /* "id parent major:minor root mountpoint ..." */
        char *save = NULL, *field = strtok_r(line, " ", &save);
        for (int i = 0; field && i < 4; i++)
            field = strtok_r(NULL, " ", &save);
        if (field == NULL || strncmp(field, dir, dlen) != 0 ||
            (field[dlen] != '\0' && field[dlen] != '/'))
            continue;
        char **bigger = realloc(points, (n + 1) * sizeof(char *));
        if (bigger == NULL)
            break;
        points = bigger;
        points[n++] = strdup(field);
    }
    if (f)
        fclose(f);
    for (size_t i = n; i-- > 0;) {
        if (points[i])
            umount2(points[i], MNT_DETACH);
        free(points[i]);
    }
    free(points);
}

/* ---- layer directories made in an earlier boot ----
 *
 * Layer directories are written through the page cache and never synced
 * (docs/builder.md): a power loss or a kernel crash can leave one short of
 * its bytes, and later builds would stack it under their steps without
 * noticing. They are only a cache of blobs, which are synced and verified,
 * so once the machine has booted again the directories of the earlier
 * boot are dropped, and each is unpacked again from its blob when a build
 * next needs it. layers/.boot names the boot they were made in. */

#define BOOT_FILE ".boot"

/* "boot=<id>\n" of this boot into buf; 0 when the kernel has no boot id. */
static int current_boot(char *buf, size_t cap)
{
    char id[40];
    return sw_boot_id(id, sizeof(id)) && snprintf(buf, cap, "boot=%s\n", id) < (int)cap;
}

static int write_boot(const char *root, const char *boot, sw_error **err)
{
    char *path = sw_path_join(root, BOOT_FILE);
    if (path == NULL)
        return sw_error_oom(err);
    int rc = sw_write_file_atomic(path, boot, strlen(boot), 0600, err);
    free(path);
    return rc;
}

/* Drops layers/ when layers/.boot names another boot; records this boot
 * when the file is missing (a store from before the file: its directories
 * are kept, as nothing says when they were made). Under a lock, so that
 * of two processes starting together only one moves the directory. */
static int drop_layers_of_other_boot(reg_store *store, sw_error **err)
{
    char boot[80];
    if (!current_boot(boot, sizeof(boot)))
        return 0; /* nothing to compare with */
    char *root = data_path(store, "layers"), *tmp = data_path(store, "tmp");
    char *lock_path = NULL, *boot_path = NULL, *recorded = NULL, *stale = NULL;
    int rc = 0, lock_fd = -1;
    SW_CHECK_ALLOC(root, rc, err, cleanup);
    SW_CHECK_ALLOC(tmp, rc, err, cleanup);
    if (!sw_path_exists(root))
        goto cleanup; /* made with its .boot by ensure_layers_root */
    if ((rc = sw_mkdir_p(tmp, 0700, err)) != 0)
        goto cleanup;
    lock_path = sw_path_join(tmp, "layers-boot.lock");
    boot_path = sw_path_join(root, BOOT_FILE);
    SW_CHECK_ALLOC(lock_path, rc, err, cleanup);
    SW_CHECK_ALLOC(boot_path, rc, err, cleanup);
    lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || sw_flock(lock_fd, LOCK_EX) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "locking %s", lock_path);
        goto cleanup;
    }
    size_t len = 0;
    if (sw_read_file(boot_path, 256, &recorded, &len, NULL) != 0) {
        rc = write_boot(root, boot, err);
        goto cleanup;
    }
    if (strcmp(recorded, boot) == 0)
        goto cleanup;
    if (asprintf(&stale, "%s/layers-of-another-boot.pid%d.XXXXXX", tmp, (int)getpid()) < 0) {
        stale = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    /* a fresh name (mkdtemp), replaced by the directory: rename onto an
     * empty directory is allowed */
    if (mkdtemp(stale) == NULL || rename(root, stale) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "moving %s aside", root);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(root, 0700, err)) != 0 || (rc = write_boot(root, boot, err)) != 0)
        goto cleanup;
    sw_info("layer directories of an earlier boot dropped (unpacked again from their blobs "
            "when used)");
    (void)sw_rm_rf(stale, NULL); /* or the next scratch sweep: its name has our pid */
cleanup:
    if (lock_fd >= 0)
        close(lock_fd);
    free(root);
    free(tmp);
    free(lock_path);
    free(boot_path);
    free(recorded);
    free(stale);
    return rc;
}

int bld_scratch_sweep(reg_store *store, int *removed, sw_error **err)
{
    int boot_rc = drop_layers_of_other_boot(store, err);
    if (boot_rc != 0)
        return boot_rc;
    char *tmp = data_path(store, "tmp");
    if (removed)
        *removed = 0;
    if (tmp == NULL)
        return sw_error_oom(err);
    DIR *dir = opendir(tmp);
    if (dir == NULL) {
        free(tmp);
        return 0;
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *mark = strstr(de->d_name, ".pid");
        if (mark == NULL)
            continue;
        long pid = strtol(mark + 4, NULL, 10);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* its owner lives (or we cannot tell) */
        char *path = sw_path_join(tmp, de->d_name);
        if (path) {
            unmount_below(path);
            if (sw_rm_rf(path, NULL) == 0 && removed)
                (*removed)++;
        }
        free(path);
    }
    closedir(dir);
    free(tmp);
    return 0;
}

int bld_scratch_dir(reg_store *store, const char *prefix, char **out, sw_error **err)
{
    char *tmp = data_path(store, "tmp");
    char *path = NULL;
    int rc = 0;
    if (tmp == NULL)
        return sw_error_oom(err);
    if ((rc = sw_mkdir_p(tmp, 0700, err)) != 0)
        goto cleanup;
    /* the owner's pid in the name lets bld_scratch_sweep find leftovers */
    size_t plen = strlen(prefix);
    while (plen > 0 && prefix[plen - 1] == '-')
        plen--;
    if (asprintf(&path, "%s/%.*s.pid%d.XXXXXX", tmp, (int)plen, prefix, (int)getpid()) < 0) {
        path = NULL;
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (mkdtemp(path) == NULL) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating a scratch directory in %s", tmp);
        goto cleanup;
    }
    *out = path;
    path = NULL;
cleanup:
    free(path);
    free(tmp);
    return rc;
}

static int ensure_layers_root(reg_store *store, sw_error **err)
{
    char *root = data_path(store, "layers");
    char boot[80];
    if (root == NULL)
        return sw_error_oom(err);
    int rc = 0;
    if (!sw_path_exists(root) && (rc = sw_mkdir_p(root, 0700, err)) == 0 &&
        current_boot(boot, sizeof(boot)))
        rc = write_boot(root, boot, err);
    free(root);
    return rc;
}

/* Moves a finished directory into the cache; when another build got there
 * first, ours is removed (both have the same content by construction). */
static int install_dir(const char *from, const char *to, sw_error **err)
{
    if (rename(from, to) == 0)
        return 0;
    if (errno == EEXIST || errno == ENOTEMPTY)
        return sw_rm_rf(from, err);
    return sw_error_sys(err, SW_EIO, errno, "moving %s to %s", from, to);
}

/* A source for the unpacker: decompressed bytes, hashed on the way. */
struct hashing_source {
    sw_decompressor *decompressor;
    sw_hash *hash;
};

static int hashing_read(void *ctx, void *buf, size_t len, size_t *got, sw_error **err)
{
    struct hashing_source *src = ctx;
    int rc = sw_decompress_read(src->decompressor, buf, len, got, err);
    if (rc == 0)
        sw_hash_update(src->hash, buf, *got);
    return rc;
}

int bld_layer_unpacked(reg_store *store, const struct bld_layer *layer, char **dir_out,
                       sw_error **err)
{
    char *dir = bld_layer_dir(store, layer->diff_id);
    char *scratch = NULL;
    struct hashing_source src = { 0 };
    reg_backend_reader *blob = NULL;
    int rc = 0;

    if (dir == NULL)
        return sw_error_oom(err);
    if (sw_path_exists(dir)) {
        *dir_out = dir;
        return 0;
    }
    if ((rc = ensure_layers_root(store, err)) != 0 ||
        (rc = bld_scratch_dir(store, "unpack", &scratch, err)) != 0)
        goto cleanup;
    if ((rc = reg_blob_reader_open(store, NULL, layer->digest, 0, -1, &blob, NULL, err)) != 0)
        goto cleanup;
    src.hash = sw_hash_new(SW_HASH_SHA256);
    SW_CHECK_ALLOC(src.hash, rc, err, cleanup);
    if ((rc = sw_decompress_open_source(reg_blob_reader_source, blob, layer->digest,
                                        &src.decompressor, err)) != 0 ||
        (rc = bld_unpack_source(hashing_read, &src, scratch, NULL, err)) != 0)
        goto cleanup;
    /* hash whatever follows the tar end marker too: the diff ID covers it */
    char rest[16 * 1024];
    size_t got;
    do {
        if ((rc = hashing_read(&src, rest, sizeof(rest), &got, err)) != 0)
            goto cleanup;
    } while (got > 0);
    char actual[SW_DIGEST_MAX];
    sw_hash_digest(src.hash, actual);
    if (strcmp(actual, layer->diff_id) != 0) {
        rc = sw_error_set(err, SW_EINVAL,
                          "layer %s: its content has diff ID %s, the image "
                          "config says %s",
                          layer->digest, actual, layer->diff_id);
        goto cleanup;
    }
    if ((rc = install_dir(scratch, dir, err)) != 0)
        goto cleanup;
    free(scratch);
    scratch = NULL;
    *dir_out = dir;
    dir = NULL;
cleanup:
    if (scratch) {
        sw_rm_rf(scratch, NULL);
        free(scratch);
    }
    if (rc != 0)
        sw_error_prefix(err, "unpacking layer %s", layer->digest);
    sw_decompress_close(src.decompressor);
    sw_hash_free(src.hash);
    reg_backend_reader_close(blob);
    free(dir);
    return rc;
}

static int blob_sink(void *ctx, const void *buf, size_t len, sw_error **err)
{
    return reg_blob_writer_write(ctx, buf, len, err);
}

static int compressor_sink(void *ctx, const void *buf, size_t len, sw_error **err)
{
    return sw_compress_write(ctx, buf, len, err);
}

int bld_layer_commit_dir(reg_store *store, const char *dir, enum sw_compression compression,
                         int64_t clamp_mtime, struct bld_layer *out, sw_error **err)
{
    reg_blob_writer *writer = NULL;
    sw_compressor *compressor = NULL;
    struct sw_compress_result result;
    char *target = NULL;
    int rc;

    uint64_t profiled = sw_profile_start(), phase;
    memset(out, 0, sizeof(*out));
    if ((rc = ensure_layers_root(store, err)) != 0 ||
        (rc = reg_blob_writer_new(store, &writer, err)) != 0 ||
        (rc = sw_compress_new(compression, 0, blob_sink, writer, &compressor, err)) != 0)
        goto cleanup;
    sw_compress_skip_digest(compressor); /* the blob writer hashes them */
    struct bld_tar_options opts = { .clamp_mtime = clamp_mtime, .overlay_whiteouts = 1 };
    phase = sw_profile_start();
    if ((rc = bld_tar_dir(dir, &opts, compressor_sink, compressor, err)) != 0 ||
        (rc = sw_compress_finish(compressor, &result, err)) != 0)
        goto cleanup;
    sw_profile_stop(SW_PHASE_TAR_FEED, phase);
    phase = sw_profile_start();
    rc = reg_blob_writer_commit(writer, NULL, NULL, out->digest, err);
    sw_profile_stop(SW_PHASE_BLOB_COMMIT, phase);
    writer = NULL; /* freed by commit in every case */
    if (rc != 0)
        goto cleanup;
    memcpy(out->diff_id, result.diff_id, sizeof(out->diff_id));
    out->size = result.compressed_size;
    snprintf(out->media_type, sizeof(out->media_type), "%s",
             sw_compression_oci_media_type(compression));
    target = bld_layer_dir(store, out->diff_id);
    SW_CHECK_ALLOC(target, rc, err, cleanup);
    phase = sw_profile_start();
    rc = install_dir(dir, target, err);
    sw_profile_stop(SW_PHASE_INSTALL, phase);
    sw_profile_stop(SW_PHASE_EXPORT, profiled);
cleanup:
    if (rc != 0)
        sw_error_prefix(err, "making a layer of %s", dir);
    sw_compress_free(compressor);
    reg_blob_writer_abort(writer);
    free(target);
    return rc;
}
