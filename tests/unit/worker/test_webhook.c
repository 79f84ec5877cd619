/*
 * test_webhook.c - worker/webhook.c: signatures of GitHub, GitLab and
 * Gitea/Forgejo deliveries, and the pushes read out of their payloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/hash.h"
#include "tests/unit/test.h"
#include "worker/webhook.h"

/* Request headers for the tests: name/value pairs, NULL-terminated. */
static const char *header(void *ctx, const char *name)
{
    const char *const *h = ctx;
    for (; h && h[0]; h += 2)
        if (strcasecmp(h[0], name) == 0)
            return h[1];
    return NULL;
}

static int verify(enum wrk_forge forge, const char *secret, const char *const *headers,
                  const char *body, char *msg, size_t size)
{
    sw_error *err = NULL;
    int rc = wrk_webhook_verify(forge, secret, header, (void *)headers, body, strlen(body), &err);
    snprintf(msg, size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    return rc;
}

static void test_github_published_vector(void)
{
    /* docs.github.com: "Validating webhook deliveries", test values */
    const char *headers[] = {
        "X-Hub-Signature-256",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", NULL
    };
    char msg[256];
    CHECK_INT_EQ(verify(WRK_FORGE_GITHUB, "It's a Secret to Everybody", headers, "Hello, World!",
                        msg, sizeof(msg)),
                 0);
    /* one byte of the body changed */
    CHECK_INT_EQ(verify(WRK_FORGE_GITHUB, "It's a Secret to Everybody", headers, "Hello, World?",
                        msg, sizeof(msg)),
                 SW_EPERM);
    CHECK_STR_EQ(msg, "X-Hub-Signature-256 does not match");
    /* another secret */
    CHECK_INT_EQ(verify(WRK_FORGE_GITHUB, "It's a secret to everybody", headers, "Hello, World!",
                        msg, sizeof(msg)),
                 SW_EPERM);
    /* upper-case hex is the same signature */
    const char *upper[] = {
        "X-Hub-Signature-256",
        "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", NULL
    };
    CHECK_INT_EQ(verify(WRK_FORGE_GITHUB, "It's a Secret to Everybody", upper, "Hello, World!", msg,
                        sizeof(msg)),
                 0);
    /* the old SHA-1 header alone is not accepted */
    const char *sha1[] = { "X-Hub-Signature", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
                           NULL };
    CHECK_INT_EQ(verify(WRK_FORGE_GITHUB, "It's a Secret to Everybody", sha1, "Hello, World!", msg,
                        sizeof(msg)),
                 SW_EPERM);
    CHECK_STR_EQ(msg, "missing X-Hub-Signature-256 header");
    /* truncated, or without the prefix */
    const char *shorter[] = { "X-Hub-Signature-256", "sha256=757107ea0eb2509fc2", NULL };
    CHECK(verify(WRK_FORGE_GITHUB, "It's a Secret to Everybody", shorter, "Hello, World!", msg,
                 sizeof(msg)) != 0);
    const char *bare[] = { "X-Hub-Signature-256",
                           "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                           NULL };
    CHECK(verify(WRK_FORGE_GITHUB, "It's a Secret to Everybody", bare, "Hello, World!", msg,
                 sizeof(msg)) != 0);
    /* no secret configured: accepted */
    CHECK_INT_EQ(verify(WRK_FORGE_GITHUB, NULL, NULL, "Hello, World!", msg, sizeof(msg)), 0);
}

static void test_gitlab_token(void)
{
    char msg[256];
    const char *good[] = { "X-Gitlab-Token", "tok3n", NULL };
    const char *bad[] = { "X-Gitlab-Token", "tok3n ", NULL };
    CHECK_INT_EQ(verify(WRK_FORGE_GITLAB, "tok3n", good, "{}", msg, sizeof(msg)), 0);
    CHECK_INT_EQ(verify(WRK_FORGE_GITLAB, "tok3n", bad, "{}", msg, sizeof(msg)), SW_EPERM);
    CHECK_INT_EQ(verify(WRK_FORGE_GITLAB, "tok3n", NULL, "{}", msg, sizeof(msg)), SW_EPERM);
    CHECK_STR_EQ(msg, "missing X-Gitlab-Token header");
}

static void test_gitea_signature(void)
{
    char msg[256], hex[SW_SHA256_HEX_LEN + 1];
    const char *body = "{\"ref\":\"refs/heads/main\"}";
    sw_hmac_sha256_hex("k", 1, body, strlen(body), hex);
    const char *gitea[] = { "X-Gitea-Signature", hex, NULL };
    const char *forgejo[] = { "X-Forgejo-Signature", hex, NULL };
    CHECK_INT_EQ(verify(WRK_FORGE_GITEA, "k", gitea, body, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(verify(WRK_FORGE_GITEA, "k", forgejo, body, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(verify(WRK_FORGE_GITEA, "other", gitea, body, msg, sizeof(msg)), SW_EPERM);
    CHECK_INT_EQ(verify(WRK_FORGE_GITEA, "k", NULL, body, msg, sizeof(msg)), SW_EPERM);
    char prefixed[80];
    snprintf(prefixed, sizeof(prefixed), "sha256=%s", hex);
    const char *wrong_form[] = { "X-Gitea-Signature", prefixed, NULL };
    CHECK_INT_EQ(verify(WRK_FORGE_GITEA, "k", wrong_form, body, msg, sizeof(msg)), SW_EPERM);
}

static int parse(enum wrk_forge forge, const char *const *headers, const char *body,
                 struct wrk_hook_event *ev, char *msg, size_t size)
{
    sw_error *err = NULL;
    int rc = wrk_webhook_parse(forge, header, (void *)headers, body, strlen(body), ev, &err);
    snprintf(msg, size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    return rc;
}

static const char *github_push =
    "{\"ref\":\"refs/heads/main\",\"before\":\"1111111111111111111111111111111111111111\","
    "\"after\":\"2222222222222222222222222222222222222222\",\"created\":false,"
    "\"deleted\":false,\"forced\":false,"
    "\"repository\":{\"id\":1,\"name\":\"hello\",\"full_name\":\"acme/hello\","
    "\"html_url\":\"https://github.com/acme/hello\",\"url\":\"https://github.com/acme/hello\","
    "\"git_url\":\"git://github.com/acme/hello.git\",\"ssh_url\":\"git@github.com:acme/hello.git\","
    "\"clone_url\":\"https://github.com/acme/hello.git\"},"
    "\"pusher\":{\"name\":\"alice\",\"email\":\"alice@example.com\"},"
    "\"commits\":[{\"id\":\"2222222222222222222222222222222222222222\",\"message\":\"Fix it\"}],"
    "\"head_commit\":{\"id\":\"2222222222222222222222222222222222222222\","
    "\"message\":\"Fix it\\n\\nLonger text\"}}";

static void test_github_push(void)
{
    const char *headers[] = { "X-GitHub-Event", "push", "X-GitHub-Delivery", "d-1", NULL };
    struct wrk_hook_event ev;
    char msg[256];
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, headers, github_push, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.source_type, "branch");
    CHECK_STR_EQ(ev.ref, "main");
    CHECK_STR_EQ(ev.commit_sha, "2222222222222222222222222222222222222222");
    CHECK_STR_EQ(ev.commit_message, "Fix it\n\nLonger text");
    CHECK_STR_EQ(ev.delivery_id, "d-1");
    CHECK_STR_EQ(ev.pusher, "alice");
    CHECK_STR_EQ(ev.full_name, "acme/hello");
    CHECK_INT_EQ(ev.n_repo_urls, 4); /* url == html_url counted once */
    CHECK_STR_EQ(ev.repo_urls[0], "https://github.com/acme/hello.git");
    CHECK_INT_EQ(ev.skip, 0);
    wrk_hook_event_release(&ev);
}

static void test_github_tag_delete_ping_skip(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *push[] = { "X-GitHub-Event", "push", NULL };
    const char *tag =
        "{\"ref\":\"refs/tags/v1.2.3\",\"after\":\"3333333333333333333333333333333333333333\","
        "\"repository\":{\"clone_url\":\"https://github.com/acme/hello.git\"},"
        "\"head_commit\":null,\"commits\":[]}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, tag, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.source_type, "tag");
    CHECK_STR_EQ(ev.ref, "v1.2.3");
    CHECK(ev.commit_message == NULL);
    CHECK(ev.delivery_id == NULL);
    wrk_hook_event_release(&ev);

    const char *deleted =
        "{\"ref\":\"refs/heads/old\",\"after\":\"0000000000000000000000000000000000000000\","
        "\"deleted\":true,\"repository\":{}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, deleted, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK_STR_EQ(ev.ref, "old");
    wrk_hook_event_release(&ev);

    const char *ping_headers[] = { "X-GitHub-Event", "ping", NULL };
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, ping_headers,
                       "{\"zen\":\"Keep it simple.\",\"hook_id\":1,"
                       "\"repository\":{\"full_name\":\"acme/hello\"}}",
                       &ev, msg, sizeof(msg)),
                 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PING);
    CHECK_STR_EQ(ev.full_name, "acme/hello");
    wrk_hook_event_release(&ev);

    const char *issue_headers[] = { "X-GitHub-Event", "issues", NULL };
    CHECK_INT_EQ(
        parse(WRK_FORGE_GITHUB, issue_headers, "{\"action\":\"opened\"}", &ev, msg, sizeof(msg)),
        0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK_STR_EQ(ev.event, "issues");
    wrk_hook_event_release(&ev);

    const char *skip =
        "{\"ref\":\"refs/heads/main\",\"after\":\"4444444444444444444444444444444444444444\","
        "\"head_commit\":{\"message\":\"docs only [Skip CI]\"}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, skip, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.skip, 1);
    wrk_hook_event_release(&ev);
    const char *skip_build =
        "{\"ref\":\"refs/heads/main\",\"after\":\"4444444444444444444444444444444444444444\","
        "\"head_commit\":{\"message\":\"wip [skip build]\"}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, skip_build, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.skip, 1);
    CHECK_STR_EQ(ev.skip_reason, "[skip build]");
    wrk_hook_event_release(&ev);
}

static void test_bad_payloads(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *push[] = { "X-GitHub-Event", "push", NULL };
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, "{\"ref\": ", &ev, msg, sizeof(msg)), SW_EINVAL);
    CHECK(strstr(msg, "is not JSON") != NULL);
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, "[1,2]", &ev, msg, sizeof(msg)), SW_EINVAL);
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push,
                       "{\"after\":\"2222222222222222222222222222222222222222\"}", &ev, msg,
                       sizeof(msg)),
                 SW_EINVAL);
    CHECK_STR_EQ(msg, "payload has no \"ref\"");
    CHECK_INT_EQ(
        parse(WRK_FORGE_GITHUB, push, "{\"ref\":\"refs/heads/main\"}", &ev, msg, sizeof(msg)),
        SW_EINVAL);
    CHECK(strstr(msg, "after") != NULL);
    /* a ref that is neither a branch nor a tag builds nothing, and is no error */
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push,
                       "{\"ref\":\"refs/notes/commits\",\"after\":\"2222222\"}", &ev, msg,
                       sizeof(msg)),
                 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK_STR_EQ(ev.reason, "refs/notes/commits is neither a branch nor a tag; nothing to build");
    CHECK(ev.commit_sha == NULL);
    wrk_hook_event_release(&ev);
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push,
                       "{\"ref\":\"refs/heads/a\\nb\",\"after\":\"2222222\"}", &ev, msg,
                       sizeof(msg)),
                 SW_EINVAL);
    CHECK_STR_EQ(msg, "\"ref\" has a control character");
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, NULL, github_push, &ev, msg, sizeof(msg)), SW_EINVAL);
    CHECK(strstr(msg, "X-GitHub-Event") != NULL);
}

