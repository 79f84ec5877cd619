/*
 * test_cidr.c - core/cidr.c: parsing ranges, matching IPv4, IPv6 and
 * IPv4-mapped IPv6 addresses, formatting.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "core/cidr.h"
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

static int in_range(const char *range, const char *a)
{
    struct sw_cidr c;
    if (sw_cidr_parse(range, &c) != 0)
        return -1;
    struct sockaddr_storage ss = addr(a);
    return sw_cidr_contains(&c, (struct sockaddr *)&ss);
}

static void test_parse_and_format(void)
{
    struct sw_cidr c;
    char text[80];
    CHECK_INT_EQ(sw_cidr_parse("10.0.0.0/8", &c), 0);
    sw_cidr_format(&c, text, sizeof(text));
    CHECK_STR_EQ(text, "10.0.0.0/8");
    /* host bits cleared; a bare address is a /32 or /128 */
    CHECK_INT_EQ(sw_cidr_parse("172.16.5.4/12", &c), 0);
    sw_cidr_format(&c, text, sizeof(text));
    CHECK_STR_EQ(text, "172.16.0.0/12");
    CHECK_INT_EQ(sw_cidr_parse("192.0.2.7", &c), 0);
    sw_cidr_format(&c, text, sizeof(text));
    CHECK_STR_EQ(text, "192.0.2.7/32");
    CHECK_INT_EQ(sw_cidr_parse("fc00::1/7", &c), 0);
    sw_cidr_format(&c, text, sizeof(text));
    CHECK_STR_EQ(text, "fc00::/7");
    CHECK_INT_EQ(sw_cidr_parse("::1", &c), 0);
    CHECK_INT_EQ(c.prefix, 128);
}

static void test_parse_rejects(void)
{
    struct sw_cidr c;
    const char *bad[] = { "",           "10.0.0.0/33",  "10.0.0.0/",   "10.0.0/8",
                          "fc00::/129", "10.0.0.0/-1",  "10.0.0.0/8x", "example.com",
                          "/8",         "10.0.0.0/0008" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(sw_cidr_parse(bad[i], &c) != 0);
    CHECK(sw_cidr_parse(NULL, &c) != 0);
}

static void test_contains(void)
{
    CHECK_INT_EQ(in_range("10.0.0.0/8", "10.99.0.1"), 1);
    CHECK_INT_EQ(in_range("10.0.0.0/8", "11.0.0.1"), 0);
    CHECK_INT_EQ(in_range("172.16.0.0/12", "172.31.255.255"), 1);
    CHECK_INT_EQ(in_range("172.16.0.0/12", "172.32.0.0"), 0);
    CHECK_INT_EQ(in_range("100.64.0.0/10", "100.127.1.1"), 1);
    CHECK_INT_EQ(in_range("100.64.0.0/10", "100.128.0.0"), 0);
    CHECK_INT_EQ(in_range("0.0.0.0/0", "198.18.0.1"), 1);
    CHECK_INT_EQ(in_range("169.254.169.254", "169.254.169.254"), 1);
    CHECK_INT_EQ(in_range("169.254.169.254", "169.254.169.253"), 0);
    CHECK_INT_EQ(in_range("fe80::/10", "fe80::1"), 1);
    CHECK_INT_EQ(in_range("fe80::/10", "fec0::1"), 0);
    /* families do not mix, except an IPv4-mapped IPv6 address */
    CHECK_INT_EQ(in_range("10.0.0.0/8", "fc00::1"), 0);
    CHECK_INT_EQ(in_range("fc00::/7", "10.0.0.1"), 0);
    CHECK_INT_EQ(in_range("127.0.0.0/8", "::ffff:127.0.0.1"), 1);
    CHECK_INT_EQ(in_range("169.254.0.0/16", "::ffff:169.254.169.254"), 1);
    CHECK_INT_EQ(in_range("127.0.0.0/8", "::ffff:198.18.0.1"), 0);
}

static void test_sockaddr_format(void)
{
    char text[64];
    struct sockaddr_storage ss = addr("198.18.0.1");
    sw_sockaddr_format((struct sockaddr *)&ss, text, sizeof(text));
    CHECK_STR_EQ(text, "198.18.0.1");
    ss = addr("2001:db8::1");
    sw_sockaddr_format((struct sockaddr *)&ss, text, sizeof(text));
    CHECK_STR_EQ(text, "2001:db8::1");
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = AF_UNIX;
    sw_sockaddr_format((struct sockaddr *)&ss, text, sizeof(text));
    CHECK_STR_EQ(text, "unknown address");
}

int main(void)
{
    RUN(test_parse_and_format);
    RUN(test_parse_rejects);
    RUN(test_contains);
    RUN(test_sockaddr_format);
    return TEST_EXIT();
}
