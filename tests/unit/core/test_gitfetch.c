/*
 * test_gitfetch.c - core/gitfetch.c: finding a ref in an upload-pack
 * advertisement (branch, tag with its peeled commit, full ref, HEAD, a
 * commit id, a malformed one). The fetch itself runs against a real
 * git http-backend in e2e 167.
 */
#include <string.h>

#include "core/gitfetch.h"
#include "tests/unit/test.h"

#define A "1111111111111111111111111111111111111111"
#define B "2222222222222222222222222222222222222222"
#define T "3333333333333333333333333333333333333333"
#define C "4444444444444444444444444444444444444444"

static void pkt(char *out, const char *line)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%04x%s", (unsigned)strlen(line) + 4, line);
    strcat(out, buf);
}

static void test_find_ref(void)
{
    char adv[4096] = "";
    char first[256];
    snprintf(first, sizeof(first), "%s HEAD%cmulti_ack ofs-delta side-band-64k\n", A, '\0');
    /* the first line holds a NUL: add it by hand */
    size_t first_len = strlen(A) + 6 + strlen("multi_ack ofs-delta side-band-64k\n");
    char head[8];
    snprintf(head, sizeof(head), "%04x", (unsigned)first_len + 4);
    size_t len = 0;
    memcpy(adv, head, 4);
    memcpy(adv + 4, first, first_len);
    len = 4 + first_len;
    adv[len] = '\0';
    char rest[2048] = "";
    pkt(rest, A " refs/heads/main\n");
    pkt(rest, B " refs/heads/dev\n");
    pkt(rest, T " refs/tags/v1\n");
    pkt(rest, C " refs/tags/v1^{}\n");
    pkt(rest, B " refs/heads/v1\n");
    strcat(rest, "0000");
    memcpy(adv + len, rest, strlen(rest) + 1);
    len += strlen(rest);

    char sha[41], caps[256];
    CHECK_INT_EQ(sw_git_find_ref(adv, len, NULL, sha, caps, sizeof(caps)), 0);
    CHECK_STR_EQ(sha, A); /* HEAD */
    CHECK(strstr(caps, "ofs-delta") != NULL);
    CHECK_INT_EQ(sw_git_find_ref(adv, len, "dev", sha, NULL, 0), 0);
    CHECK_STR_EQ(sha, B);
    /* a branch wins over a tag of the same name, as git resolves it */
    CHECK_INT_EQ(sw_git_find_ref(adv, len, "v1", sha, NULL, 0), 0);
    CHECK_STR_EQ(sha, B);
    /* a full tag ref: its peeled commit, not the tag object */
    CHECK_INT_EQ(sw_git_find_ref(adv, len, "refs/tags/v1", sha, NULL, 0), 0);
    CHECK_STR_EQ(sha, C);
    CHECK_INT_EQ(sw_git_find_ref(adv, len, "refs/heads/main", sha, NULL, 0), 0);
    CHECK_STR_EQ(sha, A);
    /* a commit id is taken as it is */
    CHECK_INT_EQ(
        sw_git_find_ref(adv, len, "abcdef0123456789abcdef0123456789abcdef01", sha, NULL, 0), 0);
    CHECK_STR_EQ(sha, "abcdef0123456789abcdef0123456789abcdef01");
    CHECK_INT_EQ(sw_git_find_ref(adv, len, "nosuch", sha, NULL, 0), 1);
    CHECK_INT_EQ(sw_git_find_ref(adv, len, "main^{}", sha, NULL, 0), 1);
    /* malformed lengths */
    CHECK_INT_EQ(sw_git_find_ref("zzzz", 4, "main", sha, NULL, 0), -1);
    CHECK_INT_EQ(sw_git_find_ref("00ffabc", 7, "main", sha, NULL, 0), -1);
    CHECK_INT_EQ(sw_git_find_ref("0002", 4, "main", sha, NULL, 0), -1);
}

int main(void)
{
    RUN(test_find_ref);
    return TEST_EXIT();
}
