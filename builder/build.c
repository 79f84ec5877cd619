/*
 * build.c - the Dockerfile interpreter (see build.h).
 *
 * The parser (builder/dockerfile.c) gives instructions; this file turns
 * them into image configs and layers. It reads like Docker's reference:
 * one function per instruction (do_run, do_copy, do_env ...), with the
 * shared machinery above them: stages, the environment a step sees, the
 * cache key chain, and mounting a stage's layers.
 */
#include "builder/build_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "builder/egress.h"
#include "builder/overlay.h"
#include "core/fs.h"
#include "registry/access.h"
#include "registry/client.h"
#include "registry/names.h"

/* The parser glue, at the end of this file. */

void bld_progress(struct build *b, const char *fmt, ...)
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

double bld_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t bld_build_time(const struct build *b)
{
    return b->opts->source_date_epoch >= 0 ? b->opts->source_date_epoch : (int64_t)time(NULL);
}

/* The time for a metadata step: that of the step before it (so an
 * identical rebuild repeats every time), or now at the start of a stage. */
int64_t bld_step_time(const struct build *b, const struct stage *st)
{
    if (b->opts->source_date_epoch >= 0)
        return b->opts->source_date_epoch;
    return st->last_time > 0 ? st->last_time : (int64_t)time(NULL);
}

