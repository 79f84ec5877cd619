/*
 * test_overlay.c - builder/overlay.c: layer order (upper layers win),
 * read-only mounts, and more layers than fit in one page of mount options.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "builder/overlay.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;

static char *layer_with(const char *name, const char *file, const char *text)
{
    char *layer = sw_path_join(dir, name);
    sw_mkdir_p(layer, 0755, NULL);
    char *p = sw_path_join(layer, file);
    sw_write_file_atomic(p, text, strlen(text), 0644, NULL);
    free(p);
    return layer;
}

static char *read_in(const char *root, const char *file)
{
    char *p = sw_path_join(root, file);
    char *data = NULL;
    if (sw_read_file(p, 4096, &data, NULL, NULL) != 0)
        data = NULL;
    free(p);
    return data;
}

static void test_many_layers_top_wins(void)
{
    enum { N = 150 };
    char *layers[N];
    char name[256];
    for (int i = 0; i < N; i++) {
        /* long names: 150 of them are far beyond the 4 KiB option limit */
        snprintf(name, sizeof(name), "layer-%03d-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", i);
        char text[32];
        snprintf(text, sizeof(text), "from %d", i);
        layers[i] = layer_with(name, i % 2 ? "odd" : "even", text);
    }
    char *bottom_only = sw_path_join(layers[0], "bottom");
    sw_write_file_atomic(bottom_only, "b", 1, 0644, NULL);
    free(bottom_only);

    char *upper = sw_path_join(dir, "upper"), *work = sw_path_join(dir, "work");
    char *empty = sw_path_join(dir, "empty"), *target = sw_path_join(dir, "merged");
    sw_mkdir_p(upper, 0755, NULL);
    sw_mkdir_p(work, 0755, NULL);
    sw_mkdir_p(empty, 0755, NULL);
    sw_mkdir_p(target, 0755, NULL);
    sw_error *err = NULL;
    int rc = bld_overlay_mount((const char *const *)layers, N, upper, work, empty, target, &err);
    CHECK_INT_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    if (rc == 0) {
        char *odd = read_in(target, "odd"), *even = read_in(target, "even");
        CHECK_STR_EQ(odd, "from 149"); /* the topmost layer with the file */
        CHECK_STR_EQ(even, "from 148");
        free(odd);
        free(even);
        char *b = read_in(target, "bottom");
        CHECK_STR_EQ(b, "b");
        free(b);
        /* writes go to the upper dir only */
        char *n = sw_path_join(target, "new");
        CHECK_INT_EQ(sw_write_file_atomic(n, "x", 1, 0644, &err), 0);
        free(n);
        CHECK_INT_EQ(bld_overlay_unmount(target, &err), 0);
        char *in_upper = read_in(upper, "new");
        CHECK_STR_EQ(in_upper, "x");
        free(in_upper);
    }
    for (int i = 0; i < N; i++)
        free(layers[i]);
    free(upper);
    free(work);
    free(empty);
    free(target);
}

static void test_read_only_and_scratch(void)
{
    char *a = layer_with("ro-a", "f", "a");
    char *empty = sw_path_join(dir, "empty2"), *target = sw_path_join(dir, "ro");
    sw_mkdir_p(empty, 0755, NULL);
    sw_mkdir_p(target, 0755, NULL);
    const char *lowers[] = { a };
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_overlay_mount(lowers, 1, NULL, NULL, empty, target, &err), 0);
    char *f = sw_path_join(target, "g");
    int fd = open(f, O_WRONLY | O_CREAT, 0644);
    CHECK(fd < 0 && errno == EROFS);
    if (fd >= 0)
        close(fd);
    free(f);
    CHECK_INT_EQ(bld_overlay_unmount(target, &err), 0);

    /* no layers at all (FROM scratch): the empty dir stands in */
    char *upper = sw_path_join(dir, "u3"), *work = sw_path_join(dir, "w3");
    sw_mkdir_p(upper, 0755, NULL);
    sw_mkdir_p(work, 0755, NULL);
    CHECK_INT_EQ(bld_overlay_mount(NULL, 0, upper, work, empty, target, &err), 0);
    CHECK_INT_EQ(bld_overlay_unmount(target, &err), 0);
    sw_error_clear(&err);
    free(upper);
    free(work);
    free(a);
    free(empty);
    free(target);
}

static void test_same_layer_twice(void)
{
    char *a = layer_with("dup-a", "f", "a");
    char *b = layer_with("dup-b", "g", "b");
    char *upper = sw_path_join(dir, "dup-u"), *work = sw_path_join(dir, "dup-w");
    char *empty = sw_path_join(dir, "dup-e"), *target = sw_path_join(dir, "dup-m");
    sw_mkdir_p(upper, 0755, NULL);
    sw_mkdir_p(work, 0755, NULL);
    sw_mkdir_p(empty, 0755, NULL);
    sw_mkdir_p(target, 0755, NULL);
    const char *lowers[] = { a, b, a }; /* two steps with the same (empty) diff */
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_overlay_mount(lowers, 3, upper, work, empty, target, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    sw_error_clear(&err);
    char *f = read_in(target, "f"), *g = read_in(target, "g");
    CHECK_STR_EQ(f, "a");
    CHECK_STR_EQ(g, "b");
    free(f);
    free(g);
    bld_overlay_unmount(target, NULL);
    free(a);
    free(b);
    free(upper);
    free(work);
    free(empty);
    free(target);
}

int main(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "this test needs root (mount)\n");
        return 1;
    }
    dir = scratch_dir("test_overlay");
    RUN(test_many_layers_top_wins);
    RUN(test_read_only_and_scratch);
    RUN(test_same_layer_twice);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
