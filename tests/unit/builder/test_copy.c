/*
 * test_copy.c - builder/copy.c: Docker's COPY/ADD semantics, and that
 * neither a checkout's symlinks nor the image's own can reach host files.
 */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "builder/copy.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"

static char *dir;
static char *ctx;

static void put(const char *root, const char *rel, const char *text, mode_t mode)
{
    char *p = sw_path_join(root, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    sw_mkdir_p(p, 0755, NULL);
    *slash = '/';
    sw_write_file_atomic(p, text, strlen(text), mode, NULL);
    chmod(p, mode);
    free(p);
}

static char *get(const char *root, const char *rel)
{
    char *p = sw_path_join(root, rel);
    char *data = NULL;
    if (sw_read_file(p, 1 << 20, &data, NULL, NULL) != 0)
        data = NULL;
    free(p);
    return data;
}

static int exists(const char *root, const char *rel)
{
    char *p = sw_path_join(root, rel);
    int e = sw_path_exists(p);
    free(p);
    return e;
}

static char *fresh_root(const char *name)
{
    char *r = sw_path_join(dir, name);
    sw_rm_rf(r, NULL);
    sw_mkdir_p(r, 0755, NULL);
    return r;
}

/* Runs one COPY from the context; returns the rc and fills msg. */
static int copy(const char *root, const char *const *sources, size_t n, const char *dest,
                int is_add, char *msg, size_t msg_size)
{
    struct bld_copy_spec spec = { .src_root = ctx,
                                  .sources = sources,
                                  .n_sources = n,
                                  .dest = dest,
                                  .dest_root = root,
                                  .from_context = 1,
                                  .is_add = is_add };
    sw_error *err = NULL;
    int rc = bld_copy(&spec, &err);
    if (msg)
        snprintf(msg, msg_size, "%s", rc ? sw_error_message(err) : "");
    sw_error_clear(&err);
    return rc;
}

static void test_path_match(void)
{
    CHECK_INT_EQ(bld_path_match("*.txt", "a.txt"), 1);
    CHECK_INT_EQ(bld_path_match("*.txt", "dir/a.txt"), 0); /* '*' does not cross '/' */
    CHECK_INT_EQ(bld_path_match("*/a.txt", "dir/a.txt"), 1);
    CHECK_INT_EQ(bld_path_match("a?c", "abc"), 1);
    CHECK_INT_EQ(bld_path_match("a?c", "a/c"), 0);
    CHECK_INT_EQ(bld_path_match("[a-c]x", "bx"), 1);
    CHECK_INT_EQ(bld_path_match("[^a-c]x", "bx"), 0);
    CHECK_INT_EQ(bld_path_match("[^a-c]x", "dx"), 1);
    CHECK_INT_EQ(bld_path_match("\\*", "*"), 1);
    CHECK_INT_EQ(bld_path_match("\\*", "x"), 0);
    CHECK_INT_EQ(bld_path_match("*", ""), 1);
    CHECK_INT_EQ(bld_path_match("a*b*c", "aXXbYYc"), 1);
    CHECK_INT_EQ(bld_path_match("a*b*c", "aXXbYY"), 0);
    CHECK_INT_EQ(bld_path_match("[", "a"), -1);
}

static void test_files_and_directories(void)
{
    char *root = fresh_root("files");
    char msg[512];
    const char *one[] = { "hello.txt" };
    CHECK_INT_EQ(copy(root, one, 1, "/app/", 0, msg, sizeof(msg)), 0);
    char *t = get(root, "app/hello.txt");
    CHECK_STR_EQ(t, "hello\n");
    free(t);

    /* no trailing slash and no existing directory: the file is renamed */
    CHECK_INT_EQ(copy(root, one, 1, "/etc/greeting", 0, msg, sizeof(msg)), 0);
    t = get(root, "etc/greeting");
    CHECK_STR_EQ(t, "hello\n");
    free(t);

    /* an existing directory receives the file under its own name */
    CHECK_INT_EQ(copy(root, one, 1, "/app", 0, msg, sizeof(msg)), 0);
    CHECK(exists(root, "app/hello.txt"));

    /* a directory source copies its contents, not itself */
    const char *src[] = { "src" };
    CHECK_INT_EQ(copy(root, src, 1, "/code", 0, msg, sizeof(msg)), 0);
    t = get(root, "code/lib/util.c");
    CHECK_STR_EQ(t, "int util;\n");
    free(t);
    CHECK(!exists(root, "code/src"));
    struct stat st;
    char *p = sw_path_join(root, "code/run.sh");
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0755 && st.st_uid == 0);
    free(p);
    char link[64] = { 0 };
    p = sw_path_join(root, "code/current");
    CHECK(readlink(p, link, sizeof(link) - 1) > 0);
    CHECK_STR_EQ(link, "lib"); /* symlinks inside directories stay symlinks */
    free(p);

    /* the whole context */
    const char *dot[] = { "." };
    char *all = fresh_root("all");
    CHECK_INT_EQ(copy(all, dot, 1, "/", 0, msg, sizeof(msg)), 0);
    CHECK(exists(all, "hello.txt") && exists(all, "src/lib/util.c"));
    free(all);
    free(root);
}