static void test_gitlab(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *push_headers[] = { "X-Gitlab-Event", "Push Hook", "X-Gitlab-Event-UUID", "u-1",
                                   NULL };
    const char *body =
        "{\"object_kind\":\"push\",\"ref\":\"refs/heads/dev\","
        "\"before\":\"1111111111111111111111111111111111111111\","
        "\"after\":\"5555555555555555555555555555555555555555\","
        "\"checkout_sha\":\"5555555555555555555555555555555555555555\","
        "\"user_username\":\"bob\","
        "\"project\":{\"path_with_namespace\":\"team/app\","
        "\"git_http_url\":\"https://gitlab.example.com/team/app.git\","
        "\"git_ssh_url\":\"git@gitlab.example.com:team/app.git\","
        "\"web_url\":\"https://gitlab.example.com/team/app\"},"
        "\"commits\":[{\"id\":\"1111111111111111111111111111111111111111\",\"message\":\"old\"},"
        "{\"id\":\"5555555555555555555555555555555555555555\",\"message\":\"new one\"}]}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, push_headers, body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.source_type, "branch");
    CHECK_STR_EQ(ev.ref, "dev");
    CHECK_STR_EQ(ev.commit_sha, "5555555555555555555555555555555555555555");
    CHECK_STR_EQ(ev.commit_message, "new one");
    CHECK_STR_EQ(ev.pusher, "bob");
    CHECK_STR_EQ(ev.full_name, "team/app");
    CHECK_STR_EQ(ev.delivery_id, "u-1");
    CHECK_STR_EQ(ev.repo_urls[0], "https://gitlab.example.com/team/app.git");
    wrk_hook_event_release(&ev);

    const char *tag_headers[] = { "X-Gitlab-Event", "Tag Push Hook", NULL };
    const char *tag_body =
        "{\"object_kind\":\"tag_push\",\"ref\":\"refs/tags/v2.0.0\","
        "\"after\":\"6666666666666666666666666666666666666666\","
        "\"checkout_sha\":\"7777777777777777777777777777777777777777\",\"project\":{}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, tag_headers, tag_body, &ev, msg, sizeof(msg)), 0);
    CHECK_STR_EQ(ev.source_type, "tag");
    CHECK_STR_EQ(ev.commit_sha, "7777777777777777777777777777777777777777");
    wrk_hook_event_release(&ev);

    const char *mr_headers[] = { "X-Gitlab-Event", "Merge Request Hook", NULL };
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, mr_headers, "{}", &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK(strstr(ev.reason, "ignored: action (none)") != NULL);
    wrk_hook_event_release(&ev);
}

