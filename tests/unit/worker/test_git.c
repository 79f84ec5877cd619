/*
 * test_git.c - worker/git.c against real repositories made with the git
 * CLI: mirrors, exact-commit checkouts, tags, modes and symlinks, crafted
 * trees, submodules, and a fetch over git:// from `git daemon`.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/git.h"

static char *root;

/* Runs a shell command in root; its first output line into out (may be NULL). */
static int sh(char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int sh(char *out, size_t size, const char *fmt, ...)
{
    char *cmd = NULL, *full = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&cmd, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (asprintf(&full,
                 "cd '%s' && export GIT_AUTHOR_NAME=T GIT_AUTHOR_EMAIL=t@e "
                 "GIT_COMMITTER_NAME=T GIT_COMMITTER_EMAIL=t@e "
                 "GIT_CONFIG_NOSYSTEM=1 HOME='%s' && (%s)",
                 root, root, cmd) < 0)
        abort();
    FILE *p = popen(full, "r");
    char line[512] = "";
    if (p && fgets(line, sizeof(line), p) == NULL)
        line[0] = '\0';
    while (p && fgetc(p) != EOF)
        ;
    int status = p ? pclose(p) : -1;
    line[strcspn(line, "\n")] = '\0';
    if (out)
        snprintf(out, size, "%s", line);
    free(cmd);
    free(full);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_text(const char *dir, const char *name)
{
    char *path = sw_path_join(dir, name), *text = NULL;
    size_t len = 0;
    if (sw_read_file(path, 1 << 20, &text, &len, NULL) != 0)
        text = NULL;
    free(path);
    return text;
}

static char first_sha[41], second_sha[41], src_url[1024];

static void make_source(void)
{
    CHECK_INT_EQ(
        sh(NULL, 0,
           "git init -q -b main src && cd src && echo one > hello.txt && "
           "mkdir -p bin && printf '#!/bin/sh\\necho hi\\n' > bin/run && chmod +x bin/run && "
           "ln -s hello.txt link && git add -A && git commit -qm 'first commit' && "
           "git tag -a v1.0.0 -m release && git tag light"),
        0);
    sh(first_sha, sizeof(first_sha), "git -C src rev-parse HEAD");
    CHECK_INT_EQ(sh(NULL, 0,
                    "cd src && echo two > hello.txt && git commit -qam 'second commit"
                    "' && git checkout -q -b feature && echo three > hello.txt && "
                    "git commit -qam third && git checkout -q main"),
                 0);
    sh(second_sha, sizeof(second_sha), "git -C src rev-parse main");
    snprintf(src_url, sizeof(src_url), "file://%s/src", root);
}

static void test_fetch_and_checkout(void)
{
    char *data = sw_path_join(root, "data"), *mirror = NULL, *dest = NULL;
    char sha[41];
    sw_error *err = NULL;
    struct wrk_commit_info info = { 0 };
    CHECK_INT_EQ(wrk_git_mirror_path(data, src_url, &mirror, &err), 0);
    CHECK(strstr(mirror, "/data/git/") != NULL && strstr(mirror, ".git") != NULL);

    /* a branch resolves to its head */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", NULL, sha, &err), 0);
    CHECK_STR_EQ(sha, second_sha);
    /* the exact pushed commit, not the branch head */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", first_sha, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    dest = sw_path_join(root, "out1");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, &info, &err), 0);
    char *hello = read_text(dest, "hello.txt");
    CHECK_STR_EQ(hello, "one\n");
    free(hello);
    CHECK_STR_EQ(info.sha, first_sha);
    CHECK_STR_EQ(info.summary, "first commit");
    CHECK_STR_EQ(info.message, "first commit\n");
    CHECK_STR_EQ(info.author, "T <t@e>");
    CHECK(info.time > 1600000000);
    wrk_commit_info_release(&info);

    /* modes and symlinks */
    struct stat st;
    char *path = sw_path_join(dest, "bin/run");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0755);
    free(path);
    path = sw_path_join(dest, "hello.txt");
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    free(path);
    path = sw_path_join(dest, "link");
    char target[64] = "";
    CHECK(readlink(path, target, sizeof(target) - 1) > 0);
    CHECK_STR_EQ(target, "hello.txt");
    free(path);
    path = sw_path_join(dest, ".git");
    CHECK(!sw_path_exists(path));
    free(path);

    /* tags: annotated ones are peeled, lightweight ones resolve too */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "v1.0.0", NULL, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "light", NULL, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    /* GitHub and Gitea name an annotated tag's push by the tag object's id
     * (`after`): it is peeled to the commit, in full or abbreviated */
    char tag_object[41];
    sh(tag_object, sizeof(tag_object), "git -C src rev-parse v1.0.0");
    CHECK(strcmp(tag_object, first_sha) != 0);
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "v1.0.0", tag_object, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    tag_object[10] = '\0';
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "tag", "v1.0.0", tag_object, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    /* an abbreviated commit */
    char abbrev[8];
    snprintf(abbrev, sizeof(abbrev), "%.7s", second_sha);
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "commit", abbrev, abbrev, sha, &err), 0);
    CHECK_STR_EQ(sha, second_sha);

    /* unknown names */
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "nope", NULL, sha, &err),
                 SW_ENOTFOUND);
    CHECK(err && strstr(err->message, "branch nope") != NULL);
    sw_error_clear(&err);

    /* a new commit: fetched on the next run */
    char third[41];
    sh(NULL, 0, "cd src && echo four > hello.txt && git commit -qam fourth");
    sh(third, sizeof(third), "git -C src rev-parse HEAD");
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", third, sha, &err), 0);
    CHECK_STR_EQ(sha, third);

    /* a commit the mirror has needs no fetch: works with the source gone */
    sh(NULL, 0, "mv src src.moved");
    CHECK_INT_EQ(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", first_sha, sha, &err), 0);
    CHECK_STR_EQ(sha, first_sha);
    CHECK(wrk_git_fetch(mirror, src_url, NULL, "branch", "main", NULL, sha, &err) != 0);
    sw_error_clear(&err);
    sh(NULL, 0, "mv src.moved src");
    free(dest);
    free(mirror);
    free(data);
}

