/*
 * build.c - the Dockerfile interpreter (see build.h).
 *
 * The parser (builder/dockerfile.c) gives instructions; this file turns
 * them into image configs and layers. It reads like Docker's reference:
 * one function per instruction (do_run, do_copy, do_env ...), with the
 * shared machinery above them: stages, the environment a step sees, the
 * cache key chain, and mounting a stage's layers.
 */
#include "builder/build.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "builder/cache.h"
#include "builder/copy.h"
#include "builder/dockerfile.h"
#include "builder/dockerignore.h"
#include "builder/egress.h"
#include "builder/flags.h"
#include "builder/image.h"
#include "builder/layers.h"
#include "builder/mounts.h"
#include "builder/overlay.h"
#include "builder/sandbox.h"
#include "builder/shell_lex.h"
#include "core/cidr.h"
#include "core/fs.h"
#include "core/log.h"
#include "core/profile.h"
#include "core/strbuf.h"
#include "registry/access.h"
#include "registry/client.h"
#include "registry/manifest.h"
#include "registry/names.h"
#include "registry/transfer.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define UNTAGGED_REPO "slipway/builds"

/* ---- instructions, as this file sees them ------------------------------- */

struct flag {
    char *name;  /* without "--" */
    char *value; /* "" for a bare flag */
};

struct heredoc {
    char *name;
    char *content;
    int expand; /* unquoted delimiter */
};

struct instr {
    char *keyword;  /* lower case: "run", "copy", ... */
    char *original; /* the instruction as written (for messages) */
    int line;
    struct flag *flags;
    size_t n_flags;
    char **args; /* raw, unexpanded arguments */
    size_t n_args;
    int is_json; /* exec form */
    struct heredoc *heredocs;
    size_t n_heredocs;
    struct instr *onbuild; /* ONBUILD: the wrapped instruction */
};

/* ---- name=value lists ------------------------------------------------ */

struct kv {
    char *key;
    char *value;
};

struct kv_list {
    struct kv *items;
    size_t n, cap;
};

static const char *kv_get(const struct kv_list *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].key, key) == 0)
            return l->items[i].value;
    return NULL;
}

static int kv_set(struct kv_list *l, const char *key, const char *value)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {
            char *v = strdup(value);
            if (v == NULL)
                return -1;
            free(l->items[i].value);
            l->items[i].value = v;
            return 0;
        }
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        struct kv *bigger = realloc(l->items, cap * sizeof(*bigger));
        if (bigger == NULL)
            return -1;
        l->items = bigger;
        l->cap = cap;
    }
    l->items[l->n].key = strdup(key);
    l->items[l->n].value = strdup(value);
    if (!l->items[l->n].key || !l->items[l->n].value)
        return -1;
    l->n++;
    return 0;
}

static void kv_free(struct kv_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].key);
        free(l->items[i].value);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}

/* ---- stages and the build ------------------------------------------------ */

struct stage {
    char *name;        /* lower-cased AS name, or NULL */
    size_t first, end; /* its instructions: [first, end), first is FROM */
    int needed;
    int built;
    struct bld_image image;
    struct kv_list args;     /* ARGs declared in this stage, with values */
    char key[SW_DIGEST_MAX]; /* cache key of the last step */
    char *base_ref;          /* "repo:tag" of a stored base image, or NULL */
    int cmd_set;             /* CMD was set in this stage (ENTRYPOINT keeps it) */
    int64_t last_time;       /* time of the stage's latest step: a cached step
                                keeps its first time, so a rebuild from cache
                                gives the same image */
};

struct build {
    reg_store *store;
    const struct bld_build_options *opts;
    const char *dockerfile; /* path, for messages */
    char escape;            /* the escape character from the directive */
    struct instr *instrs;
    size_t n_instrs;
    struct stage *stages;
    size_t n_stages;
    struct kv_list meta_args;  /* ARGs before the first FROM, with values */
    struct kv_list build_args; /* --build-arg */
    int step;                  /* current step number */
    int total_steps;
    int cached_steps;
    char *ro_mounts[64]; /* read-only stage mounts to undo at the end */
    size_t n_ro_mounts;
    json_t *base_images;
    void *ignore; /* the context's .dockerignore matcher */
};

/* The parser glue, at the end of this file. */
static int load_dockerfile(struct build *b, sw_error **err);
static int load_ignore(struct build *b, sw_error **err);
static void free_ignore(struct build *b);
static int parse_trigger(struct build *b, const char *text, int line, struct instr **out,
                         sw_error **err);
static void free_instr(struct instr *in);
static const char *kv_lookup(void *ctx, const char *name);
static int expand_word(struct build *b, const struct kv_list *vars, const char *word, char **out,
                       sw_error **err);
static int exclude_cb(void *ctx, const char *rel, int is_dir);

