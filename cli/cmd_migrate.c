/*
 * cmd_migrate.c - `slipway migrate`: moves an embedded installation (the
 * SQLite database and the filesystem blob tree of one data dir) to the
 * scaled-out one (PostgreSQL and an S3 bucket), leaving the old one as it
 * was (docs/scale-out.md "Moving up").
 *
 * Order, so that a kill at any moment leaves both sides consistent:
 *  1. the source database is opened read-only and its snapshot taken, and
 *     the target database checked (schema known, no rows yet);
 *  2. every blob is copied through the backend API (reader -> writer with
 *     the expected digest, so each object is verified while it streams),
 *     skipping objects the target has already: a second run resumes;
 *  3. every blob row of the snapshot is checked to exist on the target;
 *  4. the rows are copied in one transaction (core/db_copy.h): either all
 *     of them land or none, and objects without rows are what GC removes;
 *  5. run logs, which stay on a front end's disk for now, are copied to the
 *     new config's data dir.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "cli/store.h"
#include "core/config.h"
#include "core/db.h"
#include "core/db_copy.h"
#include "core/fs.h"
#include "core/hash.h"
#include "core/parse.h"
#include "registry/backend.h"

#define COPY_BUFFER (1024 * 1024)

struct migrate_args {
    const char *to_config;
    const char *to;         /* --to postgres://... */
    const char *storage_to; /* --storage-to s3://bucket/prefix */
    const char *s3_endpoint, *s3_region, *s3_access_key, *s3_secret_key;
    int s3_virtual_hosted;
    int force, verify;
    int64_t batch;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: slipway migrate --config OLD.yaml --to-config NEW.yaml [options]\n"
            "       slipway migrate --config OLD.yaml --to postgres://USER:env:VAR@HOST:PORT/DB\n"
            "                       --storage-to s3://BUCKET[/PREFIX] --s3-endpoint URL\n"
            "                       --s3-access-key env:VAR --s3-secret-key env:VAR [options]\n"
            "\n"
            "Copies an embedded installation (its SQLite database and its blob files) to\n"
            "PostgreSQL and S3-compatible storage. The old installation is only read.\n"
            "Blobs go first, each verified by digest while it streams and skipped when\n"
            "the target has it already (so a run that stopped can run again); then every\n"
            "table's rows in one transaction, with the row counts compared. Stop `slipway\n"
            "serve` and any `slipway worker` of OLD first. Exits 1 on any mismatch.\n"
            "\n"
            "The target is the config you will serve with afterwards (--to-config: its\n"
            "`database` and `storage`); --to, --storage-to and --s3-* override it or\n"
            "stand in for it. Secrets are only taken as env:VAR, never on the command line.\n"
            "\n"
            "options:\n"
            "  --config FILE          the old installation's config (its data_dir)\n"
            "  --data-dir DIR         the old data directory (overrides the config's)\n"
            "  --to-config FILE       the new config: database: postgres://..., storage: s3\n"
            "  --to URL               the target database, postgres://user[:env:VAR]@host:port/db\n"
            "  --storage-to s3://BUCKET[/PREFIX]  the target bucket and key prefix\n"
            "  --s3-endpoint URL      http(s)://host[:port] of the S3 store\n"
            "  --s3-region REGION     default us-east-1\n"
            "  --s3-access-key env:VAR, --s3-secret-key env:VAR   the S3 keys\n"
            "  --s3-virtual-hosted    bucket.endpoint/key instead of endpoint/bucket/key\n"
            "  --verify               re-read every object from the target and check its digest\n"
            "  --batch N              rows per INSERT (default 200)\n"
            "  --force                copy even while another process has the database open\n"
            "                         (rows from one snapshot; blobs pushed later stay behind)\n"
            "  -h, --help             this text\n");
}

