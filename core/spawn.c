/*
 * spawn.c - fork/pipe/exec plumbing shared by the builder's helper
 * processes (core/spawn.h). The sw_child_* functions run between fork and
 * exec in a multithreaded process: system calls only.
 */
#include "core/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

pid_t sw_spawn_fork(int (*pipes)[2], size_t n, sw_error **err)
{
    size_t made = 0;
    const char *what = "pipe";
    pid_t pid = -1;
    for (; made < n; made++)
        if (pipe2(pipes[made], O_CLOEXEC) != 0)
            goto fail;
    what = "fork";
    if ((pid = fork()) >= 0)
        return pid;
fail:;
    int saved = errno;
    for (size_t i = 0; i < n; i++) {
        if (i < made) {
            sw_close_fd(&pipes[i][0]);
            sw_close_fd(&pipes[i][1]);
        } else {
            pipes[i][0] = pipes[i][1] = -1;
        }
    }
    sw_error_sys(err, SW_EIO, saved, "%s", what);
    return -1;
}

void sw_close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

void sw_child_stdio(int out_fd, int err_fd)
{
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0)
        dup2(devnull, 0);
    if (out_fd >= 0 || devnull >= 0)
        dup2(out_fd >= 0 ? out_fd : devnull, 1);
    if (err_fd >= 0 || devnull >= 0)
        dup2(err_fd >= 0 ? err_fd : devnull, 2);
}

void sw_child_die_with_parent(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
}

int sw_child_keep_fds(const int *fds, size_t n)
{
    int moved[8];
    if (n > sizeof(moved) / sizeof(moved[0])) {
        errno = EINVAL;
        return -1;
    }
    /* first above every target, so that no dup2 below overwrites a
     * descriptor still to be moved */
    for (size_t i = 0; i < n; i++)
        if ((moved[i] = fcntl(fds[i], F_DUPFD, (int)(3 + n + 8))) < 0)
            return -1;
    for (size_t i = 0; i < n; i++)
        if (dup2(moved[i], (int)(3 + i)) != (int)(3 + i))
            return -1;
    return close_range((unsigned)(3 + n), ~0U, 0);
}

int sw_read_byte(int fd, int timeout_ms, unsigned char *out)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r;
    ssize_t n;
    while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
        ;
    if (r <= 0)
        return r;
    while ((n = read(fd, out, 1)) < 0 && errno == EINTR)
        ;
    return n < 0 ? -1 : (int)n;
}

int sw_wait(pid_t pid, int *status)
{
    pid_t r;
    while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
        ;
    return r == pid ? 0 : -1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sw_reap(pid_t pid, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return;
        if (now_s() > deadline) {
            kill(pid, SIGKILL);
            sw_wait(pid, NULL);
            return;
        }
        struct timespec pause = { 0, 5 * 1000 * 1000 };
        nanosleep(&pause, NULL);
    }
}
