/*
 * mounts.c - RUN --mount specs, cache mount directories, output masking
 * (see mounts.h).
 */
#include "builder/mounts.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/hash.h"
#include "core/strbuf.h"

/* ---- parsing -------------------------------------------------------------- */

void bld_mount_free(struct bld_mount *m)
{
    if (m == NULL)
        return;
    free(m->target);
    free(m->source);
    free(m->from);
    free(m->id);
    free(m->env);
    memset(m, 0, sizeof(*m));
}

static int parse_bool(const char *v, int *out)
{
    if (v == NULL || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_uint(const char *v, int base, unsigned long max, unsigned long *out)
{
    if (v == NULL || *v == '\0' || !isdigit((unsigned char)*v))
        return -1;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(v, &end, base);
    if (errno != 0 || *end != '\0' || n > max)
        return -1;
    *out = n;
    return 0;
}

/* "64m", "1g", "1024" (go-units RAMInBytes: k, m, g, t with optional b/ib). */
static int parse_size(const char *v, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (v == NULL || !isdigit((unsigned char)*v))
        return -1;
    double n = strtod(v, &end);
    if (errno != 0 || n < 0)
        return -1;
    int64_t mul = 1;
    switch (tolower((unsigned char)*end)) {
    case '\0':
        break;
    case 'b':
        end++;
        break;
    case 'k':
        mul = 1LL << 10;
        end++;
        break;
    case 'm':
        mul = 1LL << 20;
        end++;
        break;
    case 'g':
        mul = 1LL << 30;
        end++;
        break;
    case 't':
        mul = 1LL << 40;
        end++;
        break;
    default:
        return -1;
    }
    if (mul > 1) {
        if (tolower((unsigned char)*end) == 'i')
            end++;
        if (tolower((unsigned char)*end) == 'b')
            end++;
    }
    if (*end != '\0' || n * (double)mul > 9.0e18)
        return -1;
    *out = (int64_t)(n * (double)mul);
    return 0;
}

/* target cleaned: absolute, no "." / ".." / empty components. */
static char *clean_target(const char *target, const char *cwd)
{
    sw_strbuf joined = SW_STRBUF_INIT;
    if (target[0] != '/')
        sw_strbuf_printf(&joined, "%s/", cwd && *cwd ? cwd : "/");
    sw_strbuf_puts(&joined, target);
    if (joined.data == NULL)
        return NULL;
    char *parts[256];
    size_t n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(joined.data, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            if (n > 0)
                n--;
            continue;
        }
        if (n == 256) {
            sw_strbuf_free(&joined);
            return NULL;
        }
        parts[n++] = tok;
    }
    sw_strbuf out = SW_STRBUF_INIT;
    for (size_t i = 0; i < n; i++)
        sw_strbuf_printf(&out, "/%s", parts[i]);
    if (n == 0)
        sw_strbuf_puts(&out, "/");
    sw_strbuf_free(&joined);
    return out.data;
}

static int set_str(char **field, const char *v)
{
    free(*field);
    *field = strdup(v ? v : "");
    return *field ? 0 : -1;
}

int bld_mount_parse(const char *text, const char *cwd, struct bld_mount *out, sw_error **err)
{
    memset(out, 0, sizeof(*out));
    out->readonly = -1;
    char *copy = strdup(text);
    char *target = NULL;
    int rc = 0;
    if (copy == NULL)
        return sw_error_oom(err);
    /* type first: the defaults depend on it */
    const char *type = "bind";
    char *save = NULL;
    char *fields[64];
    size_t n_fields = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n_fields == 64) {
            rc = sw_error_set(err, SW_EINVAL, "--mount=%.200s: too many fields", text);
            goto cleanup;
        }
        fields[n_fields++] = tok;
        if (strncasecmp(tok, "type=", 5) == 0)
            type = tok + 5;
    }
    if (strcmp(type, "bind") == 0)
        out->type = BLD_MOUNT_BIND;
    else if (strcmp(type, "cache") == 0)
        out->type = BLD_MOUNT_CACHE;
    else if (strcmp(type, "tmpfs") == 0)
        out->type = BLD_MOUNT_TMPFS;
    else if (strcmp(type, "secret") == 0)
        out->type = BLD_MOUNT_SECRET;
    else if (strcmp(type, "ssh") == 0)
        out->type = BLD_MOUNT_SSH;
    else {
        rc = sw_error_set(err, SW_EINVAL,
                          "--mount=%.200s: unsupported mount type \"%s\" (bind, cache, tmpfs, "
                          "secret, ssh)",
                          text, type);
        goto cleanup;
    }
    for (size_t i = 0; i < n_fields; i++) {
        char *f = fields[i];
        char *eq = strchr(f, '=');
        const char *v = eq ? eq + 1 : NULL;
        if (eq)
            *eq = '\0';
        for (char *p = f; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        int b = 0;
        unsigned long num = 0;
        int bad = 0, oom = 0;
        enum bld_mount_type t = out->type;
        if (strcmp(f, "type") == 0) {
            continue;
        } else if (strcmp(f, "target") == 0 || strcmp(f, "dst") == 0 ||
                   strcmp(f, "destination") == 0) {
            bad = v == NULL || *v == '\0';
            oom = !bad && set_str(&target, v) != 0;
        } else if ((strcmp(f, "source") == 0 || strcmp(f, "src") == 0) &&
                   (t == BLD_MOUNT_BIND || t == BLD_MOUNT_CACHE)) {
            bad = v == NULL;
            oom = !bad && set_str(&out->source, v) != 0;
        } else if (strcmp(f, "from") == 0 && (t == BLD_MOUNT_BIND || t == BLD_MOUNT_CACHE)) {
            bad = v == NULL || *v == '\0';
            oom = !bad && set_str(&out->from, v) != 0;
        } else if ((strcmp(f, "readonly") == 0 || strcmp(f, "ro") == 0) &&
                   (t == BLD_MOUNT_BIND || t == BLD_MOUNT_CACHE)) {
            bad = parse_bool(v, &b) != 0;
            out->readonly = b;
        } else if ((strcmp(f, "readwrite") == 0 || strcmp(f, "rw") == 0) &&
                   (t == BLD_MOUNT_BIND || t == BLD_MOUNT_CACHE)) {
            bad = parse_bool(v, &b) != 0;
            out->readonly = !b;
        } else if (strcmp(f, "id") == 0 &&
                   (t == BLD_MOUNT_CACHE || t == BLD_MOUNT_SECRET || t == BLD_MOUNT_SSH)) {
            bad = v == NULL || *v == '\0';
            oom = !bad && set_str(&out->id, v) != 0;
        } else if (strcmp(f, "sharing") == 0 && t == BLD_MOUNT_CACHE) {
            if (v && strcmp(v, "shared") == 0)
                out->sharing = BLD_SHARING_SHARED;
            else if (v && strcmp(v, "private") == 0)
                out->sharing = BLD_SHARING_PRIVATE;
            else if (v && strcmp(v, "locked") == 0)
                out->sharing = BLD_SHARING_LOCKED;
            else
                bad = 1;
        } else if (strcmp(f, "mode") == 0 &&
                   (t == BLD_MOUNT_CACHE || t == BLD_MOUNT_SECRET || t == BLD_MOUNT_SSH)) {
            bad = parse_uint(v, 8, 07777, &num) != 0;
            out->mode = (mode_t)num;
            out->has_mode = 1;
        } else if (strcmp(f, "uid") == 0 &&
                   (t == BLD_MOUNT_CACHE || t == BLD_MOUNT_SECRET || t == BLD_MOUNT_SSH)) {
            bad = parse_uint(v, 10, 0x7fffffff, &num) != 0;
            out->uid = (uid_t)num;
            out->has_uid = 1;
        } else if (strcmp(f, "gid") == 0 &&
                   (t == BLD_MOUNT_CACHE || t == BLD_MOUNT_SECRET || t == BLD_MOUNT_SSH)) {
            bad = parse_uint(v, 10, 0x7fffffff, &num) != 0;
            out->gid = (gid_t)num;
            out->has_gid = 1;
        } else if (strcmp(f, "required") == 0 && (t == BLD_MOUNT_SECRET || t == BLD_MOUNT_SSH)) {
            bad = parse_bool(v, &out->required) != 0;
        } else if (strcmp(f, "env") == 0 && t == BLD_MOUNT_SECRET) {
            bad = v == NULL || *v == '\0' || strchr(v, '=') != NULL;
            oom = !bad && set_str(&out->env, v) != 0;
        } else if (strcmp(f, "size") == 0 && t == BLD_MOUNT_TMPFS) {
            bad = parse_size(v, &out->size) != 0;
        } else {
            rc = sw_error_set(err, SW_EINVAL, "--mount=%.200s: unexpected key '%s' for type=%s",
                              text, f, type);
            goto cleanup;
        }
        if (oom) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        if (bad) {
            rc = sw_error_set(err, SW_EINVAL, "--mount=%.200s: invalid value for %s: %.100s", text,
                              f, v ? v : "(none)");
            goto cleanup;
        }
    }
    if (out->type == BLD_MOUNT_SECRET) {
        if (out->id == NULL && target == NULL) {
            rc = sw_error_set(err, SW_EINVAL, "--mount=%.200s: a secret needs an id or a target",
                              text);
            goto cleanup;
        }
        if (out->id == NULL) {
            const char *slash = strrchr(target, '/');
            if (set_str(&out->id, slash ? slash + 1 : target) != 0) {
                rc = sw_error_oom(err);
                goto cleanup;
            }
        }
        if (target == NULL && out->env == NULL) {
            sw_strbuf def = SW_STRBUF_INIT;
            sw_strbuf_printf(&def, "/run/secrets/%s", out->id);
            target = def.data;
        }
    } else if (out->type == BLD_MOUNT_SSH) {
        /* BuildKit's defaults: the "default" id, a fixed socket path */
        if ((out->id == NULL && set_str(&out->id, "default") != 0) ||
            (target == NULL && set_str(&target, "/run/buildkit/ssh_agent.0") != 0)) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
    } else if (target == NULL) {
        rc = sw_error_set(err, SW_EINVAL, "--mount=%.200s: target is required", text);
        goto cleanup;
    }
    if (target) {
        out->target = clean_target(target, cwd);
        if (out->target == NULL || strcmp(out->target, "/") == 0) {
            rc = sw_error_set(err, SW_EINVAL, "--mount=%.200s: invalid target", text);
            goto cleanup;
        }
    }
    if (out->type == BLD_MOUNT_CACHE && out->id == NULL && set_str(&out->id, out->target) != 0) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (out->readonly < 0)
        out->readonly = out->type == BLD_MOUNT_BIND;
cleanup:
    free(copy);
    free(target);
    if (rc != 0)
        bld_mount_free(out);
    return rc;
}

