/*
 * cidr.h - IPv4/IPv6 address ranges ("10.0.0.0/8", "fc00::/7", or a single
 * address) and matching socket addresses against them.
 */
#ifndef SW_CIDR_H
#define SW_CIDR_H

#include <stddef.h>
#include <sys/socket.h>

struct sw_cidr {
    int family;             /* AF_INET or AF_INET6 */
    unsigned char addr[16]; /* network address, host bits cleared */
    int prefix;             /* 0..32 or 0..128 */
};

/* Parses "ADDR" or "ADDR/PREFIX". Host bits below the prefix are cleared
 * ("10.1.2.3/8" is 10.0.0.0/8). Returns 0, or -1 when s is not a range. */
int sw_cidr_parse(const char *s, struct sw_cidr *out);

/* 1 when the address (AF_INET or AF_INET6; an IPv4-mapped IPv6 address
 * counts as its IPv4 address) lies in the range. */
int sw_cidr_contains(const struct sw_cidr *c, const struct sockaddr *sa);

/* "10.0.0.0/8" into buf (at least 64 bytes). */
void sw_cidr_format(const struct sw_cidr *c, char *buf, size_t size);

/* The address of sa as text ("192.0.2.1", "2001:db8::1") into buf (at
 * least 64 bytes); "unknown address" for other families. */
void sw_sockaddr_format(const struct sockaddr *sa, char *buf, size_t size);

#endif
