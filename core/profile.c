/*
 * profile.c - per-phase timers (profile.h). Counters are process-wide
 * atomics: phases are recorded from the build thread and from helper
 * threads (compression, hashing).
 */
#include "core/profile.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static atomic_int state; /* 0 unknown, 1 off, 2 on */
static atomic_uint_fast64_t phase_ns[SW_PHASE_COUNT];
static atomic_uint_fast64_t phase_calls[SW_PHASE_COUNT];

static const char *const phase_names[SW_PHASE_COUNT] = {
    [SW_PHASE_CONTEXT] = "context hashing",
    [SW_PHASE_BASE] = "FROM (base image)",
    [SW_PHASE_MOUNT] = "overlay mount",
    [SW_PHASE_RUN] = "RUN (runc)",
    [SW_PHASE_COPY] = "COPY/ADD",
    [SW_PHASE_EXPORT] = "layer export (wall)",
    [SW_PHASE_TAR_READ] = "  walk + read upper dir",
    [SW_PHASE_TAR_FEED] = "  tar into compressor",
    [SW_PHASE_COMPRESS] = "  compress (all threads)",
    [SW_PHASE_DIFF_ID] = "  sha256 of tar",
    [SW_PHASE_BLOB_HASH] = "  sha256 of blob",
    [SW_PHASE_BLOB_WRITE] = "  blob write",
    [SW_PHASE_BLOB_COMMIT] = "  fsync + commit",
    [SW_PHASE_INSTALL] = "  install layer dir",
    [SW_PHASE_CACHE] = "cache lookups + stores",
    [SW_PHASE_IMAGE] = "config/manifest/tags",
};

int sw_profile_enabled(void)
{
    int s = atomic_load_explicit(&state, memory_order_relaxed);
    if (s == 0) {
        const char *v = getenv("SLIPWAY_PROFILE");
        s = v && *v && strcmp(v, "0") != 0 ? 2 : 1;
        atomic_store(&state, s);
    }
    return s == 2;
}

uint64_t sw_profile_start(void)
{
    struct timespec ts;
    if (!sw_profile_enabled())
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sw_profile_stop(enum sw_phase phase, uint64_t started)
{
    if (started == 0 || phase < 0 || phase >= SW_PHASE_COUNT)
        return;
    uint64_t now = sw_profile_start();
    if (now > started)
        atomic_fetch_add(&phase_ns[phase], now - started);
    atomic_fetch_add(&phase_calls[phase], 1);
}

void sw_profile_report(FILE *out, uint64_t total_ns)
{
    if (!sw_profile_enabled())
        return;
    fprintf(out, "profile (SLIPWAY_PROFILE): %-26s %7s %9s %7s\n", "phase", "calls", "seconds",
            total_ns ? "share" : "");
    for (int i = 0; i < SW_PHASE_COUNT; i++) {
        uint64_t calls = atomic_load(&phase_calls[i]);
        uint64_t ns = atomic_load(&phase_ns[i]);
        if (calls == 0)
            continue;
        if (total_ns)
            fprintf(out, "profile (SLIPWAY_PROFILE): %-26s %7llu %9.3f %6.1f%%\n", phase_names[i],
                    (unsigned long long)calls, (double)ns / 1e9,
                    100.0 * (double)ns / (double)total_ns);
        else
            fprintf(out, "profile (SLIPWAY_PROFILE): %-26s %7llu %9.3f\n", phase_names[i],
                    (unsigned long long)calls, (double)ns / 1e9);
    }
    if (total_ns)
        fprintf(out, "profile (SLIPWAY_PROFILE): %-26s %7s %9.3f\n", "build (wall)", "",
                (double)total_ns / 1e9);
}