int bld_mounts_check(const struct bld_mount *m, size_t n, sw_error **err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (m[i].type == BLD_MOUNT_CACHE && m[k].type == BLD_MOUNT_CACHE &&
                strcmp(m[i].id, m[k].id) == 0 &&
                (m[i].sharing == BLD_SHARING_LOCKED || m[k].sharing == BLD_SHARING_LOCKED))
                return sw_error_set(err, SW_EINVAL,
                                    "--mount: the cache id %s is mounted twice, once with "
                                    "sharing=locked (the step would wait for itself)",
                                    m[i].id);
    return 0;
}

char *bld_mount_key(const struct bld_mount *m)
{
    static const char *const types[] = { "bind", "cache", "tmpfs", "secret", "ssh" };
    static const char *const sharing[] = { "shared", "private", "locked" };
    sw_strbuf sb = SW_STRBUF_INIT;
    sw_strbuf_printf(&sb, "type=%s target=%s", types[m->type], m->target ? m->target : "");
    if (m->source)
        sw_strbuf_printf(&sb, " source=%s", m->source);
    if (m->from)
        sw_strbuf_printf(&sb, " from=%s", m->from);
    if (m->id)
        sw_strbuf_printf(&sb, " id=%s", m->id);
    if (m->env)
        sw_strbuf_printf(&sb, " env=%s", m->env);
    sw_strbuf_printf(&sb, " ro=%d sharing=%s required=%d size=%lld", m->readonly,
                     sharing[m->sharing], m->required, (long long)m->size);
    if (m->has_mode)
        sw_strbuf_printf(&sb, " mode=%o", (unsigned)m->mode);
    if (m->has_uid)
        sw_strbuf_printf(&sb, " uid=%u", (unsigned)m->uid);
    if (m->has_gid)
        sw_strbuf_printf(&sb, " gid=%u", (unsigned)m->gid);
    return sb.data;
}

