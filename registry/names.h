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

/* Images pulled from remote registries are kept under REG_REMOTE_PREFIX
 * "<host>/<path>" (e.g. "_remote/docker.io/library/alpine"): a name the
 * grammar above rejects, so no push, pull or mount over HTTP can name it,
 * and no pushed repository can stand in for a remote image. */
#define REG_REMOTE_PREFIX "_remote/"

/* 1 when name is REG_REMOTE_PREFIX followed by a valid name. */
int reg_name_is_remote(const char *name);

/* What the store accepts from the builder and the registry client: a valid
 * name or a remote-cache name. Requests from outside use reg_name_valid. */
int reg_name_valid_stored(const char *name);

/* [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127} */
int reg_tag_valid(const char *tag);

/* algorithm ":" encoded, with sha256 (64 lower hex) and sha512 (128 lower
 * hex) checked strictly; other registered-looking algorithms are rejected. */
int reg_digest_valid(const char *digest);

/* 1 if the reference looks like a digest (contains ':'), else a tag. */
int reg_reference_is_digest(const char *reference);

#endif