static void test_gitea(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *headers[] = { "X-Forgejo-Event", "push", "X-Forgejo-Delivery", "f-9", NULL };
    const char *body =
        "{\"ref\":\"refs/heads/main\",\"after\":\"8888888888888888888888888888888888888888\","
        "\"commits\":[{\"id\":\"8888888888888888888888888888888888888888\",\"message\":\"hi\"}],"
        "\"repository\":{\"full_name\":\"me/site\",\"clone_url\":\"https://code.example/me/"
        "site.git\","
        "\"ssh_url\":\"ssh://git@code.example:2222/me/site.git\","
        "\"html_url\":\"https://code.example/me/site\"},\"pusher\":{\"login\":\"me\"}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITEA, headers, body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.commit_message, "hi");
    CHECK_STR_EQ(ev.delivery_id, "f-9");
    CHECK_STR_EQ(ev.pusher, "me");
    CHECK_INT_EQ(ev.n_repo_urls, 3);
    wrk_hook_event_release(&ev);
    enum wrk_forge f;
    CHECK_INT_EQ(wrk_forge_from_name("forgejo", &f), 0);
    CHECK_INT_EQ(f, WRK_FORGE_GITEA);
    CHECK_INT_EQ(wrk_forge_from_name("bitbucket", &f), -1);
}

/* ---- every event each forge sends (shapes from the forges' documentation) ---- */

#define SHA_COMMIT "c0ffee0000000000000000000000000000000001"
#define SHA_TAGOBJ "7a90000000000000000000000000000000000002"
#define SHA_ZERO "0000000000000000000000000000000000000000"

/* GitHub's and Gitea's `repository` object, as in every event about one */
#define GH_REPO                                                                                    \
    "\"repository\":{\"id\":1296269,\"name\":\"Hello-World\",\"full_name\":\"Codertocat/"          \
    "Hello-World\",\"private\":false,\"owner\":{\"login\":\"Codertocat\"},"                        \
    "\"html_url\":\"https://github.com/Codertocat/Hello-World\","                                  \
    "\"url\":\"https://api.github.com/repos/Codertocat/Hello-World\","                             \
    "\"git_url\":\"git://github.com/Codertocat/Hello-World.git\","                                 \
    "\"ssh_url\":\"git@github.com:Codertocat/Hello-World.git\","                                   \
    "\"clone_url\":\"https://github.com/Codertocat/Hello-World.git\",\"default_branch\":\"main\"}"
#define GH_SENDER "\"sender\":{\"login\":\"Codertocat\",\"id\":21031067,\"type\":\"User\"}"

static void test_github_tags(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *push[] = { "X-GitHub-Event", "push", "X-GitHub-Delivery", "72d3162e", NULL };
    /* git tag -a v1.0.0 && git push --tags: `after` is the tag object,
     * head_commit the commit it points to */
    const char *annotated =
        "{\"ref\":\"refs/tags/v1.0.0\",\"before\":\"" SHA_ZERO "\",\"after\":\"" SHA_TAGOBJ
        "\",\"created\":true,\"deleted\":false,\"forced\":false,\"base_ref\":\"refs/heads/main\","
        "\"compare\":\"https://github.com/Codertocat/Hello-World/compare/v1.0.0\",\"commits\":[],"
        "\"head_commit\":{\"id\":\"" SHA_COMMIT
        "\",\"tree_id\":\"1111111111111111111111111111111111111111\","
        "\"message\":\"Release 1.0\",\"timestamp\":\"2026-12-01T10:00:00Z\"},"
        "\"pusher\":{\"name\":\"Codertocat\",\"email\":\"c@example.com\"}," GH_REPO "," GH_SENDER
        "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, annotated, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.source_type, "tag");
    CHECK_STR_EQ(ev.ref, "v1.0.0");
    CHECK_STR_EQ(ev.commit_sha, SHA_TAGOBJ); /* the worker peels it */
    CHECK_STR_EQ(ev.full_name, "Codertocat/Hello-World");
    CHECK_STR_EQ(ev.commit_message, "Release 1.0");
    wrk_hook_event_release(&ev);

    /* lightweight: after is the commit */
    const char *light =
        "{\"ref\":\"refs/tags/v1.0.1\",\"before\":\"" SHA_ZERO "\",\"after\":\"" SHA_COMMIT
        "\",\"created\":true,\"deleted\":false,"
        "\"commits\":[],\"head_commit\":{\"id\":\"" SHA_COMMIT "\",\"message\":\"x\"}," GH_REPO "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, light, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.commit_sha, SHA_COMMIT);
    wrk_hook_event_release(&ev);

    /* git push --delete origin v1.0.0: a push with deleted: true; its
     * repository is still read (the bare route matches it by URL) */
    const char *tag_deleted = "{\"ref\":\"refs/tags/v1.0.0\",\"before\":\"" SHA_TAGOBJ
                              "\",\"after\":\"" SHA_ZERO "\",\"created\":false,\"deleted\":true,"
                              "\"forced\":false,\"base_ref\":null,\"commits\":[],"
                              "\"head_commit\":null," GH_REPO "," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, tag_deleted, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK_STR_EQ(ev.source_type, "tag");
    CHECK(ev.commit_sha == NULL);
    CHECK_INT_EQ(ev.n_repo_urls, 5);
    CHECK_STR_EQ(ev.reason, "tag v1.0.0 was deleted; nothing to build");
    wrk_hook_event_release(&ev);
    const char *branch_deleted = "{\"ref\":\"refs/heads/feature\",\"before\":\"" SHA_COMMIT
                                 "\",\"after\":\"" SHA_ZERO "\",\"deleted\":true,"
                                 "\"head_commit\":null,\"commits\":[]," GH_REPO "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, branch_deleted, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK_STR_EQ(ev.reason, "branch feature was deleted; nothing to build");
    CHECK_STR_EQ(ev.repo_urls[0], "https://github.com/Codertocat/Hello-World.git");
    wrk_hook_event_release(&ev);
}