static void test_wildcards_and_errors(void)
{
    char *root = fresh_root("wild");
    char msg[512];
    const char *txt[] = { "*.txt" };
    CHECK_INT_EQ(copy(root, txt, 1, "/docs/", 0, msg, sizeof(msg)), 0);
    CHECK(exists(root, "docs/hello.txt") && exists(root, "docs/notes.txt"));
    CHECK(!exists(root, "docs/run.sh"));

    /* several files need a directory destination ending in '/' */
    CHECK(copy(root, txt, 1, "/docs", 0, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "destination must be a directory and end with a /") != NULL);
    const char *two[] = { "hello.txt", "notes.txt" };
    CHECK(copy(root, two, 2, "/x", 0, msg, sizeof(msg)) != 0);

    const char *missing[] = { "missing.txt" };
    CHECK(copy(root, missing, 1, "/", 0, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "file not found in build context") != NULL);
    CHECK(strstr(msg, "missing.txt") != NULL);
    const char *nomatch[] = { "*.nothing" };
    CHECK(copy(root, nomatch, 1, "/", 0, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "no source files were specified") != NULL);

    /* wildcards inside paths */
    const char *deep[] = { "src/*/*.c" };
    CHECK_INT_EQ(copy(root, deep, 1, "/c/", 0, msg, sizeof(msg)), 0);
    CHECK(exists(root, "c/util.c"));
    free(root);
}

static void test_chown_chmod_and_owners(void)
{
    char *root = fresh_root("own");
    const char *one[] = { "src" };
    struct bld_copy_spec spec = { .src_root = ctx,
                                  .sources = one,
                                  .n_sources = 1,
                                  .dest = "/srv/app/",
                                  .dest_root = root,
                                  .from_context = 1,
                                  .has_chown = 1,
                                  .uid = 1000,
                                  .gid = 100,
                                  .has_chmod = 1,
                                  .mode = 0640 };
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    sw_error_clear(&err);
    struct stat st;
    char *p = sw_path_join(root, "srv/app/lib/util.c");
    CHECK(stat(p, &st) == 0 && st.st_uid == 1000 && st.st_gid == 100 &&
          (st.st_mode & 07777) == 0640);
    free(p);
    p = sw_path_join(root, "srv/app"); /* created destination dirs get the owner too */
    CHECK(stat(p, &st) == 0 && st.st_uid == 1000 && st.st_gid == 100);
    free(p);
    free(root);
}

static void test_symlinks_cannot_escape(void)
{
    char *root = fresh_root("escape");
    char *outside = sw_path_join(dir, "host-secret");
    sw_write_file_atomic(outside, "host secret\n", 12, 0600, NULL);
    char msg[512];

    /* a checkout symlink to a host file resolves inside the context */
    char *l = sw_path_join(ctx, "leak");
    CHECK(symlink(outside, l) == 0);
    free(l);
    const char *leak[] = { "leak" };
    CHECK(copy(root, leak, 1, "/leak", 0, msg, sizeof(msg)) != 0);
    char *t = get(root, "leak");
    CHECK(t == NULL);
    free(t);

    /* "../" in a source stays at the context root, as in Docker */
    const char *up[] = { "../host-secret" };
    CHECK(copy(root, up, 1, "/x", 0, msg, sizeof(msg)) != 0);

    /* the image's own absolute symlink resolves inside the image root */
    char *hostdir = sw_path_join(dir, "hostdir");
    sw_mkdir_p(hostdir, 0755, NULL);
    char *app = sw_path_join(root, "app");
    /* /app -> <absolute host path> inside the image */
    CHECK(symlink(hostdir, app) == 0);
    const char *one[] = { "hello.txt" };
    CHECK_INT_EQ(copy(root, one, 1, "/app/", 0, msg, sizeof(msg)), 0);
    char *host_file = sw_path_join(hostdir, "hello.txt");
    CHECK(!sw_path_exists(host_file)); /* nothing written on the host */
    free(host_file);
    char *inside = sw_path_join(root, hostdir + 1);
    char *inside_file = sw_path_join(inside, "hello.txt");
    CHECK(sw_path_exists(inside_file)); /* it went where the container would see it */
    free(inside_file);
    free(inside);
    free(app);
    free(hostdir);
    free(outside);
    free(root);
}

