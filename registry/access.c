/*
 * access.c - evaluation of registry.auth's per-repository rules.
 */
#include <fnmatch.h>
#include <string.h>

#include "registry/access.h"

static int rule_names_user(const struct sw_access_rule *rule, const char *user)
{
    for (char **u = rule->users; u && *u; u++) {
        if (strcmp(*u, "*") == 0 || strcmp(*u, user) == 0)
            return 1;
    }
    return 0;
}

unsigned reg_access_for(const struct sw_config *cfg, const char *user, const char *repo)
{
    unsigned access = 0;

    if (cfg == NULL || cfg->htpasswd == NULL)
        return REG_ACCESS_PULL | REG_ACCESS_PUSH;
    if (user == NULL)
        return cfg->anonymous_pull ? REG_ACCESS_PULL : 0;
    if (cfg->n_rules == 0)
        return REG_ACCESS_PULL | REG_ACCESS_PUSH;
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const struct sw_access_rule *rule = &cfg->rules[i];
        if (repo == NULL || fnmatch(rule->repo_pattern, repo, 0) != 0 ||
            !rule_names_user(rule, user))
            continue;
        if (rule->can_pull)
            access |= REG_ACCESS_PULL;
        if (rule->can_push)
            access |= REG_ACCESS_PUSH;
    }
    if (cfg->anonymous_pull)
        access |= REG_ACCESS_PULL;
    return access;
}
