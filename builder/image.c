/*
 * image.c - image configs and manifests for builds (see image.h).
 */
#include "builder/image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/blobstore.h"
#include "registry/manifest.h"
#include "registry/platform.h"

#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MAX_CONFIG_SIZE (16 * 1024 * 1024)

void bld_format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *bld_platform_host(void)
{
    return reg_platform_host_text();
}

int bld_platform_parse(const char *platform, char os[32], char arch[32], char variant[32],
                       sw_error **err)
{
    struct reg_platform p;
    os[0] = arch[0] = variant[0] = '\0';
    if (platform == NULL || *platform == '\0')
        return sw_error_set(err, SW_EINVAL, "platform '': expected os/arch[/variant]");
    int rc = reg_platform_parse(platform, &p, err);
    if (rc != 0)
        return rc;
    memcpy(os, p.os, 32);
    memcpy(arch, p.architecture, 32);
    memcpy(variant, p.variant, 32);
    return 0;
}

json_t *bld_image_runconfig(struct bld_image *img)
{
    json_t *cfg = json_object_get(img->config, "config");
    if (!json_is_object(cfg)) {
        cfg = json_object();
        json_object_set_new(img->config, "config", cfg);
    }
    return cfg;
}

int bld_image_scratch(const char *platform, struct bld_image *out, sw_error **err)
{
    char os[32], arch[32], variant[32];
    int rc = bld_platform_parse(platform ? platform : bld_platform_host(), os, arch, variant, err);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    out->config = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", arch, "os", os,
                            "config", "rootfs", "type", "layers", "diff_ids", "history");
    if (out->config == NULL)
        return sw_error_oom(err);
    if (variant[0])
        json_object_set_new(out->config, "variant", json_string(variant));
    return 0;
}

void bld_image_release(struct bld_image *img)
{
    if (img == NULL)
        return;
    json_decref(img->config);
    free(img->layers);
    memset(img, 0, sizeof(*img));
}

int bld_image_copy(const struct bld_image *from, struct bld_image *out, sw_error **err)
{
    memset(out, 0, sizeof(*out));
    out->config = json_deep_copy(from->config);
    if (from->n_layers) {
        out->layers = malloc(from->n_layers * sizeof(*out->layers));
        if (out->layers)
            memcpy(out->layers, from->layers, from->n_layers * sizeof(*out->layers));
    }
    if (out->config == NULL || (from->n_layers && out->layers == NULL)) {
        bld_image_release(out);
        return sw_error_oom(err);
    }
    out->n_layers = from->n_layers;
    memcpy(out->digest, from->digest, sizeof(out->digest));
    return 0;
}

static int load_manifest_json(reg_store *store, const char *repo, const char *reference,
                              json_t **doc, char *media_type, size_t mt_size, char digest[],
                              sw_error **err)
{
    struct reg_manifest m = { 0 };
    int rc = reg_manifest_get(store, repo, reference, 1, &m, err);
    if (rc != 0)
        return rc;
    json_error_t jerr;
    *doc = json_loadb(m.body, m.size, 0, &jerr);
    snprintf(media_type, mt_size, "%s", m.media_type ? m.media_type : "");
    memcpy(digest, m.digest, SW_DIGEST_MAX);
    reg_manifest_release(&m);
    if (*doc == NULL)
        return sw_error_set(err, SW_EINVAL, "%s:%s: manifest is not JSON: %s", repo, reference,
                            jerr.text);
    return 0;
}

