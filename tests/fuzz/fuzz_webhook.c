/*
 * fuzz_webhook.c - libFuzzer target for webhook deliveries of all three
 * forges: signature/token checking and payload parsing.
 *
 * Input layout: byte 0 picks the forge, byte 1 the event header (or none),
 * then the signature/token header value up to the first '\n', then the
 * body. Any input must give an event or an error, never a crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/webhook.h"

static const char *const events[] = {
    "push",
    "ping",
    "create",
    "delete",
    "Push Hook",
    "Tag Push Hook",
    "System Hook",
    "issues",
    "",
    NULL,
    /* after NULL, so the seeds' indices above keep their meaning */
    "pull_request",
    "Merge Request Hook",
    "pull_request_sync",
};

struct headers {
    const char *event;
    const char *signature;
};

static const char *header(void *ctx, const char *name)
{
    const struct headers *h = ctx;
    if (strstr(name, "Event") != NULL && strstr(name, "UUID") == NULL)
        return h->event;
    if (strstr(name, "Signature") != NULL || strstr(name, "Token") != NULL)
        return h->signature;
    if (strstr(name, "Delivery") != NULL || strstr(name, "UUID") != NULL)
        return "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum wrk_forge forge = (enum wrk_forge)(data[0] % 3);
    struct headers h = { events[data[1] % (sizeof(events) / sizeof(events[0]))], NULL };
    const char *rest = (const char *)data + 2;
    size_t rest_len = size - 2;
    const char *nl = memchr(rest, '\n', rest_len);
    char *sig = NULL;
    if (nl != NULL) {
        sig = strndup(rest, (size_t)(nl - rest));
        if (sig == NULL)
            return 0;
        rest_len -= (size_t)(nl - rest) + 1;
        rest = nl + 1;
    }
    h.signature = sig;
    /* The body is not NUL-terminated: parsers must honour len. */
    char *body = malloc(rest_len ? rest_len : 1);
    if (body == NULL) {
        free(sig);
        return 0;
    }
    memcpy(body, rest, rest_len);

    sw_error *err = NULL;
    if (wrk_webhook_verify(forge, "s3cret", header, &h, body, rest_len, &err) != 0 && err == NULL)
        abort();
    sw_error_clear(&err);
    if (wrk_webhook_verify(forge, NULL, header, &h, body, rest_len, &err) != 0)
        abort(); /* no secret configured: always accepted */

    struct wrk_hook_event ev;
    memset(&ev, 0, sizeof(ev));
    if (wrk_webhook_parse(forge, header, &h, body, rest_len, &ev, &err) == 0) {
        if ((ev.kind == WRK_HOOK_PUSH || ev.kind == WRK_HOOK_DELETE) &&
            (ev.ref == NULL || ev.source_type == NULL))
            abort(); /* a push names what was pushed */
        if (ev.kind == WRK_HOOK_PUSH && ev.commit_sha == NULL)
            abort();
        wrk_hook_event_release(&ev);
    } else if (err == NULL) {
        abort();
    }
    sw_error_clear(&err);
    free(body);
    free(sig);
    return 0;
}
