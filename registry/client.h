/*
 * client.h - the registry client: pulls images from remote registries
 * (Docker Hub, GHCR, Distribution, ...) into our store (DESIGN.md §5, base
 * images). Used by the builder for FROM and by `slipway pull`.
 *
 * A pull resolves a reference the way Docker does (`busybox` is
 * docker.io/library/busybox:latest, spoken to at registry-1.docker.io),
 * tries the host's configured mirrors in order before the registry itself,
 * answers 401 challenges (anonymous or credentialed Bearer tokens, Basic),
 * verifies the manifest bytes against the digest asked for or announced,
 * picks one platform out of an index, streams every config and layer blob
 * through the store's blob writer (which verifies its digest) and only then
 * stores the image manifest under the local name.
 *
 * Index policy: a pull stores one platform. The selected image manifest is
 * stored and tagged; the index itself is not stored (its other children
 * would be missing), its digest is reported in reg_pull_result.index_digest.
 *
 * Secrets (passwords, tokens) are never logged nor put in error messages.
 */
#ifndef REG_CLIENT_H
#define REG_CLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/hash.h"
#include "registry/platform.h"
#include "registry/store.h"

/* ---- image references ---------------------------------------------------- */

#define REG_DOCKER_HUB_DOMAIN "docker.io"
#define REG_DOCKER_HUB_ENDPOINT "registry-1.docker.io"

/* A normalised reference: every field malloc'd except the absent ones. */
struct reg_ref {
    char *domain; /* "docker.io", "ghcr.io", "localhost:5000", "[::1]:5000" */
    char *path;   /* repository path on that registry: "library/busybox" */
    char *tag;    /* "latest" when neither tag nor digest was given; NULL
                     when only a digest was given */
    char *digest; /* "sha256:..." or NULL */
};

/* Parses and normalises an image reference exactly as Docker does:
 *   busybox                 -> docker.io/library/busybox:latest
 *   ghcr.io/o/r:tag         -> ghcr.io, o/r, tag
 *   host:5000/a/b@sha256:.. -> host:5000, a/b, digest
 *   localhost/x             -> localhost, x, latest
 * The first path component is a registry host when it contains '.' or ':'
 * or is "localhost"; "index.docker.io" becomes "docker.io". SW_EINVAL with
 * a message naming the reference for anything malformed (upper-case
 * repository, bad tag or digest, empty parts). Release with reg_ref_release. */
int reg_ref_parse(const char *text, struct reg_ref *out, sw_error **err);
void reg_ref_release(struct reg_ref *ref);

/* "domain/path:tag", "domain/path@digest" or "domain/path:tag@digest";
 * malloc'd, NULL on allocation failure. */
char *reg_ref_format(const struct reg_ref *ref);

/* The host:port spoken to for a domain ("docker.io" -> registry-1.docker.io;
 * every other domain is its own endpoint). Borrowed or static. */
const char *reg_ref_endpoint_host(const char *domain);

/* ---- authentication challenges -------------------------------------------- */

struct reg_auth_challenge {
    char *scheme;  /* "bearer" or "basic" (lower-cased); malloc'd */
    char *realm;   /* malloc'd or NULL */
    char *service; /* malloc'd or NULL */
    char *scope;   /* malloc'd or NULL */
};

/* Parses one WWW-Authenticate header value (RFC 7235: one or more
 * challenges, auth-params with token or quoted-string values). Fills
 * *out with the most useful challenge: Bearer over Basic, others skipped.
 * SW_EINVAL when no Bearer or Basic challenge can be read. Release with
 * reg_auth_challenge_release. */
int reg_auth_challenge_parse(const char *header, struct reg_auth_challenge *out, sw_error **err);
void reg_auth_challenge_release(struct reg_auth_challenge *c);

/* ---- pulling ----------------------------------------------------------------- */

struct reg_credential {
    const char *host; /* registry host[:port] as in the reference, or a
                         mirror's host[:port]; "docker.io" also matches
                         index.docker.io and registry-1.docker.io */
    const char *username;
    const char *password; /* or an identity token */
};

/* Called once per blob of the pulled image after it is in the store.
 * was_present: already in the store, nothing was downloaded. */
typedef void (*reg_pull_progress_fn)(void *ctx, const char *digest, int64_t size, int was_present);

struct reg_client_options {
    /* Hosts (host[:port], as in the reference) spoken to over plain HTTP.
     * Other hosts use HTTPS, except localhost, 127.0.0.1 and ::1 which try
     * HTTPS and fall back to HTTP, as Docker does. NULL-terminated or NULL. */
    const char *const *insecure_hosts;
    const struct reg_credential *credentials;
    size_t n_credentials;
    /* Per-host mirrors (usually cfg->mirrors): endpoint URLs tried in
     * order before the registry itself; a failing mirror falls through. */
    const struct sw_mirror *mirrors;
    size_t n_mirrors;
    long connect_timeout_s;        /* 0: 30 s */
    long stall_timeout_s;          /* abort a transfer idle this long; 0: 60 s */
    reg_pull_progress_fn progress; /* may be NULL */
    void *progress_ctx;
};

struct reg_pull_result {
    char manifest_digest[SW_DIGEST_MAX]; /* the image manifest stored */
    char config_digest[SW_DIGEST_MAX];   /* its config blob (in the store) */
    char index_digest[SW_DIGEST_MAX];    /* the remote index, "" if none */
    char media_type[100];                /* of the stored manifest */
    char platform[100];                  /* the selected platform, or the
                                            requested one for a plain manifest */
    int64_t bytes_downloaded;            /* blob bytes actually fetched */
    int n_blobs;                         /* config + layers */
};

/* Pulls `ref` (see reg_ref_parse) for `platform` ("os/arch[/variant]",
 * NULL: the host's) into store: blobs linked to local_repo, the image
 * manifest stored there under local_tag (NULL: stored by digest only,
 * untagged). local_repo NULL means the reference's path. The builder reads
 * the image config afterwards with reg_blob_read_all(result.config_digest).
 * Errors name the reference, the URL and the step, e.g.
 *   pulling docker.io/library/busybox:1.36: GET https://registry-1.docker.io
 *   /v2/library/busybox/manifests/1.36: 401 UNAUTHORIZED: authentication required
 * Nothing is tagged unless every blob arrived and verified. */
int reg_client_pull(reg_store *store, const struct reg_client_options *opts, const char *ref,
                    const char *platform, const char *local_repo, const char *local_tag,
                    struct reg_pull_result *result, sw_error **err);

#endif
