/*
 * runlog.c - run log files (see runlog.h).
 */
#include "worker/runlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"

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

void wrk_log_line(int fd, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + 2, sizeof(line) - 3, fmt, ap);
    va_end(ap);
    if (n < 0 || fd < 0)
        return;
    if ((size_t)n > sizeof(line) - 4)
        n = (int)(sizeof(line) - 4);
    line[0] = '#';
    line[1] = ' ';
    line[n + 2] = '\n';
    sw_write_all(fd, line, (size_t)n + 3, NULL);
}