/* ---- cache mount directories --------------------------------------------- */

static void hex_of(const char *text, char out[65])
{
    char digest[SW_DIGEST_MAX];
    sw_sha256_digest(text, strlen(text), digest);
    memcpy(out, digest + 7, 64); /* "sha256:" + 64 hex */
    out[64] = '\0';
}

/* Writes dir/sub/name holding text once (the clear text of a hashed
 * directory name, for gc's report). */
static int write_name(const char *dir, const char *sub, const char *name, const char *text,
                      sw_error **err)
{
    char path[SW_PATH_MAX];
    int rc = sw_path_format(path, err, "%s/%s/%s", dir, sub, name);
    if (rc != 0)
        return rc;
    if (access(path, F_OK) == 0)
        return 0;
    return sw_write_file_atomic(path, text, strlen(text), 0600, err);
}

int bld_cache_mount_dir(const char *data_dir, const char *scope, const struct bld_mount *m,
                        uint32_t uid_offset, uint32_t gid_offset, char **dir_out, int *lock_fd,
                        char **tmp_dir, sw_error **err)
{
    char scope_hex[65], id_hex[65];
    hex_of(scope ? scope : "", scope_hex);
    hex_of(m->id ? m->id : "", id_hex);
    sw_strbuf base = SW_STRBUF_INIT, lock = SW_STRBUF_INIT, data = SW_STRBUF_INIT;
    int rc = 0, fd = -1;
    *dir_out = NULL;
    *lock_fd = -1;
    *tmp_dir = NULL;
    sw_strbuf_printf(&base, "%s/cache-mounts/%s/%s", data_dir, scope_hex, id_hex);
    sw_strbuf_printf(&lock, "%s/lock", base.data ? base.data : "");
    sw_strbuf_printf(&data, "%s/data", base.data ? base.data : "");
    if (base.data == NULL || lock.data == NULL || data.data == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if ((rc = sw_mkdir_p(base.data, 0700, err)) != 0 ||
        (rc = write_name(base.data, "..", "scope", scope ? scope : "", err)) != 0 ||
        (rc = write_name(base.data, ".", "id", m->id ? m->id : "", err)) != 0)
        goto cleanup;
    /* every use holds the lock file, so that eviction skips caches in use */
    fd = open(lock.data, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "opening %s", lock.data);
        goto cleanup;
    }
    int op = m->sharing == BLD_SHARING_SHARED   ? LOCK_SH
             : m->sharing == BLD_SHARING_LOCKED ? LOCK_EX
                                                : LOCK_EX | LOCK_NB;
    while (flock(fd, op) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK && m->sharing == BLD_SHARING_PRIVATE) {
            /* in use: this step gets a fresh, empty directory of its own */
            close(fd);
            fd = -1;
            unsigned char rnd[8];
            char hex[17];
            if ((rc = sw_random_bytes(rnd, sizeof(rnd), err)) != 0)
                goto cleanup;
            sw_hex_encode(rnd, sizeof(rnd), hex);
            sw_strbuf_free(&data);
            sw_strbuf_printf(&data, "%s/private-%s", base.data, hex);
            if (data.data == NULL || (*tmp_dir = strdup(data.data)) == NULL) {
                rc = sw_error_oom(err);
                goto cleanup;
            }
            break;
        }
        rc = sw_error_sys(err, SW_EIO, errno, "locking %s", lock.data);
        goto cleanup;
    }
    if (fd >= 0)
        futimens(fd, NULL); /* in use now: the newest */
    if (mkdir(data.data, 0755) == 0) {
        mode_t mode = m->has_mode ? m->mode : 0755;
        uid_t uid = (uid_t)((m->has_uid ? m->uid : 0) + uid_offset);
        gid_t gid = (gid_t)((m->has_gid ? m->gid : 0) + gid_offset);
        if (chown(data.data, uid, gid) != 0 || chmod(data.data, mode) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "setting up %s", data.data);
            goto cleanup;
        }
    } else if (errno != EEXIST) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", data.data);
        goto cleanup;
    }
    *dir_out = data.data;
    data.data = NULL;
    *lock_fd = fd;
    fd = -1;