static int migrate_option(void *ctx, int opt, const char *arg)
{
    struct migrate_args *a = ctx;
    switch (opt) {
    case 'T':
        a->to_config = arg;
        break;
    case 't':
        a->to = arg;
        break;
    case 's':
        a->storage_to = arg;
        break;
    case 'e':
        a->s3_endpoint = arg;
        break;
    case 'g':
        a->s3_region = arg;
        break;
    case 'a':
        a->s3_access_key = arg;
        break;
    case 'k':
        a->s3_secret_key = arg;
        break;
    case 'V':
        a->s3_virtual_hosted = 1;
        break;
    case 'f':
        a->force = 1;
        break;
    case 'v':
        a->verify = 1;
        break;
    case 'b':
        if (sw_parse_int64(arg, 1, 10000, &a->batch) != 0) {
            fprintf(stderr, "slipway migrate: --batch: expected 1..10000, got \"%s\"\n", arg);
            return -1;
        }
        break;
    default:
        break;
    }
    return 0;
}

/* The target: what --to-config says, with the command-line overrides. The
 * strings point into cfg, args or the owned secrets. */
struct target {
    struct sw_config *cfg; /* --to-config, or NULL */
    const char *database;
    struct reg_backend_config storage;
    int has_storage;
    char *access_key, *secret_key; /* resolved from --s3-*-key env:VAR */
    char *bucket, *prefix;         /* from --storage-to */
};

static void target_free(struct target *t)
{
    sw_config_free(t->cfg);
    free(t->access_key);
    free(t->secret_key);
    free(t->bucket);
    free(t->prefix);
}

/* A secret given on the command line: env:VAR only. */
static int cli_secret(const char *option, const char *spec, char **out, sw_error **err)
{
    if (strncmp(spec, "env:", 4) != 0)
        return sw_error_set(err, SW_EINVAL,
                            "%s: give the name of an environment variable as env:VAR, not the "
                            "secret itself (command lines are visible to every user)",
                            option);
    int rc = sw_config_secret(spec, out, err);
    if (rc != 0)
        sw_error_prefix(err, "%s", option);
    return rc;
}

static int target_resolve(const struct migrate_args *a, struct target *t, sw_error **err)
{
    int rc;
    if (a->to_config) {
        if ((rc = sw_config_load(a->to_config, &t->cfg, err)) != 0)
            return rc;
        t->database = t->cfg->database;
        reg_backend_config_from(t->cfg, &t->storage);
        t->has_storage = 1;
    }
    if (a->to) {
        if ((rc = sw_config_check_database_url(a->to, err)) != 0) {
            sw_error_prefix(err, "--to");
            return rc;
        }
        t->database = a->to;
    }
    if (a->storage_to) {
        const char *rest = a->storage_to + 5;
        if (strncmp(a->storage_to, "s3://", 5) != 0 || *rest == '\0' || *rest == '/')
            return sw_error_set(err, SW_EINVAL, "--storage-to: expected s3://BUCKET[/PREFIX]");
        const char *slash = strchr(rest, '/');
        t->bucket = slash ? strndup(rest, (size_t)(slash - rest)) : strdup(rest);
        t->prefix = strdup(slash ? slash + 1 : "");
        if (t->bucket == NULL || t->prefix == NULL)
            return sw_error_oom(err);
        if (!t->has_storage) {
            memset(&t->storage, 0, sizeof(t->storage));
            t->storage.path_style = 1;
        }
        t->has_storage = 1;
        t->storage.driver = REG_BACKEND_S3;
        t->storage.bucket = t->bucket;
        t->storage.prefix = t->prefix;
    }
    if (a->s3_endpoint)
        t->storage.endpoint = a->s3_endpoint;
    if (a->s3_region)
        t->storage.region = a->s3_region;
    if (a->s3_virtual_hosted)
        t->storage.path_style = 0;
    if (a->s3_access_key) {
        if ((rc = cli_secret("--s3-access-key", a->s3_access_key, &t->access_key, err)) != 0)
            return rc;
        t->storage.access_key = t->access_key;
    }
    if (a->s3_secret_key) {
        if ((rc = cli_secret("--s3-secret-key", a->s3_secret_key, &t->secret_key, err)) != 0)
            return rc;
        t->storage.secret_key = t->secret_key;
    }
    if (t->database == NULL || !sw_db_is_url(t->database))
        return sw_error_set(err, SW_EINVAL,
                            "no target database: give --to postgres://... or a --to-config "
                            "whose `database` is a postgres:// URL");
    if (!t->has_storage)
        return sw_error_set(err, SW_EINVAL,
                            "no target storage: give --storage-to s3://BUCKET[/PREFIX] or "
                            "--to-config");
    return 0;
}