static void progress(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void progress(struct build *b, const char *fmt, ...)
{
    if (b->opts->progress_fd < 0)
        return;
    char line[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    sw_write_all(b->opts->progress_fd, line, (size_t)n, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t build_time(const struct build *b)
{
    return b->opts->source_date_epoch >= 0 ? b->opts->source_date_epoch : (int64_t)time(NULL);
}

/* The time for a metadata step: that of the step before it (so an
 * identical rebuild repeats every time), or now at the start of a stage. */
static int64_t step_time(const struct build *b, const struct stage *st)
{
    if (b->opts->source_date_epoch >= 0)
        return b->opts->source_date_epoch;
    return st->last_time > 0 ? st->last_time : (int64_t)time(NULL);
}

/* An error about an instruction: "Dockerfile:7: RUN make: <message>". */
static int instr_error(struct build *b, const struct instr *in, sw_error **err, int code,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int instr_error(struct build *b, const struct instr *in, sw_error **err, int code,
                       const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return sw_error_set(err, code, "%s:%d: %.200s: %s", b->dockerfile, in->line, in->original, msg);
}

static const char *flag_value(const struct instr *in, const char *name)
{
    for (size_t i = 0; i < in->n_flags; i++)
        if (strcmp(in->flags[i].name, name) == 0)
            return in->flags[i].value;
    return NULL;
}

/* ---- the environment a step sees ---------------------------------------- */

/* Variables for word expansion in a stage: the image's Env, then the
 * stage's ARGs where no ENV of the same name exists (ENV wins, as in Docker). */
static int stage_vars(struct stage *st, struct kv_list *out)
{
    json_t *env = json_object_get(bld_image_runconfig(&st->image), "Env");
    size_t i;
    json_t *item;
    for (i = 0; i < st->args.n; i++)
        if (kv_set(out, st->args.items[i].key, st->args.items[i].value) != 0)
            return -1;
    json_array_foreach(env, i, item) {
        const char *kv = json_string_value(item);
        const char *eq = kv ? strchr(kv, '=') : NULL;
        if (eq == NULL)
            continue;
        char *key = strndup(kv, (size_t)(eq - kv));
        int rc = key ? kv_set(out, key, eq + 1) : -1;
        free(key);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- users: names through the image's /etc/passwd and /etc/group --------- */

/* Finds `rel` (e.g. "etc/passwd") in the topmost layer directory that has
 * it and reads it. Whiteouts are honoured: a deleted file is absent. */
static char *read_image_file(struct build *b, struct stage *st, const char *rel)
{
    for (size_t i = st->image.n_layers; i-- > 0;) {
        char *dir = NULL;
        if (bld_layer_unpacked(b->store, &st->image.layers[i], &dir, NULL) != 0)
            return NULL;
        char *path = sw_path_join(dir, rel);
        free(dir);
        if (path == NULL)
            return NULL;
        struct stat s;
        if (lstat(path, &s) == 0) {
            char *data = NULL;
            if (S_ISREG(s.st_mode))
                sw_read_file(path, 4 * 1024 * 1024, &data, NULL, NULL);
            free(path);
            return data; /* NULL for a whiteout or a non-file */
        }
        free(path);
    }
    return NULL;
}

/* Looks `name` up in passwd/group text: field 0 is the name, field 2 the
 * id; for passwd, field 3 is the primary group. */
static int lookup_id(const char *text, const char *name, long *id, long *gid)
{
    if (text == NULL)
        return -1;
    size_t name_len = strlen(name);
    for (const char *line = text; *line;) {
        const char *end = strchrnul(line, '\n');
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *f = line + name_len + 1;
            f = strchr(f, ':'); /* skip password */
            if (f && f < end) {
                *id = strtol(f + 1, NULL, 10);
                const char *g = strchr(f + 1, ':');
                if (gid && g && g < end)
                    *gid = strtol(g + 1, NULL, 10);
                return 0;
            }
        }
        line = *end ? end + 1 : end;
    }
    return -1;
}

static int is_number(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Resolves "user[:group]" (names or numbers) for stage st. */
static int resolve_user(struct build *b, struct stage *st, const char *spec, uid_t *uid, gid_t *gid,
                        sw_error **err)
{
    char user[256], group[256] = "";
    const char *colon = strchr(spec, ':');
    size_t ulen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (ulen == 0 || ulen >= sizeof(user) || (colon && strlen(colon + 1) >= sizeof(group)))
        return sw_error_set(err, SW_EINVAL, "bad user '%s'", spec);
    memcpy(user, spec, ulen);
    user[ulen] = '\0';
    if (colon)
        snprintf(group, sizeof(group), "%s", colon + 1);

    long u = 0, g = 0;
    char *passwd = NULL, *groups = NULL;
    int rc = 0;
    if (is_number(user)) {
        u = strtol(user, NULL, 10);
        passwd = read_image_file(b, st, "etc/passwd");
        /* a known uid takes its primary group, as Docker does */
        g = u;
        if (passwd) {
            for (const char *line = passwd; *line;) {
                const char *end = strchrnul(line, '\n');
                const char *f1 = strchr(line, ':');
                const char *f2 = f1 && f1 < end ? strchr(f1 + 1, ':') : NULL;
                if (f2 && f2 < end && strtol(f2 + 1, NULL, 10) == u) {
                    const char *f3 = strchr(f2 + 1, ':');
                    if (f3 && f3 < end)
                        g = strtol(f3 + 1, NULL, 10);
                    break;
                }
                line = *end ? end + 1 : end;
            }
        }
        if (!passwd)
            g = u;
    } else {
        passwd = read_image_file(b, st, "etc/passwd");
        if (lookup_id(passwd, user, &u, &g) != 0) {
            rc = sw_error_set(err, SW_ENOTFOUND,
                              "unable to find user %s: no matching entries "
                              "in passwd file",
                              user);
            goto cleanup;
        }
    }
    if (group[0]) {
        if (is_number(group)) {
            g = strtol(group, NULL, 10);
        } else {
            groups = read_image_file(b, st, "etc/group");
            if (lookup_id(groups, group, &g, NULL) != 0) {
                rc = sw_error_set(err, SW_ENOTFOUND,
                                  "unable to find group %s: no matching "
                                  "entries in group file",
                                  group);
                goto cleanup;
            }
        }
    }
    *uid = (uid_t)u;
    *gid = (gid_t)g;
cleanup:
    free(passwd);
    free(groups);
    return rc;
}

/* ---- layers and mounts -------------------------------------------------- */

/* The unpacked directories of a stage's layers, bottom first. */
static int layer_dirs(struct build *b, struct stage *st, char ***out, sw_error **err)
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

static void free_dirs(char **dirs)
{
    if (dirs == NULL)
        return;
    for (char **d = dirs; *d; d++)
        free(*d);
    free(dirs);
}

/* A step's working area: <scratch>/upper (the new layer), work, empty and
 * a mount point "rootfs" with the overlay of the stage's layers + upper. */
struct step_area {
    char *scratch;
    char *upper;
    char *rootfs;
    int mounted;
};

static int step_area_open(struct build *b, struct stage *st, int mount_it, struct step_area *a,
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
        (rc = sw_mkdir_p(empty, 0755, err)) || (rc = layer_dirs(b, st, &dirs, err)))
        goto cleanup;
    if ((rc = bld_overlay_mount((const char *const *)dirs, st->image.n_layers, a->upper, work,
                                empty, a->rootfs, err)) != 0)
        goto cleanup;
    a->mounted = 1;
cleanup:
    free_dirs(dirs);
    free(work);
    free(empty);
    return rc;
}

/* Unmounts, and removes the scratch area unless the upper dir was taken
 * (moved into the layer cache). */
static void step_area_close(struct step_area *a)
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
static int mount_readonly(struct build *b, struct stage *st, char **root_out, sw_error **err)
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
        (rc = layer_dirs(b, st, &dirs, err)))
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
    free_dirs(dirs);
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
static void chain_key(struct stage *st, const char *keyword, const char *const *parts,
                      size_t n_parts)
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

static char *config_state(struct stage *st)
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
static char *args_state(struct stage *st)
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
static int try_cache(struct build *b, struct stage *st, const char *created_by, double started)
{
    struct bld_layer layer;
    int64_t made = 0;
    if (b->opts->no_cache || bld_cache_get(b->store, st->key, &layer, &made, NULL) != 0)
        return 0;
    if (b->opts->source_date_epoch < 0 && made > 0)
        st->last_time = made;
    else
        st->last_time = build_time(b);
    if (bld_image_add_layer(&st->image, &layer, created_by, st->last_time, NULL) != 0)
        return 0;
    b->cached_steps++;
    if (b->opts->on_step == NULL)
        progress(b, "CACHED %.1fs\n", now_s() - started);
    return 1;
}

/* Makes the step's upper directory the next layer of the stage. */
static int commit_layer(struct build *b, struct stage *st, struct step_area *a,
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
    st->last_time = build_time(b);
    if ((rc = bld_image_add_layer(&st->image, &layer, created_by, st->last_time, err)) != 0)
        return rc;
    bld_cache_put(b->store, st->key, &layer, NULL); /* the cache is best effort */
    return 0;
}

/* 1 when text is only the heredoc's own token: <<EOF, <<-EOF, <<"EOF"... */
static int is_heredoc_token(const char *text, const struct heredoc *h)
{
    while (*text == ' ' || *text == '\t')
        text++;
    while (*text >= '0' && *text <= '9')
        text++;
    if (strncmp(text, "<<", 2) != 0)
        return 0;
    text += 2;
    if (*text == '-')
        text++;
    char quote = (*text == '"' || *text == '\'') ? *text++ : 0;
    size_t len = strlen(h->name);
    if (strncmp(text, h->name, len) != 0)
        return 0;
    text += len;
    if (quote && *text++ != quote)
        return 0;
    while (*text == ' ' || *text == '\t')
        text++;
    return *text == '\0';
}

/* The argv of RUN/CMD/ENTRYPOINT/HEALTHCHECK: the exec form as given, the
 * shell form through the stage's SHELL. */
static json_t *command_argv(struct stage *st, const struct instr *in, size_t first_arg)
{
    json_t *argv = json_array();
    if (in->is_json) {
        for (size_t i = first_arg; i < in->n_args; i++)
            json_array_append_new(argv, json_string(in->args[i]));
        return argv;
    }
    json_t *shell = json_object_get(bld_image_runconfig(&st->image), "Shell");
    if (json_is_array(shell) && json_array_size(shell) > 0) {
        json_array_extend(argv, shell);
    } else {
        json_array_append_new(argv, json_string("/bin/sh"));
        json_array_append_new(argv, json_string("-c"));
    }
    sw_strbuf cmd = SW_STRBUF_INIT;
    for (size_t i = first_arg; i < in->n_args; i++) {
        if (i > first_arg)
            sw_strbuf_putc(&cmd, ' ');
        sw_strbuf_puts(&cmd, in->args[i]);
    }
    if (in->n_heredocs == 1 && is_heredoc_token(cmd.data ? cmd.data : "", &in->heredocs[0])) {
        /* RUN <<EOF: the heredoc is the script */
        sw_strbuf_reset(&cmd);
        sw_strbuf_puts(&cmd, in->heredocs[0].content);
    } else {
        /* RUN cmd <<EOF: the shell reads the heredocs from the script */
        for (size_t i = 0; i < in->n_heredocs; i++)
            sw_strbuf_printf(&cmd, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name);
    }
    json_array_append_new(argv, json_string(cmd.data ? cmd.data : ""));
    sw_strbuf_free(&cmd);
    return argv;
}

static char **json_to_strv(json_t *array)
{
    size_t n = json_array_size(array);
    char **v = calloc(n + 1, sizeof(char *));
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        v[i] = strdup(json_string_value(json_array_get(array, i)) ?: "");
    return v;
}

/* The environment of a RUN: the image's Env, plus build args that no ENV
 * overrides, plus a default PATH. */
static char **run_env(struct stage *st)
{
    json_t *env = json_deep_copy(json_object_get(bld_image_runconfig(&st->image), "Env"));
    if (!json_is_array(env)) {
        json_decref(env);
        env = json_array();
    }
    int has_path = 0;
    size_t i;
    json_t *item;
    json_array_foreach(env, i, item)
        if (strncmp(json_string_value(item) ?: "", "PATH=", 5) == 0)
            has_path = 1;
    for (i = 0; i < st->args.n; i++) {
        if (bld_image_env_get(&st->image, st->args.items[i].key) != NULL)
            continue;
        char *kv = NULL;
        if (asprintf(&kv, "%s=%s", st->args.items[i].key, st->args.items[i].value) >= 0) {
            json_array_append_new(env, json_string(kv));
            free(kv);
        }
    }
    if (!has_path)
        json_array_append_new(env, json_string("PATH=" DEFAULT_PATH));
    char **v = json_to_strv(env);
    json_decref(env);
    return v;
}

/* ---- the network a step gets --------------------------------------------- */

/* The configured mode: "egress", "none" or "host". */
static const char *configured_network(const struct build *b)
{
    if (b->opts->network)
        return b->opts->network;
    if (b->opts->network_host)
        return "host";
    if (b->opts->config && b->opts->config->network)
        return b->opts->config->network;
    return "egress";
}

/* 1 when builder.allow lists the entitlement. */
static int entitled(const struct build *b, const char *name)
{
    char **allow = b->opts->config ? b->opts->config->builder_allow : NULL;
    for (size_t i = 0; allow && allow[i]; i++)
        if (strcmp(allow[i], name) == 0)
            return 1;
    return 0;
}

/* ---- RUN --mount ------------------------------------------------------------ */

static struct stage *find_stage(struct build *b, const char *name, size_t before);
static int load_base_image(struct build *b, const char *ref, const char *platform,
                           struct bld_image *out, char **stored_ref, sw_error **err);

/* The mounts of one RUN step and what they hold until the step ends. */
struct run_mounts {
    struct bld_mount *m;
    size_t n;
    struct bld_sandbox_mount *sb; /* for the sandbox */
    size_t n_sb;
    char **owned; /* strings the sandbox entries point to */
    size_t n_owned;
    char **tmp_dirs; /* removed at the end (copies, private caches, secrets) */
    size_t n_tmp;
    int *locks;
    size_t n_locks;
    char **env; /* secret environment entries "NAME=value" */
    size_t n_env;
    const char **opts; /* 5 option slots per mount (tmpfs) */
};

static void run_mounts_free(struct run_mounts *rm)
{
    for (size_t i = 0; i < rm->n; i++)
        bld_mount_free(&rm->m[i]);
    free(rm->m);
    free(rm->sb);
    for (size_t i = 0; i < rm->n_owned; i++)
        free(rm->owned[i]);
    free(rm->owned);
    for (size_t i = 0; i < rm->n_tmp; i++) {
        sw_rm_rf(rm->tmp_dirs[i], NULL);
        free(rm->tmp_dirs[i]);
    }
    free(rm->tmp_dirs);
    for (size_t i = 0; i < rm->n_locks; i++)
        close(rm->locks[i]);
    free(rm->locks);
    for (size_t i = 0; i < rm->n_env; i++) {
        explicit_bzero(rm->env[i], strlen(rm->env[i]));
        free(rm->env[i]);
    }
    free(rm->env);
    free(rm->opts);
    memset(rm, 0, sizeof(*rm));
}

static const char *find_secret(const struct build *b, const char *id)
{
    for (size_t i = 0; i < b->opts->n_secrets; i++)
        if (strcmp(b->opts->secrets[i].id, id) == 0)
            return b->opts->secrets[i].value;
    return NULL;
}

/* Parses the --mount flags of a RUN (targets relative to cwd). */
static int run_mounts_parse(struct build *b, const struct instr *in, const char *cwd,
                            struct run_mounts *rm, sw_error **err)
{
    size_t n = 0;
    for (size_t i = 0; i < in->n_flags; i++)
        n += strcmp(in->flags[i].name, "mount") == 0;
    if (n == 0)
        return 0;
    rm->m = calloc(n, sizeof(*rm->m));
    rm->sb = calloc(n, sizeof(*rm->sb));
    rm->owned = calloc(4 * n, sizeof(char *));
    rm->tmp_dirs = calloc(2 * n, sizeof(char *));
    rm->locks = calloc(n, sizeof(int));
    rm->env = calloc(n + 1, sizeof(char *));
    rm->opts = calloc(5 * n, sizeof(char *));
    if (!rm->m || !rm->sb || !rm->owned || !rm->tmp_dirs || !rm->locks || !rm->env || !rm->opts)
        return sw_error_oom(err);
    for (size_t i = 0; i < in->n_flags; i++) {
        if (strcmp(in->flags[i].name, "mount") != 0)
            continue;
        int rc = bld_mount_parse(in->flags[i].value, cwd, &rm->m[rm->n], err);
        if (rc != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            return rc;
        }
        rm->n++;
        const struct bld_mount *m = &rm->m[rm->n - 1];
        if (m->type == BLD_MOUNT_CACHE && m->from)
            return instr_error(b, in, err, SW_EUNSUPPORTED,
                               "--mount=%s: from= on a cache mount is not supported by Slipway",
                               in->flags[i].value);
        if (m->type == BLD_MOUNT_SECRET && m->required && find_secret(b, m->id) == NULL)
            return instr_error(b, in, err, SW_ENOTFOUND,
                               "secret %s: not provided (slipway build --secret id=%s,src=FILE, "
                               "or repos[].secrets in the service config)",
                               m->id, m->id);
    }
    return 0;
}

/* Where a bind mount's files come from: a stage, an image, or (from NULL)
 * the context. *root is "" for the context; *key identifies the content. */
static int bind_root(struct build *b, struct stage *st, const struct instr *in, const char *from,
                     char **root, char key[SW_DIGEST_MAX], sw_error **err)
{
    struct stage *src = find_stage(b, from, (size_t)(st - b->stages));
    struct stage image = { 0 };
    int rc = 0;
    if (src == NULL) {
        char *stored = NULL;
        if ((rc = load_base_image(b, from, b->opts->platform, &image.image, &stored, err)) != 0) {
            sw_error_prefix(err, "%s:%d: %s: --mount from=%s", b->dockerfile, in->line,
                            in->original, from);
            return rc;
        }
        free(stored);
        snprintf(image.key, sizeof(image.key), "%s", image.image.digest);
        src = &image;
    }
    snprintf(key, SW_DIGEST_MAX, "%s", src->key);
    if (root)
        rc = mount_readonly(b, src, root, err);
    bld_image_release(&image.image);
    return rc;
}

/* The cache key part of the mounts: their specs, and for bind mounts the
 * content they show (a stage's key, or a digest of the context files).
 * Never a secret's value. */
static int run_mounts_key(struct build *b, struct stage *st, const struct instr *in,
                          const struct run_mounts *rm, sw_strbuf *out, sw_error **err)
{
    for (size_t i = 0; i < rm->n; i++) {
        const struct bld_mount *m = &rm->m[i];
        char *text = bld_mount_key(m);
        if (text == NULL)
            return sw_error_oom(err);
        sw_strbuf_printf(out, "mount=%s\n", text);
        free(text);
        if (m->type != BLD_MOUNT_BIND)
            continue;
        char key[SW_DIGEST_MAX] = "";
        int rc;
        if (m->from) {
            rc = bind_root(b, st, in, m->from, NULL, key, err);
        } else {
            const char *srcs[] = { m->source && *m->source ? m->source : "." };
            struct bld_copy_spec spec = { .src_root = b->opts->context_dir,
                                          .sources = srcs,
                                          .n_sources = 1,
                                          .dest = "/",
                                          .from_context = 1,
                                          .excluded = exclude_cb,
                                          .excluded_ctx = b };
            rc = bld_copy_digest(&spec, key, err);
        }
        if (rc != 0)
            return rc;
        sw_strbuf_printf(out, "content=%s\n", key);
    }
    return 0;
}

static int resolve_in_root(const char *root, const char *rel, char **out, sw_error **err);

/* A private copy of src_root/source for a bind mount (the context, which
 * .dockerignore filters, or a writable bind): returns the path to mount. */
static int bind_copy(struct build *b, struct run_mounts *rm, const char *src_root,
                     const char *source, int from_context, uid_t uid, gid_t gid, char **out,
                     sw_error **err)
{
    char *dir = NULL;
    int rc = bld_scratch_dir(b->store, "bind", &dir, err);
    if (rc != 0)
        return rc;
    rm->tmp_dirs[rm->n_tmp++] = dir;
    char *root = sw_path_join(dir, "root");
    if (root == NULL)
        return sw_error_oom(err);
    if ((rc = sw_mkdir_p(root, 0755, err)) == 0 && chown(root, uid, gid) != 0)
        rc = sw_error_sys(err, SW_EIO, errno, "chown %s", root);
    if (rc != 0) {
        free(root);
        return rc;
    }
    const char *clean = source;
    while (*clean == '/')
        clean++;
    const char *srcs[] = { *clean ? clean : "." };
    struct bld_copy_spec spec = { .src_root = src_root,
                                  .sources = srcs,
                                  .n_sources = 1,
                                  .dest = "/",
                                  .dest_root = root,
                                  .from_context = from_context,
                                  .has_chown = 1,
                                  .uid = uid,
                                  .gid = gid,
                                  .excluded = from_context ? exclude_cb : NULL,
                                  .excluded_ctx = b };
    if ((rc = bld_copy(&spec, err)) != 0) {
        free(root);
        return rc;
    }
    /* a file source was copied into root under its name */
    char *probe = NULL;
    struct stat s;
    if (resolve_in_root(src_root, srcs[0], &probe, NULL) == 0 && stat(probe, &s) == 0 &&
        !S_ISDIR(s.st_mode)) {
        const char *base = strrchr(srcs[0], '/');
        *out = sw_path_join(root, base ? base + 1 : srcs[0]);
        free(root);
    } else {
        *out = root;
    }
    free(probe);
    return *out ? 0 : sw_error_oom(err);
}

/* A path inside root (symlinks resolved inside it), as a host path. */
static int resolve_in_root(const char *root, const char *rel, char **out, sw_error **err)
{
    int root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        return sw_error_sys(err, SW_EIO, errno, "opening %s", root);
    while (*rel == '/')
        rel++;
    struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
    int fd = (int)syscall(SYS_openat2, root_fd, *rel ? rel : ".", &how, sizeof(how));
    int saved = errno;
    close(root_fd);
    if (fd < 0)
        return sw_error_sys(err, SW_ENOTFOUND, saved, "%s", *rel ? rel : "/");
    char proc[64], path[4096];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, path, sizeof(path) - 1);
    close(fd);
    if (n < 0)
        return sw_error_sys(err, SW_EIO, errno, "resolving %s", rel);
    path[n] = '\0';
    size_t rl = strlen(root);
    if (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))
        return sw_error_set(err, SW_EPERM, "%s resolves outside its root", rel);
    *out = strdup(path);
    return *out ? 0 : sw_error_oom(err);
}

/* Makes the host side of every mount: cache directories, bind sources,
 * secret files; fills rm->sb for the sandbox and rm->env for secrets. */
static int run_mounts_prepare(struct build *b, struct stage *st, const struct instr *in,
                              const struct bld_sandbox_userns *userns, struct run_mounts *rm,
                              sw_error **err)
{
    static const char *const ro_opts[] = { "rbind", "ro", "nosuid", "nodev", NULL };
    static const char *const rw_opts[] = { "rbind", "rw", "nosuid", "nodev", NULL };
    uint32_t uoff = userns && userns->size ? userns->uid : 0;
    uint32_t goff = userns && userns->size ? userns->gid : 0;
    int rc = 0;
    for (size_t i = 0; i < rm->n && rc == 0; i++) {
        const struct bld_mount *m = &rm->m[i];
        struct bld_sandbox_mount *sb = &rm->sb[rm->n_sb];
        char *source = NULL;
        sb->destination = m->target;
        sb->type = "bind";
        sb->options = m->readonly ? ro_opts : rw_opts;
        switch (m->type) {
        case BLD_MOUNT_CACHE: {
            int lock = -1;
            char *tmp = NULL;
            rc = bld_cache_mount_dir(reg_store_data_dir(b->store), b->opts->cache_scope, m, uoff,
                                     goff, &source, &lock, &tmp, err);
            if (lock >= 0)
                rm->locks[rm->n_locks++] = lock;
            if (tmp)
                rm->tmp_dirs[rm->n_tmp++] = tmp;
            break;
        }
        case BLD_MOUNT_BIND:
            if (m->from) {
                char *root = NULL, key[SW_DIGEST_MAX];
                if ((rc = bind_root(b, st, in, m->from, &root, key, err)) != 0)
                    break;
                if (m->readonly)
                    rc = resolve_in_root(root, m->source ? m->source : "", &source, err);
                else
                    rc = bind_copy(b, rm, root, m->source ? m->source : "", 0, uoff, goff, &source,
                                   err);
                free(root);
            } else {
                rc = bind_copy(b, rm, b->opts->context_dir, m->source ? m->source : "", 1, uoff,
                               goff, &source, err);
            }
            if (rc != 0)
                sw_error_prefix(err, "%s:%d: %s: --mount source", b->dockerfile, in->line,
                                in->original);
            break;
        case BLD_MOUNT_TMPFS: {
            sb->type = "tmpfs";
            source = strdup("tmpfs");
            char size[64] = "";
            if (m->size > 0)
                snprintf(size, sizeof(size), "size=%lld", (long long)m->size);
            const char **opts = &rm->opts[5 * i];
            opts[0] = "nosuid";
            opts[1] = "nodev";
            if (size[0]) {
                rm->owned[rm->n_owned] = strdup(size);
                opts[2] = rm->owned[rm->n_owned++];
            }
            sb->options = opts;
            break;
        }
        case BLD_MOUNT_SECRET: {
            const char *value = find_secret(b, m->id);
            if (value == NULL)
                continue; /* optional and not given: no mount */
            if (m->env) {
                char *kv = NULL;
                if (asprintf(&kv, "%s=%s", m->env, value) < 0)
                    return sw_error_oom(err);
                rm->env[rm->n_env++] = kv;
            }
            if (m->target == NULL)
                continue;
            char *dir = NULL;
            if ((rc = bld_scratch_dir(b->store, "secret", &dir, err)) != 0)
                break;
            rm->tmp_dirs[rm->n_tmp++] = dir;
            chmod(dir, 0711);
            source = sw_path_join(dir, "value");
            if (source == NULL) {
                rc = sw_error_oom(err);
                break;
            }
            rc = sw_write_file_atomic(source, value, strlen(value), 0600, err);
            if (rc == 0 && (chown(source, (uid_t)((m->has_uid ? m->uid : 0) + uoff),
                                  (gid_t)((m->has_gid ? m->gid : 0) + goff)) != 0 ||
                            chmod(source, m->has_mode ? m->mode : 0400) != 0))
                rc = sw_error_sys(err, SW_EIO, errno, "secret %s", m->id);
            sb->options = ro_opts;
            break;
        }
        }
        if (source)
            rm->owned[rm->n_owned++] = source;
        if (rc == 0 && source) {
            sb->source = source;
            rm->n_sb++;
        }
    }
    return rc;
}

/* Adds the secrets' "NAME=value" entries to a step's environment. */
static int secret_env(char ***env, const struct run_mounts *rm, sw_error **err)
{
    if (rm->n_env == 0)
        return 0;
    size_t n = 0;
    while ((*env)[n])
        n++;
    char **bigger = realloc(*env, (n + rm->n_env + 1) * sizeof(char *));
    if (bigger == NULL)
        return sw_error_oom(err);
    *env = bigger;
    for (size_t i = 0; i < rm->n_env; i++) {
        const char *name_end = strchr(rm->env[i], '=');
        size_t name_len = (size_t)(name_end - rm->env[i]) + 1;
        /* the secret replaces a variable of the same name */
        for (size_t k = 0; k < n; k++)
            if (strncmp(bigger[k], rm->env[i], name_len) == 0) {
                free(bigger[k]);
                bigger[k] = bigger[--n];
                break;
            }
        if ((bigger[n++] = strdup(rm->env[i])) == NULL)
            return sw_error_oom(err);
        bigger[n] = NULL;
    }
    bigger[n] = NULL;
    return 0;
}

/* With build secrets, step output goes through a masker. It masks each
 * value, the value without its trailing newline (a file's), and each line
 * of a multi-line value of at least 4 characters (output is masked line by
 * line, as GitHub Actions does). */
static int start_masker(struct build *b, bld_masker **out, sw_error **err)
{
    *out = NULL;
    if (b->opts->n_secrets == 0)
        return 0;
    sw_strbuf all = SW_STRBUF_INIT; /* the values, NUL-separated */
    size_t n = 0;
    for (size_t i = 0; i < b->opts->n_secrets; i++) {
        const char *v = b->opts->secrets[i].value;
        size_t len = strlen(v);
        sw_strbuf_append(&all, v, len + 1);
        n++;
        while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == '\r'))
            len--;
        if (len > 0 && len < strlen(v)) {
            sw_strbuf_append(&all, v, len);
            sw_strbuf_append(&all, "", 1);
            n++;
        }
        for (const char *line = v; memchr(v, '\n', len) && line < v + len;) {
            const char *nl = memchr(line, '\n', (size_t)(v + len - line));
            size_t l = nl ? (size_t)(nl - line) : (size_t)(v + len - line);
            size_t t = l;
            while (t > 0 && (line[t - 1] == '\r' || line[t - 1] == ' '))
                t--;
            if (t >= 4) {
                sw_strbuf_append(&all, line, t);
                sw_strbuf_append(&all, "", 1);
                n++;
            }
            line += l + 1;
        }
    }
    const char **values = calloc(n + 1, sizeof(char *));
    if (values == NULL || all.data == NULL) {
        free(values);
        sw_strbuf_free(&all);
        return sw_error_oom(err);
    }
    const char *p = all.data;
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
        values[i] = p;
    int fd = b->opts->progress_fd >= 0 ? b->opts->progress_fd : STDERR_FILENO;
    int rc = bld_masker_start(fd, values, n, out, err);
    free(values);
    explicit_bzero(all.data, all.len);
    sw_strbuf_free(&all);
    return rc;
}

/* The mode a RUN step gets from its --network and --security flags: a
 * Dockerfile may ask for less than the config gives, never for more. */
static int step_network(struct build *b, const struct instr *in, const char **mode, sw_error **err)
{
    const char *flag = flag_value(in, "network");
    const char *security = flag_value(in, "security");
    const char *configured = configured_network(b);
    if (security && strcmp(security, "sandbox") != 0) {
        if (strcmp(security, "insecure") == 0)
            return instr_error(b, in, err, SW_EUNSUPPORTED,
                               "--security=insecure is not supported: Slipway has no insecure "
                               "mode, whether or not builder.allow lists security.insecure");
        return instr_error(b, in, err, SW_EINVAL, "--security=%s: expected sandbox or insecure",
                           security);
    }
    if (flag == NULL || strcmp(flag, "default") == 0) {
        *mode = configured;
    } else if (strcmp(flag, "none") == 0) {
        *mode = "none";
    } else if (strcmp(flag, "host") == 0) {
        if (strcmp(configured, "host") != 0 && !entitled(b, "network.host"))
            return instr_error(b, in, err, SW_EPERM,
                               "--network=host is not allowed: the config's builder.allow does "
                               "not list network.host");
        *mode = "host";
    } else {
        return instr_error(b, in, err, SW_EINVAL, "--network=%s: expected default, none or host",
                           flag);
    }
    return 0;
}

static int do_run(struct build *b, struct stage *st, const struct instr *in, double started,
                  sw_error **err)
{
    json_t *argv = command_argv(st, in, 0);
    char *argv_text = json_dumps(argv, JSON_COMPACT);
    char *state = config_state(st);
    char *args = args_state(st);
    const char *network = NULL;
    char **argv_v = NULL, **env_v = NULL;
    struct step_area area = { 0 };
    struct bld_egress_net net = { 0 };
    bld_egress *policy = NULL;
    sw_strbuf created_by = SW_STRBUF_INIT, mount_key = SW_STRBUF_INIT;
    struct run_mounts mounts = { 0 };
    bld_masker *masker = NULL;
    int rc = 0;

    if ((rc = step_network(b, in, &network, err)) != 0)
        goto cleanup;
    /* the effective mode: the same command with another network may give
     * another result */
    const char *image_cwd =
        json_string_value(json_object_get(bld_image_runconfig(&st->image), "WorkingDir"));
    if ((rc = run_mounts_parse(b, in, image_cwd, &mounts, err)) != 0 ||
        (rc = run_mounts_key(b, st, in, &mounts, &mount_key, err)) != 0)
        goto cleanup;
    if (mounts.n == 0) {
        const char *parts[] = { argv_text, state, args, network };
        chain_key(st, "run", parts, 4);
    } else {
        /* the mounts, never a secret's value */
        const char *parts[] = { argv_text, state, args, network, mount_key.data };
        chain_key(st, "run", parts, 5);
    }
    sw_strbuf_puts(&created_by, "RUN ");
    for (size_t i = 0; i < json_array_size(argv); i++)
        sw_strbuf_printf(&created_by, "%s%s", i ? " " : "",
                         json_string_value(json_array_get(argv, i)));
    sw_strbuf_puts(&created_by, " # buildkit");
    if (try_cache(b, st, created_by.data, started))
        goto cleanup;

    const char *user = json_string_value(json_object_get(bld_image_runconfig(&st->image), "User"));
    uid_t uid = 0;
    gid_t gid = 0;
    if (user && *user && (rc = resolve_user(b, st, user, &uid, &gid, err)) != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    const char *cwd =
        json_string_value(json_object_get(bld_image_runconfig(&st->image), "WorkingDir"));
    int network_host = strcmp(network, "host") == 0;

    if ((rc = step_area_open(b, st, 0, &area, err)) != 0)
        goto cleanup;
    if (strcmp(network, "egress") == 0) {
        char *net_scratch = sw_path_join(area.scratch, "network");
        if (net_scratch == NULL)
            rc = sw_error_oom(err);
        else if ((rc = sw_mkdir_p(net_scratch, 0700, err)) == 0 &&
                 (rc = bld_egress_new(b->opts->config, &policy, err)) == 0)
            rc = bld_egress_net_start(policy, net_scratch, &net, err);
        free(net_scratch);
        if (rc != 0) {
            sw_error_prefix(err, "%s:%d: %s: the build network", b->dockerfile, in->line,
                            in->original);
            goto cleanup;
        }
    }
    char **dirs = NULL;
    if ((rc = layer_dirs(b, st, &dirs, err)) != 0)
        goto cleanup;
    char *sandbox_scratch = sw_path_join(area.scratch, "sandbox");
    sw_mkdir_p(sandbox_scratch, 0700, NULL);
    argv_v = json_to_strv(argv);
    env_v = run_env(st);
    struct bld_sandbox_limits limits;
    struct bld_sandbox_userns userns;
    bld_sandbox_policy(b->opts->config, &limits, &userns);
    if ((rc = run_mounts_prepare(b, st, in, &userns, &mounts, err)) != 0 ||
        (rc = secret_env(&env_v, &mounts, err)) != 0 || (rc = start_masker(b, &masker, err)) != 0) {
        free_dirs(dirs);
        free(sandbox_scratch);
        goto cleanup;
    }
    struct bld_sandbox_spec spec = {
        .runtime = b->opts->runtime ? b->opts->runtime : "runc",
        .lower_dirs = (const char *const *)dirs,
        .n_lower = st->image.n_layers,
        .upper_dir = area.upper,
        .scratch_dir = sandbox_scratch,
        .argv = (const char *const *)argv_v,
        .env = (const char *const *)env_v,
        .cwd = cwd && *cwd ? cwd : "/",
        .uid = uid,
        .gid = gid,
        .network_host = network_host,
        .netns_path = net.holder > 0 ? net.netns_path : NULL,
        .resolv_conf = net.holder > 0 ? "nameserver " BLD_EGRESS_DNS "\n" : NULL,
        .timeout_s = b->opts->step_timeout_s,
        .output_fd = masker                      ? bld_masker_fd(masker)
                     : b->opts->progress_fd >= 0 ? b->opts->progress_fd
                                                 : STDERR_FILENO,
        .cancel = b->opts->cancel,
        .limits = &limits,
        .userns = &userns,
        .output_cap = b->opts->output_cap,
        .extra_mounts = mounts.sb,
        .n_extra_mounts = mounts.n_sb,
    };
    int exit_status = -1;
    uint64_t profiled = sw_profile_start();
    rc = bld_sandbox_run(&spec, &exit_status, err);
    sw_profile_stop(SW_PHASE_RUN, profiled);
    bld_masker_stop(masker);
    masker = NULL;
    free_dirs(dirs);
    free(sandbox_scratch);
    if (rc != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    if (exit_status != 0) {
        rc = instr_error(b, in, err, SW_EINVAL, "exited with code %d", exit_status);
        goto cleanup;
    }
    bld_egress_net_stop(&net);
    rc = commit_layer(b, st, &area, created_by.data, err);
cleanup:
    bld_masker_stop(masker);
    run_mounts_free(&mounts);
    sw_strbuf_free(&mount_key);
    bld_egress_net_stop(&net);
    bld_egress_free(policy);
    step_area_close(&area);
    sw_strv_free(argv_v);
    sw_strv_free(env_v);
    sw_strbuf_free(&created_by);
    json_decref(argv);
    free(argv_text);
    free(state);
    free(args);
    return rc;
}

/* ---- COPY and ADD ------------------------------------------------------- */

static int is_url(const char *s)
{
    return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

struct download {
    FILE *file;
    sw_hash *hash;
    int64_t size, max_size; /* max_size: builder.add_max_size */
    int too_big;
    const bld_egress *policy; /* NULL: any address (builder.network host) */
    char refused[64];         /* the first address the policy refused */
};

static size_t download_write(char *data, size_t size, size_t n, void *ctx)
{
    struct download *d = ctx;
    if (d->max_size > 0 && (int64_t)(size * n) > d->max_size - d->size) {
        d->too_big = 1;
        return 0;
    }
    d->size += (int64_t)(size * n);
    sw_hash_update(d->hash, data, size * n);
    return fwrite(data, size, n, d->file) * size;
}

/* Called by libcurl right before each connection (the first, every
 * redirect's, every address a name resolves to): the policy is checked on
 * the address actually connected to, so neither a redirect nor DNS
 * rebinding gets around it. */
static curl_socket_t download_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct download *d = ctx;
    (void)purpose;
    if (d->policy && !bld_egress_allows(d->policy, &a->addr)) {
        if (d->refused[0] == '\0')
            sw_sockaddr_format(&a->addr, d->refused, sizeof(d->refused));
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static void format_size(int64_t n, char *buf, size_t size)
{
    if (n >= ((int64_t)1 << 30) && n % ((int64_t)1 << 30) == 0)
        snprintf(buf, size, "%lldGiB", (long long)(n >> 30));
    else if (n >= (1 << 20) && n % (1 << 20) == 0)
        snprintf(buf, size, "%lldMiB", (long long)(n >> 20));
    else
        snprintf(buf, size, "%lld bytes", (long long)n);
}

/* Downloads url into dir (name from the URL's last path component),
 * verifying `checksum` ("sha256:...") when given. Sets *name_out. Unless
 * builder.network is host, only addresses the egress policy allows are
 * connected to; at most builder.add_max_size bytes are taken. */
static int download_url(struct build *b, const char *url, const char *dir, const char *checksum,
                        char **name_out, sw_error **err)
{
    const char *path_start = strstr(url, "://");
    path_start = path_start ? strchr(path_start + 3, '/') : NULL;
    const char *base = path_start ? strrchr(path_start, '/') + 1 : "";
    char name[256];
    size_t base_len = strcspn(base, "?#");
    if (base_len == 0 || base_len >= sizeof(name))
        snprintf(name, sizeof(name), "download");
    else
        snprintf(name, sizeof(name), "%.*s", (int)base_len, base);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        snprintf(name, sizeof(name), "download");

    char *path = sw_path_join(dir, name);
    struct download d = { 0 };
    bld_egress *policy = NULL;
    CURL *curl = NULL;
    int rc = 0;
    if (path == NULL || (d.hash = sw_hash_new(SW_HASH_SHA256)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    d.max_size = b->opts->config ? b->opts->config->add_max_size : (int64_t)2 << 30;
    if (strcmp(configured_network(b), "host") != 0) {
        if ((rc = bld_egress_new(b->opts->config, &policy, err)) != 0)
            goto cleanup;
        d.policy = policy;
    }
    d.file = fopen(path, "wbx");
    if (d.file == NULL) {
        rc = sw_error_sys(err, SW_EIO, errno, "creating %s", path);
        goto cleanup;
    }
    curl = curl_easy_init();
    SW_CHECK_ALLOC(curl, rc, err, cleanup);
    char curl_err[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(curl, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, download_write);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "slipway");
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, download_socket);
    curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &d);
    /* a proxy from the environment would be the address checked */
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    if (d.max_size > 0)
        curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)d.max_size);
    CURLcode res = curl_easy_perform(curl);
    if (fclose(d.file) != 0 && res == CURLE_OK)
        res = CURLE_WRITE_ERROR;
    d.file = NULL;
    if (res != CURLE_OK && d.refused[0]) {
        /* nothing about what answered (it did not: we never connected) */
        rc = sw_error_set(err, SW_EPERM,
                          "download of %s refused: %s is not reachable from builds "
                          "(builder.egress)",
                          url, d.refused);
        goto cleanup;
    }
    if (res != CURLE_OK && (d.too_big || res == CURLE_FILESIZE_EXCEEDED)) {
        char limit[64];
        format_size(d.max_size, limit, sizeof(limit));
        rc = sw_error_set(err, SW_ETOOBIG,
                          "download of %s refused: larger than builder.add_max_size (%s)", url,
                          limit);
        goto cleanup;
    }
    if (res != CURLE_OK) {
        rc = sw_error_set(err, SW_EIO, "downloading %s: %s", url,
                          curl_err[0] ? curl_err : curl_easy_strerror(res));
        goto cleanup;
    }
    char digest[SW_DIGEST_MAX];
    sw_hash_digest(d.hash, digest);
    if (checksum && strcmp(checksum, digest) != 0) {
        rc = sw_error_set(err, SW_EINVAL,
                          "downloading %s: checksum mismatch: expected %s, "
                          "got %s",
                          url, checksum, digest);
        goto cleanup;
    }
    /* ADD <url> gives the file mode 0600 and the server's Last-Modified
     * time (as BuildKit does); a failure here would change the layer */
    if (chmod(path, 0600) != 0) {
        rc = sw_error_sys(err, SW_EIO, errno, "downloading %s: setting its mode", url);
        goto cleanup;
    }
    long filetime = -1;
    if (curl_easy_getinfo(curl, CURLINFO_FILETIME, &filetime) == CURLE_OK && filetime > 0) {
        struct timespec times[2] = { { filetime, 0 }, { filetime, 0 } };
        if (utimensat(AT_FDCWD, path, times, 0) != 0) {
            rc = sw_error_sys(err, SW_EIO, errno, "downloading %s: setting its time", url);
            goto cleanup;
        }
    }
    *name_out = strdup(name);
cleanup:
    if (d.file)
        fclose(d.file);
    if (curl)
        curl_easy_cleanup(curl);
    bld_egress_free(policy);
    sw_hash_free(d.hash);
    free(path);
    return rc;
}

static int parse_chmod(const char *s, mode_t *mode)
{
    char *end = NULL;
    long v = strtol(s, &end, 8);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 07777)
        return -1;
    *mode = (mode_t)v;
    return 0;
}

/* Joins a COPY destination with WORKDIR; keeps a trailing '/'. */
static char *copy_destination(struct stage *st, const char *dest)
{
    if (dest[0] == '/')
        return strdup(dest);
    const char *wd =
        json_string_value(json_object_get(bld_image_runconfig(&st->image), "WorkingDir"));
    if (wd == NULL || *wd == '\0')
        wd = "/";
    if (strcmp(dest, ".") == 0 || strcmp(dest, "./") == 0) {
        char *out = NULL;
        return asprintf(&out, "%s/", wd) < 0 ? NULL : out;
    }
    return sw_path_join(wd, dest);
}

static struct stage *find_stage(struct build *b, const char *name, size_t before)
{
    if (is_number(name)) {
        size_t idx = (size_t)strtoul(name, NULL, 10);
        return idx < before ? &b->stages[idx] : NULL;
    }
    for (size_t i = 0; i < before; i++)
        if (b->stages[i].name && strcasecmp(b->stages[i].name, name) == 0)
            return &b->stages[i];
    return NULL;
}

static int load_base_image(struct build *b, const char *ref, const char *platform,
                           struct bld_image *out, char **stored_ref, sw_error **err);

static int exclude_cb(void *ctx, const char *rel, int is_dir);

/* The --exclude patterns of a COPY/ADD (borrowed strings, malloc'd array). */
static int copy_excludes(const struct instr *in, char ***out, size_t *n, sw_error **err)
{
    *n = 0;
    *out = calloc(in->n_flags + 1, sizeof(char *));
    if (*out == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < in->n_flags; i++)
        if (strcmp(in->flags[i].name, "exclude") == 0)
            (*out)[(*n)++] = in->flags[i].value;
    return 0;
}

static int do_copy(struct build *b, struct stage *st, const struct instr *in, double started,
                   sw_error **err)
{
    int is_add = strcmp(in->keyword, "add") == 0;
    struct kv_list vars = { 0 };
    char **args = NULL;
    size_t n_args = 0;
    char *dest = NULL, *src_root = NULL, *heredoc_dir = NULL, *url_dir = NULL;
    struct stage from_image = { 0 };
    struct step_area area = { 0 };
    const char **local = NULL, **urls = NULL;
    char **url_names = NULL;
    size_t n_local = 0, n_urls = 0;
    sw_strbuf key_text = SW_STRBUF_INIT, created_by = SW_STRBUF_INIT;
    char **excludes = NULL;
    int rc = 0;

    if (stage_vars(st, &vars) != 0 || (args = calloc(in->n_args + 1, sizeof(char *))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < in->n_args; i++) {
        if ((rc = expand_word(b, &vars, in->args[i], &args[i], err)) != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            goto cleanup;
        }
        n_args++;
    }
    if (n_args < 2) {
        rc = instr_error(b, in, err, SW_EINVAL, "%s requires at least two arguments",
                         is_add ? "ADD" : "COPY");
        goto cleanup;
    }
    const char *from = flag_value(in, "from");
    const char *chown_spec = flag_value(in, "chown");
    const char *chmod_spec = flag_value(in, "chmod");
    const char *checksum = flag_value(in, "checksum");
    dest = copy_destination(st, args[n_args - 1]);
    local = calloc(n_args, sizeof(char *));
    urls = calloc(n_args, sizeof(char *));
    url_names = calloc(n_args, sizeof(char *));
    if (dest == NULL || local == NULL || urls == NULL || url_names == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }

    /* where the sources come from */
    int from_context = 1;
    if (from && *from) {
        from_context = 0;
        struct stage *src = find_stage(b, from, (size_t)(st - b->stages));
        if (src == NULL) {
            char *stored = NULL;
            if ((rc = load_base_image(b, from, b->opts->platform, &from_image.image, &stored,
                                      err)) != 0) {
                sw_error_prefix(err, "%s:%d: %s: --from=%s", b->dockerfile, in->line, in->original,
                                from);
                goto cleanup;
            }
            free(stored);
            src = &from_image;
            snprintf(from_image.key, sizeof(from_image.key), "%s", from_image.image.digest);
        }
        if ((rc = mount_readonly(b, src, &src_root, err)) != 0)
            goto cleanup;
        sw_strbuf_printf(&key_text, "from=%s\n", src->key);
    } else if (in->n_heredocs > 0) {
        /* COPY <<EOF /dest: each heredoc becomes a file named after it */
        if ((rc = bld_scratch_dir(b->store, "heredoc", &heredoc_dir, err)) != 0)
            goto cleanup;
        for (size_t i = 0; i < in->n_heredocs; i++) {
            char *content = NULL;
            if (in->heredocs[i].expand) {
                if ((rc = bld_shell_expand_heredoc(in->heredocs[i].content, kv_lookup,
                                                   (void *)&vars, &content, err)) != 0)
                    goto cleanup;
            } else {
                content = strdup(in->heredocs[i].content);
            }
            char *path = sw_path_join(heredoc_dir, in->heredocs[i].name);
            rc = content && path ? sw_write_file_atomic(path, content, strlen(content), 0644, err)
                                 : sw_error_oom(err);
            free(content);
            free(path);
            if (rc != 0)
                goto cleanup;
        }
        src_root = strdup(heredoc_dir);
    } else {
        src_root = strdup(b->opts->context_dir);
    }

    for (size_t i = 0; i + 1 < n_args; i++) {
        const char *a = args[i];
        if (in->n_heredocs > 0 && strncmp(a, "<<", 2) == 0) {
            a += 2;
            a += strspn(a, "-");
            a += (*a == '"' || *a == '\'') ? 1 : 0;
            char *name = strdup(a);
            size_t len = name ? strlen(name) : 0;
            if (len && (name[len - 1] == '"' || name[len - 1] == '\''))
                name[len - 1] = '\0';
            free(args[i]);
            args[i] = name;
            a = name;
        }
        if (is_url(a)) {
            if (!is_add) {
                rc = instr_error(b, in, err, SW_EINVAL, "source can't be a URL for COPY");
                goto cleanup;
            }
            urls[n_urls++] = a;
        } else {
            local[n_local++] = a;
        }
    }
    size_t dest_len = strlen(dest);
    if (n_local + n_urls > 1 && dest[dest_len - 1] != '/') {
        rc = instr_error(b, in, err, SW_EINVAL,
                         "When using %s with more than one source file, "
                         "the destination must be a directory and end with a /",
                         is_add ? "ADD" : "COPY");
        goto cleanup;
    }
    struct bld_copy_spec spec = {
        .src_root = src_root,
        .sources = local,
        .n_sources = n_local,
        .dest = dest,
        .from_context = from_context,
        .is_add = is_add,
        .excluded = (from_context && !heredoc_dir) ? exclude_cb : NULL,
        .excluded_ctx = b,
        .parents = bld_flag_true(flag_value(in, "parents")),
    };
    if ((rc = copy_excludes(in, &excludes, &spec.n_exclude, err)) != 0)
        goto cleanup;
    spec.exclude = (const char *const *)excludes;
    if (chmod_spec && parse_chmod(chmod_spec, &spec.mode) != 0) {
        rc = instr_error(b, in, err, SW_EINVAL, "invalid --chmod=%s: expected an octal mode",
                         chmod_spec);
        goto cleanup;
    }
    spec.has_chmod = chmod_spec != NULL;
    if (chown_spec && *chown_spec) {
        char *expanded = NULL;
        if ((rc = expand_word(b, &vars, chown_spec, &expanded, err)) != 0)
            goto cleanup;
        rc = resolve_user(b, st, expanded, &spec.uid, &spec.gid, err);
        free(expanded);
        if (rc != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            goto cleanup;
        }
        spec.has_chown = 1;
    }

    /* URLs are fetched first: their content is part of the cache key */
    if (n_urls > 0) {
        if ((rc = bld_scratch_dir(b->store, "download", &url_dir, err)) != 0)
            goto cleanup;
        for (size_t i = 0; i < n_urls; i++) {
            char *name = NULL;
            if ((rc = download_url(b, urls[i], url_dir, checksum, &name, err)) != 0) {
                sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
                goto cleanup;
            }
            url_names[i] = name;
        }
    }

    /* the cache key: the expanded instruction, flags, and source content */
    char content[SW_DIGEST_MAX] = "";
    uint64_t profiled = sw_profile_start();
    if (n_local > 0 && (rc = bld_copy_digest(&spec, content, err)) != 0)
        goto cleanup;
    sw_profile_stop(SW_PHASE_CONTEXT, profiled);
    sw_strbuf_printf(&key_text, "content=%s\n", content);
    if (url_dir) {
        const char *all[] = { "." };
        struct bld_copy_spec url_spec = {
            .src_root = url_dir, .sources = all, .n_sources = 1, .from_context = 1
        };
        char url_digest[SW_DIGEST_MAX];
        if ((rc = bld_copy_digest(&url_spec, url_digest, err)) != 0)
            goto cleanup;
        sw_strbuf_printf(&key_text, "urls=%s\n", url_digest);
    }
    for (size_t i = 0; i < n_args; i++)
        sw_strbuf_printf(&key_text, "arg=%s\n", args[i]);
    for (size_t i = 0; i < in->n_flags; i++)
        sw_strbuf_printf(&key_text, "flag=%s=%s\n", in->flags[i].name, in->flags[i].value);
    char *state = config_state(st);
    sw_strbuf_printf(&key_text, "state=%s\n", state ? state : "");
    free(state);
    const char *parts[] = { key_text.failed ? NULL : key_text.data };
    chain_key(st, in->keyword, parts, 1);

    sw_strbuf_printf(&created_by, "%s ", is_add ? "ADD" : "COPY");
    for (size_t i = 0; i + 1 < n_args; i++)
        sw_strbuf_printf(&created_by, "%s ", args[i]);
    sw_strbuf_printf(&created_by, "%s # buildkit", dest);
    if (try_cache(b, st, created_by.data, started))
        goto cleanup;

    if ((rc = step_area_open(b, st, 1, &area, err)) != 0)
        goto cleanup;
    spec.dest_root = area.rootfs;
    profiled = sw_profile_start();
    if (n_local > 0 && (rc = bld_copy(&spec, err)) != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    if (url_dir) {
        struct bld_copy_spec url_spec = spec;
        url_spec.src_root = url_dir;
        url_spec.sources = (const char *const *)url_names;
        url_spec.n_sources = n_urls;
        url_spec.is_add = 0; /* remote archives are not extracted */
        url_spec.excluded = NULL;
        url_spec.from_context = 1;
        if ((rc = bld_copy(&url_spec, err)) != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            goto cleanup;
        }
    }
    sw_profile_stop(SW_PHASE_COPY, profiled);
    bld_overlay_unmount(area.rootfs, NULL);
    area.mounted = 0;
    rc = commit_layer(b, st, &area, created_by.data, err);
cleanup:
    free(excludes);
    step_area_close(&area);
    if (heredoc_dir) {
        sw_rm_rf(heredoc_dir, NULL);
        free(heredoc_dir);
    }
    if (url_dir) {
        sw_rm_rf(url_dir, NULL);
        free(url_dir);
    }
    bld_image_release(&from_image.image);
    for (size_t i = 0; i < n_args; i++)
        free(args[i]);
    free(args);
    free(local);
    free(urls);
    for (size_t i = 0; url_names && i < n_args; i++)
        free(url_names[i]);
    free(url_names);
    free(dest);
    free(src_root);
    kv_free(&vars);
    sw_strbuf_free(&key_text);
    sw_strbuf_free(&created_by);
    return rc;
}

/* ---- instructions that change the config -------------------------------- */

/* Expands every argument of an instruction with the stage's variables. */
static int expand_args(struct build *b, struct stage *st, const struct instr *in, char ***out,
                       sw_error **err)
{
    struct kv_list vars = { 0 };
    char **v = calloc(in->n_args + 1, sizeof(char *));
    int rc = 0;
    if (v == NULL || stage_vars(st, &vars) != 0) {
        free(v);
        kv_free(&vars);
        return sw_error_oom(err);
    }
    for (size_t i = 0; i < in->n_args && rc == 0; i++)
        rc = expand_word(b, &vars, in->args[i], &v[i], err);
    kv_free(&vars);
    if (rc != 0) {
        sw_strv_free(v);
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    *out = v;
    return 0;
}

static int add_history(struct build *b, struct stage *st, const char *text, sw_error **err)
{
    char *created_by = NULL;
    if (asprintf(&created_by, "%s # buildkit", text) < 0)
        return sw_error_oom(err);
    int rc = bld_image_add_history(&st->image, created_by, step_time(b, st), err);
    free(created_by);
    const char *parts[] = { text };
    chain_key(st, "meta", parts, 1);
    return rc;
}

/* ENV and LABEL: key/value pairs, values expanded with the variables as
 * they were before this instruction (Docker's rule). */
static int do_pairs(struct build *b, struct stage *st, const struct instr *in, int is_env,
                    sw_error **err)
{
    char **v = NULL;
    int rc = expand_args(b, st, in, &v, err);
    if (rc != 0)
        return rc;
    if (in->n_args % 2 != 0) {
        sw_strv_free(v);
        return instr_error(b, in, err, SW_EINVAL, "%s needs key=value pairs",
                           is_env ? "ENV" : "LABEL");
    }
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_puts(&text, is_env ? "ENV" : "LABEL");
    json_t *labels = NULL;
    if (!is_env) {
        json_t *cfg = bld_image_runconfig(&st->image);
        labels = json_object_get(cfg, "Labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(cfg, "Labels", labels);
        }
    }
    for (size_t i = 0; i + 1 < in->n_args && rc == 0; i += 2) {
        if (v[i][0] == '\0') {
            rc = instr_error(b, in, err, SW_EINVAL, "%s names must not be empty",
                             is_env ? "ENV" : "LABEL");
            break;
        }
        sw_strbuf_printf(&text, " %s=%s", v[i], v[i + 1]);
        if (is_env)
            rc = bld_image_env_set(&st->image, v[i], v[i + 1], err);
        else
            json_object_set_new(labels, v[i], json_string(v[i + 1]));
    }
    if (rc == 0)
        rc = add_history(b, st, text.data, err);
    sw_strbuf_free(&text);
    sw_strv_free(v);
    return rc;
}

/* The value a build arg gets: --build-arg, else the default, else (for a
 * predefined platform arg) the automatic value. 1 when it has one. */
static int arg_value(struct build *b, const char *name, const char *default_value,
                     const struct kv_list *inherited, const char **value)
{
    const char *given = kv_get(&b->build_args, name);
    if (given) {
        *value = given;
        return 1;
    }
    if (default_value) {
        *value = default_value;
        return 1;
    }
    const char *meta = inherited ? kv_get(inherited, name) : NULL;
    if (meta) {
        *value = meta;
        return 1;
    }
    return 0;
}

static int do_arg(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    struct kv_list vars = { 0 };
    int rc = 0;
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_puts(&text, "ARG");
    for (size_t i = 0; i < in->n_args && rc == 0; i++) {
        kv_free(&vars);
        if (stage_vars(st, &vars) != 0) {
            rc = sw_error_oom(err);
            break;
        }
        char *name = strdup(in->args[i]);
        char *eq = name ? strchr(name, '=') : NULL;
        char *default_value = NULL;
        if (eq) {
            *eq = '\0';
            if ((rc = expand_word(b, &vars, eq + 1, &default_value, err)) != 0) {
                free(name);
                break;
            }
        }
        const char *value = NULL;
        if (arg_value(b, name, default_value, &b->meta_args, &value)) {
            kv_set(&st->args, name, value);
            sw_strbuf_printf(&text, " %s=%s", name, value);
        } else {
            sw_strbuf_printf(&text, " %s", name);
        }
        free(default_value);
        free(name);
    }
    if (rc == 0)
        rc = add_history(b, st, text.data, err);
    kv_free(&vars);
    sw_strbuf_free(&text);
    return rc;
}

static int set_string(struct build *b, struct stage *st, const struct instr *in, const char *key,
                      const char *label, sw_error **err)
{
    char **v = NULL;
    int rc = expand_args(b, st, in, &v, err);
    if (rc != 0)
        return rc;
    if (in->n_args != 1 || v[0][0] == '\0') {
        sw_strv_free(v);
        return instr_error(b, in, err, SW_EINVAL, "%s requires exactly one argument", label);
    }
    json_object_set_new(bld_image_runconfig(&st->image), key, json_string(v[0]));
    char *text = NULL;
    rc = asprintf(&text, "%s %s", label, v[0]) < 0 ? sw_error_oom(err)
                                                   : add_history(b, st, text, err);
    free(text);
    sw_strv_free(v);
    return rc;
}

/* Does `path` (absolute) exist in the stage's image? Looks through the
 * layers from the top; a whiteout hides what is below. */
static int image_has_dir(struct build *b, struct stage *st, const char *path)
{
    for (size_t i = st->image.n_layers; i-- > 0;) {
        char *dir = NULL;
        if (bld_layer_unpacked(b->store, &st->image.layers[i], &dir, NULL) != 0)
            return 0;
        char *p = sw_path_join(dir, path);
        free(dir);
        struct stat s;
        int found = p && lstat(p, &s) == 0;
        free(p);
        if (found)
            return S_ISDIR(s.st_mode) || S_ISLNK(s.st_mode);
    }
    return 0;
}

static int do_workdir(struct build *b, struct stage *st, const struct instr *in, double started,
                      sw_error **err)
{
    char **v = NULL;
    int rc = expand_args(b, st, in, &v, err);
    if (rc != 0)
        return rc;
    if (in->n_args != 1 || v[0][0] == '\0') {
        sw_strv_free(v);
        return instr_error(b, in, err, SW_EINVAL, "WORKDIR requires exactly one argument");
    }
    json_t *cfg = bld_image_runconfig(&st->image);
    char *path = NULL;
    const char *prev = json_string_value(json_object_get(cfg, "WorkingDir"));
    path = v[0][0] == '/' ? strdup(v[0]) : sw_path_join(prev && *prev ? prev : "/", v[0]);
    sw_strv_free(v);
    if (path == NULL)
        return sw_error_oom(err);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        path[--len] = '\0';
    json_object_set_new(cfg, "WorkingDir", json_string(path));

    char *text = NULL;
    if (asprintf(&text, "WORKDIR %s", path) < 0) {
        free(path);
        return sw_error_oom(err);
    }
    if (strcmp(path, "/") == 0 || image_has_dir(b, st, path)) {
        rc = add_history(b, st, text, err);
        goto cleanup;
    }
    /* a missing directory is created, as its own small layer */
    const char *parts[] = { path };
    chain_key(st, "workdir", parts, 1);
    char *created_by = NULL;
    if (asprintf(&created_by, "%s # buildkit", text) < 0) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (!try_cache(b, st, created_by, started)) {
        struct step_area area;
        if ((rc = step_area_open(b, st, 0, &area, err)) == 0) {
            char *target = sw_path_join(area.upper, path);
            rc = target ? sw_mkdir_p(target, 0755, err) : sw_error_oom(err);
            free(target);
            if (rc == 0)
                rc = commit_layer(b, st, &area, created_by, err);
        }
        step_area_close(&area);
    }
    free(created_by);
cleanup:
    free(text);
    free(path);
    return rc;
}

static int do_command(struct build *b, struct stage *st, const struct instr *in, const char *key,
                      const char *label, sw_error **err)
{
    json_t *argv = command_argv(st, in, 0);
    json_t *cfg = bld_image_runconfig(&st->image);
    json_object_set_new(cfg, key, argv);
    if (strcmp(key, "Entrypoint") == 0 && !st->cmd_set)
        json_object_del(cfg, "Cmd"); /* a base image's CMD does not survive ENTRYPOINT */
    if (strcmp(key, "Cmd") == 0)
        st->cmd_set = 1;
    char *args = json_dumps(argv, JSON_COMPACT);
    char *text = NULL;
    int rc = args && asprintf(&text, "%s %s", label, args) >= 0 ? add_history(b, st, text, err)
                                                                : sw_error_oom(err);
    free(args);
    free(text);
    return rc;
}

static int do_shell(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    if (!in->is_json || in->n_args == 0)
        return instr_error(b, in, err, SW_EINVAL,
                           "SHELL requires the arguments to be in JSON "
                           "form, e.g. SHELL [\"/bin/bash\", \"-c\"]");
    json_t *shell = json_array();
    for (size_t i = 0; i < in->n_args; i++)
        json_array_append_new(shell, json_string(in->args[i]));
    json_object_set_new(bld_image_runconfig(&st->image), "Shell", shell);
    char *args = json_dumps(shell, JSON_COMPACT);
    char *text = NULL;
    int rc = args && asprintf(&text, "SHELL %s", args) >= 0 ? add_history(b, st, text, err)
                                                            : sw_error_oom(err);
    free(args);
    free(text);
    return rc;
}

static int do_set_of(struct build *b, struct stage *st, const struct instr *in, const char *key,
                     const char *label, sw_error **err)
{
    char **v = NULL;
    int rc = 0;
    if (in->is_json) {
        v = calloc(in->n_args + 1, sizeof(char *));
        for (size_t i = 0; v && i < in->n_args; i++)
            v[i] = strdup(in->args[i]);
    } else if ((rc = expand_args(b, st, in, &v, err)) != 0) {
        return rc;
    }
    if (v == NULL)
        return sw_error_oom(err);
    json_t *cfg = bld_image_runconfig(&st->image);
    json_t *set = json_object_get(cfg, key);
    if (!json_is_object(set)) {
        set = json_object();
        json_object_set_new(cfg, key, set);
    }
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_puts(&text, label);
    for (size_t i = 0; v[i] && rc == 0; i++) {
        const char *item = v[i];
        if (*item == '\0')
            continue;
        sw_strbuf_printf(&text, " %s", item);
        if (strcmp(key, "Volumes") == 0) {
            json_object_set_new(set, item, json_object());
            continue;
        }
        /* EXPOSE 80, 80/udp, 8000-8002/tcp */
        char proto[16] = "tcp";
        const char *slash = strchr(item, '/');
        if (slash && strlen(slash + 1) < sizeof(proto))
            snprintf(proto, sizeof(proto), "%s", slash + 1);
        for (char *c = proto; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        char *end = NULL;
        long lo = strtol(item, &end, 10), hi = lo;
        if (end && *end == '-')
            hi = strtol(end + 1, &end, 10);
        if (end == item || (end && *end && *end != '/') || lo < 1 || hi > 65535 || hi < lo ||
            hi - lo > 1000 ||
            (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
             strcmp(proto, "sctp") != 0)) {
            rc = instr_error(b, in, err, SW_EINVAL, "invalid port '%s'", item);
            break;
        }
        for (long p = lo; p <= hi; p++) {
            char port[48];
            snprintf(port, sizeof(port), "%ld/%s", p, proto);
            json_object_set_new(set, port, json_object());
        }
    }
    if (rc == 0)
        rc = add_history(b, st, text.data, err);
    sw_strbuf_free(&text);
    sw_strv_free(v);
    return rc;
}

/* Go's time.ParseDuration subset Docker accepts: 30s, 1m30s, 500ms, 1h. */
static int parse_go_duration(const char *s, int64_t *ns)
{
    int64_t total = 0;
    if (*s == '\0')
        return -1;
    if (*s == '-' || *s == '+')
        s++; /* a sign only in front, as Go's ParseDuration */
    while (*s) {
        /* decimal digits and one point only: strtod would also take
         * "inf", "nan", hex and exponents ("1e30s") */
        size_t digits = strspn(s, "0123456789.");
        if (digits == 0 || memchr(s, '.', digits) != memrchr(s, '.', digits))
            return -1;
        char *end = NULL;
        double v = strtod(s, &end);
        if (end != s + digits)
            return -1;
        int64_t unit;
        if (strncmp(end, "ns", 2) == 0) {
            unit = 1;
            end += 2;
        } else if (strncmp(end, "us", 2) == 0) {
            unit = 1000;
            end += 2;
        } else if (strncmp(end, "ms", 2) == 0) {
            unit = 1000000;
            end += 2;
        } else if (*end == 's') {
            unit = 1000000000LL;
            end++;
        } else if (*end == 'm') {
            unit = 60 * 1000000000LL;
            end++;
        } else if (*end == 'h') {
            unit = 3600 * 1000000000LL;
            end++;
        } else
            return -1;
        double part = v * (double)unit;
        /* untrusted input: no double -> int64 conversion out of range */
        if (!(part >= 0 && part < 9.2e18) || total > INT64_MAX - (int64_t)part)
            return -1;
        total += (int64_t)part;
        s = end;
    }
    *ns = total;
    return 0;
}

static int do_healthcheck(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    json_t *hc = json_object();
    json_t *test = json_array();
    if (in->n_args >= 1 && strcasecmp(in->args[0], "NONE") == 0 && !in->is_json) {
        json_array_append_new(test, json_string("NONE"));
    } else if (in->n_args >= 2 && strcasecmp(in->args[0], "CMD") == 0) {
        json_array_append_new(test, json_string(in->is_json ? "CMD" : "CMD-SHELL"));
        sw_strbuf cmd = SW_STRBUF_INIT;
        for (size_t i = 1; i < in->n_args; i++) {
            if (in->is_json) {
                json_array_append_new(test, json_string(in->args[i]));
            } else {
                sw_strbuf_printf(&cmd, "%s%s", i > 1 ? " " : "", in->args[i]);
            }
        }
        if (!in->is_json)
            json_array_append_new(test, json_string(cmd.data ? cmd.data : ""));
        sw_strbuf_free(&cmd);
    } else {
        json_decref(hc);
        json_decref(test);
        return instr_error(b, in, err, SW_EINVAL, "HEALTHCHECK needs CMD <command> or NONE");
    }
    json_object_set_new(hc, "Test", test);
    static const char *const durations[][2] = {
        { "interval", "Interval" },
        { "timeout", "Timeout" },
        { "start-period", "StartPeriod" },
        { "start-interval", "StartInterval" },
    };
    for (size_t i = 0; i < 4; i++) {
        const char *v = flag_value(in, durations[i][0]);
        int64_t ns = 0;
        if (v == NULL)
            continue;
        if (parse_go_duration(v, &ns) != 0 || ns < 0) {
            json_decref(hc);
            return instr_error(b, in, err, SW_EINVAL,
                               "invalid --%s=%s: expected a duration "
                               "such as 30s",
                               durations[i][0], v);
        }
        json_object_set_new(hc, durations[i][1], json_integer(ns));
    }
    const char *retries = flag_value(in, "retries");
    if (retries) {
        char *end = NULL;
        long r = strtol(retries, &end, 10);
        if (*retries == '\0' || *end || r < 0) {
            json_decref(hc);
            return instr_error(b, in, err, SW_EINVAL, "invalid --retries=%s", retries);
        }
        json_object_set_new(hc, "Retries", json_integer(r));
    }
    json_object_set_new(bld_image_runconfig(&st->image), "Healthcheck", hc);
    char *hc_text = json_dumps(json_object_get(hc, "Test"), JSON_COMPACT);
    char *text = NULL;
    int rc = hc_text && asprintf(&text, "HEALTHCHECK %s", hc_text) >= 0
                 ? add_history(b, st, text, err)
                 : sw_error_oom(err);
    free(hc_text);
    free(text);
    return rc;
}

static int do_onbuild(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    if (in->onbuild == NULL)
        return instr_error(b, in, err, SW_EINVAL, "ONBUILD needs an instruction");
    const char *kw = in->onbuild->keyword;
    if (strcmp(kw, "onbuild") == 0 || strcmp(kw, "from") == 0 || strcmp(kw, "maintainer") == 0)
        return instr_error(b, in, err, SW_EINVAL, "%s isn't allowed as an ONBUILD trigger", kw);
    json_t *cfg = bld_image_runconfig(&st->image);
    json_t *triggers = json_object_get(cfg, "OnBuild");
    if (!json_is_array(triggers)) {
        triggers = json_array();
        json_object_set_new(cfg, "OnBuild", triggers);
    }
    json_array_append_new(triggers, json_string(in->onbuild->original));
    char *text = NULL;
    int rc = asprintf(&text, "ONBUILD %s", in->onbuild->original) >= 0
                 ? add_history(b, st, text, err)
                 : sw_error_oom(err);
    free(text);
    return rc;
}

/* ---- FROM --------------------------------------------------------------- */

static int host_is_local(const struct build *b, const char *domain)
{
    const struct sw_config *cfg = b->opts->config;
    if (cfg == NULL || cfg->local_hosts == NULL)
        return 0;
    for (char **h = cfg->local_hosts; *h; h++)
        if (strcmp(*h, domain) == 0)
            return 1;
    return 0;
}

/* The repository a pulled image is kept under: the remote-image cache's
 * prefix (registry/names.h: a name no push can write), its registry host
 * (made a valid name component) and its path, e.g.
 * _remote/docker.io/library/busybox or _remote/127.0.0.1-5000/base/busybox,
 * so that the same path on two registries never mixes and a pushed
 * docker.io/library/busybox is never taken for the remote one. malloc'd. */
static char *pulled_repo_name(const struct reg_ref *ref)
{
    char *host = strdup(ref->domain), *out = NULL;
    if (host == NULL)
        return NULL;
    size_t host_len = strlen(host);
    for (size_t i = 0; i < host_len; i++) {
        char c = (char)tolower((unsigned char)host[i]);
        host[i] = (isalnum((unsigned char)c) || c == '.') ? c : '-';
    }
    /* no separator at the ends of the host component */
    const char *h = host;
    while (*h == '-' || *h == '.')
        h++;
    if (asprintf(&out, "%s%s/%s", REG_REMOTE_PREFIX, h, ref->path) < 0)
        out = NULL;
    free(host);
    return out;
}

/* Tenancy: an image of our store (not the remote-image cache) is read only
 * when the build's identity may pull its repository. */
static int check_pull_access(struct build *b, const char *repo, sw_error **err)
{
    const struct bld_build_options *o = b->opts;
    if (!o->check_access || reg_name_is_remote(repo) ||
        (reg_access_for(o->config, o->run_as, repo) & REG_ACCESS_PULL))
        return 0;
    return sw_error_set(err, SW_EPERM, "%s%s%s%s%s may not pull %s (registry.auth.rules)",
                        o->run_as ? "user " : "", o->run_as ? o->run_as : "anonymous",
                        o->identity_of ? " (" : "", o->identity_of ? o->identity_of : "",
                        o->identity_of ? ")" : "", repo);
}

/* 1 when the reference names its registry host itself (not docker.io by
 * default): its first component has a '.' or ':' or is localhost. */
static int has_explicit_host(const char *ref_text)
{
    const char *slash = strchr(ref_text, '/');
    if (slash == NULL)
        return 0;
    size_t len = (size_t)(slash - ref_text);
    return memchr(ref_text, '.', len) || memchr(ref_text, ':', len) ||
           (len == 9 && strncmp(ref_text, "localhost", 9) == 0);
}

/* 1 when a loaded image is for `platform` (NULL: the host's). */
static int image_is_for(const struct bld_image *img, const char *platform)
{
    char os[32], arch[32], variant[32];
    if (bld_platform_parse(platform ? platform : bld_platform_host(), os, arch, variant, NULL) != 0)
        return 0;
    const char *img_os = json_string_value(json_object_get(img->config, "os"));
    const char *img_arch = json_string_value(json_object_get(img->config, "architecture"));
    return img_os && img_arch && strcmp(img_os, os) == 0 && strcmp(img_arch, arch) == 0;
}

/* Tries repo:reference in our store for the platform; 0 when found. */
static int try_local(struct build *b, const char *repo, const char *reference, const char *platform,
                     struct bld_image *out)
{
    if (!reg_name_valid_stored(repo))
        return -1;
    if (bld_image_load(b->store, repo, reference, platform, out, NULL) != 0)
        return -1;
    if (image_is_for(out, platform))
        return 0;
    bld_image_release(out);
    return -1;
}

/* Loads an image for FROM or COPY --from. A host in registry.local_hosts
 * means our own store. Otherwise a copy pulled before (kept in the
 * remote-image cache under _remote/<host>/<path>) is used, then, for
 * references without an explicit host, an image of that name in our store
 * (imported, pushed or built here), and only then is the image pulled
 * through the registry client and kept, so the next build needs no network.
 * Images of our store are read only with the identity's pull right
 * (check_pull_access); that error is returned as it is, unprefixed. */
static int load_base_image(struct build *b, const char *ref_text, const char *platform,
                           struct bld_image *out, char **stored_ref, sw_error **err)
{
    struct reg_ref ref = { 0 };
    char *pulled_repo = NULL;
    const char *used_repo = NULL;
    int rc = reg_ref_parse(ref_text, &ref, err);
    if (rc != 0)
        return rc;
    const char *reference = ref.digest ? ref.digest : ref.tag;
    memset(out, 0, sizeof(*out));
    if (host_is_local(b, ref.domain)) {
        if ((rc = check_pull_access(b, ref.path, err)) != 0) {
            reg_ref_release(&ref);
            return rc;
        }
        rc = bld_image_load(b->store, ref.path, reference, platform, out, err);
        if (rc == 0 && !image_is_for(out, platform)) {
            bld_image_release(out);
            rc = sw_error_set(err, SW_ENOTFOUND, "%s is not an image for %s", ref_text,
                              platform ? platform : bld_platform_host());
        }
        used_repo = ref.path;
        goto done;
    }
    pulled_repo = pulled_repo_name(&ref);
    SW_CHECK_ALLOC(pulled_repo, rc, err, done);
    if (try_local(b, pulled_repo, reference, platform, out) == 0) {
        used_repo = pulled_repo;
        goto done;
    }
    if (!has_explicit_host(ref_text) && try_local(b, ref.path, reference, platform, out) == 0) {
        if ((rc = check_pull_access(b, ref.path, err)) != 0) {
            bld_image_release(out);
            free(pulled_repo);
            reg_ref_release(&ref);
            return rc;
        }
        used_repo = ref.path;
        goto done;
    }
    progress(b, "       pulling %s\n", ref_text);
    const struct sw_config *cfg = b->opts->config;
    size_t n_creds = cfg ? cfg->n_credentials : 0;
    struct reg_credential *creds = calloc(n_creds + 1, sizeof(*creds));
    SW_CHECK_ALLOC(creds, rc, err, done);
    for (size_t i = 0; i < n_creds; i++) {
        creds[i].host = cfg->credentials[i].host;
        creds[i].username = cfg->credentials[i].username;
        creds[i].password = cfg->credentials[i].password;
    }
    struct reg_client_options client = {
        .insecure_hosts = cfg ? (const char *const *)cfg->insecure_hosts : NULL,
        .credentials = creds,
        .n_credentials = n_creds,
        .mirrors = cfg ? cfg->mirrors : NULL,
        .n_mirrors = cfg ? cfg->n_mirrors : 0,
    };
    struct reg_pull_result pulled;
    rc = reg_client_pull(b->store, &client, ref_text, platform, pulled_repo,
                         ref.digest ? NULL : ref.tag, &pulled, err);
    free(creds);
    if (rc != 0)
        goto done;
    rc = bld_image_load(b->store, pulled_repo, pulled.manifest_digest, platform, out, err);
    used_repo = pulled_repo;
done:
    if (rc == 0 && stored_ref) {
        *stored_ref = NULL;
        if (ref.digest == NULL && asprintf(stored_ref, "%s:%s", used_repo, ref.tag) < 0)
            *stored_ref = NULL;
    }
    if (rc != 0)
        sw_error_prefix(err, "loading image %s", ref_text);
    free(pulled_repo);
    reg_ref_release(&ref);
    return rc;
}

static int run_instruction(struct build *b, struct stage *st, const struct instr *in,
                           sw_error **err);

static int do_from(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
{
    char *base = NULL;
    int rc = expand_word(b, &b->meta_args, in->args[0], &base, err);
    if (rc != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    /* FROM --platform=...: this stage's base for that platform */
    char *platform = NULL;
    const char *platform_flag = flag_value(in, "platform");
    if (platform_flag && *platform_flag &&
        (rc = expand_word(b, &b->meta_args, platform_flag, &platform, err)) != 0) {
        free(base);
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    const char *stage_platform = platform ? platform : b->opts->platform;
    struct stage *earlier = find_stage(b, base, (size_t)(st - b->stages));
    if (earlier && earlier != st && !is_number(base)) {
        rc = bld_image_copy(&earlier->image, &st->image, err);
        snprintf(st->key, sizeof(st->key), "%s", earlier->key);
        if (rc == 0 && earlier->base_ref)
            st->base_ref = strdup(earlier->base_ref);
    } else if (strcasecmp(base, "scratch") == 0) {
        rc = bld_image_scratch(stage_platform, &st->image, err);
        snprintf(st->key, sizeof(st->key), "scratch:%s",
                 stage_platform ? stage_platform : bld_platform_host());
    } else {
        rc = load_base_image(b, base, stage_platform, &st->image, &st->base_ref, err);
        if (rc == 0)
            snprintf(st->key, sizeof(st->key), "%s", st->image.digest);
        if (rc != 0)
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
    }
    free(base);
    free(platform);
    if (rc != 0)
        return rc;
    /* as BuildKit: a stage whose base has no PATH gets the default one in
     * its config, so `CMD ["cat", "/file"]` finds cat when the image runs */
    if (bld_image_env_get(&st->image, "PATH") == NULL &&
        (rc = bld_image_env_set(&st->image, "PATH", DEFAULT_PATH, err)) != 0)
        return rc;
    /* metadata steps before the first layer step take the base's time,
     * so that a rebuild from cache repeats them */
    const char *base_created = json_string_value(json_object_get(st->image.config, "created"));
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    if (base_created && strptime(base_created, "%Y-%m-%dT%H:%M:%S", &tm) != NULL)
        st->last_time = (int64_t)timegm(&tm);

    /* layers made with another compression, or with mtimes clamped to
     * another epoch, are other blobs: not the same cache */
    char epoch[32];
    snprintf(epoch, sizeof(epoch), "%lld", (long long)b->opts->source_date_epoch);
    const char *layer_format[] = { sw_compression_oci_media_type(b->opts->compression), epoch };
    chain_key(st, "layer-format", layer_format, 2);
    /* caches are per repository and identity: no cache hit hands this
     * build a layer that another repository's build made */
    if (b->opts->cache_scope) {
        const char *scope[] = { b->opts->cache_scope };
        chain_key(st, "cache-scope", scope, 1);
    }

    /* ONBUILD triggers of the base run now, and are not inherited */
    json_t *cfg = bld_image_runconfig(&st->image);
    json_t *triggers = json_incref(json_object_get(cfg, "OnBuild"));
    json_object_del(cfg, "OnBuild");
    size_t i;
    json_t *trigger;
    json_array_foreach(triggers, i, trigger) {
        struct instr *parsed = NULL;
        const char *text = json_string_value(trigger);
        if (text == NULL)
            continue;
        progress(b, "       ONBUILD %s\n", text);
        if ((rc = parse_trigger(b, text, in->line, &parsed, err)) != 0)
            break;
        rc = run_instruction(b, st, parsed, err);
        free_instr(parsed);
        free(parsed);
        if (rc != 0)
            break;
    }
    json_decref(triggers);
    return rc;
}

static int run_instruction(struct build *b, struct stage *st, const struct instr *in,
                           sw_error **err)
{
    const char *kw = in->keyword;
    double started = now_s();
    int rc;
    if (strcmp(kw, "run") == 0)
        rc = do_run(b, st, in, started, err);
    else if (strcmp(kw, "copy") == 0 || strcmp(kw, "add") == 0)
        rc = do_copy(b, st, in, started, err);
    else if (strcmp(kw, "env") == 0)
        rc = do_pairs(b, st, in, 1, err);
    else if (strcmp(kw, "label") == 0)
        rc = do_pairs(b, st, in, 0, err);
    else if (strcmp(kw, "arg") == 0)
        rc = do_arg(b, st, in, err);
    else if (strcmp(kw, "workdir") == 0)
        rc = do_workdir(b, st, in, started, err);
    else if (strcmp(kw, "user") == 0)
        rc = set_string(b, st, in, "User", "USER", err);
    else if (strcmp(kw, "stopsignal") == 0)
        rc = set_string(b, st, in, "StopSignal", "STOPSIGNAL", err);
    else if (strcmp(kw, "cmd") == 0)
        rc = do_command(b, st, in, "Cmd", "CMD", err);
    else if (strcmp(kw, "entrypoint") == 0)
        rc = do_command(b, st, in, "Entrypoint", "ENTRYPOINT", err);
    else if (strcmp(kw, "shell") == 0)
        rc = do_shell(b, st, in, err);
    else if (strcmp(kw, "expose") == 0)
        rc = do_set_of(b, st, in, "ExposedPorts", "EXPOSE", err);
    else if (strcmp(kw, "volume") == 0)
        rc = do_set_of(b, st, in, "Volumes", "VOLUME", err);
    else if (strcmp(kw, "healthcheck") == 0)
        rc = do_healthcheck(b, st, in, err);
    else if (strcmp(kw, "onbuild") == 0)
        rc = do_onbuild(b, st, in, err);
    else if (strcmp(kw, "maintainer") == 0) {
        json_object_set_new(st->image.config, "author", json_string(in->n_args ? in->args[0] : ""));
        char *text = NULL;
        rc = asprintf(&text, "MAINTAINER %s", in->n_args ? in->args[0] : "") < 0
                 ? sw_error_oom(err)
                 : add_history(b, st, text, err);
        free(text);
    } else
        rc = instr_error(b, in, err, SW_EINVAL, "unknown instruction %s", kw);
    return rc;
}

/* ---- stages: which are needed, in which order --------------------------- */

static int split_stages(struct build *b, sw_error **err)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n_instrs; i++)
        if (strcmp(b->instrs[i].keyword, "from") == 0)
            n++;
    if (n == 0)
        return sw_error_set(err, SW_EINVAL,
                            "%s: no FROM instruction: a Dockerfile must "
                            "start with FROM (after ARGs and comments)",
                            b->dockerfile);
    b->stages = calloc(n, sizeof(*b->stages));
    if (b->stages == NULL)
        return sw_error_oom(err);
    size_t s = 0;
    for (size_t i = 0; i < b->n_instrs; i++) {
        struct instr *in = &b->instrs[i];
        if (strcmp(in->keyword, "from") != 0) {
            if (s == 0 && strcmp(in->keyword, "arg") != 0)
                return sw_error_set(err, SW_EINVAL,
                                    "%s:%d: %s: only ARG may come before the "
                                    "first FROM",
                                    b->dockerfile, in->line, in->original);
            continue;
        }
        if (in->n_args != 1 && !(in->n_args == 3 && strcasecmp(in->args[1], "as") == 0))
            return sw_error_set(err, SW_EINVAL,
                                "%s:%d: %s: FROM takes an image and "
                                "optionally AS name",
                                b->dockerfile, in->line, in->original);
        struct stage *st = &b->stages[s];
        st->first = i;
        if (s > 0)
            b->stages[s - 1].end = i;
        if (in->n_args == 3) {
            st->name = strdup(in->args[2]);
            for (char *c = st->name; c && *c; c++)
                *c = (char)tolower((unsigned char)*c);
            for (size_t j = 0; j < s; j++)
                if (b->stages[j].name && strcmp(b->stages[j].name, st->name) == 0)
                    return sw_error_set(err, SW_EINVAL,
                                        "%s:%d: stage name '%s' is used "
                                        "twice",
                                        b->dockerfile, in->line, st->name);
        }
        s++;
    }
    b->stages[s - 1].end = b->n_instrs;
    b->n_stages = s;
    return 0;
}

static void mark_needed(struct build *b, size_t idx);

/* The stages RUN --mount=from=... of stage idx reads. */
static void mark_mount_deps(struct build *b, size_t idx, const struct instr *in)
{
    for (size_t k = 0; k < in->n_flags; k++) {
        struct bld_mount m;
        if (strcmp(in->flags[k].name, "mount") != 0 ||
            bld_mount_parse(in->flags[k].value, NULL, &m, NULL) != 0)
            continue;
        struct stage *d = m.from ? find_stage(b, m.from, idx) : NULL;
        if (d)
            mark_needed(b, (size_t)(d - b->stages));
        bld_mount_free(&m);
    }
}

/* Marks stage idx and everything it depends on (FROM stage, COPY --from). */
static void mark_needed(struct build *b, size_t idx)
{
    struct stage *st = &b->stages[idx];
    if (st->needed)
        return;
    st->needed = 1;
    for (size_t i = st->first; i < st->end; i++) {
        const struct instr *in = &b->instrs[i];
        const char *dep = NULL;
        char *expanded = NULL;
        if (i == st->first)
            dep = in->args[0];
        else if (strcmp(in->keyword, "copy") == 0 || strcmp(in->keyword, "add") == 0)
            dep = flag_value(in, "from");
        else if (strcmp(in->keyword, "run") == 0)
            mark_mount_deps(b, idx, in);
        if (dep == NULL)
            continue;
        if (expand_word(b, &b->meta_args, dep, &expanded, NULL) != 0)
            continue;
        struct stage *d = find_stage(b, expanded, idx);
        if (d && (i != st->first || !is_number(expanded)))
            mark_needed(b, (size_t)(d - b->stages));
        free(expanded);
    }
}

/* Global ARGs (before the first FROM): values for FROM lines, and what a
 * stage's bare `ARG NAME` inherits. */
static int meta_args(struct build *b, sw_error **err)
{
    char os[32], arch[32], variant[32];
    const char *platform = b->opts->platform ? b->opts->platform : bld_platform_host();
    int rc = bld_platform_parse(platform, os, arch, variant, err);
    if (rc != 0)
        return rc;
    const char *host = bld_platform_host();
    kv_set(&b->meta_args, "TARGETPLATFORM", platform);
    kv_set(&b->meta_args, "TARGETOS", os);
    kv_set(&b->meta_args, "TARGETARCH", arch);
    kv_set(&b->meta_args, "TARGETVARIANT", variant);
    kv_set(&b->meta_args, "BUILDPLATFORM", host);
    kv_set(&b->meta_args, "BUILDOS", "linux");
    kv_set(&b->meta_args, "BUILDARCH", strchr(host, '/') + 1);
    for (size_t i = 0; i < b->n_instrs && strcmp(b->instrs[i].keyword, "from") != 0; i++) {
        const struct instr *in = &b->instrs[i];
        for (size_t j = 0; j < in->n_args; j++) {
            char *name = strdup(in->args[j]);
            char *eq = name ? strchr(name, '=') : NULL;
            char *def = NULL;
            if (eq) {
                *eq = '\0';
                if ((rc = expand_word(b, &b->meta_args, eq + 1, &def, err)) != 0) {
                    free(name);
                    sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
                    return rc;
                }
            }
            const char *value = NULL;
            if (arg_value(b, name, def, NULL, &value))
                kv_set(&b->meta_args, name, value);
            free(def);
            free(name);
        }
    }
    return 0;
}

static int parse_build_args(struct build *b, sw_error **err)
{
    for (size_t i = 0; i < b->opts->n_build_args; i++) {
        const char *a = b->opts->build_args[i];
        const char *eq = strchr(a, '=');
        char *name = eq ? strndup(a, (size_t)(eq - a)) : strdup(a);
        const char *value = eq ? eq + 1 : getenv(a);
        if (name == NULL)
            return sw_error_oom(err);
        if (*name == '\0') {
            free(name);
            return sw_error_set(err, SW_EINVAL, "--build-arg '%s': expected NAME=VALUE", a);
        }
        if (value)
            kv_set(&b->build_args, name, value);
        free(name);
    }
    return 0;
}

/* ---- the build ----------------------------------------------------------- */

static int build_stage(struct build *b, struct stage *st, sw_error **err)
{
    int rc = 0;
    for (size_t i = st->first; i < st->end && rc == 0; i++) {
        const struct instr *in = &b->instrs[i];
        if (b->opts->cancel && *b->opts->cancel)
            return sw_error_set(err, SW_ECANCELED, "build canceled");
        b->step++;
        if (b->opts->on_step == NULL)
            progress(b, "[%d/%d] %s\n", b->step, b->total_steps, in->original);
        struct bld_step_event ev = {
            .index = b->step, .total = b->total_steps, .instruction = in->original, .line = in->line
        };
        if (b->opts->on_step)
            b->opts->on_step(b->opts->step_ctx, &ev);
        double started = now_s();
        int cached_before = b->cached_steps;
        if (i == st->first)
            rc = do_from(b, st, in, err);
        else
            rc = run_instruction(b, st, in, err);
        if (rc == 0 && b->cached_steps == cached_before && b->opts->on_step == NULL &&
            (strcmp(in->keyword, "run") == 0 || strcmp(in->keyword, "copy") == 0 ||
             strcmp(in->keyword, "add") == 0))
            progress(b, "DONE %.1fs\n", now_s() - started);
        if (b->opts->on_step) {
            ev.done = 1;
            ev.cached = b->cached_steps != cached_before;
            ev.failed = rc != 0;
            ev.error = rc != 0 && err && *err ? sw_error_message(*err) : NULL;
            b->opts->on_step(b->opts->step_ctx, &ev);
        }
    }
    if (rc == 0)
        st->built = 1;
    return rc;
}

/* The repository and tag of "repo[:tag]" (tag defaults to latest). */
static int split_tag(const char *spec, char **repo, char **tag, sw_error **err)
{
    const char *slash = strrchr(spec, '/');
    const char *colon = strrchr(spec, ':');
    if (colon && slash && colon < slash)
        colon = NULL;
    *repo = colon ? strndup(spec, (size_t)(colon - spec)) : strdup(spec);
    *tag = strdup(colon ? colon + 1 : "latest");
    if (*repo == NULL || *tag == NULL)
        return sw_error_oom(err);
    if (!reg_name_valid(*repo))
        return sw_error_set(err, SW_EINVAL, "invalid repository name '%s' in tag '%s'", *repo,
                            spec);
    if (!reg_tag_valid(*tag))
        return sw_error_set(err, SW_EINVAL, "invalid tag '%s' in '%s'", *tag, spec);
    return 0;
}

/* Writes the final image into every tagged repository. */
static int store_result(struct build *b, struct stage *st, struct bld_build_result *result,
                        sw_error **err)
{
    bld_image_set_created(&st->image, step_time(b, st));
    json_object_del(st->image.config, "container_config");
    if (b->opts->labels && json_object_size(b->opts->labels) > 0) {
        json_t *cfg = bld_image_runconfig(&st->image);
        json_t *labels = json_object_get(cfg, "Labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(cfg, "Labels", labels);
        }
        json_object_update(labels, b->opts->labels);
    }
    if (b->opts->n_tags == 0) {
        const char *repo = b->opts->repo ? b->opts->repo : UNTAGGED_REPO;
        snprintf(result->repo, sizeof(result->repo), "%s", repo);
        return bld_image_write(b->store, &st->image, repo, NULL, 0, NULL, result->digest, err);
    }
    int rc = 0;
    for (size_t i = 0; i < b->opts->n_tags && rc == 0; i++) {
        char *repo = NULL, *tag = NULL;
        rc = split_tag(b->opts->tags[i], &repo, &tag, err);
        if (rc == 0) {
            const char *tags[] = { tag };
            rc = bld_image_write(b->store, &st->image, repo, tags, 1, NULL, result->digest, err);
            if (rc == 0 && i == 0)
                snprintf(result->repo, sizeof(result->repo), "%s", repo);
        }
        free(repo);
        free(tag);
    }
    return rc;
}

int bld_build(reg_store *store, const struct bld_build_options *opts,
              struct bld_build_result *result, sw_error **err)
{
    struct build b = { .store = store, .opts = opts, .escape = '\\' };
    char *dockerfile = NULL;
    int rc = 0;
    double started = now_s();

    memset(result, 0, sizeof(*result));
    dockerfile =
        opts->dockerfile ? strdup(opts->dockerfile) : sw_path_join(opts->context_dir, "Dockerfile");
    if (dockerfile == NULL)
        return sw_error_oom(err);
    b.dockerfile = dockerfile;
    b.base_images = json_array();

    /* validate the tags before doing any work */
    for (size_t i = 0; i < opts->n_tags; i++) {
        char *repo = NULL, *tag = NULL;
        rc = split_tag(opts->tags[i], &repo, &tag, err);
        free(repo);
        free(tag);
        if (rc != 0)
            goto cleanup;
    }
    if ((rc = parse_build_args(&b, err)) || (rc = load_dockerfile(&b, err)) ||
        (rc = load_ignore(&b, err)) || (rc = split_stages(&b, err)) || (rc = meta_args(&b, err)))
        goto cleanup;

    size_t target = b.n_stages - 1;
    if (opts->target) {
        struct stage *t = find_stage(&b, opts->target, b.n_stages);
        if (t == NULL || is_number(opts->target)) {
            rc = sw_error_set(err, SW_ENOTFOUND, "target stage '%s' could not be found",
                              opts->target);
            goto cleanup;
        }
        target = (size_t)(t - b.stages);
    }
    mark_needed(&b, target);
    for (size_t i = 0; i <= target; i++)
        if (b.stages[i].needed)
            b.total_steps += (int)(b.stages[i].end - b.stages[i].first);
    for (size_t i = 0; i <= target && rc == 0; i++)
        if (b.stages[i].needed)
            rc = build_stage(&b, &b.stages[i], err);
    if (rc != 0)
        goto cleanup;
    if ((rc = store_result(&b, &b.stages[target], result, err)) != 0)
        goto cleanup;
    if (b.stages[target].base_ref)
        json_array_append_new(b.base_images, json_string(b.stages[target].base_ref));
    result->steps = b.step;
    result->cached_steps = b.cached_steps;
    result->base_images = b.base_images;
    b.base_images = NULL;
    progress(&b, "Built %s in %.1fs (%d steps, %d cached)\n", result->digest, now_s() - started,
             b.step, b.cached_steps);
cleanup:
    for (size_t i = 0; i < b.n_ro_mounts; i++) {
        char *root = sw_path_join(b.ro_mounts[i], "rootfs");
        if (root)
            bld_overlay_unmount(root, NULL);
        free(root);
        sw_rm_rf(b.ro_mounts[i], NULL);
        free(b.ro_mounts[i]);
    }
    for (size_t i = 0; i < b.n_stages; i++) {
        free(b.stages[i].name);
        free(b.stages[i].base_ref);
        kv_free(&b.stages[i].args);
        bld_image_release(&b.stages[i].image);
    }
    free(b.stages);
    for (size_t i = 0; i < b.n_instrs; i++)
        free_instr(&b.instrs[i]);
    free(b.instrs);
    free_ignore(&b);
    kv_free(&b.meta_args);
    kv_free(&b.build_args);
    json_decref(b.base_images);
    free(dockerfile);
    sw_profile_report(stderr, (uint64_t)((now_s() - started) * 1e9));
    return rc;
}

void bld_build_result_release(struct bld_build_result *result)
{
    if (result == NULL)
        return;
    json_decref(result->base_images);
    result->base_images = NULL;
}

/* ---- glue to the parser, the shell lexer and .dockerignore --------------- */

static const char *kv_lookup(void *ctx, const char *name)
{
    return kv_get(ctx, name);
}

static int expand_word(struct build *b, const struct kv_list *vars, const char *word, char **out,
                       sw_error **err)
{
    return bld_shell_expand_word(word, b->escape, kv_lookup, (void *)vars, out, err);
}

static void free_instr(struct instr *in)
{
    if (in == NULL)
        return;
    free(in->keyword);
    free(in->original);
    for (size_t i = 0; i < in->n_flags; i++) {
        free(in->flags[i].name);
        free(in->flags[i].value);
    }
    free(in->flags);
    for (size_t i = 0; i < in->n_args; i++)
        free(in->args[i]);
    free(in->args);
    for (size_t i = 0; i < in->n_heredocs; i++) {
        free(in->heredocs[i].name);
        free(in->heredocs[i].content);
    }
    free(in->heredocs);
    if (in->onbuild) {
        free_instr(in->onbuild);
        free(in->onbuild);
    }
    memset(in, 0, sizeof(*in));
}

/* Fills an instruction from a parse-tree node. ENV and LABEL come as
 * key/value/separator triples and become key/value pairs. */
static int instr_from_node(const bld_node *node, struct instr *in)
{
    memset(in, 0, sizeof(*in));
    in->keyword = strdup(node->value);
    in->original = strdup(node->original ? node->original : node->value);
    in->line = node->start_line;
    in->is_json = node->is_json;
    if (!in->keyword || !in->original)
        return -1;
    in->flags = calloc(node->n_flags + 1, sizeof(*in->flags));
    if (in->flags == NULL)
        return -1;
    for (size_t i = 0; i < node->n_flags; i++) {
        const char *f = node->flags[i];
        f += strncmp(f, "--", 2) == 0 ? 2 : 0;
        const char *eq = strchr(f, '=');
        in->flags[i].name = eq ? strndup(f, (size_t)(eq - f)) : strdup(f);
        in->flags[i].value = strdup(eq ? eq + 1 : "");
        if (!in->flags[i].name || !in->flags[i].value)
            return -1;
        in->n_flags++;
    }
    if (strcmp(node->value, "onbuild") == 0) {
        if (node->next && node->next->n_children > 0) {
            in->onbuild = calloc(1, sizeof(*in->onbuild));
            if (in->onbuild == NULL || instr_from_node(node->next->children[0], in->onbuild) != 0)
                return -1;
            /* the trigger as the user wrote it, without "ONBUILD " */
            const char *o = node->original ? node->original : "";
            while (*o == ' ' || *o == '\t')
                o++;
            o += strcspn(o, " \t");
            o += strspn(o, " \t");
            free(in->onbuild->original);
            in->onbuild->original = strdup(o);
        }
        return 0;
    }
    int triples = strcmp(node->value, "env") == 0 || strcmp(node->value, "label") == 0;
    size_t count = 0;
    for (const bld_node *a = node->next; a; a = a->next)
        count++;
    in->args = calloc(count + 1, sizeof(char *));
    if (in->args == NULL)
        return -1;
    size_t idx = 0;
    for (const bld_node *a = node->next; a; a = a->next, idx++) {
        if (triples && idx % 3 == 2)
            continue; /* the separator */
        if ((in->args[in->n_args++] = strdup(a->value)) == NULL)
            return -1;
    }
    if (node->n_heredocs) {
        in->heredocs = calloc(node->n_heredocs, sizeof(*in->heredocs));
        if (in->heredocs == NULL)
            return -1;
        for (size_t i = 0; i < node->n_heredocs; i++) {
            const struct bld_heredoc *h = &node->heredocs[i];
            in->heredocs[i].name = strdup(h->name);
            in->heredocs[i].content = strdup(h->content);
            in->heredocs[i].expand = h->expand;
            in->n_heredocs++;
            if (!in->heredocs[i].name || !in->heredocs[i].content)
                return -1;
            if (h->chomp) /* <<-: leading tabs go, for COPY (RUN's shell does it itself) */
                for (char *line = in->heredocs[i].content; *line;) {
                    size_t tabs = strspn(line, "\t");
                    memmove(line, line + tabs, strlen(line + tabs) + 1);
                    char *nl = strchr(line, '\n');
                    line = nl ? nl + 1 : line + strlen(line);
                }
        }
    }
    return 0;
}

/* The flags of an instruction (and of an ONBUILD's trigger) against the
 * table of builder/flags.c: nothing unknown is ignored. */
static int check_node_flags(struct build *b, const bld_node *node, sw_error **err)
{
    int rc = bld_flags_check(node->value, (const char *const *)node->flags, node->n_flags,
                             b->dockerfile, node->start_line, err);
    if (rc == 0 && strcmp(node->value, "onbuild") == 0 && node->next && node->next->n_children)
        rc = bld_flags_check(
            node->next->children[0]->value, (const char *const *)node->next->children[0]->flags,
            node->next->children[0]->n_flags, b->dockerfile, node->start_line, err);
    return rc;
}

static int load_dockerfile(struct build *b, sw_error **err)
{
    struct bld_dockerfile *df = NULL;
    int rc = bld_dockerfile_parse_file(b->dockerfile, &df, err);
    if (rc != 0)
        return rc;
    b->escape = df->escape;
    size_t n = df->root->n_children;
    b->instrs = calloc(n ? n : 1, sizeof(*b->instrs));
    if (b->instrs == NULL) {
        bld_dockerfile_free(df);
        return sw_error_oom(err);
    }
    for (size_t i = 0; i < n; i++) {
        if (instr_from_node(df->root->children[i], &b->instrs[i]) != 0) {
            b->n_instrs = i + 1;
            bld_dockerfile_free(df);
            return sw_error_oom(err);
        }
        b->n_instrs = i + 1;
        static const char *const known[] = { "add",         "arg",     "cmd",        "copy",
                                             "entrypoint",  "env",     "expose",     "from",
                                             "healthcheck", "label",   "maintainer", "onbuild",
                                             "run",         "shell",   "stopsignal", "user",
                                             "volume",      "workdir", NULL };
        int ok = 0;
        for (const char *const *k = known; *k; k++)
            ok |= strcmp(*k, b->instrs[i].keyword) == 0;
        if (!ok) {
            int line = b->instrs[i].line;
            char kw[64];
            snprintf(kw, sizeof(kw), "%s", b->instrs[i].original);
            kw[strcspn(kw, " \t")] = '\0';
            bld_dockerfile_free(df);
            return sw_error_set(err, SW_EINVAL, "%s:%d: unknown instruction: %s", b->dockerfile,
                                line, kw);
        }
        if (check_node_flags(b, df->root->children[i], err) != 0) {
            bld_dockerfile_free(df);
            return SW_EINVAL;
        }
    }
    bld_dockerfile_free(df);
    return 0;
}

static int parse_trigger(struct build *b, const char *text, int line, struct instr **out,
                         sw_error **err)
{
    bld_node *node = NULL;
    int rc = bld_dockerfile_parse_line(text, b->escape, &node, err);
    if (rc != 0) {
        sw_error_prefix(err, "ONBUILD trigger '%s'", text);
        return rc;
    }
    if ((rc = bld_flags_check(node->value, (const char *const *)node->flags, node->n_flags,
                              b->dockerfile, line, err)) != 0) {
        sw_error_prefix(err, "ONBUILD trigger '%s'", text);
        bld_node_free(node);
        return rc;
    }
    struct instr *in = calloc(1, sizeof(*in));
    if (in == NULL || instr_from_node(node, in) != 0) {
        free_instr(in);
        free(in);
        bld_node_free(node);
        return sw_error_oom(err);
    }
    in->line = line;
    bld_node_free(node);
    *out = in;
    return 0;
}

static int load_ignore(struct build *b, sw_error **err)
{
    bld_ignore *ig = NULL;
    /* the resolved Dockerfile path: <context>/Dockerfile.dockerignore counts too */
    int rc = bld_ignore_load(b->opts->context_dir, b->dockerfile, &ig, err);
    if (rc == 0)
        b->ignore = ig;
    return rc;
}

static void free_ignore(struct build *b)
{
    bld_ignore_free(b->ignore);
    b->ignore = NULL;
}

static int exclude_cb(void *ctx, const char *rel, int is_dir)
{
    struct build *b = ctx;
    if (b->ignore == NULL || !bld_ignore_matches(b->ignore, rel))
        return 0;
    /* an excluded directory is still walked when an exception may
     * re-include something below it */
    return !(is_dir && bld_ignore_dir_needed(b->ignore, rel));
}
