/*
 * platforms.h - which platforms this worker can build RUN steps for.
 *
 * The host's own platform runs natively; a foreign one runs through QEMU
 * user emulation when binfmt_misc (/proc/sys/fs/binfmt_misc) has an enabled
 * qemu-<arch> entry with the F ("fix binary") flag, whose interpreter file
 * exists: with F the kernel opens the interpreter when it is registered, so
 * it works inside a container's mount namespace, where the host's
 * /usr/libexec/qemu-binfmt is not visible. Debian's qemu-user-static and
 * binfmt-support register such entries (update-binfmts --enable
 * qemu-aarch64); scripts/install-deps.sh does that.
 */
#ifndef WRK_PLATFORMS_H
#define WRK_PLATFORMS_H

#include <stddef.h>

#include "core/error.h"

/* The platforms this machine can run, normalised ("linux/amd64",
 * "linux/arm64", "linux/arm/v7", ...), the host's first, as a malloc'd
 * NULL-terminated vector (free with sw_strv_free). binfmt_dir NULL:
 * /proc/sys/fs/binfmt_misc (tests pass a directory of their own). */
int wrk_platforms_runnable(const char *binfmt_dir, char ***out, sw_error **err);

/* 0 when platform (normalised) is in runnable; else SW_EUNSUPPORTED with
 * a message naming the platform and what to install, e.g.
 * "linux/arm64: no binfmt_misc handler; install qemu-user-static and run
 * update-binfmts --enable qemu-aarch64". */
int wrk_platform_check(const char *platform, char *const *runnable, sw_error **err);

/* The platforms joined with ", " into out (for the log and the workers
 * table). */
void wrk_platforms_join(char *const *platforms, char *out, size_t size);

#endif
