/*
 * forge.c - notify webhooks and commit statuses over libcurl (see forge.h).
 */
#include "worker/forge.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/runlog.h"

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

/* One POST; the HTTP status in *status (0 when there was no answer). */
static int post_once(const char *url, const char *body, const char *auth, long *status,
                     char *why, size_t why_size)
{
    CURL *curl = curl_easy_init();
    struct curl_slist *headers = NULL;
    char *auth_header = NULL;
    *status = 0;
    if (curl == NULL) {
        snprintf(why, why_size, "out of memory");
        return -1;
    }
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Accept: application/vnd.github+json, application/json");
    headers = curl_slist_append(headers, "User-Agent: slipway");
    if (auth && asprintf(&auth_header, "Authorization: %s", auth) >= 0)
        headers = curl_slist_append(headers, auth_header);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    CURLcode res = curl_easy_perform(curl);
    if (res == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    else
        snprintf(why, why_size, "%s", curl_easy_strerror(res));
    curl_slist_free_all(headers);
    if (auth_header) {
        /* the header holds a token: do not leave it in freed memory */
        explicit_bzero(auth_header, strlen(auth_header));
        free(auth_header);
    }
    curl_easy_cleanup(curl);
    if (res != CURLE_OK)
        return -1;
    if (*status < 200 || *status > 299) {
        snprintf(why, why_size, "HTTP %ld", *status);
        return -1;
    }
    return 0;
}

static void sleep_unless(volatile int *stop, int seconds)
{
    for (int i = 0; i < seconds * 10 && !(stop && *stop); i++) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

int wrk_http_post_json(const char *url, const json_t *body, const char *auth, int attempts,
                       int log_fd, volatile int *stop, sw_error **err)
{
    char *text = json_dumps(body, JSON_COMPACT);
    char why[256] = "";
    int rc = -1;
    if (text == NULL)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    for (int i = 0; i < attempts; i++) {
        long status = 0;
        if (i > 0)
            sleep_unless(stop, 1 << (i - 1));
        if (stop && *stop)
            break;
        if ((rc = post_once(url, text, auth, &status, why, sizeof(why))) == 0)
            break;
        wrk_log_line(log_fd, "POST %s: %s (try %d of %d)", url, why, i + 1, attempts);
    }
    free(text);
    if (rc != 0)
        return sw_error_set(err, SW_EIO, "POST %s: %s", url, why[0] ? why : "stopped");
    return 0;
}

json_t *wrk_notify_payload(const char *host, const char *public_url, const char *repo,
                           const char *pusher, const char *run_id, const char *digest,
                           const json_t *tags, long long pushed_at)
{
    const char *slash = strrchr(repo, '/');
    char *ns = slash ? strndup(repo, (size_t)(slash - repo)) : strdup("library");
    char *repo_name = NULL, *repo_url = NULL;
    if (asprintf(&repo_name, "%s/%s", host, repo) < 0)
        repo_name = NULL;
    if (asprintf(&repo_url, "%s/images/%s", public_url, repo) < 0)
        repo_url = NULL;
    const char *first_tag = json_string_value(json_array_get(tags, 0));
    json_t *doc = json_pack(
        "{s:{s:I, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:O, s:s}",
        "push_data", "pushed_at", (json_int_t)pushed_at, "pusher", pusher ? pusher : "slipway",
        "tag", first_tag ? first_tag : "",
        "repository", "repo_name", repo_name ? repo_name : repo, "namespace", ns ? ns : "",
        "name", slash ? slash + 1 : repo, "repo_url", repo_url ? repo_url : "",
        "status", "Active",
        "run_id", run_id, "digest", digest, "tags", tags, "callback_url", "");
    free(ns);
    free(repo_name);
    free(repo_url);
    return doc;
}

char *wrk_forge_full_name(const char *git_url)
{
    size_t len = strlen(git_url);
    while (len > 0 && git_url[len - 1] == '/')
        len--;
    if (len > 4 && strncmp(git_url + len - 4, ".git", 4) == 0)
        len -= 4;
    /* the last two segments, split at '/' (or the ':' of scp-like URLs) */
    size_t end = len, seps = 0, start = 0;
    for (size_t i = len; i-- > 0;) {
        if (git_url[i] == '/' || git_url[i] == ':') {
            if (++seps == 2) {
                start = i + 1;
                break;
            }
        }
    }
    if (seps < 2 || start >= end)
        return NULL;
    char *out = strndup(git_url + start, end - start);
    if (out && (strchr(out, '/') == NULL || out[0] == '/' || strstr(out, "//"))) {
        free(out);
        return NULL;
    }
    return out;
}

int wrk_commit_status(const char *api, const char *token, const char *full_name,
                      const char *sha, const char *state, const char *context,
                      const char *target_url, const char *description, int log_fd,
                      sw_error **err)
{
    char *url = NULL, *auth = NULL;
    size_t api_len = strlen(api);
    while (api_len > 0 && api[api_len - 1] == '/')
        api_len--;
    if (asprintf(&url, "%.*s/repos/%s/statuses/%s", (int)api_len, api, full_name, sha) < 0)
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    if (asprintf(&auth, "Bearer %s", token) < 0) {
        free(url);
        return sw_error_set(err, SW_ENOMEM, "out of memory");
    }
    json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "state", state, "context", context,
                             "target_url", target_url, "description", description);
    int rc = wrk_http_post_json(url, body, auth, 3, log_fd, NULL, err);
    json_decref(body);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    free(url);
    return rc;
}