static void test_add_extracts_archives(void)
{
    char *tarpath = sw_path_join(ctx, "bundle.tar.gz");
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    archive_write_add_filter_gzip(a);
    archive_write_open_filename(a, tarpath);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "pkg/VERSION");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, 4);
    archive_write_header(a, e);
    archive_write_data(a, "1.2\n", 4);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);

    char *root = fresh_root("add");
    char msg[512];
    const char *src[] = { "bundle.tar.gz" };
    CHECK_INT_EQ(copy(root, src, 1, "/opt/", 1, msg, sizeof(msg)), 0);
    char *t = get(root, "opt/pkg/VERSION");
    CHECK_STR_EQ(t, "1.2\n");
    free(t);
    CHECK(!exists(root, "opt/bundle.tar.gz"));

    /* COPY does not extract */
    CHECK_INT_EQ(copy(root, src, 1, "/copy/", 0, msg, sizeof(msg)), 0);
    CHECK(exists(root, "copy/bundle.tar.gz"));

    /* a .gz that is not a tar is copied as it is */
    put(ctx, "data.gz", "not really gzip", 0644);
    const char *gz[] = { "data.gz" };
    CHECK_INT_EQ(copy(root, gz, 1, "/d/", 1, msg, sizeof(msg)), 0);
    CHECK(exists(root, "d/data.gz"));
    free(root);
    free(tarpath);
}

static int exclude_logs(void *c, const char *rel, int is_dir)
{
    size_t n = strlen(rel);
    return n > 4 && strcmp(rel + n - 4, ".log") == 0;
}

static void test_exclusions(void)
{
    put(ctx, "src/debug.log", "noise", 0644);
    char *root = fresh_root("excl");
    const char *src[] = { "src" };
    struct bld_copy_spec spec = { .src_root = ctx,
                                  .sources = src,
                                  .n_sources = 1,
                                  .dest = "/s/",
                                  .dest_root = root,
                                  .from_context = 1,
                                  .excluded = exclude_logs };
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    CHECK(exists(root, "s/run.sh"));
    CHECK(!exists(root, "s/debug.log"));
    const char *log[] = { "src/debug.log" };
    spec.sources = log;
    CHECK(bld_copy(&spec, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "excluded by .dockerignore") != NULL);
    sw_error_clear(&err);
    free(root);
}

static void test_digest_follows_content(void)
{
    const char *src[] = { "src" };
    struct bld_copy_spec spec = {
        .src_root = ctx, .sources = src, .n_sources = 1, .dest = "/", .from_context = 1
    };
    char a[SW_DIGEST_MAX], b[SW_DIGEST_MAX], c2[SW_DIGEST_MAX], d[SW_DIGEST_MAX];
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_copy_digest(&spec, a, &err), 0);
    CHECK_INT_EQ(bld_copy_digest(&spec, b, &err), 0);
    CHECK_STR_EQ(a, b);
    put(ctx, "src/lib/util.c", "int util2;\n", 0644); /* content changes */
    CHECK_INT_EQ(bld_copy_digest(&spec, c2, &err), 0);
    CHECK(strcmp(a, c2) != 0);
    char *p = sw_path_join(ctx, "src/run.sh");
    chmod(p, 0700); /* mode changes */
    CHECK_INT_EQ(bld_copy_digest(&spec, d, &err), 0);
    CHECK(strcmp(c2, d) != 0);
    chmod(p, 0755);
    free(p);
    put(ctx, "src/lib/util.c", "int util;\n", 0644);
    /* a file outside the sources does not matter */
    put(ctx, "unrelated.txt", "x", 0644);
    CHECK_INT_EQ(bld_copy_digest(&spec, b, &err), 0);
    CHECK_STR_EQ(a, b);
    sw_error_clear(&err);
}

