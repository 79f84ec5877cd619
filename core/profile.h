/*
 * profile.h - where a build's time goes: wall time per phase, summed over
 * the process, printed as a table to stderr.
 *
 * Enabled by SLIPWAY_PROFILE=1 in the environment (read once); otherwise
 * every call costs one relaxed atomic load. Phases that run on helper
 * threads (compression, the blob's sha256) add their busy time, so the
 * nested rows of the layer export can sum to more than its wall time.
 * Lives in core because core (compress), registry (blob writes) and builder
 * all record into it.
 */
#ifndef SW_PROFILE_H
#define SW_PROFILE_H

#include <stdint.h>
#include <stdio.h>

enum sw_phase {
    SW_PHASE_CONTEXT,     /* hashing the build context (cache keys) */
    SW_PHASE_BASE,        /* base image: pull, unpack */
    SW_PHASE_MOUNT,       /* overlay mounts */
    SW_PHASE_RUN,         /* RUN in runc */
    SW_PHASE_COPY,        /* COPY / ADD into the upper dir */
    SW_PHASE_EXPORT,      /* a layer from its upper dir, wall */
    SW_PHASE_TAR_READ,    /*   walking the upper dir and reading files */
    SW_PHASE_TAR_FEED,    /*   tar stream into the compressor (incl. waits) */
    SW_PHASE_COMPRESS,    /*   compression, busy time of all its threads */
    SW_PHASE_DIFF_ID,     /*   sha256 of the uncompressed tar */
    SW_PHASE_BLOB_HASH,   /*   sha256 of the compressed bytes */
    SW_PHASE_BLOB_WRITE,  /*   writing the blob file */
    SW_PHASE_BLOB_COMMIT, /*   fsync, rename, rows */
    SW_PHASE_INSTALL,     /*   keeping the upper dir as the layer's dir */
    SW_PHASE_CACHE,       /* cache lookups and stores */
    SW_PHASE_IMAGE,       /* config, manifest, tag */
    SW_PHASE_COUNT
};

/* 1 when SLIPWAY_PROFILE is set to something other than 0 or empty. */
int sw_profile_enabled(void);
/* Monotonic nanoseconds, or 0 when profiling is off. */
uint64_t sw_profile_start(void);
/* Adds the time since started (from sw_profile_start) to phase. */
void sw_profile_stop(enum sw_phase phase, uint64_t started);
/* Prints the table (phase, calls, seconds, share of total) to out, with
 * total the build's wall time in ns (0: no share column). No-op when off. */
void sw_profile_report(FILE *out, uint64_t total_ns);

#endif
