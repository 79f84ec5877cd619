/*
 * cidr.c - address ranges (see cidr.h).
 */
#include "core/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sw_cidr_parse(const char *s, struct sw_cidr *out)
{
    char text[64];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t len = slash ? (size_t)(slash - s) : (s ? strlen(s) : 0);
    if (len == 0 || len >= sizeof(text))
        return -1;
    memcpy(text, s, len);
    text[len] = '\0';

    memset(out, 0, sizeof(*out));
    int max;
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return -1;
    }
    out->prefix = max;
    if (slash) {
        const char *p = slash + 1;
        if (*p < '0' || *p > '9' || strlen(p) > 3)
            return -1;
        char *end = NULL;
        long n = strtol(p, &end, 10);
        if (*end != '\0' || n < 0 || n > max)
            return -1;
        out->prefix = (int)n;
    }
    for (int bit = out->prefix; bit < max; bit++)
        out->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    return 0;
}

static int prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

int sw_cidr_contains(const struct sw_cidr *c, const struct sockaddr *sa)
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (sa == NULL)
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        if (c->family != AF_INET)
            return 0;
        return prefix_match((const unsigned char *)&in->sin_addr, c->addr, c->prefix);
    }
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        if (c->family == AF_INET6)
            return prefix_match(a, c->addr, c->prefix);
        if (memcmp(a, mapped, sizeof(mapped)) == 0)
            return prefix_match(a + 12, c->addr, c->prefix);
    }
    return 0;
}

void sw_cidr_format(const struct sw_cidr *c, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN] = "?";
    inet_ntop(c->family, c->addr, addr, sizeof(addr));
    snprintf(buf, size, "%s/%d", addr, c->prefix);
}

void sw_sockaddr_format(const struct sockaddr *sa, char *buf, size_t size)
{
    char addr[INET6_ADDRSTRLEN] = "";
    const void *src = NULL;
    if (sa && sa->sa_family == AF_INET)
        src = &((const struct sockaddr_in *)sa)->sin_addr;
    else if (sa && sa->sa_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (src == NULL || inet_ntop(sa->sa_family, src, addr, sizeof(addr)) == NULL)
        snprintf(buf, size, "unknown address");
    else
        snprintf(buf, size, "%s", addr);
}
