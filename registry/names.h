/*
 * names.h - validation of repository names, tags, digests and references,
 * exactly as the OCI Distribution Specification's grammar defines them.
 * Everything from a request passes through here before touching the store.
 */
#ifndef REG_NAMES_H
#define REG_NAMES_H

#include <stddef.h>

#define REG_NAME_MAX 255 /* repository name, as Distribution limits it */
#define REG_TAG_MAX 128

/* [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)* */
int reg_name_valid(const char *name);

/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
int reg_tag_valid(const char *tag);

/* algorithm ":" encoded, with sha256 (64 lower hex) and sha512 (128 lower
 * hex) checked strictly; other registered-looking algorithms are rejected. */
int reg_digest_valid(const char *digest);

/* 1 if the reference looks like a digest (contains ':'), else a tag. */
int reg_reference_is_digest(const char *reference);

#endif