cleanup:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && *tmp_dir) {
        free(*tmp_dir);
        *tmp_dir = NULL;
    }
    sw_strbuf_free(&base);
    sw_strbuf_free(&lock);
    sw_strbuf_free(&data);
    return rc;
}

void bld_cache_mount_release(int lock_fd)
{
    if (lock_fd < 0)
        return;
    futimens(lock_fd, NULL);
    close(lock_fd);
}

/* ---- cache mount bound and LRU eviction ---------------------------------- */

void bld_cache_mount_infos_free(struct bld_cache_mount_info *caches, size_t n)
{
    for (size_t i = 0; caches && i < n; i++) {
        free(caches[i].scope);
        free(caches[i].id);
    }
    free(caches);
}

static int by_last_use(const void *a, const void *b)
{
    const struct bld_cache_mount_info *x = *(struct bld_cache_mount_info *const *)a;
    const struct bld_cache_mount_info *y = *(struct bld_cache_mount_info *const *)b;
    if (x->last_use != y->last_use)
        return x->last_use < y->last_use ? -1 : 1;
    if (x->last_use_ns != y->last_use_ns)
        return x->last_use_ns < y->last_use_ns ? -1 : 1;
    return strcmp(x->id ? x->id : "", y->id ? y->id : "");
}