int bld_image_load(reg_store *store, const char *repo, const char *reference, const char *platform,
                   struct bld_image *out, sw_error **err)
{
    char os[32], arch[32], variant[32], media_type[128], digest[SW_DIGEST_MAX];
    json_t *doc = NULL;
    char *config_text = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = bld_platform_parse(platform ? platform : bld_platform_host(), os, arch, variant,
                                 err)) != 0)
        return rc;
    if ((rc = load_manifest_json(store, repo, reference, &doc, media_type, sizeof(media_type),
                                 digest, err)) != 0)
        goto cleanup;

    json_t *children = json_object_get(doc, "manifests");
    if (json_is_array(children)) {
        struct reg_platform want;
        json_t *desc = NULL;
        const char *chosen = NULL;
        if ((rc = reg_platform_parse(platform, &want, err)) != 0)
            goto cleanup;
        if (reg_index_select(doc, &want, &desc, NULL) == 0)
            chosen = json_string_value(json_object_get(desc, "digest"));
        if (chosen == NULL) {
            rc = sw_error_set(err, SW_ENOTFOUND, "%s:%s has no image for %s/%s%s%s", repo,
                              reference, os, arch, variant[0] ? "/" : "", variant);
            goto cleanup;
        }
        char child_digest[SW_DIGEST_MAX];
        snprintf(child_digest, sizeof(child_digest), "%s", chosen);
        json_decref(doc);
        doc = NULL;
        if ((rc = load_manifest_json(store, repo, child_digest, &doc, media_type,
                                     sizeof(media_type), digest, err)) != 0)
            goto cleanup;
    }

    json_t *config_desc = json_object_get(doc, "config");
    const char *config_digest = json_string_value(json_object_get(config_desc, "digest"));
    json_t *layers = json_object_get(doc, "layers");
    if (config_digest == NULL || !json_is_array(layers)) {
        rc = sw_error_set(err, SW_EINVAL, "%s:%s (%s) is not an image manifest", repo, reference,
                          media_type);
        goto cleanup;
    }
    size_t config_len = 0;
    if ((rc = reg_blob_read_all(store, config_digest, MAX_CONFIG_SIZE, &config_text, &config_len,
                                err)) != 0)
        goto cleanup;
    json_error_t jerr;
    out->config = json_loadb(config_text, config_len, 0, &jerr);
    if (!json_is_object(out->config)) {
        rc = sw_error_set(err, SW_EINVAL, "%s:%s: image config %s is not a JSON object", repo,
                          reference, config_digest);
        goto cleanup;
    }
    json_t *diff_ids = json_object_get(json_object_get(out->config, "rootfs"), "diff_ids");
    size_t n = json_array_size(layers);
    if (!json_is_array(diff_ids) || json_array_size(diff_ids) != n) {
        rc = sw_error_set(err, SW_EINVAL, "%s:%s: the config lists %zu diff IDs for %zu layers",
                          repo, reference, json_array_size(diff_ids), n);
        goto cleanup;
    }
    out->layers = calloc(n ? n : 1, sizeof(*out->layers));
    SW_CHECK_ALLOC(out->layers, rc, err, cleanup);
    for (size_t i = 0; i < n; i++) {
        json_t *l = json_array_get(layers, i);
        const char *ldigest = json_string_value(json_object_get(l, "digest"));
        const char *lmt = json_string_value(json_object_get(l, "mediaType"));
        const char *diff_id = json_string_value(json_array_get(diff_ids, i));
        if (ldigest == NULL || diff_id == NULL || strlen(ldigest) >= SW_DIGEST_MAX ||
            strlen(diff_id) >= SW_DIGEST_MAX) {
            rc = sw_error_set(err, SW_EINVAL, "%s:%s: layer %zu has no digest or diff ID", repo,
                              reference, i + 1);
            goto cleanup;
        }
        snprintf(out->layers[i].digest, SW_DIGEST_MAX, "%s", ldigest);
        snprintf(out->layers[i].diff_id, SW_DIGEST_MAX, "%s", diff_id);
        snprintf(out->layers[i].media_type, sizeof(out->layers[i].media_type), "%s",
                 lmt ? lmt : "application/vnd.oci.image.layer.v1.tar+gzip");
        out->layers[i].size = json_integer_value(json_object_get(l, "size"));
    }
    out->n_layers = n;
    memcpy(out->digest, digest, sizeof(out->digest));
    if (!json_is_array(json_object_get(out->config, "history")))
        json_object_set_new(out->config, "history", json_array());
