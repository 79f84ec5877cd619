/*
 * tags.h - the tags a run applies: a rule's tag templates rendered for
 * one push, plus the semver expansion.
 *
 * Templates: literal text with placeholders
 *   {sourceref}      the branch or tag name
 *   {\1} .. {\9}     the rule's regex capture groups (unset: empty)
 *   {run_id}         the run id, e.g. ca7
 *   {commit}         the 40-hex commit id; {commit:N} its first N (1..40)
 *   {date}           the commit's UTC date, YYYYMMDD
 *   {number}         a pull request's number (pull_request rules only)
 * e.g. latest, "{sourceref}", "sha-{commit:7}", "v{\1}-beta", "pr-{number}".
 *
 * A rendered tag is made a valid OCI tag: characters outside
 * [A-Za-z0-9_.-] become '-' (feature/x -> feature-x), a leading '.' or '-'
 * becomes '_', at most 128 characters.
 *
 * semver: a tag v2.1.5 (or 2.1.5) gives 2.1.5, 2.1, 2 and latest; a
 * pre-release v2.2.0-rc.1 gives only 2.2.0-rc.1; build metadata (+...) is
 * dropped. The full version tag is immutable: it must never move to
 * another image.
 */
#ifndef WRK_TAGS_H
#define WRK_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "worker/repos.h"

struct wrk_tag_context {
    const char *source_ref;
    const char *run_id;
    const char *commit;            /* 40 hex */
    int64_t commit_time;           /* for {date} */
    const struct wrk_match *match; /* the rule's match (captures); may be NULL */
    long long pr_number;           /* for {number}; 0 when not a pull request */
};

struct wrk_tag {
    char *name;
    int immutable; /* a semver release/pre-release version tag */
};

/* Checks a template's placeholders; max_group is the highest {\N} allowed
 * (0 for rules without a regex). */
int wrk_tags_check_template(const char *tmpl, int max_group, sw_error **err);

/* The rule's tags for one run, de-duplicated, in order (semver tags first).
 * Free with wrk_tags_free. */
int wrk_tags_render(const struct wrk_rule *rule, const struct wrk_tag_context *ctx,
                    struct wrk_tag **tags, size_t *n, sw_error **err);
void wrk_tags_free(struct wrk_tag *tags, size_t n);

struct wrk_semver {
    unsigned long major, minor, patch;
    char prerelease[128]; /* "" for a release */
};

/* 1 when s is a semantic version (optionally with a leading v or V). */
int wrk_semver_parse(const char *s, struct wrk_semver *out);

#endif