size_t bld_cache_mounts_plan(struct bld_cache_mount_info *caches, size_t n, int64_t max_size)
{
    int64_t total = 0;
    size_t marked = 0;
    for (size_t i = 0; i < n; i++) {
        caches[i].evict = 0;
        total += caches[i].size;
    }
    if (max_size <= 0 || total <= max_size || n == 0)
        return 0;
    struct bld_cache_mount_info **order = calloc(n, sizeof(*order));
    if (order == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        order[i] = &caches[i];
    qsort(order, n, sizeof(*order), by_last_use);
    for (size_t i = 0; i < n && total > max_size; i++) {
        if (order[i]->in_use)
            continue;
        order[i]->evict = 1;
        total -= order[i]->size;
        marked++;
    }
    free(order);
    return marked;
}

/* Bytes of the files under dir (no symlinks followed). */
static int64_t tree_size(int dir_fd)
{
    DIR *d = fdopendir(dir_fd);
    if (d == NULL) {
        close(dir_fd);
        return 0;
    }
    int64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                total += tree_size(sub);
        } else {
            total += st.st_size;
        }
    }
    closedir(d);
    return total;
}

/* The text of dir/name (empty when missing). */
static char *read_name(const char *dir, const char *name)
{
    char path[SW_PATH_MAX], *data = NULL;
    size_t len = 0;
    if (sw_path_format(path, NULL, "%s/%s", dir, name) != 0 ||
        sw_read_file(path, 64 * 1024, &data, &len, NULL) != 0)
        return strdup("");
    return data;
}

static int is_hex_name(const char *name)
{
    return strlen(name) == 64 && strspn(name, "0123456789abcdef") == 64;
}

/* One scope directory: lists its caches, holds the lock of each one no
 * step uses (so none starts using it while gc decides), evicts, releases. */
