/*
 * access.h - who may pull and push which repository: the per-repository
 * rules of registry.auth (see docs/config.md), evaluated in one place for
 * the registry, the JSON API and the builder (a build reads local images
 * with its repository's identity), and the scopes that narrow what a
 * token may do (Docker's grammar: repository:NAME_GLOB:pull,push).
 *
 * A rule may name the user `anonymous`: it then applies to everyone,
 * logged in or not. `*` means any logged-in user. The old
 * registry.auth.anonymous_pull is "anonymous may pull everything".
 */
#ifndef REG_ACCESS_H
#define REG_ACCESS_H

#include <stddef.h>

#include "core/config.h"
#include "core/error.h"

enum reg_access { REG_ACCESS_PULL = 1, REG_ACCESS_PUSH = 2 };

/* The user name a rule gives to requests without credentials. */
#define REG_ANONYMOUS "anonymous"

/* The REG_ACCESS_* bits that user (NULL: anonymous) has on repo under cfg.
 * With no registry.auth (no htpasswd) everything is allowed. */
unsigned reg_access_for(const struct sw_config *cfg, const char *user, const char *repo);

/* 1 when an anonymous request may pull at least one repository (so it may
 * read the catalog and the API's lists, filtered); always 1 without auth. */
int reg_access_anonymous_reads(const struct sw_config *cfg);

/* ---- scopes --------------------------------------------------------------- */

struct reg_scope {
    char *pattern;   /* repository name or glob (fnmatch) */
    unsigned access; /* REG_ACCESS_* */
};

struct reg_scopes {
    struct reg_scope *items;
    size_t n;
};

/* Parses scopes from text and appends them to *scopes: one or more
 * "repository:NAME_GLOB:ACTIONS" separated by spaces (or by a comma before
 * the next "repository:"), ACTIONS a comma list of pull, push or "*".
 * SW_EINVAL with a message naming the bad part. */
int reg_scopes_parse(const char *text, struct reg_scopes *scopes, sw_error **err);

/* Appends one scope (pattern copied); SW_ENOMEM on failure. */
int reg_scopes_add(struct reg_scopes *scopes, const char *pattern, unsigned access, sw_error **err);

/* The REG_ACCESS_* bits the scopes grant on repo (union of matches). */
unsigned reg_scopes_access(const struct reg_scopes *scopes, const char *repo);

/* The scopes as text that reg_scopes_parse reads back, space-separated,
 * malloc'd (NULL when out of memory). */
char *reg_scopes_format(const struct reg_scopes *scopes);

/* "pull", "push" or "pull,push" for REG_ACCESS_* bits ("" for none). */
const char *reg_access_actions(unsigned access);

void reg_scopes_clear(struct reg_scopes *scopes);

#endif
