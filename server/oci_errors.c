/*
 * oci_errors.c - the one place where error codes become HTTP: the status,
 * the OCI Distribution error code and the JSON body
 *
 *   {"errors":[{"code":"BLOB_UNKNOWN","message":"...","detail":...}]}
 *
 * for core (SW_E*), registry (REG_E_*) and server (SRV_E_*) codes alike.
 * Internal failures (I/O, database, memory) are logged with their full
 * message and answered with a generic one: their messages name paths on
 * the server, which clients have no business seeing.
 */
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "registry/errors.h"
#include "server/internal.h"

static const struct {
    int code;
    struct srv_error_info info;
} error_table[] = {
    { SW_EINVAL, { 400, "BAD_REQUEST", 0 } },
    { SW_ENOTFOUND, { 404, "NOT_FOUND", 0 } },
    { SW_EEXIST, { 409, "CONFLICT", 0 } },
    { SW_EIO, { 500, "INTERNAL_ERROR", 1 } },
    { SW_ENOMEM, { 500, "INTERNAL_ERROR", 1 } },
    { SW_EDB, { 500, "INTERNAL_ERROR", 1 } },
    { SW_EPERM, { 403, "DENIED", 0 } },
    { SW_EUNSUPPORTED, { 405, "UNSUPPORTED", 0 } },
    { SW_ECONFLICT, { 409, "CONFLICT", 0 } },
    { SW_ETOOBIG, { 413, "SIZE_INVALID", 0 } },
    { SW_ERANGE, { 416, "RANGE_NOT_SATISFIABLE", 0 } },
    { SW_ECANCELED, { 503, "UNAVAILABLE", 0 } },
    { SW_ETIMEOUT, { 503, "UNAVAILABLE", 0 } },
    { SW_ENOSPACE, { 507, "UNAVAILABLE", 0 } },

    { REG_E_BLOB_UNKNOWN, { 404, "BLOB_UNKNOWN", 0 } },
    { REG_E_BLOB_UPLOAD_UNKNOWN, { 404, "BLOB_UPLOAD_UNKNOWN", 0 } },
    { REG_E_DIGEST_INVALID, { 400, "DIGEST_INVALID", 0 } },
    { REG_E_MANIFEST_BLOB_UNKNOWN, { 400, "MANIFEST_BLOB_UNKNOWN", 0 } },
    { REG_E_MANIFEST_INVALID, { 400, "MANIFEST_INVALID", 0 } },
    { REG_E_MANIFEST_UNKNOWN, { 404, "MANIFEST_UNKNOWN", 0 } },
    { REG_E_NAME_INVALID, { 400, "NAME_INVALID", 0 } },
    { REG_E_NAME_UNKNOWN, { 404, "NAME_UNKNOWN", 0 } },
    { REG_E_SIZE_INVALID, { 400, "SIZE_INVALID", 0 } },
    { REG_E_UNSUPPORTED, { 405, "UNSUPPORTED", 0 } },
    { REG_E_RANGE_INVALID, { 416, "BLOB_UPLOAD_INVALID", 0 } },
    { REG_E_TAG_INVALID, { 400, "TAG_INVALID", 0 } },
    { REG_E_PAGINATION_INVALID, { 400, "PAGINATION_NUMBER_INVALID", 0 } },
    { REG_E_TOO_LARGE, { 413, "SIZE_INVALID", 0 } },

    { SRV_E_UNAUTHORIZED, { 401, "UNAUTHORIZED", 0 } },
    { SRV_E_DENIED, { 403, "DENIED", 0 } },
    { SRV_E_NOT_FOUND, { 404, "NOT_FOUND", 0 } },
    { SRV_E_METHOD, { 405, "UNSUPPORTED", 0 } },
    { SRV_E_TOO_MANY, { 429, "TOOMANYREQUESTS", 0 } },
    { SRV_E_BUSY, { 503, "UNAVAILABLE", 0 } },
};

struct srv_error_info srv_error_lookup(int code)
{
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++) {
        if (error_table[i].code == code)
            return error_table[i].info;
    }
    return (struct srv_error_info){ 500, "INTERNAL_ERROR", 1 };
}

char *srv_error_body(const char *code, const char *message, const json_t *detail)
{
    json_t *entry = json_pack("{s:s, s:s}", "code", code, "message", message ? message : "");
    json_t *doc = NULL;
    char *text = NULL;

    if (entry == NULL)
        goto cleanup;
    if (detail)
        json_object_set(entry, "detail", (json_t *)detail);
    doc = json_pack("{s:[o]}", "errors", entry);
    entry = NULL;
    if (doc)
        text = json_dumps(doc, JSON_COMPACT);
cleanup:
    json_decref(entry);
    json_decref(doc);
    return text;
}

void srv_respond_error(srv_request *req, int code, const char *message)
{
    struct srv_error_info info = srv_error_lookup(code);

    if (info.is_internal) {
        sw_err("%s %s: %s", req->method, req->path, message ? message : "internal error");
        message = "internal server error";
    } else if (code == SW_ENOSPACE) {
        /* the full message names server paths: log it, tell what to do */
        sw_err("%s %s: %s", req->method, req->path, message ? message : "storage full");
        message = "the registry's storage is full (storage.reserve): delete images and run "
                  "slipway gc to free space";
    }
    if (code == SRV_E_UNAUTHORIZED)
        srv_auth_challenge(req);
    char *body = srv_error_body(info.code, message, NULL);
    if (body == NULL) {
        srv_respond(req, info.status, "application/json", "{\"errors\":[]}", 12);
        return;
    }
    srv_respond(req, info.status, "application/json", body, strlen(body));
    free(body);
}

void srv_respond_sw_error(srv_request *req, const sw_error *err)
{
    srv_respond_error(req, err ? err->code : SW_EIO, sw_error_message(err));
}

/* ---- the JSON API's error body -------------------------------------------- */

/* {"error": {"code", "message"}}: the same statuses as above, with the
 * API's small set of codes (docs/api.md). */
void srv_api_error(srv_request *req, int code, const char *message)
{
    struct srv_error_info info = srv_error_lookup(code);
    const char *api_code;
    switch (info.status) {
    case 400:
        api_code = "INVALID";
        break;
    case 401:
        api_code = "UNAUTHORIZED";
        break;
    case 403:
        api_code = "DENIED";
        break;
    case 404:
        api_code = "NOT_FOUND";
        break;
    case 405:
        api_code = "UNSUPPORTED";
        break;
    case 409:
        api_code = "CONFLICT";
        break;
    case 413:
        api_code = "TOO_LARGE";
        break;
    case 416:
        api_code = "INVALID";
        break;
    case 429:
        api_code = "TOO_MANY_REQUESTS";
        break;
    case 503:
        api_code = "UNAVAILABLE";
        break;
    default:
        api_code = "INTERNAL";
        break;
    }
    if (info.is_internal) {
        sw_err("%s %s: %s", req->method, req->path, message ? message : "internal error");
        message = "internal server error (details are in the server log)";
    }
    json_t *doc =
        json_pack("{s:{s:s, s:s}}", "error", "code", api_code, "message", message ? message : "");
    srv_respond_json(req, info.status, NULL, doc);
    json_decref(doc);
}

void srv_api_sw_error(srv_request *req, const sw_error *err)
{
    srv_api_error(req, err ? err->code : SW_EIO, sw_error_message(err));
}
