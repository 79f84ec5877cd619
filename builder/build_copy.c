/*
 * build_copy.c - COPY and ADD: sources from the context, a stage, an
 * image, a heredoc or a URL, and the layer they make.
 */
#include "builder/build_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

#include "builder/addgit.h"
#include "builder/cache.h"
#include "builder/copy.h"
#include "builder/egress.h"
#include "builder/flags.h"
#include "builder/layers.h"
#include "builder/overlay.h"
#include "builder/shell_lex.h"
#include "builder/users.h"
#include "core/cidr.h"
#include "core/fs.h"
#include "core/profile.h"

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
    if (strcmp(bld_configured_network(b), "host") != 0) {
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

struct stage *bld_find_stage(struct build *b, const char *name, size_t before)
{
    if (bld_is_number(name)) {
        size_t idx = (size_t)strtoul(name, NULL, 10);
        return idx < before ? &b->stages[idx] : NULL;
    }
    for (size_t i = 0; i < before; i++)
        if (b->stages[i].name && strcasecmp(b->stages[i].name, name) == 0)
            return &b->stages[i];
    return NULL;
}

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

/* One COPY/ADD step, made in three parts: its sources (copy_sources), its
 * cache key (copy_cache_key) and the layer (copy_apply). */
struct copy_step {
    int is_add;
    int link; /* --link: a layer of the sources alone (see copy_cache_key) */
    struct kv_list vars;
    char **args; /* expanded; the last is the destination as written */
    size_t n_args;
    char *dest; /* absolute (WORKDIR applied) */
    char *src_root, *heredoc_dir, *url_dir;
    struct stage from_image; /* --from=<image> */
    const char **local, **urls;
    char **url_names; /* downloaded files in url_dir */
    size_t n_local, n_urls;
    char **excludes;
    struct bld_copy_spec spec;
    char *created_by;
    char link_key[SW_DIGEST_MAX]; /* --link: the layer's own cache key */
    /* where the last layer of this COPY (same destination, arguments,
     * flags and owner, any content) is recorded, for reuse_root */
    char reuse_key[SW_DIGEST_MAX];
};

static void copy_step_free(struct copy_step *cs)
{
    free(cs->excludes);
    if (cs->heredoc_dir) {
        sw_rm_rf(cs->heredoc_dir, NULL);
        free(cs->heredoc_dir);
    }
    if (cs->url_dir) {
        sw_rm_rf(cs->url_dir, NULL);
        free(cs->url_dir);
    }
    bld_image_release(&cs->from_image.image);
    for (size_t i = 0; i < cs->n_args; i++)
        free(cs->args[i]);
    free(cs->args);
    free(cs->local);
    free(cs->urls);
    for (size_t i = 0; cs->url_names && i < cs->n_args; i++)
        free(cs->url_names[i]);
    free(cs->url_names);
    free(cs->dest);
    free(cs->src_root);
    free(cs->created_by);
    bld_kv_free(&cs->vars);
}

/* Where the sources come from: a stage or an image (--from), the heredocs,
 * or the context. Adds the source's identity to key_text. */
static int copy_source_root(struct build *b, struct stage *st, const struct instr *in,
                            struct copy_step *cs, sw_strbuf *key_text, sw_error **err)
{
    const char *from = bld_flag_value(in, "from");
    int rc = 0;
    if (from && *from) {
        struct stage *src = bld_find_stage(b, from, (size_t)(st - b->stages));
        if (src == NULL) {
            char *stored = NULL;
            if ((rc = bld_load_base_image(b, from, b->opts->platform, &cs->from_image.image,
                                          &stored, err)) != 0) {
                sw_error_prefix(err, "%s:%d: %s: --from=%s", b->dockerfile, in->line, in->original,
                                from);
                return rc;
            }
            free(stored);
            src = &cs->from_image;
            snprintf(cs->from_image.key, sizeof(cs->from_image.key), "%s",
                     cs->from_image.image.digest);
        }
        if ((rc = bld_mount_readonly(b, src, &cs->src_root, err)) != 0)
            return rc;
        sw_strbuf_printf(key_text, "from=%s\n", src->key);
        return 0;
    }
    if (in->n_heredocs > 0) {
        /* COPY <<EOF /dest: each heredoc becomes a file named after it */
        if ((rc = bld_scratch_dir(b->store, "heredoc", &cs->heredoc_dir, err)) != 0)
            return rc;
        for (size_t i = 0; i < in->n_heredocs; i++) {
            char *content = NULL;
            if (in->heredocs[i].expand) {
                if ((rc = bld_shell_expand_heredoc(in->heredocs[i].content, bld_kv_lookup,
                                                   (void *)&cs->vars, &content, err)) != 0)
                    return rc;
            } else {
                content = strdup(in->heredocs[i].content);
            }
            char *path = sw_path_join(cs->heredoc_dir, in->heredocs[i].name);
            rc = content && path ? sw_write_file_atomic(path, content, strlen(content), 0644, err)
                                 : sw_error_oom(err);
            free(content);
            free(path);
            if (rc != 0)
                return rc;
        }
        cs->src_root = strdup(cs->heredoc_dir);
    } else {
        cs->src_root = strdup(b->opts->context_dir);
    }
    return cs->src_root ? 0 : sw_error_oom(err);
}

/* --chown: the ids, through the stage's user database; with --link only
 * numeric ids (and root), as BuildKit: the layer reads nothing below it. */
static int copy_owner(struct build *b, struct stage *st, const struct instr *in,
                      struct copy_step *cs, sw_error **err)
{
    const char *chown_spec = bld_flag_value(in, "chown");
    if (chown_spec == NULL || *chown_spec == '\0')
        return 0;
    char *expanded = NULL;
    int rc = bld_expand_word(b, &cs->vars, chown_spec, &expanded, err);
    if (rc != 0)
        return rc;
    if (cs->link && !bld_user_is_numeric(expanded, BLD_USER_CHOWN)) {
        rc = bld_instr_error(b, in, err, SW_EINVAL,
                             "--chown=%s with --link: use numeric ids (UID[:GID]); a --link "
                             "layer does not read the user database of the layers below it",
                             expanded);
        free(expanded);
        return rc;
    }
    if (cs->link)
        rc = bld_user_resolve(expanded, BLD_USER_CHOWN, NULL, 0, &cs->spec.uid, &cs->spec.gid, err);
    else
        rc = bld_resolve_user(b, st, expanded, BLD_USER_CHOWN, &cs->spec.uid, &cs->spec.gid, err);
    free(expanded);
    if (rc != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    cs->spec.has_chown = 1;
    return 0;
}

/* The sources of the step: arguments expanded, the source root, local
 * paths and URLs (fetched now: their content is part of the key), and the
 * copy spec. */
static int copy_sources(struct build *b, struct stage *st, const struct instr *in,
                        struct copy_step *cs, sw_strbuf *key_text, sw_error **err)
{
    int rc = 0;
    const char *verb = cs->is_add ? "ADD" : "COPY";
    if (bld_stage_vars(st, &cs->vars) != 0 ||
        (cs->args = calloc(in->n_args + 1, sizeof(char *))) == NULL)
        return sw_error_oom(err);
    for (size_t i = 0; i < in->n_args; i++) {
        if ((rc = bld_expand_word(b, &cs->vars, in->args[i], &cs->args[i], err)) != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            return rc;
        }
        cs->n_args++;
    }
    if (cs->n_args < 2)
        return bld_instr_error(b, in, err, SW_EINVAL, "%s requires at least two arguments", verb);
    cs->dest = copy_destination(st, cs->args[cs->n_args - 1]);
    cs->local = calloc(cs->n_args, sizeof(char *));
    cs->urls = calloc(cs->n_args, sizeof(char *));
    cs->url_names = calloc(cs->n_args, sizeof(char *));
    if (cs->dest == NULL || cs->local == NULL || cs->urls == NULL || cs->url_names == NULL)
        return sw_error_oom(err);
    if ((rc = copy_source_root(b, st, in, cs, key_text, err)) != 0)
        return rc;

    for (size_t i = 0; i + 1 < cs->n_args; i++) {
        const char *a = cs->args[i];
        if (in->n_heredocs > 0 && strncmp(a, "<<", 2) == 0) {
            a += 2;
            a += strspn(a, "-");
            a += (*a == '"' || *a == '\'') ? 1 : 0;
            char *name = strdup(a);
            size_t len = name ? strlen(name) : 0;
            if (len && (name[len - 1] == '"' || name[len - 1] == '\''))
                name[len - 1] = '\0';
            free(cs->args[i]);
            cs->args[i] = name;
            if (name == NULL)
                return sw_error_oom(err);
            a = name;
        }
        if (is_url(a) || (cs->is_add && bld_addgit_is_git(a))) {
            if (!cs->is_add)
                return bld_instr_error(b, in, err, SW_EINVAL, "source can't be a URL for COPY");
            cs->urls[cs->n_urls++] = a;
        } else {
            cs->local[cs->n_local++] = a;
        }
    }
    if (cs->n_local + cs->n_urls > 1 && cs->dest[strlen(cs->dest) - 1] != '/')
        return bld_instr_error(b, in, err, SW_EINVAL,
                               "When using %s with more than one source file, "
                               "the destination must be a directory and end with a /",
                               verb);
    const char *from = bld_flag_value(in, "from");
    int from_context = !(from && *from);
    cs->spec = (struct bld_copy_spec){
        .src_root = cs->src_root,
        .sources = cs->local,
        .n_sources = cs->n_local,
        .dest = cs->dest,
        .from_context = from_context,
        .is_add = cs->is_add,
        .excluded = (from_context && !cs->heredoc_dir) ? bld_exclude_cb : NULL,
        .excluded_ctx = b,
        .parents = bld_flag_true(bld_flag_value(in, "parents")),
        .dest_parents_root = cs->link,
    };
    if ((rc = copy_excludes(in, &cs->excludes, &cs->spec.n_exclude, err)) != 0)
        return rc;
    cs->spec.exclude = (const char *const *)cs->excludes;
    const char *chmod_spec = bld_flag_value(in, "chmod");
    if (chmod_spec && parse_chmod(chmod_spec, &cs->spec.mode) != 0)
        return bld_instr_error(b, in, err, SW_EINVAL, "invalid --chmod=%s: expected an octal mode",
                               chmod_spec);
    cs->spec.has_chmod = chmod_spec != NULL;
    if ((rc = copy_owner(b, st, in, cs, err)) != 0)
        return rc;

    if (cs->n_urls > 0) {
        if ((rc = bld_scratch_dir(b->store, "download", &cs->url_dir, err)) != 0)
            return rc;
        const char *checksum = bld_flag_value(in, "checksum");
        for (size_t i = 0; i < cs->n_urls; i++) {
            if (bld_addgit_is_git(cs->urls[i])) { /* ADD of a Git URL, keyed by its commit */
                char commit[41] = "";
                char *name = NULL;
                if (asprintf(&name, BLD_ADDGIT_PREFIX "%zu", i) < 0)
                    name = NULL;
                cs->url_names[i] = name;
                rc = name ? bld_addgit_fetch(
                                b->opts->config, strcmp(bld_configured_network(b), "host") == 0,
                                cs->urls[i], bld_flag_true(bld_flag_value(in, "keep-git-dir")),
                                cs->url_dir, name, commit, err)
                          : sw_error_oom(err);
                sw_strbuf_printf(key_text, "git=%s@%s\n", cs->urls[i], commit);
            } else {
                rc = download_url(b, cs->urls[i], cs->url_dir, checksum, &cs->url_names[i], err);
            }
            if (rc != 0) {
                sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
                return rc;
            }
        }
    }
    return 0;
}

/* The key under which the layer of this COPY is recorded for the next
 * build's reuse of unchanged files (see copy_apply): key_text up to the
 * content, without it, with the destination and owner; the layer format
 * and cache scope as every key, so repositories never share files. */
static void copy_reuse_key(struct build *b, struct copy_step *cs, const sw_strbuf *key_text)
{
    const char *rest = key_text->failed ? NULL : strstr(key_text->data, "\narg=");
    sw_strbuf text = SW_STRBUF_INIT;
    sw_strbuf_printf(&text, "dest=%s\nowner=%d:%u:%u%s", cs->dest, cs->spec.has_chown,
                     (unsigned)cs->spec.uid, (unsigned)cs->spec.gid, rest ? rest : "");
    struct stage alone = { 0 };
    snprintf(alone.key, sizeof(alone.key), "reuse");
    bld_key_seed(b, &alone);
    const char *parts[] = { rest && !text.failed ? text.data : NULL };
    bld_chain_key(&alone, "copy-reuse", parts, 1);
    snprintf(cs->reuse_key, sizeof(cs->reuse_key), "%s", alone.key);
    sw_strbuf_free(&text);
}

/* The cache key: the expanded instruction, its flags, the content of the
 * sources, and the config state. A --link step's layer has a key of its
 * own that leaves out every layer below it and the config (its absolute
 * destination and resolved owner stand for what WORKDIR and USER gave), so
 * a new base re-uses the layer; the stage's key still chains it. */
static int copy_cache_key(struct build *b, struct stage *st, const struct instr *in,
                          struct copy_step *cs, sw_strbuf *key_text, sw_error **err)
{
    char content[SW_DIGEST_MAX] = "";
    int rc;
    uint64_t profiled = sw_profile_start();
    if (b->opts->context_memo && !b->memo_tried && cs->spec.from_context && !cs->heredoc_dir) {
        b->memo_tried = 1; /* without a memo, the build reads every file */
        bld_digest_memo_open(reg_store_data_dir(b->store), b->opts->context_dir, &b->memo);
    }
    struct bld_copy_spec keyed = cs->spec;
    if (cs->spec.from_context && !cs->heredoc_dir)
        keyed.memo = b->memo;
    if (cs->n_local > 0 && (rc = bld_copy_digest(&keyed, content, err)) != 0)
        return rc;
    sw_profile_stop(SW_PHASE_CONTEXT, profiled);
    sw_strbuf_printf(key_text, "content=%s\n", content);
    if (cs->url_dir) {
        const char *all[] = { "." };
        struct bld_copy_spec url_spec = { .src_root = cs->url_dir,
                                          .sources = all,
                                          .n_sources = 1,
                                          .from_context = 1,
                                          .excluded = bld_addgit_excluded };
        char url_digest[SW_DIGEST_MAX];
        if ((rc = bld_copy_digest(&url_spec, url_digest, err)) != 0)
            return rc;
        sw_strbuf_printf(key_text, "urls=%s\n", url_digest);
    }
    for (size_t i = 0; i < cs->n_args; i++)
        sw_strbuf_printf(key_text, "arg=%s\n", cs->args[i]);
    for (size_t i = 0; i < in->n_flags; i++)
        sw_strbuf_printf(key_text, "flag=%s=%s\n", in->flags[i].name, in->flags[i].value);
    if (cs->link) {
        sw_strbuf_printf(key_text, "dest=%s\nowner=%d:%u:%u\n", cs->dest, cs->spec.has_chown,
                         (unsigned)cs->spec.uid, (unsigned)cs->spec.gid);
        if (key_text->failed)
            return sw_error_oom(err);
        /* keyed by the text alone (with the layer format and the cache
         * scope, as every key): nothing of the stage's chain */
        struct stage alone = { 0 };
        snprintf(alone.key, sizeof(alone.key), "link");
        bld_key_seed(b, &alone);
        const char *parts[] = { key_text->data };
        bld_chain_key(&alone, "copy-link", parts, 1);
        snprintf(cs->link_key, sizeof(cs->link_key), "%s", alone.key);
        const char *link_parts[] = { cs->link_key };
        bld_chain_key(st, in->keyword, link_parts, 1);
        return 0;
    }
    copy_reuse_key(b, cs, key_text);
    char *state = bld_config_state(st);
    sw_strbuf_printf(key_text, "state=%s\n", state ? state : "");
    free(state);
    const char *parts[] = { key_text->failed ? NULL : key_text->data };
    bld_chain_key(st, in->keyword, parts, 1);
    return 0;
}

/* 0 when path opens below root, resolved as in a chroot at root (and,
 * with RESOLVE_NO_SYMLINKS in resolve, as a directory without crossing a
 * symlink); else the errno. */
static int open_in_root(const char *root, const char *path, unsigned long long resolve)
{
    int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct open_how how = { .flags = O_CLOEXEC |
                                     ((resolve & RESOLVE_NO_SYMLINKS) ? O_RDONLY | O_DIRECTORY
                                                                      : O_PATH | O_NOFOLLOW),
                            .resolve = RESOLVE_IN_ROOT | resolve };
    int fd = rfd < 0 ? -1 : (int)syscall(SYS_openat2, rfd, path, &how, sizeof(how));
    int saved = errno;
    if (fd >= 0)
        close(fd);
    if (rfd >= 0)
        close(rfd);
    return fd >= 0 ? 0 : saved;
}

/* 1 when the COPY goes straight into the upper directory, 0 when it goes
 * through the overlay as usual, < 0 on an error.
 *
 * A COPY into a destination directory that the stage's root filesystem
 * does not have yet is written straight into the upper directory: the
 * destination is created through the overlay (which copies its parents
 * up and makes it opaque over a whiteout, as for any mkdir), so what the
 * overlay shows below it is exactly what the upper directory holds; then
 * the overlay is unmounted and the files go to the upper directory as
 * plain files. That lets unchanged files be hard links to the previous
 * layer of the same COPY (spec.reuse_root): a one-file change in a
 * context of 2,000 files creates one file, not 2,000. */
static int copy_direct(struct build *b, struct copy_step *cs, struct step_area *area,
                       char **reuse_root, sw_error **err)
{
    const char *dest = cs->dest;
    size_t len = strlen(dest);
    if (cs->link || cs->is_add || cs->n_urls > 0 || cs->n_local == 0 || cs->spec.parents ||
        !area->mounted || len < 2 || dest[0] != '/' || dest[len - 1] != '/')
        return 0;
    if (open_in_root(area->rootfs, dest, 0) != ENOENT)
        return 0; /* there already */
    struct bld_copy_spec make = cs->spec;
    make.dest_root = area->rootfs;
    int rc = bld_copy_make_dest(&make, err);
    if (rc != 0)
        return rc;
    /* made where it was asked for, with no symlink on the way, in both views */
    if (open_in_root(area->rootfs, dest, RESOLVE_NO_SYMLINKS) != 0 ||
        open_in_root(area->upper, dest, RESOLVE_NO_SYMLINKS) != 0)
        return 0; /* the copy goes on through the overlay */
    bld_overlay_unmount(area->rootfs, NULL);
    area->mounted = 0;
    cs->spec.dest_root = area->upper;
    struct bld_layer prev;
    int64_t made = 0;
    if (!b->opts->no_cache && bld_cache_get(b->store, cs->reuse_key, &prev, &made, NULL) == 0) {
        char *dir = bld_layer_dir(b->store, prev.diff_id);
        if (dir && sw_path_exists(dir))
            *reuse_root = dir;
        else
            free(dir);
    }
    cs->spec.reuse_root = *reuse_root;
    return 1;
}

/* Copies into the step's area and commits the layer: onto the stage's
 * root filesystem, or (--link) into an empty tree. */
static int copy_apply(struct build *b, struct stage *st, const struct instr *in,
                      struct copy_step *cs, sw_error **err)
{
    struct step_area area = { 0 };
    char *reuse_root = NULL;
    int rc = bld_step_area_open(b, st, !cs->link, &area, err);
    if (rc != 0)
        goto cleanup;
    cs->spec.dest_root = cs->link ? area.upper : area.rootfs;
    uint64_t profiled = sw_profile_start();
    if ((rc = copy_direct(b, cs, &area, &reuse_root, err)) < 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    if (cs->n_local > 0 && (rc = bld_copy(&cs->spec, err)) != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        goto cleanup;
    }
    if (cs->url_dir) {
        struct bld_copy_spec url_spec = cs->spec;
        url_spec.src_root = cs->url_dir;
        url_spec.sources = (const char *const *)cs->url_names;
        url_spec.n_sources = cs->n_urls;
        url_spec.is_add = 0; /* remote archives are not extracted */
        url_spec.excluded = NULL;
        url_spec.from_context = 1;
        if ((rc = bld_copy(&url_spec, err)) != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            goto cleanup;
        }
    }
    sw_profile_stop(SW_PHASE_COPY, profiled);
    if (area.mounted) {
        bld_overlay_unmount(area.rootfs, NULL);
        area.mounted = 0;
    }
    rc = bld_commit_layer_at(b, st, &area, cs->link ? cs->link_key : st->key, cs->created_by, err);
    if (rc == 0 && !cs->link && st->image.n_layers > 0) /* best effort, as the cache */
        bld_cache_put(b->store, cs->reuse_key, &st->image.layers[st->image.n_layers - 1], NULL);
cleanup:
    free(reuse_root);
    bld_step_area_close(&area);
    return rc;
}

int bld_do_copy(struct build *b, struct stage *st, const struct instr *in, double started,
                sw_error **err)
{
    struct copy_step cs = { 0 };
    sw_strbuf key_text = SW_STRBUF_INIT, text = SW_STRBUF_INIT;
    cs.is_add = strcmp(in->keyword, "add") == 0;
    cs.link = bld_flag_true(bld_flag_value(in, "link"));
    int rc;
    if ((rc = copy_sources(b, st, in, &cs, &key_text, err)) != 0 ||
        (rc = copy_cache_key(b, st, in, &cs, &key_text, err)) != 0)
        goto cleanup;

    sw_strbuf_printf(&text, "%s ", cs.is_add ? "ADD" : "COPY");
    for (size_t i = 0; i + 1 < cs.n_args; i++)
        sw_strbuf_printf(&text, "%s ", cs.args[i]);
    sw_strbuf_puts(&text, cs.dest);
    if (text.failed || (cs.created_by = bld_created_by(text.data)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    if (bld_try_cache_at(b, st, cs.link ? cs.link_key : st->key, cs.created_by, started))
        goto cleanup;
    rc = copy_apply(b, st, in, &cs, err);
cleanup:
    copy_step_free(&cs);
    sw_strbuf_free(&key_text);
    sw_strbuf_free(&text);
    return rc;
}