/* A tree with a symlink "evil" -> /tmp and a directory also named "evil"
 * holding a file: a checkout must not write through the link. Git's own
 * tools refuse such trees, so it is made with plumbing. */
static void test_crafted_tree(void)
{
    char blob[64], tree_sub[64], tree[64], commit[64];
    sw_error *err = NULL;
    CHECK_INT_EQ(sh(NULL, 0, "git init -q --bare evil.git"), 0);
    sh(blob, sizeof(blob), "echo pwned | git -C evil.git hash-object -w --stdin");
    char outside[1024];
    snprintf(outside, sizeof(outside), "%s/outside", root);
    mkdir(outside, 0755);
    char link_blob[64];
    sh(link_blob, sizeof(link_blob), "printf '%%s' '%s' | git -C evil.git hash-object -w --stdin",
       outside);
    sh(tree_sub, sizeof(tree_sub), "printf '100644 blob %s\\tfile\\n' | git -C evil.git mktree",
       blob);
    sh(tree, sizeof(tree),
       "printf '120000 blob %s\\tevil\\n040000 tree %s\\tevil\\n' | git -C evil.git mktree "
       "--missing",
       link_blob, tree_sub);
    sh(commit, sizeof(commit), "git -C evil.git commit-tree %s -m evil", tree);
    CHECK(strlen(commit) == 40);
    char url[1100], *data = sw_path_join(root, "data"), *mirror = NULL;
    snprintf(url, sizeof(url), "file://%s/evil.git", root);
    sh(NULL, 0, "git -C evil.git update-ref refs/heads/main %s", commit);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    char sha[41];
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "main", NULL, sha, &err), 0);
    sw_error_clear(&err);
    char *dest = sw_path_join(root, "out-evil");
    CHECK(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, NULL, &err) != 0);
    sw_error_clear(&err);
    char *escaped = sw_path_join(outside, "file");
    CHECK(!sw_path_exists(escaped));
    free(escaped);

    /* a tree entry named ".." or ".git" is refused */
    char bad_tree[64], bad_commit[64];
    sh(bad_tree, sizeof(bad_tree), "printf '100644 blob %s\\t.git\\n' | git -C evil.git mktree",
       blob);
    sh(bad_commit, sizeof(bad_commit), "git -C evil.git commit-tree %s -m bad", bad_tree);
    sh(NULL, 0, "git -C evil.git update-ref refs/heads/bad %s", bad_commit);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "bad", NULL, sha, &err), 0);
    char *dest2 = sw_path_join(root, "out-bad");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest2, 0, data, NULL, NULL, &err), SW_EINVAL);
    CHECK(err && strstr(err->message, "unsafe path") != NULL);
    sw_error_clear(&err);
    free(dest2);
    free(dest);
    free(mirror);
    free(data);
}

