/*
 * fsck.h - verifying a store: every blob re-hashed, database rows checked
 * against files both ways, manifest references, tags and upload sessions,
 * and SQLite's own quick_check. `slipway fsck` prints what it finds.
 *
 * Findings come in three kinds:
 *   damage    something a client would see fail: a blob whose bytes do not
 *             match its digest or size, a row without its file, a manifest
 *             referencing a missing blob or child, a tag on a missing
 *             manifest, an upload session without its file, a failed
 *             quick_check
 *   notice    leftovers that garbage collection removes by itself (blob or
 *             upload files without rows)
 *   repaired  what --repair did
 *
 * --repair does only what cannot lose good data: a blob whose bytes are
 * wrong is moved to lost+found/ and forgotten together with a blob row
 * whose file is gone (so a client's next push uploads it again instead of
 * being told it exists), and an upload session without a file is dropped.
 * Manifests referencing such blobs stay and keep being reported until the
 * blob is pushed again (or the manifest deleted).
 */
#ifndef REG_FSCK_H
#define REG_FSCK_H

#include <stdint.h>

#include "registry/store.h"

struct reg_fsck_options {
    int repair;
};

struct reg_fsck_result {
    uint64_t blobs_checked;
    uint64_t bytes_checked;
    uint64_t damage;
    uint64_t notices;
    uint64_t repaired;
};

/* kind is "damage", "notice" or "repaired"; message says what and where. */
typedef void (*reg_fsck_report_fn)(void *ctx, const char *kind, const char *message);

/* Runs every check. Returns 0 when the checks could run (look at
 * result->damage), an error when they could not. Safe while a server
 * runs, though blobs pushed meanwhile may show as notices. */
int reg_fsck_run(reg_store *store, const struct reg_fsck_options *opts, reg_fsck_report_fn report,
                 void *ctx, struct reg_fsck_result *result, sw_error **err);

#endif