static void test_github_pings(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *ping[] = { "X-GitHub-Event", "ping", NULL };
    const char *repo_ping =
        "{\"zen\":\"Design for failure.\",\"hook_id\":109948940,\"hook\":{\"type\":\"Repository\","
        "\"id\":109948940,\"name\":\"web\",\"active\":true,\"events\":[\"push\"],"
        "\"config\":{\"content_type\":\"json\",\"insecure_ssl\":\"0\","
        "\"url\":\"https://ci.example/hooks/github\"}}," GH_REPO "," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, ping, repo_ping, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PING);
    CHECK_STR_EQ(ev.reason, "the repository Codertocat/Hello-World");
    CHECK(ev.n_repo_urls > 0);
    wrk_hook_event_release(&ev);

    const char *org_ping =
        "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1,\"hook\":{\"type\":\"Organization\","
        "\"id\":1,\"name\":\"web\",\"active\":true,\"events\":[\"*\"],\"config\":{\"content_type\":"
        "\"form\",\"url\":\"https://ci.example/hooks/github\"}},"
        "\"organization\":{\"login\":\"acme\",\"id\":9}," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, ping, org_ping, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PING);
    CHECK_INT_EQ(ev.n_repo_urls, 0);
    CHECK(ev.full_name == NULL);
    CHECK_STR_EQ(ev.reason, "the organization acme");
    wrk_hook_event_release(&ev);

    /* a GitHub App's registration ping: no repository, no organization */
    const char *app_ping = "{\"zen\":\"Speak like a human.\",\"hook_id\":2,\"hook\":{\"type\":"
                           "\"App\",\"id\":2,\"name\":\"web\",\"active\":true,\"events\":[],"
                           "\"app_id\":424242,\"config\":{\"content_type\":\"json\"}}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, ping, app_ping, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PING);
    CHECK_INT_EQ(ev.n_repo_urls, 0);
    CHECK_STR_EQ(ev.reason, "GitHub App 424242");
    wrk_hook_event_release(&ev);
}

static void test_github_other_events(void)
{
    struct wrk_hook_event ev;
    char msg[400];
    const char *create[] = { "X-GitHub-Event", "create", NULL };
    const char *create_body =
        "{\"ref\":\"v1.0.0\",\"ref_type\":\"tag\",\"master_branch\":"
        "\"main\",\"description\":null,\"pusher_type\":\"user\"," GH_REPO "," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, create, create_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK(strstr(ev.reason, "\"create\" is not built") != NULL);
    CHECK(strstr(ev.reason, "the push of the same branch or tag builds it") != NULL);
    CHECK(ev.n_repo_urls > 0);
    wrk_hook_event_release(&ev);

    const char *del[] = { "X-GitHub-Event", "delete", NULL };
    const char *del_body = "{\"ref\":\"feature/x\",\"ref_type\":\"branch\",\"pusher_type\":"
                           "\"user\"," GH_REPO "," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, del, del_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK_STR_EQ(ev.source_type, "branch");
    CHECK_STR_EQ(ev.ref, "feature/x");
    wrk_hook_event_release(&ev);

    const char *release[] = { "X-GitHub-Event", "release", NULL };
    const char *release_body =
        "{\"action\":\"published\",\"release\":{\"id\":1,\"tag_name\":"
        "\"v1.0.0\",\"target_commitish\":\"main\",\"draft\":false}," GH_REPO "," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, release, release_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK_STR_EQ(ev.reason, "GitHub event \"release\" (published) is not built (only pushes and "
                            "pull requests are); "
                            "the push of its tag builds it");
    wrk_hook_event_release(&ev);

    const char *issues[] = { "X-GitHub-Event", "issues", NULL };
    const char *issues_body = "{\"action\":\"opened\",\"issue\":{\"number\":2,\"title\":"
                              "\"Bug\"}," GH_REPO "," GH_SENDER "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, issues, issues_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK(ev.commit_sha == NULL);
    CHECK_STR_EQ(ev.reason, "GitHub event \"issues\" (opened) is not built (only pushes and pull "
                            "requests are)");
    wrk_hook_event_release(&ev);
}

static void test_form_encoded(void)
{
    char *decoded = NULL;
    const char *json = NULL;
    size_t json_len = 0;
    sw_error *err = NULL;
    /* GitHub's "application/x-www-form-urlencoded": payload=<urlencoded JSON> */
    const char *form = "payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%2C%22x%22%3A%22a+b%"
                       "26c%22%7D";
    CHECK_INT_EQ(wrk_webhook_payload("application/x-www-form-urlencoded", form, strlen(form),
                                     &decoded, &json, &json_len, &err),
                 0);
    CHECK_STR_EQ(json, "{\"ref\":\"refs/heads/main\",\"x\":\"a b&c\"}");
    CHECK_INT_EQ(json_len, strlen(json));
    free(decoded);
    /* with a charset, and another field first */
    const char *two = "other=1&payload=%7B%7D";
    CHECK_INT_EQ(wrk_webhook_payload("Application/X-WWW-Form-Urlencoded; charset=utf-8", two,
                                     strlen(two), &decoded, &json, &json_len, &err),
                 0);
    CHECK_STR_EQ(json, "{}");
    free(decoded);
    /* JSON is the body itself */
    CHECK_INT_EQ(wrk_webhook_payload("application/json", "{}", 2, &decoded, &json, &json_len, &err),
                 0);
    CHECK(decoded == NULL);
    CHECK_INT_EQ(json_len, 2);
    /* no Content-Type, but a form body */
    CHECK_INT_EQ(wrk_webhook_payload(NULL, "payload=%5B%5D", 14, &decoded, &json, &json_len, &err),
                 0);
    CHECK_STR_EQ(json, "[]");
    free(decoded);
    /* curl --data labels JSON as a form */
    CHECK_INT_EQ(wrk_webhook_payload("application/x-www-form-urlencoded", " {\"a\":1}", 8, &decoded,
                                     &json, &json_len, &err),
                 0);
    CHECK(decoded == NULL);
    CHECK_INT_EQ(json_len, 8);
    /* a form without payload=: what to change */
    CHECK_INT_EQ(wrk_webhook_payload("application/x-www-form-urlencoded", "a=1&b=2", 7, &decoded,
                                     &json, &json_len, &err),
                 SW_EINVAL);
    CHECK(strstr(sw_error_message(err), "set the webhook's content type to application/json"));
    sw_error_clear(&err);

    /* the GitHub signature is over the raw (form) body; Gitea signs the JSON */
    char hex[SW_SHA256_HEX_LEN + 1], sig[80];
    sw_hmac_sha256_hex("k", 1, form, strlen(form), hex);
    snprintf(sig, sizeof(sig), "sha256=%s", hex);
    const char *gh[] = { "X-Hub-Signature-256", sig, NULL };
    CHECK_INT_EQ(wrk_webhook_verify_delivery(WRK_FORGE_GITHUB, "k", header, (void *)gh, form,
                                             strlen(form), "{}", 2, &err),
                 0);
    const char *payload = "{\"ref\":\"refs/heads/main\"}";
    sw_hmac_sha256_hex("k", 1, payload, strlen(payload), hex);
    snprintf(sig, sizeof(sig), "sha256=%s", hex);
    CHECK_INT_EQ(wrk_webhook_verify_delivery(WRK_FORGE_GITHUB, "k", header, (void *)gh, form,
                                             strlen(form), payload, strlen(payload), &err),
                 SW_EPERM);
    sw_error_clear(&err);
    const char *gitea[] = { "X-Gitea-Signature", hex, NULL };
    CHECK_INT_EQ(wrk_webhook_verify_delivery(WRK_FORGE_GITEA, "k", header, (void *)gitea, form,
                                             strlen(form), payload, strlen(payload), &err),
                 0);
    CHECK_INT_EQ(wrk_webhook_verify_delivery(WRK_FORGE_GITEA, "x", header, (void *)gitea, form,
                                             strlen(form), payload, strlen(payload), &err),
                 SW_EPERM);
    CHECK_STR_EQ(sw_error_message(err), "X-Gitea-Signature does not match");
    sw_error_clear(&err);
}