/* A process other than us with path open (slipway serve, slipway worker,
 * sqlite3): its pid, or 0. Processes of other users are invisible to a
 * non-root caller. */
static pid_t find_opener(const char *path)
{
    char *real = realpath(path, NULL);
    pid_t found = 0;
    DIR *proc = real ? opendir("/proc") : NULL;
    struct dirent *de;
    size_t real_len = real ? strlen(real) : 0;
    while (proc && found == 0 && (de = readdir(proc)) != NULL) {
        int64_t pid;
        char dir[300];
        if (sw_parse_int64(de->d_name, 1, INT32_MAX, &pid) != 0 || (pid_t)pid == getpid())
            continue;
        snprintf(dir, sizeof(dir), "/proc/%s/fd", de->d_name);
        DIR *fds = opendir(dir);
        struct dirent *fd;
        while (fds && found == 0 && (fd = readdir(fds)) != NULL) {
            char link[PATH_MAX + 64], target[PATH_MAX];
            snprintf(link, sizeof(link), "%s/%s", dir, fd->d_name);
            ssize_t len = readlink(link, target, sizeof(target) - 1);
            if (len <= 0)
                continue;
            target[len] = '\0';
            /* the database, its -wal or its -shm */
            if (strncmp(target, real, real_len) == 0 &&
                (target[real_len] == '\0' || target[real_len] == '-'))
                found = (pid_t)pid;
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
    free(real);
    return found;
}

/* "slipway serve" from /proc/PID/cmdline (the first two words). */
static void process_name(pid_t pid, char *out, size_t cap)
{
    char path[64], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
    snprintf(out, cap, "pid %ld", (long)pid);
    if (sw_read_file(path, 4096, &text, &len, NULL) != 0 || len == 0)
        return;
    size_t first = strnlen(text, len);
    const char *base = strrchr(text, '/');
    base = base && base < text + first ? base + 1 : text;
    snprintf(out, cap, "%s%s%s (pid %ld)", base, first + 1 < len ? " " : "",
             first + 1 < len ? text + first + 1 : "", (long)pid);
    free(text);
}

/* ---- blobs ---- */

struct blob {
    char digest[SW_DIGEST_MAX];
    int64_t size;
};

struct blob_list {
    struct blob *v;
    size_t n, cap;
    int64_t bytes;
};

static int collect_blob(const char *digest, int64_t size, int64_t mtime, void *ctx, sw_error **err)
{
    struct blob_list *list = ctx;
    (void)mtime;
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 256;
        struct blob *grown = realloc(list->v, cap * sizeof(*grown));
        if (grown == NULL)
            return sw_error_oom(err);
        list->v = grown;
        list->cap = cap;
    }
    snprintf(list->v[list->n].digest, SW_DIGEST_MAX, "%s", digest);
    list->v[list->n].size = size;
    list->n++;
    list->bytes += size;
    return 0;
}

static enum sw_hash_algo digest_algo(const char *digest)
{
    return strncmp(digest, "sha512:", 7) == 0 ? SW_HASH_SHA512 : SW_HASH_SHA256;
}

/* Reads a reader to its end, handing every piece to take. */
typedef int (*take_fn)(void *ctx, const void *data, size_t len, sw_error **err);
static int drain(reg_backend_reader *reader, char *buf, take_fn take, void *ctx, sw_error **err)
{
    for (;;) {
        size_t got = 0;
        int rc = reg_backend_read(reader, buf, COPY_BUFFER, &got, err);
        if (rc != 0 || got == 0)
            return rc;
        if ((rc = take(ctx, buf, got, err)) != 0)
            return rc;
    }
}

static int take_write(void *ctx, const void *data, size_t len, sw_error **err)
{
    return reg_backend_writer_write(ctx, data, len, err);
}

/* Streams one blob from src to dst; the writer checks the digest. */
static int copy_blob(reg_backend *src, reg_backend *dst, const struct blob *blob, char *buf,
                     sw_error **err)
{
    reg_backend_reader *reader = NULL;
    reg_backend_writer *writer = NULL;
    int rc;
    if ((rc = reg_backend_reader_open(src, blob->digest, 0, -1, &reader, NULL, err)) != 0 ||
        (rc = reg_backend_writer_new(dst, digest_algo(blob->digest), &writer, err)) != 0 ||
        (rc = drain(reader, buf, take_write, writer, err)) != 0)
        goto cleanup;
    rc = reg_backend_writer_commit(writer, blob->digest, NULL, err);
    writer = NULL;
cleanup:
    reg_backend_writer_abort(writer);
    reg_backend_reader_close(reader);
    if (rc != 0)
        sw_error_prefix(err, "copying %s", blob->digest);
    return rc;
}

struct hashed {
    sw_hash *hash;
    int64_t size;
};

static int take_hash(void *ctx, const void *data, size_t len, sw_error **err)
{
    struct hashed *h = ctx;
    (void)err;
    sw_hash_update(h->hash, data, len);
    h->size += (int64_t)len;
    return 0;
}

/* Re-reads a blob from the target and checks its size and digest. */
static int verify_blob(reg_backend *dst, const struct blob *blob, char *buf, sw_error **err)
{
    reg_backend_reader *reader = NULL;
    struct hashed h = { sw_hash_new(digest_algo(blob->digest)), 0 };
    int64_t size = 0;
    char digest[SW_DIGEST_MAX];
    int rc;
    if (h.hash == NULL)
        return sw_error_oom(err);
    if ((rc = reg_backend_reader_open(dst, blob->digest, 0, -1, &reader, &size, err)) != 0 ||
        (rc = drain(reader, buf, take_hash, &h, err)) != 0)
        goto cleanup;
    sw_hash_digest(h.hash, digest);
    if (strcmp(digest, blob->digest) != 0 || h.size != blob->size || size != blob->size)
        rc = sw_error_set(err, REG_E_DIGEST_INVALID,
                          "%s on the target reads back as %s, %lld bytes (expected %lld)",
                          blob->digest, digest, (long long)h.size, (long long)blob->size);
cleanup:
    reg_backend_reader_close(reader);
    sw_hash_free(h.hash);
    return rc;
}

struct blob_totals {
    size_t copied, present, verified;
    int64_t bytes_copied;
};

static double mib(int64_t bytes)
{
    return (double)bytes / (1024.0 * 1024.0);
}

static int copy_blobs(reg_backend *src, reg_backend *dst, const struct blob_list *list, int verify,
                      struct blob_totals *totals, sw_error **err)
{
    char *buf = malloc(COPY_BUFFER);
    int rc = 0;
    int64_t done_bytes = 0;
    if (buf == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < list->n; i++) {
        const struct blob *blob = &list->v[i];
        int64_t size = -1;
        sw_error *stat_err = NULL;
        int present = reg_backend_stat(dst, blob->digest, &size, &stat_err) == 0;
        if (!present && sw_error_code(stat_err) != REG_E_BLOB_UNKNOWN) {
            rc = sw_error_set(err, sw_error_code(stat_err), "%s", sw_error_message(stat_err));
            sw_error_clear(&stat_err);
            goto cleanup;
        }
        sw_error_clear(&stat_err);
        if (present && size != blob->size) {
            rc = sw_error_set(err, SW_ECONFLICT,
                              "%s is on the target with %lld bytes, in the source with %lld",
                              blob->digest, (long long)size, (long long)blob->size);
            goto cleanup;
        }
        if (!present) {
            if ((rc = copy_blob(src, dst, blob, buf, err)) != 0)
                goto cleanup;
            totals->copied++;
            totals->bytes_copied += blob->size;
        } else {
            totals->present++;
        }
        if (verify) {
            if ((rc = verify_blob(dst, blob, buf, err)) != 0)
                goto cleanup;
            totals->verified++;
        }
        done_bytes += blob->size;
        fprintf(stderr, "blob %zu/%zu %s %s (%.1f of %.1f MiB)\n", i + 1, list->n, blob->digest,
                present ? "already there" : "copied", mib(done_bytes), mib(list->bytes));
    }
cleanup:
    free(buf);
    return rc;
}

/* Every blob row of the source names an object the target has. */
struct row_check {
    reg_backend *dst;
    size_t checked, missing;
};

static int check_blob_row(const char *digest, void *ctx, sw_error **err)
{
    struct row_check *check = ctx;
    int64_t size;
    sw_error *stat_err = NULL;
    (void)err;
    check->checked++;
    if (digest == NULL || reg_backend_stat(check->dst, digest, &size, &stat_err) != 0) {
        fprintf(stderr, "slipway migrate: blob row %s has no object on the target: %s\n",
                digest ? digest : "(null)", sw_error_message(stat_err));
        check->missing++;
    }
    sw_error_clear(&stat_err);
    return 0;
}

/* A line per table when it is done, and one a second while a big one goes. */
static void table_progress(void *ctx, const char *table, int64_t done, int64_t total)
{
    struct timespec *last = ctx, now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (done < total && now.tv_sec == last->tv_sec)
        return;
    *last = now;
    fprintf(stderr, "table %s: %lld/%lld rows\n", table, (long long)done, (long long)total);
}

/* ---- run logs ---- */

/* Copies src to dst through a temporary file renamed into place. */
static int copy_file(const char *src, const char *dst, char *buf, sw_error **err)
{
    char *tmp = NULL;
    int in = -1, out = -1, rc = 0;
    if (asprintf(&tmp, "%s.migrate-tmp", dst) < 0) {
        tmp = NULL;
        return sw_error_oom(err);
    }
    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0 ||
        (out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "copying %s", src);
        goto cleanup;
    }
    for (;;) {
        ssize_t got = read(in, buf, COPY_BUFFER);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "reading %s", src);
            goto cleanup;
        }
        if (got == 0)
            break;
        if ((rc = sw_write_all(out, buf, (size_t)got, err)) != 0)
            goto cleanup;
    }
    if (fsync(out) != 0 || rename(tmp, dst) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "writing %s", dst);
