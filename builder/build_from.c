/*
 * build_from.c - FROM: base images from the store or a registry (with
 * pull access checked), and ONBUILD triggers of the base.
 */
#include "builder/build_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "builder/egress.h"
#include "registry/access.h"
#include "registry/client.h"
#include "registry/names.h"
#include "registry/platform.h"

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

/* 1 when a loaded image runs on `platform` (NULL: the host's). */
static int image_is_for(const struct bld_image *img, const char *platform)
{
    struct reg_platform want, have;
    if (reg_platform_parse(platform, &want, NULL) != 0 ||
        reg_platform_of_json(img->config, &have) != 0)
        return 0;
    return reg_platform_rank(&want, &have) >= 0;
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

int bld_do_from(struct build *b, struct stage *st, const struct instr *in, sw_error **err)
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

    bld_key_seed(b, st);

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
        rc = bld_run_instruction(b, st, parsed, err);
        bld_free_instr(parsed);
        free(parsed);
        if (rc != 0)
            break;
    }
    json_decref(triggers);
    return rc;
}
