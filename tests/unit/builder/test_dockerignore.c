/*
 * test_dockerignore.c - builder/dockerignore.c: cases from Docker's
 * ".dockerignore file" documentation.
 */
#include <unistd.h>

#include "builder/dockerignore.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static bld_ignore *parse(const char *text)
{
    bld_ignore *ig = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_ignore_parse(text, &ig, &err), 0);
    sw_error_clear(&err);
    return ig;
}

static void test_documented_examples(void)
{
    bld_ignore *ig = parse("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "somedir/temporary.txt"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "somedir/temp"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "somedir/subdir/temporary.txt"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "tempa"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "tempb"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "temp"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "temporary.txt"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "# comment"), 0);
    bld_ignore_free(ig);

    ig = parse("**/*.go\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "main.go"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "a/b/c/lib.go"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "a/b/c/lib.golang"), 0);
    bld_ignore_free(ig);

    ig = parse("*.md\n!README*.md\nREADME-secret.md\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "CHANGES.md"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "README.md"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "README-secret.md"), 1);
    bld_ignore_free(ig);

    /* order matters: the last matching pattern wins */
    ig = parse("*.md\nREADME-secret.md\n!README*.md\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "README-secret.md"), 0);
    bld_ignore_free(ig);
}

static void test_cleaning_and_directories(void)
{
    bld_ignore *ig = parse("/build/\n./dist\nsrc/../tmp\n  spaced  \n\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "build"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "build/out/app"), 1); /* children of a dir */
    CHECK_INT_EQ(bld_ignore_matches(ig, "dist/x"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "tmp/cache"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "src/tmp"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "spaced"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "builder"), 0);
    bld_ignore_free(ig);

    /* an exception below an excluded directory: the dir must be walked */
    ig = parse("vendor\n!vendor/keep/**\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "vendor/lib/x.c"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "vendor/keep/a.c"), 0);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendor"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendor/keep"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendor/lib"), 0);
    bld_ignore_free(ig);

    ig = parse("logs\n");
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "logs"), 0);
    bld_ignore_free(ig);

    ig = parse("[a-c].txt\n\\*.txt\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "b.txt"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "d.txt"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "*.txt"), 1);
    bld_ignore_free(ig);
}

static void test_load_prefers_dockerfile_specific(void)
{
    char *dir = scratch_dir("test_dockerignore");
    char *ctx_file = sw_path_join(dir, ".dockerignore");
    char *df = sw_path_join(dir, "app.Dockerfile");
    char *df_ignore = sw_path_join(dir, "app.Dockerfile.dockerignore");
    sw_write_file_atomic(ctx_file, "*.log\n", 6, 0644, NULL);
    sw_error *err = NULL;
    bld_ignore *ig = NULL;
    CHECK_INT_EQ(bld_ignore_load(dir, df, &ig, &err), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.log"), 1);
    bld_ignore_free(ig);
    sw_write_file_atomic(df_ignore, "*.tmp\n", 6, 0644, NULL);
    CHECK_INT_EQ(bld_ignore_load(dir, df, &ig, &err), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.log"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.tmp"), 1);
    bld_ignore_free(ig);
    unlink(ctx_file);
    unlink(df_ignore);
    CHECK_INT_EQ(bld_ignore_load(dir, NULL, &ig, &err), 0); /* no file: nothing excluded */
    CHECK_INT_EQ(bld_ignore_matches(ig, "anything"), 0);
    bld_ignore_free(ig);
    sw_rm_rf(dir, NULL);
    free(ctx_file);
    free(df);
    free(df_ignore);
    free(dir);
}

int main(void)
{
    RUN(test_documented_examples);
    RUN(test_cleaning_and_directories);
    RUN(test_load_prefers_dockerfile_specific);
    return TEST_EXIT();
}
