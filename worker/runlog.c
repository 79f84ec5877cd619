/*
 * runlog.c - run log files (see runlog.h).
 */
#include "worker/runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "core/log.h"

/* Output is moved from the pipe in chunks of this size; Slipway's own lines
 * longer than RUNLOG_LINE_MAX are cut (escaped, still one line). */
#define RUNLOG_CHUNK 4096
#define RUNLOG_LINE_MAX 4096

static int plain_name(const char *s)
{
    if (*s == '\0' || strlen(s) > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

char *wrk_log_path(const char *data_dir, const char *run_id)
{
    char *path = NULL;
    if (!plain_name(run_id) || asprintf(&path, "%s/logs/%s.log", data_dir, run_id) < 0)
        return NULL;
    return path;
}

int wrk_log_open(const char *data_dir, const char *run_id, int *fd, sw_error **err)
{
    char *dir = sw_path_join(data_dir, "logs");
    char *path = wrk_log_path(data_dir, run_id);
    int rc = 0;
    if (dir == NULL || path == NULL) {
        rc = sw_error_set(err, SW_EINVAL, "bad run id '%s'", run_id);
        goto cleanup;
    }
    if ((rc = sw_mkdir_mode(dir, 0700, err)) != 0)
        goto cleanup;
    *fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (*fd >= 0 && fchmod(*fd, 0600) != 0) {
        close(*fd);
        *fd = -1;
    }
    if (*fd < 0)
        rc = sw_error_sys(err, SW_EIO, errno, "opening %s", path);
cleanup:
    free(dir);
    free(path);
    return rc;
}

/* ---- build output ---------------------------------------------------------- */

/* The escaping pipe of one log file. The table of them is small (one per
 * run a worker process is building) and looked up by the file's fd, so
 * wrk_log_line can write what the pipe holds before its own line. */
struct pump {
    struct pump *next;
    int file_fd;
    int read_fd;
    int write_fd;
    int is_stopping;
    int at_line_start; /* the last byte in the file is a newline */
    pthread_t thread;
    pthread_mutex_t lock; /* one writer to the file at a time */
};

static pthread_mutex_t pumps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pump *pumps;

static struct pump *find_pump(int fd)
{
    pthread_mutex_lock(&pumps_lock);
    struct pump *p = pumps;
    while (p && p->file_fd != fd)
        p = p->next;
    pthread_mutex_unlock(&pumps_lock);
    return p;
}

/* Writes build output with every mark byte replaced. Called with p->lock. */
static void write_output(struct pump *p, const char *data, size_t len)
{
    static const char replacement[] = "\xe2\x90\x9e"; /* U+241E */
    char out[2 * 4096];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n + 3 > sizeof(out)) {
            sw_write_all(p->file_fd, out, n, NULL);
            n = 0;
        }
        if (data[i] == WRK_LOG_MARK) {
            memcpy(out + n, replacement, 3);
            n += 3;
        } else {
            out[n++] = data[i];
        }
    }
    if (n > 0) {
        sw_write_all(p->file_fd, out, n, NULL);
        p->at_line_start = out[n - 1] == '\n';
    }
}

/* Moves what the pipe holds now into the file; 0 at the end of the pipe
 * (every writer closed it), 1 otherwise. Called with p->lock. */
static int drain(struct pump *p)
{
    char buf[RUNLOG_CHUNK];
    for (;;) {
        ssize_t n = read(p->read_fd, buf, sizeof buf);
        if (n > 0) {
            write_output(p, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            return 0;
        if (errno == EINTR)
            continue;
        return 1; /* EAGAIN: nothing more for now */
    }
}

static void *pump_main(void *arg)
{
    struct pump *p = arg;
    for (;;) {
        struct pollfd pfd = { .fd = p->read_fd, .events = POLLIN };
        int ready = poll(&pfd, 1, 200);
        pthread_mutex_lock(&p->lock);
        int is_open = ready > 0 ? drain(p) : 1;
        int is_stopping = p->is_stopping;
        pthread_mutex_unlock(&p->lock);
        /* stopping: the worker closed its end; a process that kept a copy
         * of the pipe open does not hold the run up beyond a quiet moment */
        if (!is_open || (is_stopping && ready == 0))
            break;
    }
    return NULL;
}

int wrk_log_output_start(int fd, int *output_fd, sw_error **err)
{
    int fds[2];
    struct pump *p = calloc(1, sizeof *p);
    if (p == NULL)
        return sw_error_set(err, SW_ENOMEM, "run log: out of memory");
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(p);
        return sw_error_sys(err, SW_EIO, errno, "run log: creating the output pipe");
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    p->file_fd = fd;
    p->read_fd = fds[0];
    p->write_fd = fds[1];
    p->at_line_start = 1;
    pthread_mutex_init(&p->lock, NULL);
    if (pthread_create(&p->thread, NULL, pump_main, p) != 0) {
        close(fds[0]);
        close(fds[1]);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return sw_error_set(err, SW_EIO, "run log: cannot start the output thread");
    }
    pthread_mutex_lock(&pumps_lock);
    p->next = pumps;
    pumps = p;
    pthread_mutex_unlock(&pumps_lock);
    *output_fd = fds[1];
    return 0;
}

void wrk_log_output_stop(int fd)
{
    pthread_mutex_lock(&pumps_lock);
    struct pump **link = &pumps;
    while (*link && (*link)->file_fd != fd)
        link = &(*link)->next;
    struct pump *p = *link;
    if (p)
        *link = p->next;
    pthread_mutex_unlock(&pumps_lock);
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    close(p->write_fd);
    p->is_stopping = 1;
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->lock);
    drain(p);
    pthread_mutex_unlock(&p->lock);
    close(p->read_fd);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

void wrk_log_line(int fd, const char *fmt, ...)
{
    char text[RUNLOG_LINE_MAX], line[RUNLOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (n < 0 || fd < 0)
        return;
    size_t text_len = (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
    line[0] = WRK_LOG_MARK;
    line[1] = '#';
    line[2] = ' ';
    size_t len = 3 + sw_log_escape(line + 3, sizeof(line) - 4, text, text_len);
    line[len++] = '\n';

    struct pump *p = find_pump(fd);
    if (p == NULL) {
        sw_write_all(fd, line, len, NULL);
        return;
    }
    /* the build's output so far first, then this line on a line of its own */
    pthread_mutex_lock(&p->lock);
    drain(p);
    if (!p->at_line_start)
        sw_write_all(fd, "\n", 1, NULL);
    sw_write_all(fd, line, len, NULL);
    p->at_line_start = 1;
    pthread_mutex_unlock(&p->lock);
}
