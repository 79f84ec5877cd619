/*
 * http_client.h - the one way Slipway makes outgoing HTTP requests with
 * libcurl (registry client, commit statuses and notifications, ADD <url>,
 * the CLI's API calls).
 *
 * sw_http_easy_new() returns an easy handle already set up as every caller
 * needs it: curl_global_init done once for the process (thread-safe), no
 * signals (NOSIGNAL: worker threads must not get SIGALRM from DNS
 * timeouts), only http and https (also after redirects: no file://,
 * gopher://, dict:// ...), a connect timeout, stall detection (a transfer
 * slower than 1 byte/s for stall_timeout_s fails), an optional total
 * timeout and the Slipway user agent. Callers add the URL, method, headers
 * and callbacks, and free the handle with curl_easy_cleanup.
 */
#ifndef SW_HTTP_CLIENT_H
#define SW_HTTP_CLIENT_H

#include <curl/curl.h>

#include "core/error.h"

struct sw_http_options {
    long connect_timeout_s; /* 0: 30 s */
    long stall_timeout_s;   /* 0: 60 s */
    long total_timeout_s;   /* 0: none */
    int follow_redirects;   /* up to 10, http/https only */
};

/* NULL when libcurl cannot be initialised or memory is short. */
CURL *sw_http_easy_new(const struct sw_http_options *opts);

/* Applies the same settings to a handle (after curl_easy_reset, for
 * callers that keep one handle for many requests). */
void sw_http_easy_setup(CURL *curl, const struct sw_http_options *opts);

/* "slipway/<version>" */
const char *sw_http_user_agent(void);

#endif
