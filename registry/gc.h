/*
 * gc.h - garbage collection: mark and sweep of blobs no manifest
 * references and (by policy) of untagged manifests, safe while the server
 * keeps accepting pushes. docs/gc.md explains why it is safe.
 */
#ifndef REG_GC_H
#define REG_GC_H

#include <stdint.h>

#include "registry/store.h"

struct reg_gc_options {
    int dry_run;           /* report, change nothing */
    int delete_untagged;   /* also remove manifests no tag (or index,
                              or subject) keeps alive */
    int64_t grace_seconds; /* leave blobs uploaded, mounted or HEADed this
                              recently alone (protects pushes in flight) */
};

struct reg_gc_result {
    uint64_t manifests_deleted;
    uint64_t blobs_deleted;
    uint64_t bytes_freed;
};

/* Called once per item removed (or, in a dry run, that would be): kind is
 * "manifest", "blob" or "upload" (a file in uploads/ with no session; its
 * uuid comes as digest); repo is NULL for blobs and uploads. */
typedef void (*reg_gc_report_fn)(void *ctx, const char *kind, const char *repo, const char *digest,
                                 int64_t size);

int reg_gc_run(reg_store *store, const struct reg_gc_options *opts, reg_gc_report_fn report,
               void *ctx, struct reg_gc_result *result, sw_error **err);

#endif