/* GitLab's `project` object */
#define GL_PROJECT                                                                                 \
    "\"project\":{\"id\":15,\"name\":\"Diaspora\",\"path_with_namespace\":\"Mike/Diaspora\","      \
    "\"web_url\":\"http://example.com/mike/diaspora\","                                            \
    "\"git_ssh_url\":\"git@example.com:mike/diaspora.git\","                                       \
    "\"git_http_url\":\"http://example.com/mike/diaspora.git\",\"default_branch\":\"master\"},"    \
    "\"repository\":{\"name\":\"Diaspora\",\"url\":\"git@example.com:mike/diaspora.git\","         \
    "\"homepage\":\"http://example.com/mike/diaspora\","                                           \
    "\"git_http_url\":\"http://example.com/mike/diaspora.git\","                                   \
    "\"git_ssh_url\":\"git@example.com:mike/diaspora.git\"}"

static void test_gitlab_events(void)
{
    struct wrk_hook_event ev;
    char msg[400];
    const char *tag_push[] = { "X-Gitlab-Event", "Tag Push Hook", NULL };
    /* an annotated tag: after is the tag object, checkout_sha the commit */
    const char *annotated =
        "{\"object_kind\":\"tag_push\",\"event_name\":\"tag_push\",\"before\":\"" SHA_ZERO
        "\",\"after\":\"" SHA_TAGOBJ "\",\"ref\":\"refs/tags/v1.0.0\",\"ref_protected\":true,"
        "\"checkout_sha\":\"" SHA_COMMIT "\",\"user_id\":1,\"user_name\":\"John Smith\","
        "\"user_username\":\"jsmith\",\"project_id\":15," GL_PROJECT ",\"commits\":[],"
        "\"total_commits_count\":0,\"push_options\":{}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, tag_push, annotated, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.commit_sha, SHA_COMMIT);
    CHECK_STR_EQ(ev.tag_object, SHA_TAGOBJ);
    CHECK_STR_EQ(ev.full_name, "Mike/Diaspora");
    CHECK_INT_EQ(ev.skip, 0);
    wrk_hook_event_release(&ev);

    /* a removed tag: after all zeros, checkout_sha null */
    const char *removed = "{\"object_kind\":\"tag_push\",\"before\":\"" SHA_COMMIT
                          "\",\"after\":\"" SHA_ZERO "\",\"ref\":\"refs/tags/v1.0.0\","
                          "\"checkout_sha\":null," GL_PROJECT ",\"commits\":[]}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, tag_push, removed, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK(ev.commit_sha == NULL);
    CHECK(ev.n_repo_urls > 0);
    wrk_hook_event_release(&ev);
    /* checkout_sha null alone never builds either */
    const char *no_checkout = "{\"object_kind\":\"tag_push\",\"before\":\"" SHA_ZERO
                              "\",\"after\":\"" SHA_TAGOBJ "\",\"ref\":\"refs/tags/v2\","
                              "\"checkout_sha\":null," GL_PROJECT "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, tag_push, no_checkout, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK(ev.commit_sha == NULL);
    CHECK(strstr(ev.reason, "checkout_sha is null") != NULL);
    wrk_hook_event_release(&ev);

    /* a deleted branch */
    const char *push[] = { "X-Gitlab-Event", "Push Hook", NULL };
    const char *branch_removed = "{\"object_kind\":\"push\",\"before\":\"" SHA_COMMIT
                                 "\",\"after\":\"" SHA_ZERO "\",\"ref\":\"refs/heads/feature\","
                                 "\"checkout_sha\":null," GL_PROJECT ",\"commits\":[]}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, push, branch_removed, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK_STR_EQ(ev.reason, "branch feature was deleted; nothing to build");
    wrk_hook_event_release(&ev);

    /* git push -o ci.skip */
    const char *skipped =
        "{\"object_kind\":\"push\",\"before\":\"" SHA_ZERO "\",\"after\":\"" SHA_COMMIT
        "\",\"ref\":\"refs/heads/master\",\"checkout_sha\":\"" SHA_COMMIT "\"," GL_PROJECT
        ",\"commits\":[{\"id\":\"" SHA_COMMIT
        "\",\"message\":\"plain\"}],\"push_options\":{\"ci\":{\"skip\":true}}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, push, skipped, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_INT_EQ(ev.skip, 1);
    CHECK_STR_EQ(ev.skip_reason, "git push -o ci.skip");
    wrk_hook_event_release(&ev);

    /* an issue hook names the project but builds nothing */
    const char *issue[] = { "X-Gitlab-Event", "Issue Hook", NULL };
    const char *issue_body = "{\"object_kind\":\"issue\",\"event_type\":\"issue\",\"user\":{"
                             "\"username\":\"root\"}," GL_PROJECT ",\"object_attributes\":{"
                             "\"id\":301,\"title\":\"New API\",\"action\":\"open\"}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, issue, issue_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK_INT_EQ(ev.is_instance_wide, 0);
    CHECK_STR_EQ(ev.reason,
                 "GitLab event \"Issue Hook\" is not built (only pushes and pull requests are)");
    CHECK_STR_EQ(ev.repo_urls[0], "http://example.com/mike/diaspora.git");
    wrk_hook_event_release(&ev);

    /* a system hook, even one that reports a push, is the instance's */
    const char *system[] = { "X-Gitlab-Event", "System Hook", NULL };
    const char *system_body = "{\"event_name\":\"project_create\",\"name\":\"StoreCloud\","
                              "\"path_with_namespace\":\"jsmith/storecloud\",\"project_id\":74}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, system, system_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK_INT_EQ(ev.is_instance_wide, 1);
    CHECK(strstr(ev.reason, "project_create") != NULL);
    wrk_hook_event_release(&ev);
    const char *system_push =
        "{\"object_kind\":\"push\",\"event_name\":\"push\",\"before\":\"" SHA_ZERO
        "\",\"after\":\"" SHA_COMMIT "\",\"ref\":\"refs/heads/master\","
        "\"checkout_sha\":\"" SHA_COMMIT "\"," GL_PROJECT "}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, system, system_push, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
    CHECK_INT_EQ(ev.is_instance_wide, 1);
    wrk_hook_event_release(&ev);
}

