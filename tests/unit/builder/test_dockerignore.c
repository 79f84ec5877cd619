/*
 * test_dockerignore.c - builder/dockerignore.c: the examples of Docker's
 * ".dockerignore file" documentation plus the corners of moby's pattern
 * matcher and BuildKit's reader (cleaning, "**" forms, exceptions, the
 * walk pruning of excluded directories, the Dockerfile-specific file).
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
    if (err != NULL)
        fprintf(stderr, "  parse error: %s\n", sw_error_message(err));
    sw_error_clear(&err);
    return ig;
}

/* One pattern file, one path: is it excluded? */
static int excluded(const char *text, const char *path)
{
    bld_ignore *ig = parse(text);
    int m = ig ? bld_ignore_matches(ig, path) : -1;
    bld_ignore_free(ig);
    return m;
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
    CHECK_INT_EQ(bld_ignore_matches(ig, "tempab"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "temporary.txt"), 0); /* "*" needs a dir level */
    CHECK_INT_EQ(bld_ignore_matches(ig, "a/b/c/temp"), 0);    /* two levels only */
    CHECK_INT_EQ(bld_ignore_matches(ig, "# comment"), 0);
    bld_ignore_free(ig);

    ig = parse("**/*.go\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "main.go"), 1); /* zero directories */
    CHECK_INT_EQ(bld_ignore_matches(ig, "a/b/c/lib.go"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "a/b/c/lib.golang"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "go"), 0);
    bld_ignore_free(ig);

    /* docs: all markdown except README.md */
    ig = parse("*.md\n!README.md\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "CHANGES.md"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "README.md"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "docs/guide.md"), 0); /* "*" is one level */
    CHECK_INT_EQ(bld_ignore_matches(ig, "main.c"), 0);
    bld_ignore_free(ig);

    /* docs: the placement of "!" decides */
    ig = parse("*.md\n!README*.md\nREADME-secret.md\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "CHANGES.md"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "README.md"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "README-public.md"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "README-secret.md"), 1);
    bld_ignore_free(ig);

    ig = parse("*.md\nREADME-secret.md\n!README*.md\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "README-secret.md"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "CHANGES.md"), 1);
    bld_ignore_free(ig);
}

static void test_reader_rules(void)
{
    /* comments only when '#' is the first byte; blank lines ignored */
    CHECK_INT_EQ(excluded("#secret\n", "#secret"), 0);
    CHECK_INT_EQ(excluded("  #secret\n", "#secret"), 1);
    CHECK_INT_EQ(excluded("\n\n   \n\t\nfoo\n", "foo"), 1);
    CHECK_INT_EQ(excluded("", "foo"), 0);
    /* trimming, CRLF line ends, no final newline, a BOM */
    CHECK_INT_EQ(excluded("  spaced \t\r\n", "spaced"), 1);
    CHECK_INT_EQ(excluded("a\r\nb", "b"), 1);
    CHECK_INT_EQ(excluded("a\r\nb", "a"), 1);
    CHECK_INT_EQ(excluded("\xEF\xBB\xBF"
                          "bom\n",
                          "bom"),
                 1);
    CHECK_INT_EQ(excluded("\xC2\xA0nbsp\xC2\xA0\n", "nbsp"), 1); /* Go's TrimSpace is Unicode */
    /* "! pattern": the exception's own text is trimmed too */
    CHECK_INT_EQ(excluded("*.txt\n!  keep.txt\n", "keep.txt"), 0);
}

static void test_cleaning(void)
{
    CHECK_INT_EQ(excluded("/build/\n", "build"), 1);         /* leading and trailing slash */
    CHECK_INT_EQ(excluded("/build/\n", "build/out/app"), 1); /* children of a directory */
    CHECK_INT_EQ(excluded("/build/\n", "builder"), 0);
    CHECK_INT_EQ(excluded("./dist\n", "dist/x"), 1);
    CHECK_INT_EQ(excluded("src/../tmp\n", "tmp/cache"), 1);
    CHECK_INT_EQ(excluded("src/../tmp\n", "src/tmp"), 0);
    CHECK_INT_EQ(excluded("a//b/./c\n", "a/b/c"), 1);
    CHECK_INT_EQ(excluded("/../../x\n", "x"), 1); /* ".." stops at the root */
    CHECK_INT_EQ(excluded("../x\n", "x"), 0);     /* kept: outside the context */
    CHECK_INT_EQ(excluded("!/keep\n", "keep"), 0);
    CHECK_INT_EQ(excluded("*\n!/keep/\n", "keep"), 0);
    CHECK_INT_EQ(excluded("*\n!/keep/\n", "other"), 1);
    /* "/" and "." name the context root, which is never excluded */
    CHECK_INT_EQ(excluded("/\n", "anything"), 0);
    CHECK_INT_EQ(excluded(".\n", "anything"), 0);
    CHECK_INT_EQ(excluded("*\n", "."), 0);
    CHECK_INT_EQ(excluded("*\n", ""), 0);
    /* the paths asked about may come with "./" or a trailing slash */
    CHECK_INT_EQ(excluded("dir\n", "./dir/"), 1);
}

static void test_directories_and_parents(void)
{
    bld_ignore *ig = parse("node_modules\n*/cache\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "node_modules"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "node_modules/a/b/c.js"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "src/node_modules"), 0); /* anchored at the root */
    CHECK_INT_EQ(bld_ignore_matches(ig, "x/cache/y/z"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "cache/y"), 0);
    bld_ignore_free(ig);

    /* "**" forms */
    CHECK_INT_EQ(excluded("**/node_modules\n", "node_modules"), 1);
    CHECK_INT_EQ(excluded("**/node_modules\n", "a/b/node_modules/x.js"), 1);
    CHECK_INT_EQ(excluded("**/node_modules\n", "a/xnode_modules"), 0);
    CHECK_INT_EQ(excluded("a/**/b\n", "a/b"), 1);
    CHECK_INT_EQ(excluded("a/**/b\n", "a/x/y/b"), 1);
    CHECK_INT_EQ(excluded("a/**/b\n", "a/xb"), 0);
    CHECK_INT_EQ(excluded("a/**/b\n", "ab"), 0);
    CHECK_INT_EQ(excluded("vendor/**\n", "vendor"), 0); /* only what is below it */
    CHECK_INT_EQ(excluded("vendor/**\n", "vendor/x/y"), 1);
    CHECK_INT_EQ(excluded("**\n", "any/thing"), 1);
    CHECK_INT_EQ(excluded("**/\n", "x"), 1);
    CHECK_INT_EQ(excluded("**/*\n", "x"), 1);
    CHECK_INT_EQ(excluded("docs/**/*.md\n", "docs/a.md"), 1);
    CHECK_INT_EQ(excluded("docs/**/*.md\n", "docs/x/y/a.md"), 1);
    CHECK_INT_EQ(excluded("docs/**/*.md\n", "other/a.md"), 0);
    /* patternmatcher's literal-suffix and literal-prefix forms */
    CHECK_INT_EQ(excluded("**foo\n", "barfoo"), 1);
    CHECK_INT_EQ(excluded("**foo\n", "x/foo"), 1);
    CHECK_INT_EQ(excluded("**foo*\n", "barfoo"), 0);
    CHECK_INT_EQ(excluded("foo**\n", "foobar/x"), 1);
    CHECK_INT_EQ(excluded("f?o/**\n", "foo/x"), 1);
    CHECK_INT_EQ(excluded("a**b\n", "ab"), 1);
    CHECK_INT_EQ(excluded("a**b\n", "ax/b"), 1);
    CHECK_INT_EQ(excluded("a**b\n", "axb"), 0);
}

static void test_wildcards(void)
{
    CHECK_INT_EQ(excluded("*.log\n", "app.log"), 1);
    CHECK_INT_EQ(excluded("*.log\n", ".log"), 1); /* "*" matches a leading dot too */
    CHECK_INT_EQ(excluded("*.log\n", "logs/app.log"), 0);
    CHECK_INT_EQ(excluded("a?c\n", "a/c"), 0); /* "?" never matches '/' */
    CHECK_INT_EQ(excluded("a?c\n", "a\xC3\xA9"
                                   "c"),
                 1); /* one character, not one byte */
    CHECK_INT_EQ(excluded("a?c\n", "a\xC3\xA9\xC3\xA9"
                                   "c"),
                 0);
    CHECK_INT_EQ(excluded("a?c\n", "\xC3\xA9"), 0);
    CHECK_INT_EQ(excluded("?\n", "\xC3\xA9"), 1);
    CHECK_INT_EQ(excluded("*a*a*a*a*a*a*a*a*a*a*b\n",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                 0); /* no exponential backtracking */
    /* a path longer than the matcher's stack buffers */
    char long_path[3000];
    memset(long_path, 'd', sizeof(long_path) - 1);
    for (size_t i = 50; i < sizeof(long_path) - 1; i += 50)
        long_path[i] = '/';
    long_path[sizeof(long_path) - 1] = '\0';
    CHECK_INT_EQ(excluded("**/d*d\n", long_path), 1);
    CHECK_INT_EQ(excluded("**/x*\n", long_path), 0);
    /* character classes */
    CHECK_INT_EQ(excluded("[a-c].txt\n", "b.txt"), 1);
    CHECK_INT_EQ(excluded("[a-c].txt\n", "d.txt"), 0);
    CHECK_INT_EQ(excluded("[^a-c].txt\n", "d.txt"), 1);
    CHECK_INT_EQ(excluded("[^a-c].txt\n", "a.txt"), 0);
    CHECK_INT_EQ(excluded("file[0-9][0-9]\n", "file42"), 1);
    CHECK_INT_EQ(excluded("file[0-9][0-9]\n", "file4x"), 0);
    CHECK_INT_EQ(excluded("[\\]x]\n", "]"), 1);
    CHECK_INT_EQ(excluded("[\xC3\xA0-\xC3\xBF]\n", "\xC3\xA9"), 1);
    /* escapes */
    CHECK_INT_EQ(excluded("\\*.txt\n", "*.txt"), 1);
    CHECK_INT_EQ(excluded("\\*.txt\n", "a.txt"), 0);
    CHECK_INT_EQ(excluded("what\\?\n", "what?"), 1);
    CHECK_INT_EQ(excluded("what\\?\n", "whatx"), 0);
    CHECK_INT_EQ(excluded("\\[x]\n", "[x]"), 1);
    /* characters special to regular expressions are plain here */
    CHECK_INT_EQ(excluded("a.b*\n", "axb"), 0);
    CHECK_INT_EQ(excluded("a+(b)|{c}$*\n", "a+(b)|{c}$z"), 1);
    CHECK_INT_EQ(excluded("]*\n", "]x"), 1);
}

static void test_exceptions(void)
{
    /* an exception below an excluded directory: the directory is walked */
    bld_ignore *ig = parse("vendor\n!vendor/keep/**\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "vendor"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "vendor/lib/x.c"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "vendor/keep/a.c"), 0);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendor"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendor/keep"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendor/lib"), 0);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "vendorx"), 0);
    bld_ignore_free(ig);

    ig = parse("dir\n!dir/keep.txt\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "dir"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "dir/other.txt"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "dir/keep.txt"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "dir/keep.txt/inner"), 0); /* via its parent */
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "dir"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "dir/sub"), 0);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "other"), 0);
    bld_ignore_free(ig);

    /* no exceptions: an excluded directory is never walked */
    ig = parse("logs\n");
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "logs"), 0);
    bld_ignore_free(ig);

    /* an exception with wildcards could match anywhere: walk every dir */
    ig = parse("*\n!*/*.go\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "pkg"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "pkg/main.go"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "pkg/main.c"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "pkg"), 1);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "anything/else"), 1);
    bld_ignore_free(ig);

    /* exclude all but one file, then exclude it again */
    ig = parse("*\n!app\napp/tmp\n");
    CHECK_INT_EQ(bld_ignore_matches(ig, "Dockerfile"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "app/main.c"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "app/tmp/x"), 1);
    bld_ignore_free(ig);

    /* an exception before the exclusion does nothing */
    CHECK_INT_EQ(excluded("!keep.txt\n*.txt\n", "keep.txt"), 1);
    /* a re-included file inside an excluded directory stays included
     * even though its parent directory is excluded */
    CHECK_INT_EQ(excluded("a\n!a/b\n", "a/b/c"), 0);
    CHECK_INT_EQ(excluded("a\n!a/b\na/b/c\n", "a/b/c/d"), 1);
}

