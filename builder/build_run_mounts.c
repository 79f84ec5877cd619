/*
 * build_run_mounts.c - RUN --mount: the mounts of a step (cache, bind,
 * tmpfs, secret), their part of the cache key, and what they hold until
 * the step ends.
 */
#include "builder/build_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "builder/copy.h"
#include "builder/layers.h"
#include "core/fs.h"

/* ---- RUN --mount ------------------------------------------------------------ */

void bld_run_mounts_free(struct run_mounts *rm)
{
    for (size_t i = 0; i < rm->n_agents; i++) /* ssh agents end with the step */
        bld_ssh_agent_stop(rm->agents[i]);
    free(rm->agents);
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
        bld_cache_mount_release(rm->locks[i]); /* records the last use */
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

/* Parses the --mount flags of a RUN (targets relative to cwd), their
 * values expanded with the stage's ARG and ENV first, as BuildKit does
 * (`--mount=type=cache,target=$GOCACHE`, `id=${NPMRC_ID}`). */
int bld_run_mounts_parse(struct build *b, struct stage *st, const struct instr *in, const char *cwd,
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
    rm->agents = calloc(n, sizeof(*rm->agents));
    if (!rm->m || !rm->sb || !rm->owned || !rm->tmp_dirs || !rm->locks || !rm->env || !rm->opts ||
        !rm->agents)
        return sw_error_oom(err);
    for (size_t i = 0; i < in->n_flags; i++) {
        if (strcmp(in->flags[i].name, "mount") != 0)
            continue;
        struct kv_list vars = { 0 };
        char *value = NULL;
        int rc = bld_stage_vars(st, &vars) != 0
                     ? sw_error_oom(err)
                     : bld_expand_word(b, &vars, in->flags[i].value, &value, err);
        bld_kv_free(&vars);
        if (rc == 0)
            rc = bld_mount_parse(value, cwd, &rm->m[rm->n], err);
        free(value);
        if (rc != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            return rc;
        }
        rm->n++;
        const struct bld_mount *m = &rm->m[rm->n - 1];
        if (m->type == BLD_MOUNT_SSH && m->required &&
            bld_ssh_find(b->opts->ssh, b->opts->n_ssh, m->id) == NULL)
            return bld_instr_error(b, in, err, SW_ENOTFOUND,
                                   "ssh %s: not forwarded (slipway build --ssh %s=PATH_TO_KEY, or "
                                   "the repository's ssh_key in the service)",
                                   m->id, m->id);
        if (m->type == BLD_MOUNT_SECRET && m->required && find_secret(b, m->id) == NULL)
            return bld_instr_error(
                b, in, err, SW_ENOTFOUND,
                "secret %s: not provided (slipway build --secret id=%s,src=FILE, "
                "or repos[].secrets in the service config)",
                m->id, m->id);
    }
    int rc = bld_mounts_check(rm->m, rm->n, err);
    if (rc != 0)
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
    return rc;
}

/* Where a bind mount's files come from: a stage, an image, or (from NULL)
 * the context. *root is "" for the context; *key identifies the content. */
static int bind_root(struct build *b, struct stage *st, const struct instr *in, const char *from,
                     char **root, char key[SW_DIGEST_MAX], sw_error **err)
{
    struct stage *src = bld_find_stage(b, from, (size_t)(st - b->stages));
    struct stage image = { 0 };
    int rc = 0;
    if (src == NULL) {
        char *stored = NULL;
        if ((rc = bld_load_base_image(b, from, b->opts->platform, &image.image, &stored, err)) !=
            0) {
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
        rc = bld_mount_readonly(b, src, root, err);
    bld_image_release(&image.image);
    return rc;
}

/* The cache key part of the mounts: their specs, and for bind mounts the
 * content they show (a stage's key, or a digest of the context files).
 * Never a secret's value. */
int bld_run_mounts_key(struct build *b, struct stage *st, const struct instr *in,
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
                                          .excluded = bld_exclude_cb,
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
                                  .excluded = from_context ? bld_exclude_cb : NULL,
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
int bld_run_mounts_prepare(struct build *b, struct stage *st, const struct instr *in,
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
            if (rc == 0 && m->from) { /* from= seeds an empty cache */
                char *root = NULL, key[SW_DIGEST_MAX];
                if ((rc = bind_root(b, st, in, m->from, &root, key, err)) == 0)
                    rc = bld_cache_mount_seed(source, root, m->source,
                                              (uid_t)((m->has_uid ? m->uid : 0) + uoff),
                                              (gid_t)((m->has_gid ? m->gid : 0) + goff), err);
                free(root);
                if (rc != 0)
                    sw_error_prefix(err, "%s:%d: %s: --mount from=%s", b->dockerfile, in->line,
                                    in->original, m->from);
            }
            break;
        }
        case BLD_MOUNT_SSH: { /* an agent socket (builder/ssh_agent.c) */
            const struct bld_ssh_source *ssh = bld_ssh_find(b->opts->ssh, b->opts->n_ssh, m->id);
            char *dir = NULL;
            if (ssh == NULL)
                continue; /* optional and not forwarded: no mount */
            if ((rc = bld_scratch_dir(b->store, "ssh", &dir, err)) != 0)
                break;
            rm->tmp_dirs[rm->n_tmp++] = dir;
            rc = bld_ssh_agent_start(ssh, m, dir, uoff, goff, &rm->agents[rm->n_agents], &source,
                                     err);
            char *kv = NULL;
            if (rc == 0 && rm->n_agents++ == 0) {
                if (asprintf(&kv, "SSH_AUTH_SOCK=%s", m->target) < 0)
                    rc = sw_error_oom(err);
                else
                    rm->env[rm->n_env++] = kv;
            }
            if (rc != 0)
                sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
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
int bld_secret_env(char ***env, const struct run_mounts *rm, sw_error **err)
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