/* Gitea's `repository` */
#define GT_REPO                                                                                    \
    "\"repository\":{\"id\":1,\"owner\":{\"login\":\"gitea\"},\"name\":\"webhooks\","              \
    "\"full_name\":\"gitea/webhooks\",\"private\":false,"                                          \
    "\"html_url\":\"http://localhost:3000/gitea/webhooks\","                                       \
    "\"ssh_url\":\"ssh://gitea@localhost:2222/gitea/webhooks.git\","                               \
    "\"clone_url\":\"http://localhost:3000/gitea/webhooks.git\",\"default_branch\":\"main\"}"

static void test_gitea_events(void)
{
    struct wrk_hook_event ev;
    char msg[400];
    const char *push[] = { "X-Gitea-Event",
                           "push",
                           "X-Gitea-Event-Type",
                           "push",
                           "X-Gitea-Delivery",
                           "f6266f16-1bf3-46a5-9ea4-602e06ead473",
                           NULL };
    const char *annotated =
        "{\"ref\":\"refs/tags/v1.2.3\",\"before\":\"" SHA_ZERO "\",\"after\":\"" SHA_TAGOBJ
        "\",\"compare_url\":\"\",\"commits\":[],\"total_commits\":0,\"head_commit\":null," GT_REPO
        ",\"pusher\":{\"login\":\"gitea\",\"username\":\"gitea\"},"
        "\"sender\":{\"login\":\"gitea\"}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITEA, push, annotated, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PUSH);
    CHECK_STR_EQ(ev.commit_sha, SHA_TAGOBJ);
    CHECK_STR_EQ(ev.pusher, "gitea");
    CHECK_STR_EQ(ev.delivery_id, "f6266f16-1bf3-46a5-9ea4-602e06ead473");
    wrk_hook_event_release(&ev);

    const char *del[] = { "X-Gitea-Event", "delete", NULL };
    const char *del_body =
        "{\"ref\":\"v1.2.3\",\"ref_type\":\"tag\",\"pusher_type\":\"user\"," GT_REPO
        ",\"sender\":{\"login\":\"gitea\"}}";
    CHECK_INT_EQ(parse(WRK_FORGE_GITEA, del, del_body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_DELETE);
    CHECK_STR_EQ(ev.source_type, "tag");
    CHECK_STR_EQ(ev.ref, "v1.2.3");
    CHECK_STR_EQ(ev.repo_urls[0], "http://localhost:3000/gitea/webhooks.git");
    wrk_hook_event_release(&ev);

    static const char *const others[] = { "create", "release", "fork", "issues", NULL };
    for (size_t i = 0; others[i]; i++) {
        const char *h[] = { "X-Forgejo-Event", others[i], NULL };
        const char *body =
            "{\"action\":\"opened\",\"ref\":\"x\",\"ref_type\":\"branch\"," GT_REPO "}";
        CHECK_INT_EQ(parse(WRK_FORGE_GITEA, h, body, &ev, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
        CHECK(strncmp(ev.reason, "Gitea event", 11) == 0);
        wrk_hook_event_release(&ev);
    }
}

/* ---- pull and merge requests -------------------------------------------------- */

#define SHA_HEAD "c0ffee0000000000000000000000000000000007"

/* GitHub's pull_request payload (the fields we read, after the docs'
 * "pull_request" event): head repository HEAD_NAME, base Codertocat/Hello-World */
static char *github_pr(const char *action, const char *head_name)
{
    char *s = NULL;
    char head_repo[200];
    if (head_name)
        snprintf(head_repo, sizeof(head_repo), "{\"id\":7,\"full_name\":\"%s\"}", head_name);
    else
        snprintf(head_repo, sizeof(head_repo), "null");
    if (asprintf(&s,
                 "{\"action\":\"%s\",\"number\":7,\"pull_request\":{\"url\":\"https://api.github."
                 "com/repos/Codertocat/Hello-World/pulls/7\",\"id\":1,\"number\":7,\"state\":"
                 "\"open\",\"title\":\"Fix \\u001b[31mthe\\nbuild\",\"user\":{\"login\":\"octo\"},"
                 "\"head\":{\"label\":\"octo:fix\",\"ref\":\"fix\\u0007x\",\"sha\":\"" SHA_HEAD
                 "\","
                 "\"repo\":%s},\"base\":{\"label\":\"Codertocat:main\",\"ref\":\"main\",\"sha\":"
                 "\"" SHA_COMMIT "\",\"repo\":{\"id\":1296269,\"full_name\":\"Codertocat/"
                 "Hello-World\"}}}," GH_REPO "," GH_SENDER "}",
                 action, head_repo) < 0)
        return NULL;
    return s;
}

static void test_github_pull_request(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *h[] = { "X-GitHub-Event", "pull_request", "X-GitHub-Delivery", "d-7", NULL };
    static const char *const builds[] = { "opened", "synchronize", "reopened", NULL };
    for (size_t i = 0; builds[i]; i++) {
        char *body = github_pr(builds[i], "Codertocat/Hello-World");
        CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h, body, &ev, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(ev.kind, WRK_HOOK_PULL_REQUEST);
        CHECK_STR_EQ(ev.source_type, "pull_request");
        CHECK_STR_EQ(ev.ref, "main"); /* the target branch */
        CHECK_STR_EQ(ev.commit_sha, SHA_HEAD);
        CHECK(ev.pr_number == 7);
        CHECK_STR_EQ(ev.pr_action, builds[i]);
        CHECK_STR_EQ(ev.pr_fetch_ref, "refs/pull/7/head");
        CHECK_STR_EQ(ev.pr_head_ref, "fix?x"); /* a control character is not passed on */
        CHECK_STR_EQ(ev.pr_head_repo, "Codertocat/Hello-World");
        CHECK_INT_EQ(ev.pr_fork, 0);
        CHECK_STR_EQ(ev.pusher, "Codertocat");
        CHECK_STR_EQ(ev.full_name, "Codertocat/Hello-World");
        CHECK_STR_EQ(ev.repo_urls[0], "https://github.com/Codertocat/Hello-World.git");
        CHECK(ev.commit_message == NULL); /* the title is not a commit message */
        wrk_hook_event_release(&ev);
        free(body);
    }
    /* a fork, in any case: owner/name compared case-insensitively */
    char *body = github_pr("opened", "octo/Hello-World");
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h, body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.kind, WRK_HOOK_PULL_REQUEST);
    CHECK_INT_EQ(ev.pr_fork, 1);
    CHECK_STR_EQ(ev.pr_head_repo, "octo/Hello-World");
    CHECK_STR_EQ(ev.pr_fetch_ref, "refs/pull/7/head"); /* the base repository's ref */
    wrk_hook_event_release(&ev);
    free(body);
    body = github_pr("synchronize", "CODERTOCAT/hello-world");
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h, body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.pr_fork, 0);
    wrk_hook_event_release(&ev);
    free(body);
    /* a deleted fork: head.repo is null */
    body = github_pr("reopened", NULL);
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h, body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.pr_fork, 1);
    CHECK(ev.pr_head_repo == NULL);
    wrk_hook_event_release(&ev);
    free(body);
    /* other actions build nothing */
    static const char *const others[] = { "closed", "edited", "labeled", "ready_for_review", NULL };
    for (size_t i = 0; others[i]; i++) {
        body = github_pr(others[i], "Codertocat/Hello-World");
        CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h, body, &ev, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
        CHECK(ev.commit_sha == NULL);
        char want[200];
        snprintf(want, sizeof(want), "ignored: action %s of GitHub pull request #7 builds nothing",
                 others[i]);
        CHECK(strncmp(ev.reason, want, strlen(want)) == 0);
        wrk_hook_event_release(&ev);
        free(body);
    }
    /* an action that builds, without what it needs */
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h,
                       "{\"action\":\"opened\",\"number\":7,\"pull_request\":{\"head\":{\"sha\":"
                       "\"abc\"},\"base\":{\"ref\":\"main\"}}," GH_REPO "}",
                       &ev, msg, sizeof(msg)),
                 SW_EINVAL);
    CHECK_STR_EQ(msg, "the pull request event has no head commit id");
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h,
                       "{\"action\":\"opened\",\"number\":-1,\"pull_request\":{\"head\":{\"sha\":"
                       "\"" SHA_HEAD "\"},\"base\":{\"ref\":\"main\"}}," GH_REPO "}",
                       &ev, msg, sizeof(msg)),
                 SW_EINVAL);
    CHECK_STR_EQ(msg, "the pull request event has no number");
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, h,
                       "{\"action\":\"opened\",\"number\":7,\"pull_request\":{\"head\":{\"sha\":"
                       "\"" SHA_HEAD "\"},\"base\":{}}," GH_REPO "}",
                       &ev, msg, sizeof(msg)),
                 SW_EINVAL);
    CHECK_STR_EQ(msg, "the pull request event has no target branch");
}

