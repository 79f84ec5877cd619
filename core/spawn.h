/*
 * spawn.h - the fork/pipe/exec plumbing of the builder's helper processes
 * (network filter holder, slirp4netns, user namespace holder, idmapped
 * mounts, the OCI runtime).
 *
 * The process is multithreaded, so a child may only call async-signal-safe
 * functions between fork and exec or _exit: the sw_child_* functions
 * below use system calls only (no stdio, no allocation, no locks); errors
 * are written with sw_child_error (core/fs.h).
 */
#ifndef SW_CORE_SPAWN_H
#define SW_CORE_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

#include "core/error.h"

/* Makes n pipes (O_CLOEXEC) into pipes[0..n-1], then forks. Returns the
 * child's pid in the parent and 0 in the child; -1 with *err set ("pipe",
 * "fork") and every pipe made here closed (its fds set to -1). */
pid_t sw_spawn_fork(int (*pipes)[2], size_t n, sw_error **err);

/* Closes *fd when it is open and sets it to -1 (parent or child). */
void sw_close_fd(int *fd);

/* Child: stdin from /dev/null, stdout to out_fd and stderr to err_fd; -1
 * for either means /dev/null. */
void sw_child_stdio(int out_fd, int err_fd);

/* Child: asks for SIGKILL when the parent dies, and _exits(1) at once
 * when the parent (pid `parent`, taken before fork) is already gone. */
void sw_child_die_with_parent(pid_t parent);

/* Child: renumbers fds[0..n-1] as 3, 4, ... and closes every other
 * descriptor from 3 + n on; 0, or -1 with errno. */
int sw_child_keep_fds(const int *fds, size_t n);

/* Parent: waits up to timeout_ms for one byte on fd (retrying on EINTR):
 * 1 with *out set, 0 on timeout or end of file, -1 with errno. */
int sw_read_byte(int fd, int timeout_ms, unsigned char *out);

/* Parent: waitpid retried on EINTR; the wait status into *status (may be
 * NULL); 0, or -1 with errno. */
int sw_wait(pid_t pid, int *status);

/* Parent: waits up to timeout_s seconds for pid to exit, then SIGKILLs
 * and reaps it. */
void sw_reap(pid_t pid, double timeout_s);

#endif