cleanup:
    if (rc != 0)
        bld_image_release(out);
    json_decref(doc);
    free(config_text);
    return rc;
}

static int append_history(struct bld_image *img, const char *created_by, int64_t created,
                          int empty_layer, sw_error **err)
{
    json_t *history = json_object_get(img->config, "history");
    if (!json_is_array(history)) {
        history = json_array();
        json_object_set_new(img->config, "history", history);
    }
    char when[32];
    bld_format_time(created, when);
    json_t *entry = json_pack("{s:s, s:s, s:s}", "created", when, "created_by", created_by,
                              "comment", "slipway");
    if (entry == NULL)
        return sw_error_oom(err);
    if (empty_layer)
        json_object_set_new(entry, "empty_layer", json_true());
    json_array_append_new(history, entry);
    return 0;
}

int bld_image_add_history(struct bld_image *img, const char *created_by, int64_t created,
                          sw_error **err)
{
    return append_history(img, created_by, created, 1, err);
}

int bld_image_add_layer(struct bld_image *img, const struct bld_layer *layer,
                        const char *created_by, int64_t created, sw_error **err)
{
    struct bld_layer *bigger = realloc(img->layers, (img->n_layers + 1) * sizeof(*bigger));
    if (bigger == NULL)
        return sw_error_oom(err);
    img->layers = bigger;
    img->layers[img->n_layers++] = *layer;
    json_t *rootfs = json_object_get(img->config, "rootfs");
    if (!json_is_object(rootfs)) {
        rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
        json_object_set_new(img->config, "rootfs", rootfs);
    }
    json_t *diff_ids = json_object_get(rootfs, "diff_ids");
    if (!json_is_array(diff_ids)) {
        diff_ids = json_array();
        json_object_set_new(rootfs, "diff_ids", diff_ids);
    }
    json_array_append_new(diff_ids, json_string(layer->diff_id));
    return append_history(img, created_by, created, 0, err);
}

void bld_image_set_created(struct bld_image *img, int64_t created)
{
    char when[32];
    bld_format_time(created, when);
    json_object_set_new(img->config, "created", json_string(when));
}

const char *bld_image_env_get(struct bld_image *img, const char *name)
{
    json_t *env = json_object_get(bld_image_runconfig(img), "Env");
    size_t len = strlen(name), i;
    json_t *item;
    json_array_foreach(env, i, item) {
        const char *kv = json_string_value(item);
        if (kv && strncmp(kv, name, len) == 0 && kv[len] == '=')
            return kv + len + 1;
    }
    return NULL;
}

int bld_image_env_set(struct bld_image *img, const char *name, const char *value, sw_error **err)
{
    json_t *cfg = bld_image_runconfig(img);
    json_t *env = json_object_get(cfg, "Env");
    if (!json_is_array(env)) {
        env = json_array();
        json_object_set_new(cfg, "Env", env);
    }
    char *kv = NULL;
    if (asprintf(&kv, "%s=%s", name, value) < 0)
        return sw_error_oom(err);
    size_t len = strlen(name), i;
    json_t *item;
    json_array_foreach(env, i, item) {
        const char *old = json_string_value(item);
        if (old && strncmp(old, name, len) == 0 && old[len] == '=') {
            json_array_set_new(env, i, json_string(kv));
            free(kv);
            return 0;
        }
    }
    json_array_append_new(env, json_string(kv));
    free(kv);
    return 0;
}

/* 1 when repo holds exactly this image already: every tag points at the
 * manifest digest (with no tags: the manifest is stored), and its config
 * and layers are linked and present. A rebuild that changed nothing then
 * writes nothing: no blob, no row, no fsync. Any doubt (an error) is 0. */
