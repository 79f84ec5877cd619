/*
 * scratch.h - a fresh scratch directory per unit test run, under
 * $SLIPWAY_TEST_TMP (set by ctest) or /tmp.
 */
#ifndef SW_TEST_SCRATCH_H
#define SW_TEST_SCRATCH_H

#include <stdio.h>
#include <stdlib.h>

#include "core/fs.h"

/* Returns a malloc'd new empty directory path; aborts on failure. */
static char *scratch_dir(const char *name)
{
    const char *root = getenv("SLIPWAY_TEST_TMP");
    char *path = NULL;
    if (root == NULL || *root == '\0')
        root = "/tmp";
    sw_mkdir_p(root, 0755, NULL);
    if (asprintf(&path, "%s/%s.XXXXXX", root, name) < 0 || mkdtemp(path) == NULL) {
        perror("scratch_dir");
        abort();
    }
    return path;
}

#endif