static int gc_scope(const char *scope_dir, int64_t max_size, int dry_run,
                    struct bld_cache_mount_info **all, size_t *n_all, sw_error **err)
{
    DIR *d = opendir(scope_dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : sw_error_sys(err, SW_EIO, errno, "opening %s", scope_dir);
    char *scope = read_name(scope_dir, "scope");
    struct bld_cache_mount_info *c = NULL;
    int *locks = NULL;
    char **dirs = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_hex_name(e->d_name))
            continue;
        char base[SW_PATH_MAX], data[SW_PATH_MAX], lock[SW_PATH_MAX];
        if ((rc = sw_path_format(base, err, "%s/%s", scope_dir, e->d_name)) != 0 ||
            (rc = sw_path_format(data, err, "%s/data", base)) != 0 ||
            (rc = sw_path_format(lock, err, "%s/lock", base)) != 0)
            goto cleanup;
        int data_fd = open(data, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (data_fd < 0)
            continue; /* evicted before, or never used */
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            void *nc = realloc(c, ncap * sizeof(*c)), *nl = NULL, *nd = NULL;
            if (nc)
                c = nc;
            if (nc && (nl = realloc(locks, ncap * sizeof(*locks))) != NULL)
                locks = nl;
            if (nl && (nd = realloc(dirs, ncap * sizeof(*dirs))) != NULL)
                dirs = nd;
            if (nd == NULL) {
                close(data_fd);
                rc = sw_error_oom(err);
                goto cleanup;
            }
            cap = ncap;
        }
        struct bld_cache_mount_info *info = &c[n];
        memset(info, 0, sizeof(*info));
        locks[n] = open(lock, O_RDWR | O_CLOEXEC);
        dirs[n] = strdup(base);
        info->scope = strdup(scope ? scope : "");
        info->id = read_name(base, "id");
        n++;
        if (dirs[n - 1] == NULL || info->scope == NULL || info->id == NULL) {
            close(data_fd);
            rc = sw_error_oom(err);
            goto cleanup;
        }
        struct stat st;
        if (locks[n - 1] >= 0 && fstat(locks[n - 1], &st) == 0) {
            info->last_use = (int64_t)st.st_mtim.tv_sec;
            info->last_use_ns = st.st_mtim.tv_nsec;
        }
        if (locks[n - 1] < 0 || flock(locks[n - 1], LOCK_EX | LOCK_NB) != 0)
            info->in_use = 1;
        info->size = tree_size(data_fd);
    }
    bld_cache_mounts_plan(c, n, max_size);
    for (size_t i = 0; i < n; i++) {
        if (!c[i].evict || dry_run)
            continue;
        char data[4200];
        snprintf(data, sizeof(data), "%s/data", dirs[i]);
        if (sw_rm_rf(data, NULL) != 0)
            c[i].evict = 0;
    }
cleanup:
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        if (locks[i] >= 0)
            close(locks[i]); /* releases the held locks */
        free(dirs[i]);
    }
    free(locks);
    free(dirs);
    free(scope);
    if (rc == 0 && all != NULL && n > 0) {
        struct bld_cache_mount_info *bigger = realloc(*all, (*n_all + n) * sizeof(*bigger));
        if (bigger == NULL) {
            rc = sw_error_oom(err);
        } else {
            memcpy(bigger + *n_all, c, n * sizeof(*c));
            *all = bigger;
            *n_all += n;
            free(c);
            c = NULL;
            n = 0;
        }
    }
    bld_cache_mount_infos_free(c, n);
    return rc;
}

int bld_cache_mounts_gc(const char *data_dir, const char *scope, int64_t max_size, int dry_run,
                        struct bld_cache_mount_info **out, size_t *n_out, sw_error **err)
{
    char root[SW_PATH_MAX];
    int rc = 0;
    if (out) {
        *out = NULL;
        *n_out = 0;
    }
    if ((rc = sw_path_format(root, err, "%s/cache-mounts", data_dir)) != 0)
        return rc;
    if (scope != NULL) {
        char scope_hex[65], dir[SW_PATH_MAX];
        hex_of(scope, scope_hex);
        if ((rc = sw_path_format(dir, err, "%s/%s", root, scope_hex)) == 0)
            rc = gc_scope(dir, max_size, dry_run, out, n_out, err);
    } else {
        DIR *d = opendir(root);
        if (d == NULL)
            return errno == ENOENT ? 0 : sw_error_sys(err, SW_EIO, errno, "opening %s", root);
        struct dirent *e;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (!is_hex_name(e->d_name))
                continue;
            char dir[SW_PATH_MAX];
            if ((rc = sw_path_format(dir, err, "%s/%s", root, e->d_name)) == 0)
                rc = gc_scope(dir, max_size, dry_run, out, n_out, err);
        }
        closedir(d);
    }
    if (rc != 0 && out) {
        bld_cache_mount_infos_free(*out, *n_out);
        *out = NULL;
        *n_out = 0;
    }
    return rc;
}

