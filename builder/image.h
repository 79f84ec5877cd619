/*
 * image.h - an image under construction: its OCI config and its layers.
 *
 * A build stage starts from a base image (loaded from the store, resolving
 * an index to the wanted platform) or from scratch, then every instruction
 * changes the config (Env, Cmd, ...) and appends history entries and
 * layers. bld_image_write stores the config blob and an OCI manifest and
 * tags it.
 */
#ifndef BLD_IMAGE_H
#define BLD_IMAGE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "builder/layers.h"
#include "registry/store.h"

struct bld_image {
    json_t *config;           /* the whole OCI image config; owned */
    struct bld_layer *layers; /* rootfs order, bottom first */
    size_t n_layers;
    char digest[SW_DIGEST_MAX]; /* manifest digest it was loaded from, or "" */
};

/* Parses "linux/amd64", "linux/arm64/v8" into os, architecture and
 * variant (each at most 31 chars; variant "" when absent). */
int bld_platform_parse(const char *platform, char os[32], char arch[32], char variant[32],
                       sw_error **err);

/* The platform of this machine, e.g. "linux/amd64". Static string. */
const char *bld_platform_host(void);

/* Loads repo:reference from the store. An index or manifest list is
 * resolved to the manifest for platform (NULL: the host's). */
int bld_image_load(reg_store *store, const char *repo, const char *reference, const char *platform,
                   struct bld_image *out, sw_error **err);

/* An empty image for platform (NULL: the host's), as FROM scratch. */
int bld_image_scratch(const char *platform, struct bld_image *out, sw_error **err);

/* A deep copy. */
int bld_image_copy(const struct bld_image *from, struct bld_image *out, sw_error **err);

void bld_image_release(struct bld_image *img);

/* The "config" object of the image config (Env, Cmd, Labels, ...),
 * created when missing. Borrowed. */
json_t *bld_image_runconfig(struct bld_image *img);

/* Appends a layer and its history entry. */
int bld_image_add_layer(struct bld_image *img, const struct bld_layer *layer,
                        const char *created_by, int64_t created, sw_error **err);

/* Appends a history entry for an instruction that made no layer. */
int bld_image_add_history(struct bld_image *img, const char *created_by, int64_t created,
                          sw_error **err);

/* Sets the config's "created" time (seconds since the epoch). */
void bld_image_set_created(struct bld_image *img, int64_t created);

/* Stores the image in repo: the config blob, the layers linked to repo, an
 * OCI image manifest (with annotations when not NULL), tagged with every
 * tag in tags (may be empty). digest_out receives the manifest digest. */
int bld_image_write(reg_store *store, const struct bld_image *img, const char *repo,
                    const char *const *tags, size_t n_tags, json_t *annotations,
                    char digest_out[SW_DIGEST_MAX], sw_error **err);

/* The value of variable name in the config's Env, or NULL. Borrowed. */
const char *bld_image_env_get(struct bld_image *img, const char *name);

/* Sets name=value in the config's Env (replacing an existing entry). */
int bld_image_env_set(struct bld_image *img, const char *name, const char *value, sw_error **err);

/* RFC 3339 UTC ("2024-01-02T03:04:05Z") into out (32 bytes). */
void bld_format_time(int64_t t, char out[32]);

#endif
