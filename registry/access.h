/*
 * access.h - who may pull and push which repository: the per-repository
 * rules of registry.auth (see docs/config.md), evaluated in one place for
 * the registry, the JSON API and the builder (a build reads local images
 * with its repository's identity).
 */
#ifndef REG_ACCESS_H
#define REG_ACCESS_H

#include "core/config.h"

enum reg_access { REG_ACCESS_PULL = 1, REG_ACCESS_PUSH = 2 };

/* The REG_ACCESS_* bits that user (NULL: anonymous) has on repo under cfg.
 * With no registry.auth (no htpasswd) everything is allowed. */
unsigned reg_access_for(const struct sw_config *cfg, const char *user, const char *repo);

#endif
