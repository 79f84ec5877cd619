/*
 * index.c - an OCI image index from the per-platform images of one build
 * (see index.h).
 */
#include "registry/index.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"

/* The "platform" object of an index descriptor. */
static json_t *platform_object(const struct reg_platform *p)
{
    json_t *obj = json_pack("{s:s, s:s}", "architecture", p->architecture, "os", p->os);
    if (obj == NULL)
        return NULL;
    const char *variant = p->variant;
    if (variant[0] == '\0' && strcmp(p->architecture, "arm64") == 0)
        variant = "v8";
    if (variant[0] && json_object_set_new(obj, "variant", json_string(variant)) != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

int reg_index_put(reg_store *store, const char *repo, const struct reg_index_entry *entries,
                  size_t n, char digest_out[SW_DIGEST_MAX], sw_error **err)
{
    json_t *manifests = json_array();
    json_t *index = NULL;
    char *text = NULL;
    struct reg_platform *seen = calloc(n ? n : 1, sizeof(*seen));
    int rc = 0;

    SW_CHECK_ALLOC(manifests, rc, err, cleanup);
    SW_CHECK_ALLOC(seen, rc, err, cleanup);
    if (n == 0) {
        rc = sw_error_set(err, SW_EINVAL, "an index of %s needs at least one image", repo);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        struct reg_manifest m = { 0 };
        if ((rc = reg_platform_parse(entries[i].platform, &seen[i], err)) != 0)
            goto cleanup;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(seen[j].os, seen[i].os) == 0 &&
                strcmp(seen[j].architecture, seen[i].architecture) == 0 &&
                strcmp(seen[j].variant, seen[i].variant) == 0) {
                rc = sw_error_set(err, SW_EINVAL, "platform %s is listed twice",
                                  entries[i].platform);
                goto cleanup;
            }
        }
        if ((rc = reg_manifest_get(store, repo, entries[i].digest, 0, &m, err)) != 0) {
            sw_error_prefix(err, "the %s image of %s", entries[i].platform, repo);
            goto cleanup;
        }
        if (!reg_media_type_is_image_manifest(m.media_type)) {
            rc = sw_error_set(err, SW_EINVAL, "%s@%s (%s) is %s, not an image manifest", repo,
                              entries[i].digest, entries[i].platform,
                              m.media_type ? m.media_type : "of no media type");
            reg_manifest_release(&m);
            goto cleanup;
        }
        json_t *platform = platform_object(&seen[i]);
        json_t *desc = platform
                           ? json_pack("{s:s, s:s, s:I, s:o}", "mediaType", m.media_type, "digest",
                                       m.digest, "size", (json_int_t)m.size, "platform", platform)
                           : NULL;
        reg_manifest_release(&m);
        SW_CHECK_ALLOC(desc, rc, err, cleanup);
        if (json_array_append_new(manifests, desc) != 0) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
    }
    index = json_pack("{s:i, s:s, s:O}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX,
                      "manifests", manifests);
    SW_CHECK_ALLOC(index, rc, err, cleanup);
    /* sorted keys and no whitespace: the bytes depend on the entries only */
    text = json_dumps(index, JSON_COMPACT | JSON_SORT_KEYS);
    SW_CHECK_ALLOC(text, rc, err, cleanup);
    char digest[SW_DIGEST_MAX];
    sw_sha256_digest(text, strlen(text), digest);
    rc = reg_manifest_put(store, repo, digest, REG_MT_OCI_INDEX, text, strlen(text), digest_out,
                          NULL, err);
    if (rc != 0)
        sw_error_prefix(err, "storing the image index of %s", repo);
cleanup:
    free(text);
    free(seen);
    json_decref(index);
    json_decref(manifests);
    return rc;
}
