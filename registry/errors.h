/*
 * errors.h - registry error codes (the range -100..-199 of core/error.h).
 *
 * Each maps to one OCI Distribution error code; server/ turns them into
 * the HTTP status and JSON error body in one place (server/oci_errors.c).
 */
#ifndef REG_ERRORS_H
#define REG_ERRORS_H

#include "core/error.h"

enum reg_error_code {
    REG_E_BLOB_UNKNOWN = SW_E_MODULE_BASE - 1,          /* 404 BLOB_UNKNOWN */
    REG_E_BLOB_UPLOAD_UNKNOWN = SW_E_MODULE_BASE - 3,   /* 404 BLOB_UPLOAD_UNKNOWN */
    REG_E_DIGEST_INVALID = SW_E_MODULE_BASE - 4,        /* 400 DIGEST_INVALID */
    REG_E_MANIFEST_BLOB_UNKNOWN = SW_E_MODULE_BASE - 5, /* 400 MANIFEST_BLOB_UNKNOWN */
    REG_E_MANIFEST_INVALID = SW_E_MODULE_BASE - 6,      /* 400 MANIFEST_INVALID */
    REG_E_MANIFEST_UNKNOWN = SW_E_MODULE_BASE - 7,      /* 404 MANIFEST_UNKNOWN */
    REG_E_NAME_INVALID = SW_E_MODULE_BASE - 8,          /* 400 NAME_INVALID */
    REG_E_NAME_UNKNOWN = SW_E_MODULE_BASE - 9,          /* 404 NAME_UNKNOWN */
    REG_E_SIZE_INVALID = SW_E_MODULE_BASE - 10,         /* 400 SIZE_INVALID */
    REG_E_UNSUPPORTED = SW_E_MODULE_BASE - 11,          /* 405 UNSUPPORTED (delete off) */
    REG_E_RANGE_INVALID = SW_E_MODULE_BASE - 12,        /* 416 BLOB_UPLOAD_INVALID */
    REG_E_TAG_INVALID = SW_E_MODULE_BASE - 13,          /* 400 TAG_INVALID */
    REG_E_PAGINATION_INVALID = SW_E_MODULE_BASE - 14,   /* 400 PAGINATION_NUMBER_INVALID */
    REG_E_TOO_LARGE = SW_E_MODULE_BASE - 15,            /* 413 SIZE_INVALID */
};

#endif
