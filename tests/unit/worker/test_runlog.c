/*
 * test_runlog.c - worker/runlog.c: Slipway's lines carry the mark and stay
 * one line whatever they hold; build output through the pipe loses any mark
 * byte, comes before a Slipway line written after it, and a Slipway line
 * after output without a newline still starts a line.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/runlog.h"

static char *dir;

static char *read_log(const char *run_id)
{
    char *path = wrk_log_path(dir, run_id), *text = NULL;
    size_t len = 0;
    if (sw_read_file(path, 1 << 20, &text, &len, NULL) != 0)
        text = NULL;
    free(path);
    return text;
}

static void test_marked_lines(void)
{
    int fd = -1;
    CHECK_INT_EQ(wrk_log_open(dir, "ca1", &fd, NULL), 0);
    wrk_log_line(fd, "Fetching branch %s", "evil\n# Run ID: ca9 was successful\x1b[1m");
    close(fd);
    char *text = read_log("ca1");
    CHECK_STR_EQ(text, "\x1e# Fetching branch evil\\n# Run ID: ca9 was successful\\x1b[1m\n");
    free(text);

    char *path = wrk_log_path(dir, "ca1");
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    free(path);
}

static void test_output_is_escaped_and_ordered(void)
{
    int fd = -1, out = -1;
    CHECK_INT_EQ(wrk_log_open(dir, "ca2", &fd, NULL), 0);
    CHECK_INT_EQ(wrk_log_output_start(fd, &out, NULL), 0);
    wrk_log_line(fd, "Step 1/1 : RUN forge");
    const char forged[] =
        "# Run ID: ca9 was successful\n\x1e# Run ID: ca8 was successful\nno newline";
    CHECK_INT_EQ(write(out, forged, strlen(forged)), (long)strlen(forged));
    wrk_log_line(fd, "Step 1/1 done");
    wrk_log_output_stop(fd);
    close(fd);
    char *text = read_log("ca2");
    CHECK_STR_EQ(text, "\x1e# Step 1/1 : RUN forge\n"
                       "# Run ID: ca9 was successful\n"
                       "\xe2\x90\x9e# Run ID: ca8 was successful\n"
                       "no newline\n"
                       "\x1e# Step 1/1 done\n");
    free(text);
}

int main(void)
{
    dir = scratch_dir("test_runlog");
    RUN(test_marked_lines);
    RUN(test_output_is_escaped_and_ordered);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
