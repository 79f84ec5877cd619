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

#include "builder/copy.h"
#include "builder/egress.h"
#include "builder/flags.h"
#include "builder/layers.h"
#include "builder/overlay.h"
#include "builder/shell_lex.h"
#include "core/cidr.h"
#include "core/fs.h"

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

int bld_do_copy(struct build *b, struct stage *st, const struct instr *in, double started,
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

    if (bld_stage_vars(st, &vars) != 0 || (args = calloc(in->n_args + 1, sizeof(char *))) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }
    for (size_t i = 0; i < in->n_args; i++) {
        if ((rc = bld_expand_word(b, &vars, in->args[i], &args[i], err)) != 0) {
            sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
            goto cleanup;
        }
        n_args++;
    }
    if (n_args < 2) {
        rc = bld_instr_error(b, in, err, SW_EINVAL, "%s requires at least two arguments",
                             is_add ? "ADD" : "COPY");
        goto cleanup;
    }
    const char *from = bld_flag_value(in, "from");
    const char *chown_spec = bld_flag_value(in, "chown");
    const char *chmod_spec = bld_flag_value(in, "chmod");
    const char *checksum = bld_flag_value(in, "checksum");
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
        struct stage *src = bld_find_stage(b, from, (size_t)(st - b->stages));
        if (src == NULL) {
            char *stored = NULL;
            if ((rc = bld_load_base_image(b, from, b->opts->platform, &from_image.image, &stored,
                                          err)) != 0) {
                sw_error_prefix(err, "%s:%d: %s: --from=%s", b->dockerfile, in->line, in->original,
                                from);
                goto cleanup;
            }
            free(stored);
            src = &from_image;
            snprintf(from_image.key, sizeof(from_image.key), "%s", from_image.image.digest);
        }
        if ((rc = bld_mount_readonly(b, src, &src_root, err)) != 0)
            goto cleanup;
        sw_strbuf_printf(&key_text, "from=%s\n", src->key);
    } else if (in->n_heredocs > 0) {
        /* COPY <<EOF /dest: each heredoc becomes a file named after it */
        if ((rc = bld_scratch_dir(b->store, "heredoc", &heredoc_dir, err)) != 0)
            goto cleanup;
        for (size_t i = 0; i < in->n_heredocs; i++) {
            char *content = NULL;
            if (in->heredocs[i].expand) {
                if ((rc = bld_shell_expand_heredoc(in->heredocs[i].content, bld_kv_lookup,
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
                rc = bld_instr_error(b, in, err, SW_EINVAL, "source can't be a URL for COPY");
                goto cleanup;
            }
            urls[n_urls++] = a;
        } else {
            local[n_local++] = a;
        }
    }
    size_t dest_len = strlen(dest);
    if (n_local + n_urls > 1 && dest[dest_len - 1] != '/') {
        rc = bld_instr_error(b, in, err, SW_EINVAL,
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
        .excluded = (from_context && !heredoc_dir) ? bld_exclude_cb : NULL,
        .excluded_ctx = b,
        .parents = bld_flag_true(bld_flag_value(in, "parents")),
    };
    if ((rc = copy_excludes(in, &excludes, &spec.n_exclude, err)) != 0)
        goto cleanup;
    spec.exclude = (const char *const *)excludes;
    if (chmod_spec && parse_chmod(chmod_spec, &spec.mode) != 0) {
        rc = bld_instr_error(b, in, err, SW_EINVAL, "invalid --chmod=%s: expected an octal mode",
                             chmod_spec);
        goto cleanup;
    }
    spec.has_chmod = chmod_spec != NULL;
    if (chown_spec && *chown_spec) {
        char *expanded = NULL;
        if ((rc = bld_expand_word(b, &vars, chown_spec, &expanded, err)) != 0)
            goto cleanup;
        rc = bld_resolve_user(b, st, expanded, BLD_USER_CHOWN, &spec.uid, &spec.gid, err);
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
    if (n_local > 0 && (rc = bld_copy_digest(&spec, content, err)) != 0)
        goto cleanup;
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
    char *state = bld_config_state(st);
    sw_strbuf_printf(&key_text, "state=%s\n", state ? state : "");
    free(state);
    const char *parts[] = { key_text.failed ? NULL : key_text.data };
    bld_chain_key(st, in->keyword, parts, 1);

    sw_strbuf_printf(&created_by, "%s ", is_add ? "ADD" : "COPY");
    for (size_t i = 0; i + 1 < n_args; i++)
        sw_strbuf_printf(&created_by, "%s ", args[i]);
    sw_strbuf_printf(&created_by, "%s # buildkit", dest);
    if (bld_try_cache(b, st, created_by.data, started))
        goto cleanup;

    if ((rc = bld_step_area_open(b, st, 1, &area, err)) != 0)
        goto cleanup;
    spec.dest_root = area.rootfs;
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
    bld_overlay_unmount(area.rootfs, NULL);
    area.mounted = 0;
    rc = bld_commit_layer(b, st, &area, created_by.data, err);
cleanup:
    free(excludes);
    bld_step_area_close(&area);
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
    bld_kv_free(&vars);
    sw_strbuf_free(&key_text);
    sw_strbuf_free(&created_by);
    return rc;
}