/* GitLab's Merge Request Hook (object_attributes after the docs' "Merge
 * request events"); OLDREV NULL leaves the key out. */
static char *gitlab_mr(const char *action, const char *oldrev, int source_project_id)
{
    char *s = NULL, old[80] = "";
    if (oldrev)
        snprintf(old, sizeof(old), "\"oldrev\":\"%s\",", oldrev);
    if (asprintf(&s,
                 "{\"object_kind\":\"merge_request\",\"event_type\":\"merge_request\","
                 "\"user\":{\"id\":1,\"name\":\"Administrator\",\"username\":\"root\"},"
                 "\"project\":{\"id\":1,\"path_with_namespace\":\"gitlabhq/gitlab-test\","
                 "\"git_http_url\":\"http://example.com/gitlabhq/gitlab-test.git\"},"
                 "\"object_attributes\":{\"id\":99,\"iid\":12,\"target_branch\":\"master\","
                 "\"source_branch\":\"ms-viewport\",\"source_project_id\":%d,"
                 "\"target_project_id\":1,\"title\":\"MS-Viewport\",\"state\":\"opened\","
                 "%s\"source\":{\"path_with_namespace\":\"%s/gitlab-test\"},"
                 "\"target\":{\"path_with_namespace\":\"gitlabhq/gitlab-test\"},"
                 "\"last_commit\":{\"id\":\"" SHA_HEAD "\",\"message\":\"fixed readme\"},"
                 "\"action\":\"%s\"}}",
                 source_project_id, old, source_project_id == 1 ? "gitlabhq" : "awesome_space",
                 action) < 0)
        return NULL;
    return s;
}

