/*
 * http_client.c - libcurl set up once and the same way for every caller
 * (see http_client.h).
 */
#include "core/http_client.h"

#include <pthread.h>

#ifndef SLIPWAY_VERSION
#define SLIPWAY_VERSION "dev"
#endif

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_result = CURLE_FAILED_INIT;

static void global_init(void)
{
    init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

const char *sw_http_user_agent(void)
{
    return "slipway/" SLIPWAY_VERSION;
}

void sw_http_easy_setup(CURL *curl, const struct sw_http_options *opts)
{
    static const struct sw_http_options defaults = { 0 };
    if (opts == NULL)
        opts = &defaults;
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT,
                     opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 30L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     opts->stall_timeout_s > 0 ? opts->stall_timeout_s : 60L);
    if (opts->total_timeout_s > 0)
        curl_easy_setopt(curl, CURLOPT_TIMEOUT, opts->total_timeout_s);
    if (opts->follow_redirects) {
        curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
    }
    curl_easy_setopt(curl, CURLOPT_USERAGENT, sw_http_user_agent());
}

CURL *sw_http_easy_new(const struct sw_http_options *opts)
{
    pthread_once(&init_once, global_init);
    if (init_result != CURLE_OK)
        return NULL;
    CURL *curl = curl_easy_init();
    if (curl != NULL)
        sw_http_easy_setup(curl, opts);
    return curl;
}