/* 1 when text is only the heredoc's own token: <<EOF, <<-EOF, <<"EOF"... */
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
int bld_load_base_image(struct build *b, const char *ref_text, const char *platform,
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
    bld_progress(b, "       pulling %s\n", ref_text);
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
    int rc = bld_expand_word(b, &b->meta_args, in->args[0], &base, err);
    if (rc != 0) {
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    /* FROM --platform=...: this stage's base for that platform */
    char *platform = NULL;
    const char *platform_flag = bld_flag_value(in, "platform");
    if (platform_flag && *platform_flag &&
        (rc = bld_expand_word(b, &b->meta_args, platform_flag, &platform, err)) != 0) {
        free(base);
        sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
        return rc;
    }
    const char *stage_platform = platform ? platform : b->opts->platform;
    struct stage *earlier = bld_find_stage(b, base, (size_t)(st - b->stages));
    if (earlier && earlier != st && !bld_is_number(base)) {
        rc = bld_image_copy(&earlier->image, &st->image, err);
        snprintf(st->key, sizeof(st->key), "%s", earlier->key);
        if (rc == 0 && earlier->base_ref)
            st->base_ref = strdup(earlier->base_ref);
    } else if (strcasecmp(base, "scratch") == 0) {
        rc = bld_image_scratch(stage_platform, &st->image, err);
        snprintf(st->key, sizeof(st->key), "scratch:%s",
                 stage_platform ? stage_platform : bld_platform_host());
    } else {
        rc = bld_load_base_image(b, base, stage_platform, &st->image, &st->base_ref, err);
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
    bld_chain_key(st, "layer-format", layer_format, 2);
    /* caches are per repository and identity: no cache hit hands this
     * build a layer that another repository's build made */
    if (b->opts->cache_scope) {
        const char *scope[] = { b->opts->cache_scope };
        bld_chain_key(st, "cache-scope", scope, 1);
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
        bld_progress(b, "       ONBUILD %s\n", text);
        if ((rc = bld_parse_trigger(b, text, in->line, &parsed, err)) != 0)
            break;
        rc = run_instruction(b, st, parsed, err);
        bld_free_instr(parsed);
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
    double started = bld_now_s();
    int rc;
    if (strcmp(kw, "run") == 0)
        rc = bld_do_run(b, st, in, started, err);
    else if (strcmp(kw, "copy") == 0 || strcmp(kw, "add") == 0)
        rc = bld_do_copy(b, st, in, started, err);
    else if (strcmp(kw, "env") == 0)
        rc = bld_do_pairs(b, st, in, 1, err);
    else if (strcmp(kw, "label") == 0)
        rc = bld_do_pairs(b, st, in, 0, err);
    else if (strcmp(kw, "arg") == 0)
        rc = bld_do_arg(b, st, in, err);
    else if (strcmp(kw, "workdir") == 0)
        rc = bld_do_workdir(b, st, in, started, err);
    else if (strcmp(kw, "user") == 0)
        rc = bld_set_string(b, st, in, "User", "USER", err);
    else if (strcmp(kw, "stopsignal") == 0)
        rc = bld_set_string(b, st, in, "StopSignal", "STOPSIGNAL", err);
    else if (strcmp(kw, "cmd") == 0)
        rc = bld_do_command(b, st, in, "Cmd", "CMD", err);
    else if (strcmp(kw, "entrypoint") == 0)
        rc = bld_do_command(b, st, in, "Entrypoint", "ENTRYPOINT", err);
    else if (strcmp(kw, "shell") == 0)
        rc = bld_do_shell(b, st, in, err);
    else if (strcmp(kw, "expose") == 0)
        rc = bld_do_set_of(b, st, in, "ExposedPorts", "EXPOSE", err);
    else if (strcmp(kw, "volume") == 0)
        rc = bld_do_set_of(b, st, in, "Volumes", "VOLUME", err);
    else if (strcmp(kw, "healthcheck") == 0)
        rc = bld_do_healthcheck(b, st, in, err);
    else if (strcmp(kw, "onbuild") == 0)
        rc = bld_do_onbuild(b, st, in, err);
    else if (strcmp(kw, "maintainer") == 0) {
        json_object_set_new(st->image.config, "author", json_string(in->n_args ? in->args[0] : ""));
        char *text = NULL;
        rc = asprintf(&text, "MAINTAINER %s", in->n_args ? in->args[0] : "") < 0
                 ? sw_error_oom(err)
                 : bld_add_history(b, st, text, err);
        free(text);
    } else
        rc = bld_instr_error(b, in, err, SW_EINVAL, "unknown instruction %s", kw);
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
        struct stage *d = m.from ? bld_find_stage(b, m.from, idx) : NULL;
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
            dep = bld_flag_value(in, "from");
        else if (strcmp(in->keyword, "run") == 0)
            mark_mount_deps(b, idx, in);
        if (dep == NULL)
            continue;
        if (bld_expand_word(b, &b->meta_args, dep, &expanded, NULL) != 0)
            continue;
        struct stage *d = bld_find_stage(b, expanded, idx);
        if (d && (i != st->first || !bld_is_number(expanded)))
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
    bld_kv_set(&b->meta_args, "TARGETPLATFORM", platform);
    bld_kv_set(&b->meta_args, "TARGETOS", os);
    bld_kv_set(&b->meta_args, "TARGETARCH", arch);
    bld_kv_set(&b->meta_args, "TARGETVARIANT", variant);
    bld_kv_set(&b->meta_args, "BUILDPLATFORM", host);
    bld_kv_set(&b->meta_args, "BUILDOS", "linux");
    bld_kv_set(&b->meta_args, "BUILDARCH", strchr(host, '/') + 1);
    for (size_t i = 0; i < b->n_instrs && strcmp(b->instrs[i].keyword, "from") != 0; i++) {
        const struct instr *in = &b->instrs[i];
        for (size_t j = 0; j < in->n_args; j++) {
            char *name = strdup(in->args[j]);
            char *eq = name ? strchr(name, '=') : NULL;
            char *def = NULL;
            if (eq) {
                *eq = '\0';
                if ((rc = bld_expand_word(b, &b->meta_args, eq + 1, &def, err)) != 0) {
                    free(name);
                    sw_error_prefix(err, "%s:%d: %s", b->dockerfile, in->line, in->original);
                    return rc;
                }
            }
            const char *value = NULL;
            if (bld_arg_value(b, name, def, NULL, &value))
                bld_kv_set(&b->meta_args, name, value);
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
            bld_kv_set(&b->build_args, name, value);
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
            bld_progress(b, "[%d/%d] %s\n", b->step, b->total_steps, in->original);
        struct bld_step_event ev = {
            .index = b->step, .total = b->total_steps, .instruction = in->original, .line = in->line
        };
        if (b->opts->on_step)
            b->opts->on_step(b->opts->step_ctx, &ev);
        double started = bld_now_s();
        int cached_before = b->cached_steps;
        if (i == st->first)
            rc = do_from(b, st, in, err);
        else
            rc = run_instruction(b, st, in, err);
        if (rc == 0 && b->cached_steps == cached_before && b->opts->on_step == NULL &&
            (strcmp(in->keyword, "run") == 0 || strcmp(in->keyword, "copy") == 0 ||
             strcmp(in->keyword, "add") == 0))
            bld_progress(b, "DONE %.1fs\n", bld_now_s() - started);
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
    bld_image_set_created(&st->image, bld_step_time(b, st));
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
    double started = bld_now_s();

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
    if ((rc = parse_build_args(&b, err)) || (rc = bld_load_dockerfile(&b, err)) ||
        (rc = bld_load_ignore(&b, err)) || (rc = split_stages(&b, err)) ||
        (rc = meta_args(&b, err)))
        goto cleanup;

    size_t target = b.n_stages - 1;
    if (opts->target) {
        struct stage *t = bld_find_stage(&b, opts->target, b.n_stages);
        if (t == NULL || bld_is_number(opts->target)) {
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
    bld_progress(&b, "Built %s in %.1fs (%d steps, %d cached)\n", result->digest,
                 bld_now_s() - started, b.step, b.cached_steps);
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
        bld_kv_free(&b.stages[i].args);
        bld_image_release(&b.stages[i].image);
    }
    free(b.stages);
    for (size_t i = 0; i < b.n_instrs; i++)
        bld_free_instr(&b.instrs[i]);
    free(b.instrs);
    bld_free_ignore(&b);
    bld_kv_free(&b.meta_args);
    bld_kv_free(&b.build_args);
    json_decref(b.base_images);
    free(dockerfile);
    return rc;
}

void bld_build_result_release(struct bld_build_result *result)
{
    if (result == NULL)
        return;
    json_decref(result->base_images);
    result->base_images = NULL;
}
