/*
 * repos.h - the source repositories the build service builds (the
 * config's `repos:` section) and their build rules.
 *
 *   repos:
 *     - name: demo/hello                     image repository in our registry
 *       git: https://github.com/acme/hello.git
 *       token: env:GH_TOKEN                  https credentials (never logged)
 *       ssh_key: /root/.ssh/id_ed25519       ssh credentials
 *       known_hosts: /etc/slipway/known_hosts ssh host keys (default: ~/.ssh/known_hosts
 *                                            and /etc/ssh/ssh_known_hosts)
 *       secret: env:HELLO_SECRET             webhook secret
 *       status_token: env:GH_STATUS          commit statuses (GitHub API)
 *       status_api: https://api.github.com
 *       submodules: false | true | {allow_local: true}   (worker/git.h)
 *       insecure: false                      credentials may go over plain http://
 *       run_as: alice                        the identity builds read images with
 *                                            (an htpasswd user; default anonymous)
 *       secrets: {npmrc: file:/etc/npmrc}    build secrets (env:NAME | file:PATH)
 *       forward_ssh: false                   RUN --mount=type=ssh gets an agent
 *                                            holding ssh_key (id "default")
 *       autotest / notify / cache            defaults for the rules
 *       rules:
 *         - source_type: branch | tag | pull_request
 *           source: main | /regex/           PCRE2, searched unanchored (pull_request:
 *                                            the target branch)
 *           forks: false                     pull_request: fork pull requests too
 *           dockerfile, context, build_args, tags, semver, autotest, notify, cache
 *       timers:                              worker/timers.h
 *         - schedule: "0 3 * * *"
 *           branch: main                     a branch rule must match it
 *           timezone: UTC                    or a fixed offset, +01:00
 *
 * Errors name the file, the line, the repository, the rule and the key:
 *   slipway.yaml:14: repos[demo/hello].rules[2].source: invalid regex: ...
 * (rules are counted from 1, as a person reads them).
 */
#ifndef WRK_REPOS_H
#define WRK_REPOS_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/error.h"
#include "worker/timers.h"

#define WRK_MAX_GROUPS 9

/* The body a notify URL gets: Docker Hub's webhook payload (the default),
 * a CloudEvents 1.0 structured event, or a Slack incoming-webhook message. */
enum wrk_notify_format { WRK_NOTIFY_DOCKERHUB = 0, WRK_NOTIFY_CLOUDEVENTS, WRK_NOTIFY_SLACK };

struct wrk_rule {
    int index;         /* position in the repository's rules, from 0 */
    char *source_type; /* "branch" or "tag" */
    char *source;      /* the exact name, or the regex without its slashes */
    int is_regex;
    void *re;          /* pcre2_code *, private */
    char *dockerfile;  /* relative to the repository root; default "Dockerfile" */
    char *context;     /* relative to the repository root; default "." */
    char **build_args; /* "K=V" */
    size_t n_build_args;
    char **tags; /* templates (wrk_tags_render) */
    size_t n_tags;
    int semver;
    char **autotest;    /* NULL-terminated argv, or NULL */
    char **notify;      /* URLs */
    int *notify_format; /* enum wrk_notify_format of each URL */
    size_t n_notify;
    int cache;
    int forks; /* pull_request rules: build pull requests from forks too */
    /* platforms: normalised "os/arch[/variant]"; none (n_platforms 0):
     * the worker's own. Two or more build one image index. */
    char **platforms;
    size_t n_platforms;
};

#define WRK_MAX_PLATFORMS 8

struct wrk_repo {
    char *name;
    char *git;
    char *git_normalized; /* wrk_git_url_normalize(git) */
    char *token;          /* resolved secrets; NULL when not set */
    char *ssh_key;
    char *known_hosts; /* NULL: OpenSSH's default files */
    char *secret;
    char *status_token;
    char *status_api; /* NULL: https://api.github.com */
    int submodules;   /* WRK_GIT_SUBMODULES* flags (worker/git.h) */
    int insecure;     /* credentials may go over plain http:// */
    char *run_as;     /* registry user the builds read images as; NULL: anonymous */
    struct wrk_rule *rules;
    size_t n_rules;
    struct wrk_timer *timers; /* `timers:` (worker/timers.h) */
    size_t n_timers;
    /* secrets: {ID: env:NAME | file:PATH}, build secrets for
     * RUN --mount=type=secret,id=ID (read when a build starts) */
    char **secret_ids;
    char **secret_refs;
    size_t n_secrets;
    int forward_ssh; /* forward_ssh: ssh_key as RUN --mount=type=ssh's agent */
};

struct wrk_repos {
    struct wrk_repo *repos;
    size_t n;
    char id_prefix[8]; /* runs.id_prefix, default "ca" */
};

/* runs.keep in seconds: a duration of 1h to 100 years, 0 for "forever";
 * -1 when it is neither. */
int64_t wrk_runs_keep_parse(const json_t *node);

/* runs.max_log_size: bytes (at least 64KiB), 0 for "unlimited", -1 when
 * absent or bad. */
int64_t wrk_runs_max_log_size_parse(const json_t *node);

/* Reads and checks `repos:` and `runs:`; an empty list when there is no
 * repos section. Free with wrk_repos_free. */
int wrk_repos_load(const struct sw_config *cfg, struct wrk_repos **out, sw_error **err);
void wrk_repos_free(struct wrk_repos *repos);

const struct wrk_repo *wrk_repos_find(const struct wrk_repos *repos, const char *name);

/* The form in which a forge's URLs of a repository compare equal with the
 * configured one: host (lower case, no user, no default port) and path
 * (no trailing "/" or ".git"), whatever the scheme: https://, ssh://,
 * git://, scp-like git@host:path all give "github.com/acme/hello".
 * file:// URLs keep their scheme ("file:///srv/x"). malloc'd, or NULL. */
char *wrk_git_url_normalize(const char *url);

struct wrk_match {
    const struct wrk_rule *rule;
    char *groups[WRK_MAX_GROUPS + 1]; /* [0] the whole match; NULL when unset */
    int n_groups;
};

/* Matches a push of source_type ("branch" or "tag") ref, or a pull request
 * ("pull_request") into the target branch ref, against the
 * repository's rules in order; up to max matches (one per matching rule)
 * go to out. Returns how many. Release each with wrk_match_clear. */
size_t wrk_repo_match(const struct wrk_repo *repo, const char *source_type, const char *ref,
                      struct wrk_match *out, size_t max);
void wrk_match_clear(struct wrk_match *m);

#endif
