/*
 * test_log.c - the log lines of core/log.c as a reader of stderr sees them:
 * "TIME LEVEL message", one line each, the SLIPWAY_LOG threshold, and a
 * message longer than a line cut to one line.
 */
#include <fcntl.h>
#include <unistd.h>

#include "core/log.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *log_path;

/* Runs the logging with stderr sent to a file; returns what was written. */
static char *captured(void (*fn)(void))
{
    int saved = dup(STDERR_FILENO);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0)
        abort();
    dup2(fd, STDERR_FILENO);
    close(fd);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);

    FILE *f = fopen(log_path, "r");
    char *text = calloc(1, 16384);
    if (f == NULL || text == NULL)
        abort();
    size_t n = fread(text, 1, 16383, f);
    text[n] = '\0';
    fclose(f);
    return text;
}

static void log_levels(void)
{
    sw_debug("a debug line %d", 1);
    sw_info("an info line");
    sw_warn("a warning about %s", "disks");
    sw_err("an error: %d", 500);
}

static void log_long(void)
{
    char big[6000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sw_warn("%s", big);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_threshold_and_format(void)
{
    char *text = captured(log_levels);
    /* SLIPWAY_LOG=warn: debug and info are dropped */
    CHECK(strstr(text, "debug line") == NULL);
    CHECK(strstr(text, "info line") == NULL);
    CHECK(strstr(text, " warn  a warning about disks\n") != NULL);
    CHECK(strstr(text, " error an error: 500\n") != NULL);
    CHECK_INT_EQ(count_lines(text), 2);
    /* each line starts with an RFC 3339 UTC time */
    CHECK(strlen(text) > 21 && text[4] == '-' && text[10] == 'T' && text[19] == 'Z');
    free(text);
}

static void test_long_message_is_one_line(void)
{
    char *text = captured(log_long);
    size_t n = strlen(text);
    CHECK_INT_EQ(count_lines(text), 1);
    CHECK(n > 0 && n <= 4096);
    CHECK(n > 0 && text[n - 1] == '\n');
    CHECK(n > 1 && text[n - 2] == 'z');
    free(text);
}

int main(void)
{
    char *dir = scratch_dir("log");
    if (asprintf(&log_path, "%s/stderr.log", dir) < 0)
        return 2;
    setenv("SLIPWAY_LOG", "warn", 1); /* read once, at the first line */
    RUN(test_threshold_and_format);
    RUN(test_long_message_is_one_line);
    unlink(log_path);
    rmdir(dir);
    free(log_path);
    free(dir);
    return TEST_EXIT();
}
