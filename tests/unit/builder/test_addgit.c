/*
 * test_addgit.c - builder/addgit.c: which ADD sources are Git URLs, the
 * refused ssh forms, the checkout names left out of the download digest;
 * and builder/ssh_agent.c's --ssh parsing.
 */
#include <stdlib.h>
#include <string.h>

#include "builder/addgit.h"
#include "builder/ssh_agent.h"
#include "tests/unit/test.h"

static void test_is_git(void)
{
    CHECK(bld_addgit_is_git("https://example.com/o/r.git"));
    CHECK(bld_addgit_is_git("http://example.com/o/r.git#main"));
    CHECK(bld_addgit_is_git("https://example.com/o/r.git#v1:docs"));
    CHECK(bld_addgit_is_git("git@example.com:o/r.git#main"));
    CHECK(bld_addgit_is_git("ssh://git@example.com/o/r.git"));
    CHECK(bld_addgit_is_git("git://example.com/o/r.git"));
    CHECK(!bld_addgit_is_git("https://example.com/file.tar.gz"));
    CHECK(!bld_addgit_is_git("https://example.com/x.git/file"));
    CHECK(!bld_addgit_is_git("local/dir.git"));
    CHECK(!bld_addgit_is_git(".git"));
}

static void test_refused_forms(void)
{
    sw_error *err = NULL;
    char commit[41];
    CHECK_INT_EQ(
        bld_addgit_fetch(NULL, 0, "git@example.com:o/r.git", 0, "/nonexistent", "x", commit, &err),
        SW_EUNSUPPORTED);
    CHECK(err && strstr(sw_error_message(err), "not supported") != NULL);
    sw_error_clear(&err);
    CHECK(bld_addgit_fetch(NULL, 0, "https://example.com/r.git#main:../up", 0, "/nonexistent", "x",
                           commit, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "..") != NULL);
    sw_error_clear(&err);
}

static void test_excluded(void)
{
    CHECK(bld_addgit_excluded(NULL, BLD_ADDGIT_PREFIX "0", 1));
    CHECK(bld_addgit_excluded(NULL, "./" BLD_ADDGIT_PREFIX "1/file", 0));
    CHECK(!bld_addgit_excluded(NULL, "file.tar.gz", 0));
}

static void test_ssh_cli(void)
{
    struct bld_ssh_source s;
    sw_error *err = NULL;
    CHECK_INT_EQ(bld_ssh_from_cli("default=/dev/null", &s, &err), 0);
    CHECK_STR_EQ(s.id, "default");
    CHECK_INT_EQ((int)s.n_paths, 1);
    CHECK_STR_EQ(s.paths[0], "/dev/null");
    CHECK(bld_ssh_find(&s, 1, "default") == &s);
    CHECK(bld_ssh_find(&s, 1, NULL) == &s);
    CHECK(bld_ssh_find(&s, 1, "other") == NULL);
    bld_ssh_source_free(&s);
    CHECK_INT_EQ(bld_ssh_from_cli("gh=/dev/null,/dev/zero", &s, &err), 0);
    CHECK_STR_EQ(s.id, "gh");
    CHECK_INT_EQ((int)s.n_paths, 2);
    bld_ssh_source_free(&s);
    setenv("SSH_AUTH_SOCK", "/dev/null", 1);
    CHECK_INT_EQ(bld_ssh_from_cli("default", &s, &err), 0);
    CHECK_STR_EQ(s.paths[0], "/dev/null");
    bld_ssh_source_free(&s);
    unsetenv("SSH_AUTH_SOCK");
    CHECK(bld_ssh_from_cli("default", &s, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "SSH_AUTH_SOCK") != NULL);
    sw_error_clear(&err);
    CHECK(bld_ssh_from_cli("default=/nonexistent/key", &s, &err) != 0);
    CHECK(err && strstr(sw_error_message(err), "/nonexistent/key") != NULL);
    sw_error_clear(&err);
    CHECK(bld_ssh_from_cli("=/dev/null", &s, &err) != 0);
    sw_error_clear(&err);
    CHECK(bld_ssh_from_cli("default=/dev/null,,/dev/null", &s, &err) != 0);
    sw_error_clear(&err);
    CHECK(bld_ssh_from_cli("a,b=/dev/null", &s, &err) != 0);
    sw_error_clear(&err);
}

int main(void)
{
    RUN(test_is_git);
    RUN(test_refused_forms);
    RUN(test_excluded);
    RUN(test_ssh_cli);
    return TEST_EXIT();
}