/* ---- masking --------------------------------------------------------------- */

char *bld_mask_text(const char *text, size_t len, const char *const *values, size_t n)
{
    sw_strbuf out = SW_STRBUF_INIT;
    size_t i = 0, run = 0; /* text[run..i) is not yet written */
    while (i < len) {
        size_t hit = 0;
        for (size_t k = 0; k < n; k++) {
            size_t vl = strlen(values[k]);
            if (vl > 0 && vl <= len - i && memcmp(text + i, values[k], vl) == 0 && vl > hit)
                hit = vl;
        }
        if (hit) {
            sw_strbuf_printf(&out, "%.*s***", (int)(i - run), text + run);
            i += hit;
            run = i;
        } else {
            i++;
        }
    }
    if (i > run)
        sw_strbuf_printf(&out, "%.*s", (int)(i - run), text + run);
    if (out.data == NULL)
        out.data = strdup("");
    return out.data;
}

struct bld_masker {
    int out_fd;
    int pipe_r, pipe_w;
    char **values;
    size_t n;
    size_t longest;
    pthread_t thread;
    int started;
};

/* Writes buf[0..len) masked. */
static void emit(bld_masker *m, const char *buf, size_t len)
{
    char *masked = bld_mask_text(buf, len, (const char *const *)m->values, m->n);
    if (masked) {
        sw_write_all(m->out_fd, masked, strlen(masked), NULL);
        free(masked);
    }
}

static void *mask_loop(void *arg)
{
    bld_masker *m = arg;
    size_t cap = 128 * 1024, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        return NULL;
    for (;;) {
        ssize_t r = read(m->pipe_r, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
        /* whole lines go out; a long line without a newline goes out but
         * for a tail that may hold the start of a value */
        char *nl = memrchr(buf, '\n', len);
        size_t out = nl ? (size_t)(nl - buf) + 1 : 0;
        if (out == 0 && len > cap / 2)
            out = len - m->longest;
        if (out > 0) {
            emit(m, buf, out);
            memmove(buf, buf + out, len - out);
            len -= out;
        }
    }
    if (len > 0)
        emit(m, buf, len);
    free(buf);
    return NULL;
}

int bld_masker_start(int out_fd, const char *const *values, size_t n, bld_masker **out,
                     sw_error **err)
{
    bld_masker *m = calloc(1, sizeof(*m));
    int fds[2];
    if (m == NULL || (m->values = calloc(n + 1, sizeof(char *))) == NULL) {
        free(m);
        return sw_error_oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        if (values[i] == NULL || values[i][0] == '\0')
            continue;
        if ((m->values[m->n] = strdup(values[i])) == NULL)
            break;
        size_t l = strlen(values[i]);
        m->longest = l > m->longest ? l : m->longest;
        m->n++;
    }
    if (m->longest > 60 * 1024)
        m->longest = 60 * 1024;
    m->pipe_r = m->pipe_w = -1;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        int e = errno;
        bld_masker_stop(m);
        return sw_error_sys(err, SW_EIO, e, "pipe");
    }
    m->out_fd = out_fd;
    m->pipe_r = fds[0];
    m->pipe_w = fds[1];
    if (pthread_create(&m->thread, NULL, mask_loop, m) != 0) {
        close(fds[0]);
        close(fds[1]);
        bld_masker_stop(m);
        return sw_error_set(err, SW_EIO, "starting the output masker");
    }
    m->started = 1;
    *out = m;
    return 0;
}