static void test_bad_patterns(void)
{
    const char *bad[] = { "!\n",    "  !  \n", "[\n",   "a[b\n",    "[]\n",
                          "[-a]\n", "[a-]\n",  "x\\\n", "ok\n[z-\n" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bld_ignore *ig = NULL;
        sw_error *err = NULL;
        CHECK_INT_EQ(bld_ignore_parse(bad[i], &ig, &err), SW_EINVAL);
        CHECK(ig == NULL);
        CHECK(err != NULL && strstr(sw_error_message(err), "line ") != NULL);
        sw_error_clear(&err);
    }
    /* the line number names the bad line */
    bld_ignore *ig = NULL;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_ignore_parse("a\n# c\n\nb[\n", &ig, &err), SW_EINVAL);
    CHECK(err != NULL && strstr(sw_error_message(err), "line 4") != NULL);
    sw_error_clear(&err);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char *path = sw_path_join(dir, name);
    CHECK_INT_EQ(sw_write_file_atomic(path, text, strlen(text), 0644, NULL), 0);
    free(path);
}

static void test_load(void)
{
    char *dir = scratch_dir("test_dockerignore");
    char *build_dir = sw_path_join(dir, "build");
    char *df = sw_path_join(build_dir, "app.Dockerfile");
    sw_error *err = NULL;
    bld_ignore *ig = NULL;
    CHECK_INT_EQ(sw_mkdir_p(build_dir, 0755, NULL), 0);

    /* no ignore file at all: nothing is excluded */
    CHECK_INT_EQ(bld_ignore_load(dir, df, &ig, &err), 0);
    CHECK(ig != NULL);
    CHECK_INT_EQ(bld_ignore_matches(ig, "anything"), 0);
    CHECK_INT_EQ(bld_ignore_dir_needed(ig, "anything"), 0);
    bld_ignore_free(ig);
    ig = NULL;

    /* the context's .dockerignore */
    write_file(dir, ".dockerignore", "*.log\n");
    CHECK_INT_EQ(bld_ignore_load(dir, df, &ig, &err), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.log"), 1);
    bld_ignore_free(ig);
    ig = NULL;
    CHECK_INT_EQ(bld_ignore_load(dir, NULL, &ig, &err), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.log"), 1);
    bld_ignore_free(ig);
    ig = NULL;

    /* <Dockerfile>.dockerignore next to the Dockerfile wins */
    write_file(build_dir, "app.Dockerfile.dockerignore", "*.tmp\n");
    CHECK_INT_EQ(bld_ignore_load(dir, df, &ig, &err), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.log"), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.tmp"), 1);
    bld_ignore_free(ig);
    ig = NULL;
    /* ...but only for that Dockerfile */
    CHECK_INT_EQ(bld_ignore_load(dir, NULL, &ig, &err), 0);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.log"), 1);
    CHECK_INT_EQ(bld_ignore_matches(ig, "x.tmp"), 0);
    bld_ignore_free(ig);
    ig = NULL;

    /* a bad pattern names the file and the line */
    write_file(dir, ".dockerignore", "ok\n[oops\n");
    CHECK_INT_EQ(bld_ignore_load(dir, NULL, &ig, &err), SW_EINVAL);
    CHECK(ig == NULL);
    CHECK(err != NULL && strstr(sw_error_message(err), ".dockerignore") != NULL &&
          strstr(sw_error_message(err), "line 2") != NULL);
    sw_error_clear(&err);

    /* an ignore file that cannot be read is an error, not "no file" */
    char *ctx_file = sw_path_join(dir, ".dockerignore");
    unlink(ctx_file);
    CHECK_INT_EQ(sw_mkdir_p(ctx_file, 0755, NULL), 0);
    CHECK(bld_ignore_load(dir, NULL, &ig, &err) < 0);
    CHECK(ig == NULL);
    CHECK(err != NULL);
    sw_error_clear(&err);

    sw_rm_rf(dir, NULL);
    free(ctx_file);
    free(df);
    free(build_dir);
    free(dir);
}

int main(void)
{
    RUN(test_documented_examples);
    RUN(test_reader_rules);
    RUN(test_cleaning);
    RUN(test_directories_and_parents);
    RUN(test_wildcards);
    RUN(test_exceptions);
    RUN(test_bad_patterns);
    RUN(test_load);
    return TEST_EXIT();
}
