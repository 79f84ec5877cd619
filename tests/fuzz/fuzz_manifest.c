/*
 * fuzz_manifest.c - libFuzzer target for manifest validation (the checks a
 * manifest PUT runs before anything is stored) and, for indexes, the
 * pull side's platform selection. The first input byte picks the
 * Content-Type the body arrives with; the rest is the body. Any input must
 * give a result or an error, never a crash or a sanitizer report.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/client.h"
#include "registry/manifest.h"

static const char *const content_types[] = {
    NULL,
    REG_MT_OCI_MANIFEST,
    REG_MT_OCI_INDEX,
    REG_MT_DOCKER_MANIFEST,
    REG_MT_DOCKER_LIST,
    "application/vnd.oci.image.manifest.v1+json; charset=utf-8",
    "  application/vnd.oci.image.index.v1+json  ",
    "application/json",
    "",
    ";",
};

static const char *const platforms[] = { "linux/amd64", "linux/arm/v7", "linux/arm64",
                                         "windows/amd64" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n_types = sizeof(content_types) / sizeof(content_types[0]);
    const char *ct = content_types[data[0] % n_types];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    sw_error *err = NULL;
    size_t n_refs = 0;

    if (reg_manifest_validate(body, len, ct, &n_refs, &err) != 0 && err == NULL)
        abort(); /* a failure must say why */
    sw_error_clear(&err);

    json_t *root = json_loadb(body, len, 0, NULL);
    if (root != NULL && json_is_object(root) && json_object_get(root, "manifests") != NULL) {
        struct reg_platform want;
        const char *p = platforms[data[0] % (sizeof(platforms) / sizeof(platforms[0]))];
        if (reg_platform_parse(p, &want, &err) == 0) {
            json_t *desc = NULL;
            if (reg_index_select(root, &want, &desc, &err) == 0 && desc == NULL)
                abort(); /* success must name a descriptor */
        }
        sw_error_clear(&err);
    }
    json_decref(root);
    return 0;
}