static void test_submodules(void)
{
    sw_error *err = NULL;
    CHECK_INT_EQ(sh(NULL, 0,
                    "git init -q -b main lib && cd lib && echo libcode > lib.c && git add -A && "
                    "git commit -qm lib && cd .. && git init -q -b main app && cd app && "
                    "echo app > app.c && git -c protocol.file.allow=always submodule -q add "
                    "../lib vendor/lib && git commit -qam 'app with lib'"),
                 0);
    char url[1100], sha[41], *data = sw_path_join(root, "data"), *mirror = NULL;
    snprintf(url, sizeof(url), "file://%s/app", root);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    CHECK_INT_EQ(wrk_git_fetch(mirror, url, NULL, "branch", "main", NULL, sha, &err), 0);
    char *without = sw_path_join(root, "out-nosub"), *with = sw_path_join(root, "out-sub");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, without, 0, data, NULL, NULL, &err), 0);
    char *text = read_text(without, "vendor/lib/lib.c");
    CHECK(text == NULL);
    free(text);
    CHECK_INT_EQ(wrk_git_checkout(mirror, url, sha, with, 1, data, NULL, NULL, &err), 0);
    if (err)
        fprintf(stderr, "%s\n", err->message);
    sw_error_clear(&err);
    text = read_text(with, "vendor/lib/lib.c");
    CHECK_STR_EQ(text, "libcode\n");
    free(text);
    free(without);
    free(with);
    free(mirror);
    free(data);
}

static void test_git_daemon(void)
{
    char port_text[16];
    sh(port_text, sizeof(port_text),
       "python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); "
       "print(s.getsockname()[1])'");
    pid_t pid = fork();
    if (pid == 0) {
        char base[1100], port[32];
        snprintf(base, sizeof(base), "--base-path=%s", root);
        snprintf(port, sizeof(port), "--port=%s", port_text);
        if (freopen("/dev/null", "w", stderr) == NULL)
            _exit(127);
        execlp("git", "git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1", port,
               base, root, (char *)NULL);
        _exit(127);
    }
    char url[256], sha[41], *data = sw_path_join(root, "data"), *mirror = NULL;
    snprintf(url, sizeof(url), "git://127.0.0.1:%s/src", port_text);
    wrk_git_mirror_path(data, url, &mirror, NULL);
    sw_error *err = NULL;
    int rc = -1;
    for (int i = 0; i < 50 && rc != 0; i++) { /* until the daemon listens */
        sw_error_clear(&err);
        rc = wrk_git_fetch(mirror, url, NULL, "branch", "feature", NULL, sha, &err);
        if (rc != 0)
            usleep(100 * 1000);
    }
    CHECK_INT_EQ(rc, 0);
    if (err)
        fprintf(stderr, "git daemon: %s\n", err->message);
    sw_error_clear(&err);
    char *dest = sw_path_join(root, "out-daemon");
    CHECK_INT_EQ(wrk_git_checkout(mirror, NULL, sha, dest, 0, data, NULL, NULL, &err), 0);
    char *text = read_text(dest, "hello.txt");
    CHECK_STR_EQ(text, "three\n");
    free(text);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(dest);
    free(mirror);
    free(data);
}

int main(void)
{
    root = scratch_dir("test_git");
    make_source();
    RUN(test_fetch_and_checkout);
    RUN(test_crafted_tree);
    RUN(test_submodules);
    RUN(test_git_daemon);
    sw_rm_rf(root, NULL);
    free(root);
    return TEST_EXIT();
}