/* COPY --exclude: patterns relative to the source; the digest follows. */
static void test_exclude_flag(void)
{
    put(ctx, "ex/keep.txt", "keep", 0644);
    put(ctx, "ex/secret.key", "key", 0600);
    put(ctx, "ex/sub/deep.key", "key", 0600);
    char *root = fresh_root("exflag");
    const char *src[] = { "ex" };
    const char *pats[] = { "*.key", "sub/*.key" };
    struct bld_copy_spec spec = { .src_root = ctx,
                                  .sources = src,
                                  .n_sources = 1,
                                  .dest = "/app/",
                                  .dest_root = root,
                                  .from_context = 1,
                                  .exclude = pats,
                                  .n_exclude = 1 };
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    CHECK(exists(root, "app/keep.txt"));
    CHECK(!exists(root, "app/secret.key"));
    CHECK(exists(root, "app/sub/deep.key")); /* '*' does not cross '/' */
    char d1[SW_DIGEST_MAX], d2[SW_DIGEST_MAX];
    CHECK_INT_EQ(bld_copy_digest(&spec, d1, &err), 0);
    spec.n_exclude = 2;
    CHECK_INT_EQ(bld_copy_digest(&spec, d2, &err), 0);
    CHECK(strcmp(d1, d2) != 0);
    char *r2 = fresh_root("exflag2");
    spec.dest_root = r2;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    CHECK(!exists(r2, "app/sub/deep.key"));
    /* a wildcard source: matches are tested by name */
    const char *wild[] = { "ex/*" };
    char *r3 = fresh_root("exflag3");
    spec.sources = wild;
    spec.dest_root = r3;
    spec.n_exclude = 1;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    CHECK(exists(r3, "app/keep.txt"));
    CHECK(!exists(r3, "app/secret.key"));
    const char *bang[] = { "!x" };
    spec.exclude = bang;
    CHECK(bld_copy(&spec, &err) != 0);
    sw_error_clear(&err);
    free(root);
    free(r2);
    free(r3);
}

/* COPY --parents, with and without the "/./" pivot. */
static void test_parents_flag(void)
{
    put(ctx, "pa/a/b/c.txt", "c", 0644);
    put(ctx, "pa/a/d/e.txt", "e", 0644);
    char *root = fresh_root("parents");
    const char *src[] = { "./pa/a/./b/c.txt", "pa/a/d" };
    struct bld_copy_spec spec = { .src_root = ctx,
                                  .sources = src,
                                  .n_sources = 2,
                                  .dest = "/dst/",
                                  .dest_root = root,
                                  .from_context = 1,
                                  .parents = 1 };
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    CHECK(exists(root, "dst/b/c.txt"));
    CHECK(exists(root, "dst/pa/a/d/e.txt"));
    CHECK(!exists(root, "dst/c.txt"));
    const char *wild[] = { "pa/*/b/*.txt" };
    char *r2 = fresh_root("parents2");
    spec.sources = wild;
    spec.n_sources = 1;
    spec.dest_root = r2;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    CHECK(exists(r2, "dst/pa/a/b/c.txt"));
    sw_error_clear(&err);
    free(root);
    free(r2);
}

static nlink_t links_of(const char *root, const char *rel)
{
    char *p = sw_path_join(root, rel);
    struct stat st;
    nlink_t n = lstat(p, &st) == 0 ? st.st_nlink : 0;
    free(p);
    return n;
}

/* reuse_root: a file the copy would make the same (bytes, size, mtime,
 * mode, owner) is a hard link to the previous tree's; a file that differs
 * in its bytes only, or in its mode, is copied. */
