/*
 * forge.c - notify webhooks and commit statuses over libcurl (see forge.h).
 */
#include "worker/forge.h"

#include <stdatomic.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/http_client.h"
#include "core/strbuf.h"
#include "worker/repos.h"

static size_t discard(char *data, size_t size, size_t n, void *ctx)
{
    (void)data;
    (void)ctx;
    return size * n;
}

/* Aborts a transfer when the courier is stopping. */
static int stop_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    const atomic_int *stop = ctx;
    return stop && *stop;
}

/* A CloudEvents 1.0 event in structured mode (a JSON object with
 * "specversion") goes out as application/cloudevents+json, as the
 * specification's HTTP binding asks; everything else as JSON. The outbox
 * stores bodies only, so the type is read from the body. */
static const char *content_type_of(const char *body)
{
    json_t *doc = json_loads(body, 0, NULL);
    int event = json_is_string(json_object_get(doc, "specversion"));
    json_decref(doc);
    return event ? "Content-Type: application/cloudevents+json; charset=utf-8"
                 : "Content-Type: application/json";
}

int wrk_forge_post(const char *url, const char *body, const char *auth, const atomic_int *stop,
                   long *status, sw_error **err)
{
    struct sw_http_options http = { .connect_timeout_s = 5, .total_timeout_s = 10 };
    CURL *curl = sw_http_easy_new(&http);
    struct curl_slist *headers = NULL;
    char *auth_header = NULL;
    *status = 0;
    if (curl == NULL)
        return sw_error_oom(err);
    headers = curl_slist_append(headers, content_type_of(body));
    headers = curl_slist_append(headers, "Accept: application/vnd.github+json, application/json");
    if (auth && asprintf(&auth_header, "Authorization: %s", auth) >= 0)
        headers = curl_slist_append(headers, auth_header);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, stop_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)stop);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    CURLcode res = curl_easy_perform(curl);
    if (res == CURLE_OK)
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(headers);
    if (auth_header) {
        /* the header holds a token: do not leave it in freed memory */
        explicit_bzero(auth_header, strlen(auth_header));
        free(auth_header);
    }
    curl_easy_cleanup(curl);
    if (res == CURLE_ABORTED_BY_CALLBACK)
        return sw_error_set(err, SW_ECANCELED, "stopped");
    if (res != CURLE_OK)
        return sw_error_set(err, SW_EIO, "%s", curl_easy_strerror(res));
    if (*status < 200 || *status > 299)
        return sw_error_set(err, SW_EIO, "HTTP %ld", *status);
    return 0;
}

int wrk_forge_retryable(long status)
{
    return status == 0 || status == 408 || status == 429 || status >= 500;
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
    json_t *doc =
        json_pack("{s:{s:I, s:s, s:s}, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:O, s:s}",
                  "push_data", "pushed_at", (json_int_t)pushed_at, "pusher",
                  pusher ? pusher : "slipway", "tag", first_tag ? first_tag : "", "repository",
                  "repo_name", repo_name ? repo_name : repo, "namespace", ns ? ns : "", "name",
                  slash ? slash + 1 : repo, "repo_url", repo_url ? repo_url : "", "status",
                  "Active", "run_id", run_id, "digest", digest, "tags", tags, "callback_url", "");
    free(ns);
    free(repo_name);
    free(repo_url);
    return doc;
}

json_t *wrk_notify_body(int format, const json_t *dockerhub, const char *public_url,
                        const char *repo, const char *run_id, long long pushed_at)
{
    if (format == WRK_NOTIFY_DOCKERHUB)
        return json_deep_copy(dockerhub);
    const json_t *tags = json_object_get(dockerhub, "tags");
    const char *digest = json_string_value(json_object_get(dockerhub, "digest"));
    const char *image =
        json_string_value(json_object_get(json_object_get(dockerhub, "repository"), "repo_name"));
    char when[SW_RFC3339_MAX], *source = NULL, *run_url = NULL, *tag_text = NULL;
    sw_format_rfc3339((int64_t)pushed_at, when);
    json_t *doc = NULL;
    if (asprintf(&source, "%s/repos/%s", public_url, repo) < 0)
        source = NULL;
    if (asprintf(&run_url, "%s/runs/%s", public_url, run_id) < 0)
        run_url = NULL;
    sw_strbuf t = SW_STRBUF_INIT;
    size_t i;
    json_t *tag;
    json_array_foreach(tags, i, tag)
        sw_strbuf_printf(&t, "%s`%s`", i ? ", " : "", json_string_value(tag));
    tag_text = t.failed ? NULL : sw_strbuf_detach(&t);
    sw_strbuf_free(&t);
    if (source == NULL || run_url == NULL || tag_text == NULL)
        goto cleanup;
    if (format == WRK_NOTIFY_CLOUDEVENTS) {
        /* CloudEvents 1.0, structured mode: the event's attributes and the
         * Docker Hub payload as its data */
        doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:O}", "specversion", "1.0", "type",
                        "io.slipway.image.pushed", "source", source, "id", run_id, "time", when,
                        "subject", image ? image : repo, "datacontenttype", "application/json",
                        "data", dockerhub);
    } else if (format == WRK_NOTIFY_SLACK) {
        /* a Slack incoming webhook: text for notifications, blocks for the
         * channel (mrkdwn; user-controlled names are what they are: Slack
         * escapes nothing in mrkdwn but &, < and >, which tags and
         * repository names cannot hold) */
        char *text = NULL;
        if (asprintf(&text, "Pushed %s (%s) by run %s: %s", image ? image : repo, tag_text, run_id,
                     digest ? digest : "") < 0)
            text = NULL;
        char *md = NULL;
        if (asprintf(&md, "*%s* pushed: %s\n<%s|Run %s> · `%.19s`", image ? image : repo, tag_text,
                     run_url, run_id, digest ? digest : "") < 0)
            md = NULL;
        if (text && md)
            doc = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}]}", "text", text, "blocks", "type",
                            "section", "text", "type", "mrkdwn", "text", md);
        free(text);
        free(md);
    }
cleanup:
    free(source);
    free(run_url);
    free(tag_text);
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

int wrk_commit_status_request(const char *api, const char *full_name, const char *sha,
                              const char *state, const char *context, const char *target_url,
                              const char *description, char **url, json_t **body, sw_error **err)
{
    size_t api_len = strlen(api);
    while (api_len > 0 && api[api_len - 1] == '/')
        api_len--;
    *body = NULL;
    if (asprintf(url, "%.*s/repos/%s/statuses/%s", (int)api_len, api, full_name, sha) < 0) {
        *url = NULL;
        return sw_error_oom(err);
    }
    *body = json_pack("{s:s, s:s, s:s, s:s}", "state", state, "context", context, "target_url",
                      target_url, "description", description);
    if (*body == NULL) {
        free(*url);
        *url = NULL;
        return sw_error_oom(err);
    }
    return 0;
}