static int already_stored(reg_store *store, const struct bld_image *img, const char *repo,
                          const char *const *tags, size_t n_tags, const char *config_digest,
                          const char *digest)
{
    sw_db *db = NULL;
    char at[SW_DIGEST_MAX];
    if (reg_store_db(store, &db, NULL) != 0)
        return 0;
    for (size_t i = 0; i < n_tags; i++)
        if (reg_tag_lookup(db, repo, tags[i], at, NULL) != 0 || strcmp(at, digest) != 0)
            return 0;
    if (n_tags == 0) {
        struct reg_manifest m;
        if (reg_manifest_get(store, repo, digest, 0, &m, NULL) != 0)
            return 0;
        reg_manifest_release(&m);
    }
    if (reg_blob_stat(store, repo, config_digest, NULL, NULL) != 0)
        return 0;
    for (size_t i = 0; i < img->n_layers; i++)
        if (reg_blob_stat(store, repo, img->layers[i].digest, NULL, NULL) != 0)
            return 0;
    return 1;
}

int bld_image_write(reg_store *store, const struct bld_image *img, const char *repo,
                    const char *const *tags, size_t n_tags, json_t *annotations,
                    char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    char config_digest[SW_DIGEST_MAX];
    char *config_text = NULL, *manifest_text = NULL;
    json_t *manifest = NULL;
    int rc = 0;

    /* compact, key-sorted JSON: the same config gives the same digest */
    config_text = json_dumps(img->config, JSON_COMPACT | JSON_SORT_KEYS);
    SW_CHECK_ALLOC(config_text, rc, err, cleanup);
    size_t config_len = strlen(config_text);
    sw_sha256_digest(config_text, config_len, config_digest);
    json_t *layers = json_array();
    manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
                         REG_MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
                         config_digest, "size", (json_int_t)config_len, "layers", layers);
    SW_CHECK_ALLOC(manifest, rc, err, cleanup);
    for (size_t i = 0; i < img->n_layers; i++) {
        const struct bld_layer *l = &img->layers[i];
        json_t *layer = json_pack("{s:s, s:s, s:I}", "mediaType", l->media_type, "digest",
                                  l->digest, "size", (json_int_t)l->size);
        SW_CHECK_ALLOC(layer, rc, err, cleanup);
        json_array_append_new(layers, layer);
    }
    if (annotations && json_object_size(annotations) > 0)
        json_object_set(manifest, "annotations", annotations);
    manifest_text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
    SW_CHECK_ALLOC(manifest_text, rc, err, cleanup);
    size_t len = strlen(manifest_text);
    char digest[SW_DIGEST_MAX];
    sw_sha256_digest(manifest_text, len, digest);
    if (already_stored(store, img, repo, tags, n_tags, config_digest, digest)) {
        memcpy(digest_out, digest, SW_DIGEST_MAX);
        goto cleanup;
    }

    if ((rc = reg_blob_put_buffer(store, repo, config_text, config_len, config_digest, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < img->n_layers; i++) {
        if ((rc = reg_blob_link(store, repo, img->layers[i].digest, err)) != 0) {
            sw_error_prefix(err, "layer %zu", i + 1);
            goto cleanup;
        }
    }
    /* storing it under a tag stores the manifest too: by digest only when
     * there is no tag (one blob write and one transaction fewer) */
    if (n_tags == 0 && (rc = reg_manifest_put(store, repo, digest, REG_MT_OCI_MANIFEST,
                                              manifest_text, len, digest_out, NULL, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < n_tags; i++) {
        if ((rc = reg_manifest_put(store, repo, tags[i], REG_MT_OCI_MANIFEST, manifest_text, len,
                                   digest_out, NULL, err)) != 0) {
            sw_error_prefix(err, "tagging %s:%s", repo, tags[i]);
            goto cleanup;
        }
    }
cleanup:
    if (rc != 0)
        sw_error_prefix(err, "storing the image in %s", repo);
    json_decref(manifest);
    free(config_text);
    free(manifest_text);
    return rc;
}
