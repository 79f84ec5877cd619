/*
 * build.c - the Dockerfile interpreter (see build.h): the build, its
 * stages and the dispatch of instructions.
 *
 * The parser (builder/dockerfile.c) gives instructions; the builder turns
 * them into image configs and layers. It reads like Docker's reference:
 * one function per instruction, in build_run.c (RUN), build_copy.c (COPY,
 * ADD), build_config.c (ENV, WORKDIR, CMD ...) and build_from.c (FROM),
 * with the shared machinery in build_step.c (the cache key chain, mounting
 * a stage's layers) and build_instr.c (the instruction model). What these
 * files share is declared in build_internal.h.
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

#include "builder/copy.h"
#include "builder/egress.h"
#include "builder/overlay.h"
#include "core/fs.h"
#include "core/profile.h"
#include "registry/names.h"
#include "registry/platform.h"

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
int bld_run_instruction(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
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
    struct reg_platform target, host;
    char target_text[100];
    int rc = reg_platform_parse(b->opts->platform, &target, err); /* NULL: the host's */
    if (rc != 0)
        return rc;
    reg_platform_format(&target, target_text);
    reg_platform_host(&host);
    bld_kv_set(&b->meta_args, "TARGETPLATFORM", target_text);
    bld_kv_set(&b->meta_args, "TARGETOS", target.os);
    bld_kv_set(&b->meta_args, "TARGETARCH", target.architecture);
    bld_kv_set(&b->meta_args, "TARGETVARIANT", target.variant);
    bld_kv_set(&b->meta_args, "BUILDPLATFORM", reg_platform_host_text());
    bld_kv_set(&b->meta_args, "BUILDOS", host.os);
    bld_kv_set(&b->meta_args, "BUILDARCH", host.architecture);
    bld_kv_set(&b->meta_args, "BUILDVARIANT", host.variant);
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
        st->current = i;
        if (i == st->first) {
            uint64_t profiled = sw_profile_start();
            rc = bld_do_from(b, st, in, err);
            sw_profile_stop(SW_PHASE_BASE, profiled);
        } else
            rc = bld_run_instruction(b, st, in, err);
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
    uint64_t profiled = sw_profile_start();
    rc = store_result(&b, &b.stages[target], result, err);
    sw_profile_stop(SW_PHASE_IMAGE, profiled);
    if (rc != 0)
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
    bld_cache_mounts_gc(reg_store_data_dir(store), opts->cache_scope ? opts->cache_scope : "",
                        opts->config ? opts->config->cache_mounts_max_size
                                     : BLD_CACHE_MOUNTS_MAX_SIZE,
                        0, NULL, NULL, NULL); /* the cache mounts' bound, after each build */
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
    bld_digest_memo_close(b.memo);  /* what this build learnt, for the next */
    bld_egress_spare_stop(b.spare); /* every step has stopped the network it took */
    if (b.spare_dir) {
        sw_rm_rf(b.spare_dir, NULL);
        free(b.spare_dir);
    }
    bld_kv_free(&b.meta_args);
    bld_kv_free(&b.build_args);
    json_decref(b.base_images);
    free(dockerfile);
    sw_profile_report(stderr, (uint64_t)((bld_now_s() - started) * 1e9));
    return rc;
}

void bld_build_result_release(struct bld_build_result *result)
{
    if (result == NULL)
        return;
    json_decref(result->base_images);
    result->base_images = NULL;
}
