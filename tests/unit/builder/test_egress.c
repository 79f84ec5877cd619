/*
 * test_egress.c - builder/egress.c: the policy (fixed ranges, the host's
 * own addresses, builder.egress.deny and allow) and the nftables ruleset
 * it gives a step's network namespace. (The namespace itself, slirp4netns
 * and the filter at work: tests/e2e/150-build-egress.sh.)
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "builder/egress.h"
#include "tests/unit/test.h"

static struct sockaddr_storage addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1)
        in->sin_family = AF_INET;
    else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1)
        in6->sin6_family = AF_INET6;
    return ss;
}

static int allows(const bld_egress *e, const char *a)
{
    struct sockaddr_storage ss = addr(a);
    return bld_egress_allows(e, (struct sockaddr *)&ss);
}

static void test_defaults(void)
{
    struct sw_config *cfg = NULL;
    bld_egress *e = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, NULL), 0);
    CHECK_INT_EQ(bld_egress_new(cfg, &e, NULL), 0);
    if (e == NULL) {
        sw_config_free(cfg);
        return;
    }
    CHECK_INT_EQ(allows(e, "198.18.0.1"), 1);
    CHECK_INT_EQ(allows(e, "2001:db8::1"), 1);
    const char *refused[] = { "127.0.0.1",
                              "127.1.2.3",
                              "0.0.0.0",
                              "169.254.169.254",
                              "224.0.0.1",
                              "10.0.2.2",
                              "10.99.0.1",
                              "172.16.0.1",
                              "192.168.1.1",
                              "100.64.0.1",
                              "::1",
                              "fe80::1",
                              "fd00::1",
                              "ff02::1",
                              "::ffff:127.0.0.1",
                              "::ffff:10.0.0.1",
                              "255.255.255.255",
                              "::" };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (allows(e, refused[i]) != 0) {
            fprintf(stderr, "  %s is allowed\n", refused[i]);
            CHECK(0);
        }
    bld_egress_free(e);
    sw_config_free(cfg);
}

static void test_host_addresses_are_refused(void)
{
    bld_egress *e = NULL;
    struct ifaddrs *ifa = NULL;
    CHECK_INT_EQ(bld_egress_new(NULL, &e, NULL), 0);
    CHECK_INT_EQ(getifaddrs(&ifa), 0);
    for (struct ifaddrs *i = ifa; e && i; i = i->ifa_next)
        if (i->ifa_addr &&
            (i->ifa_addr->sa_family == AF_INET || i->ifa_addr->sa_family == AF_INET6))
            CHECK_INT_EQ(bld_egress_allows(e, i->ifa_addr), 0);
    freeifaddrs(ifa);
    bld_egress_free(e);
}

static void test_config_deny_and_allow(void)
{
    struct sw_config *cfg = NULL;
    bld_egress *e = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, NULL), 0);
    if (cfg == NULL)
        return;
    /* deny replaces the default list; allow punches holes, even in the
     * fixed ranges */
    char *deny[] = { strdup("203.0.113.0/24"), NULL };
    char *allow[] = { strdup("203.0.113.7"), strdup("169.254.169.254/32"), NULL };
    char **old_deny = cfg->egress_deny;
    cfg->egress_deny = deny;
    cfg->egress_allow = allow;
    CHECK_INT_EQ(bld_egress_new(cfg, &e, NULL), 0);
    if (e) {
        CHECK_INT_EQ(allows(e, "203.0.113.1"), 0);
        CHECK_INT_EQ(allows(e, "203.0.113.7"), 1);
        CHECK_INT_EQ(allows(e, "10.0.0.1"), 1);
        CHECK_INT_EQ(allows(e, "169.254.169.254"), 1);
        CHECK_INT_EQ(allows(e, "169.254.169.253"), 0);
        CHECK_INT_EQ(allows(e, "127.0.0.1"), 0);
    }
    bld_egress_free(e);
    cfg->egress_deny = old_deny;
    cfg->egress_allow = NULL;
    free(deny[0]);
    free(allow[0]);
    free(allow[1]);
    sw_config_free(cfg);
}

static void test_nft_rules(void)
{
    struct sw_config *cfg = NULL;
    bld_egress *e = NULL;
    CHECK_INT_EQ(sw_config_defaults(&cfg, NULL), 0);
    CHECK_INT_EQ(bld_egress_new(cfg, &e, NULL), 0);
    char *rules = e ? bld_egress_nft_rules(e) : NULL;
    CHECK(rules != NULL);
    if (rules) {
        CHECK(strstr(rules, "table inet slipway_egress") != NULL);
        CHECK(strstr(rules, "type filter hook output priority 0; policy accept;") != NULL);
        /* DNS before the refusals, allow before deny, both families */
        const char *dns = strstr(rules, "ip daddr 10.0.2.3 udp dport 53 accept");
        const char *refused = strstr(rules, "ip daddr @refused4 reject");
        const char *allow = strstr(rules, "ip daddr @allow4 accept");
        const char *deny = strstr(rules, "ip daddr @deny4 reject");
        CHECK(dns && refused && allow && deny);
        CHECK(dns < allow && allow < refused && refused < deny);
        CHECK(strstr(rules, "ip6 daddr @deny6 reject") != NULL);
        CHECK(strstr(rules, "127.0.0.0/8") != NULL);
        CHECK(strstr(rules, "169.254.0.0/16") != NULL);
        CHECK(strstr(rules, "10.0.2.0/24") != NULL);
        CHECK(strstr(rules, "fc00::/7") != NULL);
        CHECK(strstr(rules, "fe80::/10") != NULL);
    }
    free(rules);
    bld_egress_free(e);
    sw_config_free(cfg);
}

static void test_stop_is_safe_on_a_zeroed_net(void)
{
    struct bld_egress_net net;
    memset(&net, 0, sizeof(net));
    bld_egress_net_stop(&net);
    bld_egress_net_stop(&net);
    CHECK_INT_EQ(net.holder, 0);
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_host_addresses_are_refused);
    RUN(test_config_deny_and_allow);
    RUN(test_nft_rules);
    RUN(test_stop_is_safe_on_a_zeroed_net);
    return TEST_EXIT();
}