static void test_gitlab_merge_request(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *h[] = { "X-Gitlab-Event", "Merge Request Hook", NULL };
    struct {
        const char *action, *oldrev;
        int source, kind, fork;
    } cases[] = {
        { "open", NULL, 1, WRK_HOOK_PULL_REQUEST, 0 },
        { "reopen", NULL, 1, WRK_HOOK_PULL_REQUEST, 0 },
        { "update", SHA_COMMIT, 1, WRK_HOOK_PULL_REQUEST, 0 },
        { "open", NULL, 5, WRK_HOOK_PULL_REQUEST, 1 },
        { "update", SHA_COMMIT, 5, WRK_HOOK_PULL_REQUEST, 1 },
        { "update", NULL, 1, WRK_HOOK_IGNORED, 0 }, /* a title or label change */
        { "close", NULL, 1, WRK_HOOK_IGNORED, 0 },
        { "merge", NULL, 1, WRK_HOOK_IGNORED, 0 },
        { "approved", NULL, 1, WRK_HOOK_IGNORED, 0 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = gitlab_mr(cases[i].action, cases[i].oldrev, cases[i].source);
        CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, h, body, &ev, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(ev.kind, cases[i].kind);
        if (cases[i].kind == WRK_HOOK_PULL_REQUEST) {
            CHECK_STR_EQ(ev.source_type, "pull_request");
            CHECK_STR_EQ(ev.ref, "master");
            CHECK_STR_EQ(ev.commit_sha, SHA_HEAD);
            CHECK(ev.pr_number == 12);
            CHECK_STR_EQ(ev.pr_fetch_ref, "refs/merge-requests/12/head");
            CHECK_STR_EQ(ev.pr_head_ref, "ms-viewport");
            CHECK_STR_EQ(ev.pr_head_repo,
                         cases[i].fork ? "awesome_space/gitlab-test" : "gitlabhq/gitlab-test");
            CHECK_INT_EQ(ev.pr_fork, cases[i].fork);
            CHECK_STR_EQ(ev.pusher, "root");
            CHECK_STR_EQ(ev.full_name, "gitlabhq/gitlab-test");
        } else {
            CHECK(ev.commit_sha == NULL);
            CHECK(strncmp(ev.reason, "ignored: action ", 16) == 0);
            CHECK(strstr(ev.reason, cases[i].action) != NULL);
            CHECK(strstr(ev.reason, "merge request !12") != NULL);
        }
        wrk_hook_event_release(&ev);
        free(body);
    }
    char *body = gitlab_mr("update", NULL, 1);
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, h, body, &ev, msg, sizeof(msg)), 0);
    CHECK(strstr(ev.reason, "no new commits (no oldrev)") != NULL);
    wrk_hook_event_release(&ev);
    free(body);
}

/* Gitea's pull_request: head.repo_id and base.repo_id tell a fork */
static char *gitea_pr(const char *action, int head_repo_id)
{
    char *s = NULL;
    if (asprintf(&s,
                 "{\"action\":\"%s\",\"number\":3,\"pull_request\":{\"id\":30,\"number\":3,"
                 "\"title\":\"t\",\"head\":{\"label\":\"feat\",\"ref\":\"feat\",\"sha\":"
                 "\"" SHA_HEAD
                 "\",\"repo_id\":%d,\"repo\":{\"id\":%d,\"full_name\":\"%s/webhooks\"}},"
                 "\"base\":{\"label\":\"main\",\"ref\":\"main\",\"sha\":\"" SHA_COMMIT "\","
                 "\"repo_id\":1,\"repo\":{\"id\":1,\"full_name\":\"gitea/webhooks\"}}},"
                 "\"repository\":{\"id\":1,\"full_name\":\"gitea/webhooks\",\"clone_url\":"
                 "\"http://localhost:3000/gitea/webhooks.git\"},\"sender\":{\"login\":\"gitea\"}}",
                 action, head_repo_id, head_repo_id, head_repo_id == 1 ? "gitea" : "someone") < 0)
        return NULL;
    return s;
}

static void test_gitea_pull_request(void)
{
    struct wrk_hook_event ev;
    char msg[256];
    const char *h[] = { "X-Gitea-Event", "pull_request", NULL };
    const char *sync[] = { "X-Gitea-Event", "pull_request_sync", NULL };
    static const char *const builds[] = { "opened", "synchronized", "reopened", NULL };
    for (size_t i = 0; builds[i]; i++) {
        char *body = gitea_pr(builds[i], 1);
        CHECK_INT_EQ(parse(WRK_FORGE_GITEA, i == 1 ? sync : h, body, &ev, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(ev.kind, WRK_HOOK_PULL_REQUEST);
        CHECK_STR_EQ(ev.ref, "main");
        CHECK_STR_EQ(ev.commit_sha, SHA_HEAD);
        CHECK(ev.pr_number == 3);
        CHECK_STR_EQ(ev.pr_fetch_ref, "refs/pull/3/head");
        CHECK_STR_EQ(ev.pr_head_repo, "gitea/webhooks");
        CHECK_INT_EQ(ev.pr_fork, 0);
        CHECK_STR_EQ(ev.pusher, "gitea");
        wrk_hook_event_release(&ev);
        free(body);
    }
    char *body = gitea_pr("opened", 42);
    CHECK_INT_EQ(parse(WRK_FORGE_GITEA, h, body, &ev, msg, sizeof(msg)), 0);
    CHECK_INT_EQ(ev.pr_fork, 1);
    CHECK_STR_EQ(ev.pr_head_repo, "someone/webhooks");
    wrk_hook_event_release(&ev);
    free(body);
    /* GitHub's word for it is not Gitea's */
    static const char *const others[] = { "closed", "edited", "synchronize", "label_updated",
                                          NULL };
    for (size_t i = 0; others[i]; i++) {
        body = gitea_pr(others[i], 1);
        CHECK_INT_EQ(parse(WRK_FORGE_GITEA, h, body, &ev, msg, sizeof(msg)), 0);
        CHECK_INT_EQ(ev.kind, WRK_HOOK_IGNORED);
        CHECK(strstr(ev.reason, "Gitea pull request #3 builds nothing") != NULL);
        wrk_hook_event_release(&ev);
        free(body);
    }
}

static void test_bad_json_says_what_to_change(void)
{
    struct wrk_hook_event ev;
    char msg[400];
    const char *push[] = { "X-GitHub-Event", "push", NULL };
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push, "payload=%7B%7D", &ev, msg, sizeof(msg)), SW_EINVAL);
    CHECK(strstr(msg, "set the webhook's content type to application/json") != NULL);
    const char *gitlab[] = { "X-Gitlab-Event", "Push Hook", NULL };
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, NULL, "{}", &ev, msg, sizeof(msg)), SW_EINVAL);
    CHECK(strstr(msg, "X-Gitlab-Event") != NULL);
    CHECK_INT_EQ(parse(WRK_FORGE_GITLAB, gitlab, "[1]", &ev, msg, sizeof(msg)), SW_EINVAL);
    CHECK_STR_EQ(msg, "the payload is JSON but not an object");
}

int main(void)
{
    RUN(test_github_published_vector);
    RUN(test_gitlab_token);
    RUN(test_gitea_signature);
    RUN(test_github_push);
    RUN(test_github_tag_delete_ping_skip);
    RUN(test_bad_payloads);
    RUN(test_gitlab);
    RUN(test_gitea);
    RUN(test_github_tags);
    RUN(test_github_pings);
    RUN(test_github_other_events);
    RUN(test_form_encoded);
    RUN(test_gitlab_events);
    RUN(test_gitea_events);
    RUN(test_bad_json_says_what_to_change);
    RUN(test_github_pull_request);
    RUN(test_gitlab_merge_request);
    RUN(test_gitea_pull_request);
    return TEST_EXIT();
}