cleanup:
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* Run logs (logs/<run>.log) still live on a front end's disk (issue 15):
 * they go to the new config's data dir, so the runs copied keep theirs.
 * A log already there with the same size is left alone. */
static int copy_logs(const char *from_dir, const char *to_dir, size_t *copied, size_t *present,
                     sw_error **err)
{
    char *from = sw_path_join(from_dir, "logs"), *to = sw_path_join(to_dir, "logs");
    char *buf = malloc(COPY_BUFFER);
    DIR *dir = NULL;
    struct dirent *de;
    int rc = 0;
    if (from == NULL || to == NULL || buf == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((dir = opendir(from)) == NULL) {
        if (errno != ENOENT)
            rc = sw_error_sys(err, SW_EIO, errno, "%s", from);
        goto cleanup; /* no runs, no logs */
    }
    if ((rc = sw_mkdir_p(to, 0700, err)) != 0)
        goto cleanup;
    while ((de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 5 || strcmp(de->d_name + len - 4, ".log") != 0)
            continue;
        char src[SW_PATH_MAX], dst[SW_PATH_MAX];
        struct stat s_st, d_st;
        if ((rc = sw_path_format(src, err, "%s/%s", from, de->d_name)) != 0 ||
            (rc = sw_path_format(dst, err, "%s/%s", to, de->d_name)) != 0)
            goto cleanup;
        if (lstat(src, &s_st) != 0 || !S_ISREG(s_st.st_mode))
            continue;
        if (stat(dst, &d_st) == 0 && d_st.st_size == s_st.st_size) {
            (*present)++;
            continue;
        }
        if ((rc = copy_file(src, dst, buf, err)) != 0)
            goto cleanup;
        (*copied)++;
    }
    if ((rc = sw_fsync_dir(to, err)) != 0)
        goto cleanup;
cleanup:
    if (dir)
        closedir(dir);
    free(from);
    free(to);
    free(buf);
    return rc;
}

static double elapsed_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static int same_dir(const char *a, const char *b)
{
    char *ra = realpath(a, NULL), *rb = realpath(b, NULL);
    int same = ra && rb && strcmp(ra, rb) == 0;
    free(ra);
    free(rb);
    return same;
}

int cmd_migrate(int argc, char **argv)
{
    static const struct option options[] = {
        CLI_STORE_OPTIONS,
        { "to-config", required_argument, NULL, 'T' },
        { "to", required_argument, NULL, 't' },
        { "storage-to", required_argument, NULL, 's' },
        { "s3-endpoint", required_argument, NULL, 'e' },
        { "s3-region", required_argument, NULL, 'g' },
        { "s3-access-key", required_argument, NULL, 'a' },
        { "s3-secret-key", required_argument, NULL, 'k' },
        { "s3-virtual-hosted", no_argument, NULL, 'V' },
        { "force", no_argument, NULL, 'f' },
        { "verify", no_argument, NULL, 'v' },
        { "batch", required_argument, NULL, 'b' },
        { NULL, 0, NULL, 0 },
    };
    /* rows that describe this machine's processes and sessions, not data */
    static const char *const skip[] = {
        "uploads", "upload sessions in progress: their bytes stay behind, clients push again",
        "workers", "the old installation's worker processes",
        NULL,
    };
    struct migrate_args a = { 0 };
    struct cli_store_args args;
    struct sw_config *cfg = NULL;
    struct target target = { 0 };
    sw_db_source *source = NULL;
    sw_db *db = NULL;
    reg_backend *src_blobs = NULL, *dst_blobs = NULL;
    struct blob_list blobs = { 0 };
    struct blob_totals totals = { 0 };
    struct row_check rows_check = { 0 };
    struct sw_db_copy_result copied = { 0 };
    sw_error *err = NULL;
    char *db_path = NULL;
    const struct cli_command command = {
        .name = "migrate",
        .short_options = "h",
        .options = options,
        .usage = usage,
        .option = migrate_option,
        .ctx = &a,
    };
    int status = cli_parse(&command, argc, argv, &args);
    if (status != CLI_GO)
        return status;
    status = 1;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);

    if (cli_load_config(args.config_path, args.data_dir, &cfg, &err) != 0 ||
        target_resolve(&a, &target, &err) != 0)
        goto fail;
    if (cfg->database) {
        sw_error_set(&err, SW_EINVAL,
                     "the source's config names a database server already (database:); "
                     "migrate moves an embedded installation");
        goto fail;
    }
    if (cfg->storage_driver && strcmp(cfg->storage_driver, "filesystem") != 0) {
        sw_error_set(&err, SW_EINVAL, "the source's storage.driver is %s: only filesystem moves",
                     cfg->storage_driver);
        goto fail;
    }
    if ((db_path = sw_path_join(cfg->data_dir, "slipway.db")) == NULL) {
        sw_error_oom(&err);
        goto fail;
    }
    if (!sw_path_exists(db_path)) {
        sw_error_set(&err, SW_ENOTFOUND, "%s: no database: is %s an installation's data dir?",
                     db_path, cfg->data_dir);
        goto fail;
    }
    pid_t opener = find_opener(db_path);
    if (opener != 0) {
        char name[256];
        process_name(opener, name, sizeof(name));
        if (!a.force) {
            fprintf(stderr,
                    "slipway migrate: %s has %s open: stop it (and every `slipway worker` of this "
                    "data dir) first, or give --force to copy a snapshot of a live store\n",
                    name, db_path);
            goto cleanup;
        }
        fprintf(stderr, "slipway migrate: warning: %s has %s open; copying a snapshot (--force)\n",
                name, db_path);
    }

    /* 1. the snapshot, and a target database that can take it: the schema
     * created through the migrations, this binary knowing every table, no
     * rows there yet (checked again inside the copy's transaction) */
    struct timespec last_progress = { 0, 0 };
    struct sw_db_copy_options copy_opts = {
        .skip = skip,
        .batch_rows = (int)a.batch,
        .progress = table_progress,
        .ctx = &last_progress,
    };
    if (sw_db_source_open(db_path, &source, &err) != 0 ||
        sw_db_open(target.database, 1, &db, &err) != 0 ||
        sw_db_copy_check(source, db, &copy_opts, &err) != 0)
        goto fail;

    /* 2. blobs */
    struct reg_backend_config src_storage;
    reg_backend_config_from(cfg, &src_storage);
    if (reg_backend_open(&src_storage, &src_blobs, &err) != 0 ||
        reg_backend_open(&target.storage, &dst_blobs, &err) != 0)
        goto fail;
    int blobs_in_place = target.storage.driver == REG_BACKEND_FILESYSTEM &&
                         same_dir(target.storage.root, cfg->data_dir);
    struct timespec phase;
    clock_gettime(CLOCK_MONOTONIC, &phase);
    if (!blobs_in_place) {
        if (reg_backend_walk(src_blobs, collect_blob, &blobs, &err) != 0)
            goto fail;
        fprintf(stderr, "copying %zu blobs (%.1f MiB) from %s to %s\n", blobs.n, mib(blobs.bytes),
                cfg->data_dir, reg_backend_driver_name(dst_blobs));
        if (copy_blobs(src_blobs, dst_blobs, &blobs, a.verify, &totals, &err) != 0)
            goto fail;
    }

    double blob_seconds = elapsed_since(&phase);

    /* 3. every blob row has its object */
    rows_check.dst = dst_blobs;
    if (sw_db_source_each(source, "SELECT digest FROM blobs ORDER BY digest", check_blob_row,
                          &rows_check, &err) != 0)
        goto fail;
    if (rows_check.missing) {
        fprintf(stderr,
                "slipway migrate: %zu of %zu blob rows have no object on the target; no rows "
                "copied (run `slipway fsck --config OLD` on the source)\n",
                rows_check.missing, rows_check.checked);
        goto cleanup;
    }

    /* 4. rows */
    clock_gettime(CLOCK_MONOTONIC, &phase);
    if (sw_db_copy(source, db, &copy_opts, &copied, &err) != 0)
        goto fail;
    double row_seconds = elapsed_since(&phase);

    /* 5. run logs, to the new config's data dir */
    size_t logs_copied = 0, logs_present = 0;
    int logs_moved = target.cfg && !same_dir(target.cfg->data_dir, cfg->data_dir);
    if (logs_moved &&
        copy_logs(cfg->data_dir, target.cfg->data_dir, &logs_copied, &logs_present, &err) != 0)
        goto fail;

    printf("migrated %s to %s and %s in %.1f s\n", cfg->data_dir,
           sw_db_kind_of(db) == SW_DB_POSTGRES ? "PostgreSQL" : "SQLite",
           reg_backend_driver_name(dst_blobs), elapsed_since(&start));
    for (size_t i = 0; i < copied.n; i++) {
        const struct sw_db_copy_table *t = &copied.tables[i];
        if (t->skipped)
            printf("  table %-16s %8lld rows not copied: %s\n", t->name, (long long)t->source_rows,
                   t->skipped);
        else
            printf("  table %-16s %8lld rows copied, %lld in the target\n", t->name,
                   (long long)t->source_rows, (long long)t->target_rows);
    }
    printf("  %lld rows in all in %.1f s, %d sequences reset\n", (long long)copied.rows,
           row_seconds, copied.sequences_reset);
    if (blobs_in_place)
        printf("  blobs: left in place (the target's storage is the same data dir)\n");
    else
        printf("  blobs: %zu copied (%.1f MiB), %zu already there, %zu verified by re-reading, "
               "in %.1f s; %zu blob rows checked\n",
               totals.copied, mib(totals.bytes_copied), totals.present, totals.verified,
               blob_seconds, rows_check.checked);
    if (logs_moved)
        printf("  run logs: %zu copied to %s/logs, %zu already there\n", logs_copied,
               target.cfg->data_dir, logs_present);
    else
        printf("  run logs: left in %s/logs (give --to-config to move them to its data dir)\n",
               cfg->data_dir);
    status = 0;
    goto cleanup;
fail:
    fprintf(stderr, "slipway migrate: %s\n", sw_error_message(err));
cleanup:
    sw_db_copy_result_free(&copied);
    sw_db_close(db);
    sw_db_source_close(source);
    reg_backend_close(src_blobs);
    reg_backend_close(dst_blobs);
    free(blobs.v);
    free(db_path);
    target_free(&target);
    sw_config_free(cfg);
    sw_error_clear(&err);
    return status;
}