int bld_masker_fd(const bld_masker *m)
{
    return m->pipe_w;
}

void bld_masker_stop(bld_masker *m)
{
    if (m == NULL)
        return;
    if (m->started) {
        close(m->pipe_w);
        pthread_join(m->thread, NULL);
        close(m->pipe_r);
    }
    for (size_t i = 0; i < m->n; i++) {
        explicit_bzero(m->values[i], strlen(m->values[i]));
        free(m->values[i]);
    }
    free(m->values);
    free(m);
}

/* ---- secret sources ------------------------------------------------------ */

#define SECRET_MAX (500 * 1024) /* BuildKit's limit */

static int secret_file(const char *path, char **value, sw_error **err)
{
    char *data = NULL;
    size_t len = 0;
    int rc = sw_read_file(path, SECRET_MAX + 1, &data, &len, err);
    if (rc != 0)
        return rc;
    if (len > SECRET_MAX || memchr(data, '\0', len) != NULL) {
        explicit_bzero(data, len);
        free(data);
        return sw_error_set(err, SW_EINVAL, "secret file %s: over 500KiB or holds NUL bytes", path);
    }
    *value = data;
    return 0;
}

static int secret_env_var(const char *name, char **value, sw_error **err)
{
    const char *v = getenv(name);
    if (v == NULL)
        return sw_error_set(err, SW_ENOTFOUND, "secret: environment variable %s is not set", name);
    *value = strdup(v);
    return *value ? 0 : sw_error_oom(err);
}

int bld_secret_from_cli(const char *spec, char **id, char **value, sw_error **err)
{
    char *copy = strdup(spec);
    char *type = NULL, *src = NULL, *env = NULL;
    int rc = 0;
    *id = *value = NULL;
    if (copy == NULL)
        return sw_error_oom(err);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL) {
            rc = sw_error_set(err, SW_EINVAL, "--secret %s: expected key=value fields", spec);
            goto cleanup;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(tok, "id") == 0) {
            free(*id);
            *id = strdup(v);
        } else if (strcmp(tok, "src") == 0 || strcmp(tok, "source") == 0)
            src = eq + 1;
        else if (strcmp(tok, "env") == 0)
            env = eq + 1;
        else if (strcmp(tok, "type") == 0)
            type = eq + 1;
        else {
            rc = sw_error_set(err, SW_EINVAL,
                              "--secret %s: unexpected key '%s' (id, src, env, type)", spec, tok);
            goto cleanup;
        }
    }
    if (*id == NULL || **id == '\0') {
        rc = sw_error_set(err, SW_EINVAL, "--secret %s: id is required", spec);
        goto cleanup;
    }
    if (type && strcmp(type, "file") != 0 && strcmp(type, "env") != 0) {
        rc = sw_error_set(err, SW_EINVAL, "--secret %s: type must be file or env", spec);
        goto cleanup;
    }
    if (src && (env || (type && strcmp(type, "env") == 0)))
        rc = type && strcmp(type, "env") == 0 ? secret_env_var(src, value, err)
                                              : sw_error_set(err, SW_EINVAL,
                                                             "--secret %s: src and env both "
                                                             "given",
                                                             spec);
    else if (src)
        rc = secret_file(src, value, err);
    else if (env)
        rc = secret_env_var(env, value, err);
    else if (type && strcmp(type, "file") == 0)
        rc = secret_file(*id, value, err);
    else
        rc = secret_env_var(*id, value, err);
    if (rc != 0)
        sw_error_prefix(err, "--secret id=%s", *id);
cleanup:
    free(copy);
    if (rc != 0) {
        free(*id);
        *id = NULL;
    }
    return rc;
}

int bld_secret_from_ref(const char *ref, char **value, sw_error **err)
{
    *value = NULL;
    if (strncmp(ref, "env:", 4) == 0 && ref[4])
        return secret_env_var(ref + 4, value, err);
    if (strncmp(ref, "file:", 5) == 0 && ref[5])
        return secret_file(ref + 5, value, err);
    return sw_error_set(err, SW_EINVAL, "secret source '%s': expected env:NAME or file:PATH", ref);
}
