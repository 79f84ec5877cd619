/*
 * manifest.c - manifest PUT/GET/DELETE, tags, the catalog and referrers.
 *
 * A PUT is validated completely before anything is stored: size, JSON,
 * schemaVersion, media type (body field vs Content-Type), every
 * descriptor's shape. The body is then written through the blob writer
 * (hashed while written, fsynced, digest checked against a digest
 * reference) and, in ONE write transaction, the references are checked
 * (blobs linked to the repository, index children present), the body is
 * made visible as a blob, and the manifest row, its references and its tag
 * are written. Checking inside the transaction matters: garbage collection
 * removes blobs under the same lock, so a manifest can never be recorded
 * pointing at a blob that is being removed.
 *
 * A manifest's `subject` need not exist (the spec lets referrers arrive
 * before their subject). For referrers, an image manifest without
 * artifactType has its config's mediaType as artifact type, as the spec
 * says.
 */
#include "registry/manifest.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "registry/blobstore.h"
#include "registry/meta.h"
#include "registry/names.h"

struct manifest_ref {
    const char *digest; /* borrowed from the parsed JSON */
    int is_manifest;    /* index child rather than blob */
    int must_exist;     /* foreign layers (with urls) are fetched elsewhere */
};

struct parsed_manifest {
    json_t *root;
    char *media_type;
    const char *artifact_type; /* borrowed from root; NULL if none */
    const char *subject;       /* borrowed; NULL if none */
    char *annotations;         /* compact JSON, malloc'd; NULL if none */
    struct manifest_ref *refs;
    size_t n_refs;
};

static void parsed_manifest_free(struct parsed_manifest *p)
{
    json_decref(p->root);
    free(p->media_type);
    free(p->annotations);
    free(p->refs);
    memset(p, 0, sizeof(*p));
}

int reg_media_type_is_index(const char *media_type)
{
    return media_type && (strcmp(media_type, REG_MT_OCI_INDEX) == 0 ||
                          strcmp(media_type, REG_MT_DOCKER_LIST) == 0);
}

int reg_media_type_is_image_manifest(const char *media_type)
{
    return media_type && (strcmp(media_type, REG_MT_OCI_MANIFEST) == 0 ||
                          strcmp(media_type, REG_MT_DOCKER_MANIFEST) == 0);
}

static int is_supported_type(const char *media_type)
{
    return reg_media_type_is_index(media_type) || reg_media_type_is_image_manifest(media_type);
}

/* Content-Type without parameters and surrounding blanks; NULL if empty. */
static char *normalized_content_type(const char *content_type)
{
    if (content_type == NULL)
        return NULL;
    while (isspace((unsigned char)*content_type))
        content_type++;
    size_t len = strcspn(content_type, ";");
    while (len > 0 && isspace((unsigned char)content_type[len - 1]))
        len--;
    if (len == 0)
        return NULL;
    return strndup(content_type, len);
}

/* Checks a descriptor's required fields; *digest points into desc. */
static int check_descriptor(json_t *desc, const char *where, const char **digest, sw_error **err)
{
    if (!json_is_object(desc))
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "%s is not a descriptor object", where);
    json_t *media_type = json_object_get(desc, "mediaType");
    json_t *dig = json_object_get(desc, "digest");
    json_t *size = json_object_get(desc, "size");
    if (!json_is_string(media_type) || json_string_length(media_type) == 0)
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "%s has no mediaType", where);
    if (!json_is_string(dig) || !reg_digest_valid(json_string_value(dig)))
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "%s has no valid digest", where);
    if (!json_is_integer(size) || json_integer_value(size) < 0)
        return sw_error_set(err, REG_E_MANIFEST_INVALID, "%s has no valid size", where);
    *digest = json_string_value(dig);
    return 0;
}

static int add_ref(struct parsed_manifest *p, size_t cap, const char *digest, int is_manifest,
                   int must_exist)
{
    if (p->n_refs >= cap)
        return -1;
    p->refs[p->n_refs++] = (struct manifest_ref){ digest, is_manifest, must_exist };
    return 0;
}

/* Layers with `urls` are foreign (Windows base layers): clients fetch them
 * from those URLs, so they need not be in the repository. */
