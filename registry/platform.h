/*
 * platform.h - platforms "os/arch[/variant]": the host's (computed in one
 * place), parsing and normalising them as containerd does, and matching
 * an image config or an index entry against a wanted platform. Used by
 * the registry client's index selection, the builder (FROM --platform,
 * TARGETPLATFORM, local indexes) and the transfer code.
 */
#ifndef REG_PLATFORM_H
#define REG_PLATFORM_H

#include <jansson.h>

#include "core/error.h"

struct reg_platform {
    char os[32];           /* "linux" */
    char architecture[32]; /* normalised: amd64, arm64, arm, 386, ppc64le ... */
    char variant[32];      /* normalised: "" or v5/v6/v7/v8, v2/v3 for amd64 */
};

/* The host's platform, normalised ("linux/amd64", "linux/arm/v7" ...). */
void reg_platform_host(struct reg_platform *out);

/* The same as text; static storage. */
const char *reg_platform_host_text(void);

/* Parses "os/arch[/variant]" and normalises it as containerd does
 * (x86_64 -> amd64, aarch64 -> arm64 with variant v8 dropped, armhf ->
 * arm/v7, ...). NULL or "" gives the host's platform. SW_EINVAL otherwise. */
int reg_platform_parse(const char *text, struct reg_platform *out, sw_error **err);

/* "os/arch[/variant]" into out. */
void reg_platform_format(const struct reg_platform *p, char out[100]);

/* reg_platform_parse then reg_platform_format: the normalised text of a
 * platform into out; NULL gives the host's, "" is SW_EINVAL. */
int reg_platform_normalize_text(const char *text, char out[100], sw_error **err);

/* containerd's Normalize, in place: one spelling per architecture and
 * variant, lower case. */
void reg_platform_normalize(struct reg_platform *p);

/* The platform of a JSON object with "os", "architecture" and optional
 * "variant" (an image config, or an index entry's "platform"), normalised.
 * -1 when it has none, or is "unknown" (attestations). */
int reg_platform_of_json(json_t *obj, struct reg_platform *out);

/* 0 when `have` is exactly `want`, a positive distance for a compatible
 * older variant (arm v7 runs v6 and v5, amd64 v3 runs v2 and v1), -1 when
 * `have` does not run on `want`. */
int reg_platform_rank(const struct reg_platform *want, const struct reg_platform *have);

/* In an OCI index / Docker manifest list, the descriptor of the best child
 * for `want` (os and architecture equal, the exact variant preferred, else
 * the closest compatible lower variant; entries without a platform or for
 * "unknown" are skipped). *desc is borrowed from index. SW_ENOTFOUND
 * naming the wanted platform and those offered. */
int reg_index_select(json_t *index, const struct reg_platform *want, json_t **desc, sw_error **err);

#endif