static void test_reuse_links_identical_files(void)
{
    put(ctx, "ru/same.txt", "same\n", 0644);
    put(ctx, "ru/sub/deep.txt", "deep\n", 0644);
    put(ctx, "ru/bytes.txt", "aaaa\n", 0644);
    put(ctx, "ru/mode.txt", "mode\n", 0644);
    const char *src[] = { "ru" };
    struct bld_copy_spec spec = {
        .src_root = ctx, .sources = src, .n_sources = 1, .dest = "/app/", .from_context = 1
    };
    sw_error *err = NULL;
    char *prev = fresh_root("reuse-prev");
    spec.dest_root = prev;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    /* the same size and mtime, other bytes; another mode */
    char *bytes = sw_path_join(ctx, "ru/bytes.txt");
    struct stat st;
    CHECK_INT_EQ(stat(bytes, &st), 0);
    put(ctx, "ru/bytes.txt", "bbbb\n", 0644);
    struct timespec times[2] = { st.st_atim, st.st_mtim };
    CHECK_INT_EQ(utimensat(AT_FDCWD, bytes, times, 0), 0);
    char *mode = sw_path_join(ctx, "ru/mode.txt");
    chmod(mode, 0600);
    char *next = fresh_root("reuse-next");
    spec.dest_root = next;
    spec.reuse_root = prev;
    CHECK_INT_EQ(bld_copy(&spec, &err), 0);
    if (err)
        fprintf(stderr, "  %s\n", sw_error_message(err));
    CHECK_INT_EQ(links_of(next, "app/same.txt"), 2);
    CHECK_INT_EQ(links_of(next, "app/sub/deep.txt"), 2);
    CHECK_INT_EQ(links_of(next, "app/bytes.txt"), 1);
    CHECK_INT_EQ(links_of(next, "app/mode.txt"), 1);
    char *b = get(next, "app/bytes.txt");
    CHECK_STR_EQ(b ? b : "", "bbbb\n");
    char *m = sw_path_join(next, "app/mode.txt");
    CHECK(stat(m, &st) == 0 && (st.st_mode & 07777) == 0600);
    sw_error_clear(&err);
    free(b);
    free(m);
    free(mode);
    free(bytes);
    free(prev);
    free(next);
}

/* A file copied where something already is: a file is replaced, a symlink
 * is replaced (not followed), a directory is refused. */
static void test_copy_over_existing(void)
{
    char *root = fresh_root("over");
    char msg[512];
    const char *one[] = { "hello.txt" };
    put(root, "app/hello.txt", "old content, longer than the new\n", 0600);
    CHECK_INT_EQ(copy(root, one, 1, "/app/", 0, msg, sizeof(msg)), 0);
    char *t = get(root, "app/hello.txt");
    CHECK_STR_EQ(t, "hello\n");
    free(t);
    struct stat st;
    char *p = sw_path_join(root, "app/hello.txt");
    CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0644);
    free(p);

    char *outside = sw_path_join(dir, "over-target.txt");
    put(dir, "over-target.txt", "untouched\n", 0644);
    p = sw_path_join(root, "app/link.txt");
    CHECK(symlink(outside, p) == 0);
    CHECK_INT_EQ(copy(root, one, 1, "/app/link.txt", 0, msg, sizeof(msg)), 0);
    CHECK(lstat(p, &st) == 0 && S_ISREG(st.st_mode));
    free(p);
    t = get(dir, "over-target.txt");
    CHECK_STR_EQ(t, "untouched\n");
    free(t);
    free(outside);

    p = sw_path_join(root, "app2/hello.txt");
    CHECK(sw_mkdir_p(p, 0755, NULL) == 0);
    free(p);
    CHECK(copy(root, one, 1, "/app2/", 0, msg, sizeof(msg)) != 0);
    CHECK(strstr(msg, "cannot replace directory") != NULL);
    free(root);
}

int main(void)
{
    dir = scratch_dir("test_copy");
    ctx = sw_path_join(dir, "context");
    put(ctx, "hello.txt", "hello\n", 0644);
    put(ctx, "notes.txt", "notes\n", 0600);
    put(ctx, "src/run.sh", "#!/bin/sh\n", 0755);
    put(ctx, "src/lib/util.c", "int util;\n", 0644);
    char *l = sw_path_join(ctx, "src/current");
    CHECK(symlink("lib", l) == 0);
    free(l);
    RUN(test_path_match);
    RUN(test_files_and_directories);
    RUN(test_wildcards_and_errors);
    RUN(test_chown_chmod_and_owners);
    RUN(test_symlinks_cannot_escape);
    RUN(test_add_extracts_archives);
    RUN(test_exclusions);
    RUN(test_digest_follows_content);
    RUN(test_exclude_flag);
    RUN(test_parents_flag);
    RUN(test_reuse_links_identical_files);
    RUN(test_copy_over_existing);
    sw_rm_rf(dir, NULL);
    free(ctx);
    free(dir);
    return TEST_EXIT();
}