static int is_foreign_layer(json_t *desc)
{
    json_t *urls = json_object_get(desc, "urls");
    return json_is_array(urls) && json_array_size(urls) > 0;
}

static int parse_manifest(const void *body, size_t len, const char *content_type,
                          struct parsed_manifest *p, sw_error **err)
{
    json_error_t jerr;
    char *ct = normalized_content_type(content_type);
    char where[64];
    int rc = 0;
    memset(p, 0, sizeof(*p));
    p->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (p->root == NULL) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "manifest is not valid JSON: %s (line %d)",
                          jerr.text, jerr.line);
        goto cleanup;
    }
    if (!json_is_object(p->root)) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "manifest is not a JSON object");
        goto cleanup;
    }
    json_t *version = json_object_get(p->root, "schemaVersion");
    if (!json_is_integer(version) || json_integer_value(version) != 2) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "manifest schemaVersion must be 2");
        goto cleanup;
    }
    json_t *field = json_object_get(p->root, "mediaType");
    if (field && !json_is_string(field)) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "manifest mediaType is not a string");
        goto cleanup;
    }
    const char *field_type = field ? json_string_value(field) : NULL;
    if (field_type && ct && strcmp(field_type, ct) != 0) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID,
                          "manifest mediaType %s does not match Content-Type %s", field_type, ct);
        goto cleanup;
    }
    json_t *manifests = json_object_get(p->root, "manifests");
    const char *chosen = field_type  ? field_type
                         : ct        ? ct
                         : manifests ? REG_MT_OCI_INDEX
                                     : REG_MT_OCI_MANIFEST;
    if (!is_supported_type(chosen)) {
        rc =
            sw_error_set(err, REG_E_MANIFEST_INVALID, "unsupported manifest media type %s", chosen);
        goto cleanup;
    }
    if ((p->media_type = strdup(chosen)) == NULL) {
        rc = sw_error_oom(err);
        goto cleanup;
    }

    json_t *artifact_type = json_object_get(p->root, "artifactType");
    if (artifact_type &&
        (!json_is_string(artifact_type) || json_string_length(artifact_type) == 0)) {
        rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "manifest artifactType is not a string");
        goto cleanup;
    }
    p->artifact_type = artifact_type ? json_string_value(artifact_type) : NULL;

    if (reg_media_type_is_index(p->media_type)) {
        if (!json_is_array(manifests)) {
            rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "index has no manifests array");
            goto cleanup;
        }
        size_t cap = json_array_size(manifests);
        if ((p->refs = calloc(cap ? cap : 1, sizeof(*p->refs))) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        size_t i;
        json_t *desc;
        json_array_foreach(manifests, i, desc) {
            const char *digest = NULL;
            snprintf(where, sizeof(where), "manifests[%zu]", i);
            if ((rc = check_descriptor(desc, where, &digest, err)) != 0)
                goto cleanup;
            add_ref(p, cap, digest, 1, 1);
        }
    } else {
        json_t *config = json_object_get(p->root, "config");
        json_t *layers = json_object_get(p->root, "layers");
        const char *config_digest = NULL;
        if ((rc = check_descriptor(config, "config", &config_digest, err)) != 0)
            goto cleanup;
        if (!json_is_array(layers)) {
            rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "manifest has no layers array");
            goto cleanup;
        }
        size_t cap = json_array_size(layers) + 1;
        if ((p->refs = calloc(cap, sizeof(*p->refs))) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
        add_ref(p, cap, config_digest, 0, 1);
        size_t i;
        json_t *desc;
        json_array_foreach(layers, i, desc) {
            const char *digest = NULL;
            snprintf(where, sizeof(where), "layers[%zu]", i);
            if ((rc = check_descriptor(desc, where, &digest, err)) != 0)
                goto cleanup;
            add_ref(p, cap, digest, 0, !is_foreign_layer(desc));
        }
        if (p->artifact_type == NULL)
            p->artifact_type = json_string_value(json_object_get(config, "mediaType"));
    }

    json_t *subject = json_object_get(p->root, "subject");
    if (subject) {
        if ((rc = check_descriptor(subject, "subject", &p->subject, err)) != 0)
            goto cleanup;
    }
    json_t *annotations = json_object_get(p->root, "annotations");
    if (annotations) {
        const char *key;
        json_t *value;
        if (!json_is_object(annotations)) {
            rc = sw_error_set(err, REG_E_MANIFEST_INVALID, "annotations is not an object");
            goto cleanup;
        }
        json_object_foreach(annotations, key, value) {
            if (!json_is_string(value)) {
                rc =
                    sw_error_set(err, REG_E_MANIFEST_INVALID, "annotation %s is not a string", key);
                goto cleanup;
            }
        }
        if ((p->annotations = json_dumps(annotations, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
            rc = sw_error_oom(err);
            goto cleanup;
        }
    }
cleanup:
    free(ct);
    if (rc != 0)
        parsed_manifest_free(p);
    return rc;
}

int reg_manifest_validate(const void *body, size_t len, const char *content_type, size_t *n_refs,
                          sw_error **err)
{
    struct parsed_manifest p;
    int rc = parse_manifest(body, len, content_type, &p, err);
    if (rc != 0)
        return rc;
    if (n_refs)
        *n_refs = p.n_refs;
    parsed_manifest_free(&p);
    return 0;
}

/* Every referenced blob linked to the repository, every child present.
 * Runs inside the PUT's transaction. */
static int check_references(sw_db *db, int64_t repo_id, const char *repo,
                            const struct parsed_manifest *p, sw_error **err)
{
    for (size_t i = 0; i < p->n_refs; i++) {
        const struct manifest_ref *ref = &p->refs[i];
        int present = 0, rc;
        if (!ref->must_exist)
            continue;
        if (ref->is_manifest)
            rc = reg_meta_manifest_exists(db, repo_id, ref->digest, &present, err);
        else
            rc = reg_meta_blob_is_linked(db, repo_id, ref->digest, &present, err);
        if (rc != 0)
            return rc;
        if (!present)
            return sw_error_set(err, REG_E_MANIFEST_BLOB_UNKNOWN, "%s %s is not in repository %s",
                                ref->is_manifest ? "manifest" : "blob", ref->digest, repo);
    }
    return 0;
}

static int check_reference_syntax(const char *reference, sw_error **err)
{
    if (reg_reference_is_digest(reference)) {
        if (!reg_digest_valid(reference))
            return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", reference);
    } else if (!reg_tag_valid(reference)) {
        return sw_error_set(err, REG_E_TAG_INVALID, "invalid tag '%s'", reference);
    }
    return 0;
}

int reg_manifest_put(reg_store *store, const char *repo, const char *reference,
                     const char *content_type, const void *body, size_t len,
                     char digest_out[SW_DIGEST_MAX], char subject_out[SW_DIGEST_MAX],
                     sw_error **err)
{
    struct parsed_manifest p;
    reg_blob_writer *w = NULL;
    sw_db *db = NULL;
    char digest[SW_DIGEST_MAX];
    int64_t repo_id = 0;
    int rc, in_tx = 0;
    int is_digest_ref = reference && reg_reference_is_digest(reference);
    memset(&p, 0, sizeof(p));
    if (!reg_name_valid_stored(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if (reference && (rc = check_reference_syntax(reference, err)) != 0)
        return rc;
    if ((int64_t)len > reg_store_options(store)->max_manifest_size)
        return sw_error_set(err, REG_E_TOO_LARGE, "manifest of %zu bytes is over the limit of %lld",
                            len, (long long)reg_store_options(store)->max_manifest_size);
    if ((rc = parse_manifest(body, len, content_type, &p, err)) != 0)
        goto cleanup;

    enum sw_hash_algo algo = is_digest_ref ? reg_digest_algo(reference) : SW_HASH_SHA256;
    if ((rc = reg_blob_writer_new_algo(store, algo, &w, err)) != 0 ||
        (rc = reg_blob_writer_write(w, body, len, err)) != 0 ||
        (rc = reg_blob_writer_finish(w, is_digest_ref ? reference : NULL, digest, err)) != 0)
        goto cleanup;

    if ((rc = reg_store_db(store, &db, err)) != 0)
        goto cleanup;
    if ((rc = sw_db_begin(db, err)) != 0)
        goto cleanup;
    in_tx = 1;
    if ((rc = reg_meta_repo_ensure(db, repo, &repo_id, err)) != 0 ||
        (rc = check_references(db, repo_id, repo, &p, err)) != 0 ||
        (rc = reg_blob_writer_publish(w, db, repo_id, err)) != 0)
        goto cleanup;
    int64_t now = reg_meta_now();
    struct reg_meta_manifest_row row = {
        .repo_id = repo_id,
        .digest = digest,
        .media_type = p.media_type,
        .size = (int64_t)len,
        .artifact_type = p.artifact_type,
        .subject = p.subject,
        .annotations = p.annotations,
        .created_at = now,
    };
    if ((rc = reg_meta_manifest_upsert(db, &row, err)) != 0)
        goto cleanup;
    for (size_t i = 0; i < p.n_refs; i++)
        if ((rc = reg_meta_manifest_ref_insert(db, repo_id, digest, p.refs[i].digest,
                                               p.refs[i].is_manifest ? "manifest" : "blob", err)) !=
            0)
            goto cleanup;
    if (reference && !is_digest_ref &&
        (rc = reg_meta_tag_set(db, repo_id, reference, digest, now, err)) != 0)
        goto cleanup;
    if ((rc = sw_db_commit(db, err)) != 0)
        goto cleanup;
    in_tx = 0;
    if (digest_out)
        memcpy(digest_out, digest, SW_DIGEST_MAX);
    if (subject_out)
        snprintf(subject_out, SW_DIGEST_MAX, "%s", p.subject ? p.subject : "");
cleanup:
    if (in_tx)
        sw_db_rollback(db);
    reg_blob_writer_free(w);
    parsed_manifest_free(&p);
    if (rc != 0)
        sw_error_prefix(err, "storing manifest %s:%s", repo, reference ? reference : "");
    return rc;
}

int reg_manifest_get(reg_store *store, const char *repo, const char *reference, int want_body,
                     struct reg_manifest *out, sw_error **err)
{
    sw_db *db = NULL;
    char digest[SW_DIGEST_MAX];
    int64_t size = 0;
    size_t body_len = 0;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!reg_name_valid_stored(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if ((rc = check_reference_syntax(reference, err)) != 0)
        return rc;
    if ((rc = reg_store_db(store, &db, err)) != 0)
        return rc;
    if ((rc = reg_meta_manifest_resolve(db, repo, reference, reg_reference_is_digest(reference),
                                        digest, &out->media_type, &size, err)) != 0)
        return rc;
    memcpy(out->digest, digest, SW_DIGEST_MAX);
    out->size = (size_t)size;
    if (want_body) {
        rc = reg_blob_read_all(store, digest, (size_t)size, &out->body, &body_len, err);
        if (rc == 0 && body_len != (size_t)size)
            rc = sw_error_set(err, SW_EIO, "manifest %s in %s: stored body has %zu bytes, not %lld",
                              digest, repo, body_len, (long long)size);
        if (rc != 0) {
            sw_error_prefix(err, "reading manifest %s of %s", digest, repo);
            reg_manifest_release(out);
        }
    }
    return rc;
}

void reg_manifest_release(struct reg_manifest *m)
{
    if (m == NULL)
        return;
    free(m->media_type);
    free(m->body);
    m->media_type = NULL;
    m->body = NULL;
}

int reg_manifest_delete(reg_store *store, const char *repo, const char *reference, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    int removed = 0, rc;
    int is_digest = reg_reference_is_digest(reference);
    if (!reg_store_options(store)->delete_enabled)
        return sw_error_set(err, REG_E_UNSUPPORTED, "deleting manifests is disabled");
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if ((rc = check_reference_syntax(reference, err)) != 0)
        return rc;
    if ((rc = reg_store_db(store, &db, err)) != 0)
        return rc;
    rc = reg_meta_repo_find(db, repo, &repo_id, err);
    if (rc == REG_E_NAME_UNKNOWN) {
        sw_error_clear(err);
        return sw_error_set(err, REG_E_MANIFEST_UNKNOWN, "manifest %s is not in repository %s",
                            reference, repo);
    }
    if (rc != 0)
        return rc;
    if ((rc = sw_db_begin(db, err)) != 0)
        return rc;
    if (is_digest)
        rc = reg_meta_manifest_delete(db, repo_id, reference, &removed, err);
    else
        rc = reg_meta_tag_delete(db, repo_id, reference, &removed, err);
    if (rc == 0 && !removed)
        rc = sw_error_set(err, REG_E_MANIFEST_UNKNOWN, "%s %s is not in repository %s",
                          is_digest ? "manifest" : "tag", reference, repo);
    if (rc == 0)
        rc = sw_db_commit(db, err);
    if (rc != 0)
        sw_db_rollback(db);
    return rc;
}

int reg_tags_list(reg_store *store, const char *repo, const char *last, int n, char ***tags,
                  size_t *count, int *more, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    *tags = NULL;
    *count = 0;
    *more = 0;
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    if ((rc = reg_meta_repo_find(db, repo, &repo_id, err)) != 0)
        return rc;
    return reg_meta_tags_page(db, repo_id, last, n, tags, count, more, err);
}

int reg_tags_version(reg_store *store, const char *repo, int64_t *version, sw_error **err)
{
    sw_db *db = NULL;
    *version = 0;
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    return reg_meta_repo_tags_version(db, repo, version, err);
}

int reg_catalog_list(reg_store *store, const char *last, int n, char ***names, size_t *count,
                     int *more, sw_error **err)
{
    sw_db *db = NULL;
    *names = NULL;
    *count = 0;
    *more = 0;
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    return reg_meta_catalog_page(db, last, n, names, count, more, err);
}

void reg_string_list_free(char **list, size_t count)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

static int add_referrer(void *ctx, const struct reg_meta_manifest_row *row)
{
    json_t *manifests = ctx;
    json_t *desc = json_pack("{s:s, s:s, s:I}", "mediaType", row->media_type, "digest", row->digest,
                             "size", (json_int_t)row->size);
    if (desc == NULL)
        return SW_ENOMEM;
    if (row->artifact_type)
        json_object_set_new(desc, "artifactType", json_string(row->artifact_type));
    if (row->annotations) {
        json_t *annotations = json_loads(row->annotations, 0, NULL);
        if (json_is_object(annotations) && json_object_size(annotations) > 0)
            json_object_set_new(desc, "annotations", annotations);
        else
            json_decref(annotations);
    }
    return json_array_append_new(manifests, desc) == 0 ? 0 : SW_ENOMEM;
}

int reg_referrers(reg_store *store, const char *repo, const char *digest, const char *artifact_type,
                  json_t **index, sw_error **err)
{
    sw_db *db = NULL;
    int64_t repo_id = 0;
    json_t *manifests = NULL;
    *index = NULL;
    if (!reg_name_valid(repo))
        return sw_error_set(err, REG_E_NAME_INVALID, "invalid repository name '%s'", repo);
    if (!reg_digest_valid(digest))
        return sw_error_set(err, REG_E_DIGEST_INVALID, "invalid digest '%s'", digest);
    if (artifact_type && *artifact_type == '\0')
        artifact_type = NULL;
    int rc = reg_store_db(store, &db, err);
    if (rc != 0)
        return rc;
    if ((manifests = json_array()) == NULL)
        return sw_error_oom(err);
    rc = reg_meta_repo_find(db, repo, &repo_id, err);
    if (rc == REG_E_NAME_UNKNOWN) {
        sw_error_clear(err); /* an unknown repository has no referrers */
        rc = 0;
    } else if (rc == 0) {
        rc = reg_meta_referrers_each(db, repo_id, digest, artifact_type, add_referrer, manifests,
                                     err);
        if (rc == SW_ENOMEM)
            rc = sw_error_set(err, SW_ENOMEM, "listing referrers: out of memory");
    }
    if (rc != 0) {
        json_decref(manifests);
        return rc;
    }
    *index = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", REG_MT_OCI_INDEX,
                       "manifests", manifests);
    if (*index == NULL)
        return sw_error_oom(err);
    return 0;
}

int reg_tag_lookup(sw_db *db, const char *repo, const char *tag, char digest[SW_DIGEST_MAX],
                   sw_error **err)
{
    return reg_meta_tag_resolve(db, repo, tag, digest, err);
}

int reg_tag_point(sw_db *db, const char *repo, const char *tag, const char *digest, sw_error **err)
{
    int64_t repo_id = 0;
    int rc = reg_meta_repo_ensure(db, repo, &repo_id, err);
    if (rc != 0)
        return rc;
    return reg_meta_tag_set(db, repo_id, tag, digest, reg_meta_now(), err);
}
