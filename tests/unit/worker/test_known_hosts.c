/*
 * test_known_hosts.c - worker/known_hosts.c: plain, wildcard, negated,
 * port-qualified and hashed host names (the hashed line was made by
 * `ssh-keygen -H`), changed and revoked keys, files that are missing.
 */
#include <string.h>

#include "core/base64.h"
#include "core/fs.h"
#include "tests/unit/core/scratch.h"
#include "tests/unit/test.h"
#include "worker/known_hosts.h"

#define KEY_A "AAAAC3NzaC1lZDI1NTE5AAAAILKZLOlK9+wCSjJPtqnSlU4lT1cVFZ/q7AEVeoRFAjBd"
#define KEY_B "AAAAC3NzaC1lZDI1NTE5AAAAIPi7b7WTZhEdSbwT5a9JN+trOJR5ZYZCq1XdByyPKBIf"
#define KEY_C                                                                                      \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBJ0f8mqzxboSayE6fKtA4odDfUVC"             \
    "r1e0eh5YFoE29Ln0t7r5Oauy0lP6UO3emYFeaNLU5hTiNV4JelvjwvpbmbQ="

static char *dir;

static const char *write_file(const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* The finding for host:port with one of the keys above, and "FILE:LINE"'s
 * line number in *line. */
static enum wrk_host_key check(const char *path, const char *host, int port, const char *key_b64,
                               int *line)
{
    unsigned char key[256];
    size_t key_len = 0;
    CHECK_INT_EQ(sw_base64_decode(key_b64, strlen(key_b64), key, sizeof(key), &key_len), 0);
    enum wrk_host_key result = WRK_HOST_MATCH;
    char where[4200];
    sw_error *err = NULL;
    CHECK_INT_EQ(
        wrk_known_hosts_check(path, host, port, key, key_len, &result, where, sizeof(where), &err),
        0);
    sw_error_clear(&err);
    const char *colon = strrchr(where, ':');
    *line = colon ? atoi(colon + 1) : 0;
    return result;
}

static void test_plain_wildcards_and_ports(void)
{
    const char *path =
        write_file("known_hosts", "# a comment\n"
                                  "\n"
                                  "github.com,140.82.112.3 ssh-ed25519 " KEY_A " github\n"
                                  "*.corp.example,!evil.corp.example ssh-ed25519 " KEY_B "\n"
                                  "[git.example]:2222 ecdsa-sha2-nistp256 " KEY_C "\n"
                                  "broken-line-without-key\n"
                                  "bad.example ssh-ed25519 !!not-base64!!\n");
    int line = 0;
    CHECK_INT_EQ(check(path, "github.com", 22, KEY_A, &line), WRK_HOST_MATCH);
    CHECK_INT_EQ(line, 3);
    CHECK_INT_EQ(check(path, "GitHub.COM", 0, KEY_A, &line), WRK_HOST_MATCH);
    CHECK_INT_EQ(check(path, "140.82.112.3", 22, KEY_A, &line), WRK_HOST_MATCH);
    /* the same name on another port is another host */
    CHECK_INT_EQ(check(path, "github.com", 2222, KEY_A, &line), WRK_HOST_UNKNOWN);
    /* a key of the same type that differs: changed */
    CHECK_INT_EQ(check(path, "github.com", 22, KEY_B, &line), WRK_HOST_MISMATCH);
    CHECK_INT_EQ(line, 3);
    /* a key of another type is not a change, just not known */
    CHECK_INT_EQ(check(path, "github.com", 22, KEY_C, &line), WRK_HOST_UNKNOWN);
    CHECK_INT_EQ(check(path, "git.corp.example", 22, KEY_B, &line), WRK_HOST_MATCH);
    CHECK_INT_EQ(line, 4);
    CHECK_INT_EQ(check(path, "evil.corp.example", 22, KEY_B, &line), WRK_HOST_UNKNOWN);
    CHECK_INT_EQ(check(path, "corp.example", 22, KEY_B, &line), WRK_HOST_UNKNOWN);
    CHECK_INT_EQ(check(path, "git.example", 2222, KEY_C, &line), WRK_HOST_MATCH);
    CHECK_INT_EQ(line, 5);
    CHECK_INT_EQ(check(path, "git.example", 22, KEY_C, &line), WRK_HOST_UNKNOWN);
    CHECK_INT_EQ(check(path, "bad.example", 22, KEY_A, &line), WRK_HOST_UNKNOWN);
}

static void test_hashed_names(void)
{
    const char *path = write_file(
        "hashed",
        "|1|fPR+QI6Oh6qcoQ+Ju7+LZaFgiNk=|vXXHDJiyC2T7/xEp0vFRK2Uz+ek= ssh-ed25519 " KEY_A "\n");
    int line = 0;
    CHECK_INT_EQ(check(path, "git.example", 2222, KEY_A, &line), WRK_HOST_MATCH);
    CHECK_INT_EQ(line, 1);
    CHECK_INT_EQ(check(path, "git.example", 2222, KEY_B, &line), WRK_HOST_MISMATCH);
    CHECK_INT_EQ(check(path, "git.example", 22, KEY_A, &line), WRK_HOST_UNKNOWN);
    CHECK_INT_EQ(check(path, "other.example", 2222, KEY_A, &line), WRK_HOST_UNKNOWN);
}

static void test_revoked_and_missing(void)
{
    const char *path = write_file("revoked", "git.example ssh-ed25519 " KEY_A "\n"
                                             "@cert-authority *.example ssh-ed25519 " KEY_B "\n"
                                             "@revoked * ssh-ed25519 " KEY_A "\n");
    int line = 0;
    /* a revoked key wins over a line that trusts it */
    CHECK_INT_EQ(check(path, "git.example", 22, KEY_A, &line), WRK_HOST_REVOKED);
    CHECK_INT_EQ(line, 3);
    /* certificate authorities are not host keys */
    CHECK_INT_EQ(check(path, "git.example", 22, KEY_B, &line), WRK_HOST_MISMATCH);
    CHECK_INT_EQ(line, 1);
    char missing[4200];
    snprintf(missing, sizeof(missing), "%s/no/such/file", dir);
    CHECK_INT_EQ(check(missing, "git.example", 22, KEY_A, &line), WRK_HOST_UNKNOWN);
}

int main(void)
{
    dir = scratch_dir("test_known_hosts");
    RUN(test_plain_wildcards_and_ports);
    RUN(test_hashed_names);
    RUN(test_revoked_and_missing);
    sw_rm_rf(dir, NULL);
    free(dir);
    return TEST_EXIT();
}
