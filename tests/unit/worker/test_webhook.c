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
    CHECK_STR_EQ(msg, "signature does not match");
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
    CHECK(strstr(msg, "not a JSON object") != NULL);
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
    CHECK_INT_EQ(parse(WRK_FORGE_GITHUB, push,
                       "{\"ref\":\"refs/pull/1/head\",\"after\":\"2222222\"}", &ev, msg,
                       sizeof(msg)),
                 SW_EINVAL);
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
    return TEST_EXIT();
}
