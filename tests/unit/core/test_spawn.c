/*
 * test_spawn.c - the fork/pipe plumbing (core/spawn.h): pipes reach the
 * child, the child's stdio and kept descriptors are where they should be,
 * a byte read times out, and a child that does not exit is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/spawn.h"
#include "tests/unit/test.h"

static void test_fork_with_pipes(void)
{
    int pipes[2][2];
    sw_error *err = NULL;
    pid_t pid = sw_spawn_fork(pipes, 2, &err);
    CHECK(pid >= 0);
    if (pid == 0) {
        /* echo one byte from pipe 0 to pipe 1 */
        unsigned char c = 0;
        if (read(pipes[0][0], &c, 1) != 1 || write(pipes[1][1], &c, 1) != 1)
            _exit(1);
        _exit(0);
    }
    sw_close_fd(&pipes[0][0]);
    sw_close_fd(&pipes[1][1]);
    CHECK_INT_EQ(pipes[0][0], -1);
    CHECK_INT_EQ(write(pipes[0][1], "x", 1), 1);
    unsigned char got = 0;
    CHECK_INT_EQ(sw_read_byte(pipes[1][0], 5000, &got), 1);
    CHECK_INT_EQ(got, 'x');
    int status = -1;
    CHECK_INT_EQ(sw_wait(pid, &status), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the child has exited: end of file, not a byte */
    CHECK_INT_EQ(sw_read_byte(pipes[1][0], 5000, &got), 0);
    sw_close_fd(&pipes[0][1]);
    sw_close_fd(&pipes[1][0]);
    CHECK(err == NULL);
    /* the pipes are close-on-exec */
    int p[1][2];
    pid = sw_spawn_fork(p, 1, &err);
    if (pid == 0)
        _exit((fcntl(p[0][0], F_GETFD) & FD_CLOEXEC) ? 0 : 1);
    CHECK_INT_EQ(sw_wait(pid, &status), 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sw_close_fd(&p[0][0]);
    sw_close_fd(&p[0][1]);
}

static void test_read_byte_timeout(void)
{
    int p[2];
    CHECK_INT_EQ(pipe(p), 0);
    unsigned char c = 7;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_INT_EQ(sw_read_byte(p[0], 100, &c), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    CHECK(ms >= 90);
    CHECK_INT_EQ(c, 7);
    close(p[0]);
    close(p[1]);
    CHECK_INT_EQ(sw_read_byte(p[0], 100, &c), -1);
    CHECK_INT_EQ(errno, EBADF);
}

/* sw_child_keep_fds renumbers to 3, 4 and closes the rest; sw_child_stdio
 * puts stdout and stderr where asked */
static void test_child_fds(void)
{
    int p[2][2];
    sw_error *err = NULL;
    /* a descriptor above the kept ones must not survive in the child */
    int null_fd = open("/dev/null", O_RDONLY);
    int extra = fcntl(null_fd, F_DUPFD, 20);
    close(null_fd);
    pid_t pid = sw_spawn_fork(p, 2, &err);
    CHECK(pid >= 0);
    if (pid == 0) {
        sw_child_stdio(p[1][1], -1);
        const int keep[] = { p[0][1], p[1][1] };
        if (sw_child_keep_fds(keep, 2) != 0)
            _exit(2);
        if (fcntl(5, F_GETFD) != -1 || fcntl(extra, F_GETFD) != -1)
            _exit(3);
        if (write(3, "a", 1) != 1 || write(1, "b", 1) != 1 || write(2, "c", 1) != 1)
            _exit(4);
        _exit(0);
    }
    close(extra);
    sw_close_fd(&p[0][1]);
    sw_close_fd(&p[1][1]);
    int status = -1;
    CHECK_INT_EQ(sw_wait(pid, &status), 0);
    CHECK(WIFEXITED(status));
    CHECK_INT_EQ(WEXITSTATUS(status), 0);
    char buf[8] = { 0 };
    CHECK_INT_EQ(read(p[0][0], buf, sizeof(buf)), 1);
    CHECK_STR_EQ(buf, "a");
    memset(buf, 0, sizeof(buf));
    /* stdout reached the pipe; stderr went to /dev/null */
    CHECK_INT_EQ(read(p[1][0], buf, sizeof(buf)), 1);
    CHECK_STR_EQ(buf, "b");
    sw_close_fd(&p[0][0]);
    sw_close_fd(&p[1][0]);
}

static void test_reap_kills(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    sw_reap(pid, 0.2);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(b.tv_sec - a.tv_sec < 5);
    /* reaped: no such child any more */
    CHECK_INT_EQ(waitpid(pid, NULL, WNOHANG), -1);
    CHECK_INT_EQ(errno, ECHILD);
    /* a child that exits at once is reaped without waiting out the timeout */
    pid = fork();
    if (pid == 0)
        _exit(0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    sw_reap(pid, 30.0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    CHECK(b.tv_sec - a.tv_sec < 5);
}

int main(void)
{
    RUN(test_fork_with_pipes);
    RUN(test_read_byte_timeout);
    RUN(test_child_fds);
    RUN(test_reap_kills);
    return TEST_EXIT();
}
