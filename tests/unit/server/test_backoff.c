/*
 * test_backoff.c - server/backoff.c: failed logins per user name and per
 * address, the doubling wait, and what a good login clears.
 */
#include <stdio.h>
#include <string.h>

#include "server/internal.h"
#include "tests/unit/test.h"

static void test_user_backs_off_after_five(void)
{
    struct srv_backoff *b = srv_backoff_new();
    CHECK(b != NULL);
    for (int i = 0; i < 4; i++) {
        srv_backoff_failed(b, "alice", "10.0.0.1");
        CHECK_INT_EQ(srv_backoff_wait(b, "alice", "10.0.0.1"), 0);
    }
    srv_backoff_failed(b, "alice", "10.0.0.1");
    CHECK_INT_EQ(srv_backoff_wait(b, "alice", "10.0.0.1"), 1);
    /* the user name is held up from any address, other users are not */
    CHECK_INT_EQ(srv_backoff_wait(b, "alice", "10.0.0.2"), 1);
    CHECK_INT_EQ(srv_backoff_wait(b, "bob", "10.0.0.2"), 0);
    /* each further failure doubles the wait */
    srv_backoff_failed(b, "alice", "10.0.0.1");
    CHECK_INT_EQ(srv_backoff_wait(b, "alice", NULL), 2);
    srv_backoff_failed(b, "alice", "10.0.0.1");
    CHECK_INT_EQ(srv_backoff_wait(b, "alice", NULL), 4);
    /* a good login clears the user, not the address */
    srv_backoff_succeeded(b, "alice", "10.0.0.1");
    CHECK_INT_EQ(srv_backoff_wait(b, "alice", NULL), 0);
    srv_backoff_free(b);
}

static void test_address_backs_off_after_twenty(void)
{
    struct srv_backoff *b = srv_backoff_new();
    char user[32];
    for (int i = 0; i < 19; i++) {
        snprintf(user, sizeof user, "guess%d", i);
        srv_backoff_failed(b, user, "10.0.0.9");
    }
    CHECK_INT_EQ(srv_backoff_wait(b, "someone", "10.0.0.9"), 0);
    srv_backoff_failed(b, "guess19", "10.0.0.9");
    CHECK_INT_EQ(srv_backoff_wait(b, "someone", "10.0.0.9"), 1);
    CHECK_INT_EQ(srv_backoff_wait(b, "someone", "10.0.0.10"), 0);
    srv_backoff_succeeded(b, "someone", "10.0.0.9");
    CHECK_INT_EQ(srv_backoff_wait(b, NULL, "10.0.0.9"), 1);
    srv_backoff_free(b);
}

static void test_many_names_stay_bounded(void)
{
    struct srv_backoff *b = srv_backoff_new();
    char user[32];
    /* more distinct names than the table holds: the oldest go, no crash */
    for (int i = 0; i < 10000; i++) {
        snprintf(user, sizeof user, "u%d", i);
        srv_backoff_failed(b, user, NULL);
    }
    CHECK_INT_EQ(srv_backoff_wait(b, "u9999", NULL), 0);
    srv_backoff_free(b);
    srv_backoff_free(NULL);
    CHECK_INT_EQ(srv_backoff_wait(NULL, "x", "y"), 0);
}

int main(void)
{
    RUN(test_user_backs_off_after_five);
    RUN(test_address_backs_off_after_twenty);
    RUN(test_many_names_stay_bounded);
    return TEST_EXIT();
}
