/* IP addresses and networks as text and bytes, without sockets: the strict textual forms
 * the PROXY protocol (core/http/proxyproto.c) and the configuration's trusted networks
 * (listen.proxy_protocol.trusted) are written in, and the text the logs and the audit
 * log show. Parsing accepts exactly what glibc's inet_pton accepts (IPv4: four decimal
 * parts 0..255 without leading zeros; IPv6: hex groups, one "::", an optional dotted
 * IPv4 tail) and formatting writes what inet_ntop writes (RFC 5952 compression,
 * lower case, "::ffff:a.b.c.d" for IPv4-mapped addresses), so an address reads the same
 * whether it came from a PROXY header or from getpeername(). tests/fuzz/fuzz_proxyproto.c
 * checks both against glibc. Pure; nothing allocates. */
#ifndef AG_IPADDR_H
#define AG_IPADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/str.h"

#define AG_IPADDR_STRLEN 46 /* INET6_ADDRSTRLEN: the longest text plus NUL */

enum { AG_IPADDR_V4 = 4, AG_IPADDR_V6 = 6 };

typedef struct {
    uint8_t family; /* AG_IPADDR_V4 (a[0..3]) or AG_IPADDR_V6 (a[0..15]) */
    uint8_t a[16];  /* network byte order */
} ag_ipaddr_t;

/* A network "ADDR/BITS" (CIDR); host bits are zero. */
typedef struct {
    ag_ipaddr_t addr;
    uint8_t bits;
} ag_ipaddr_net_t;

/* Parses <s> as an address of <family> (AG_IPADDR_V4, AG_IPADDR_V6, or 0 for either).
 * False on anything else (no surrounding spaces, no zone "%eth0", no brackets). */
bool ag_ipaddr_parse(ag_str_t s, int family, ag_ipaddr_t *out);
/* Writes <ip> as text into <buf> (NUL-terminated; AG_IPADDR_STRLEN is always enough);
 * returns the length, or 0 (and "" when len > 0) if <buf> is too small. */
size_t ag_ipaddr_format(const ag_ipaddr_t *ip, char *buf, size_t len);

/* Parses "ADDR/BITS" (BITS 0..32 or 0..128, no leading zeros) or a bare address (a
 * single host: /32 or /128). Host bits set ("10.0.0.1/8") are refused, as a likely typo.
 * On failure returns false and a static reason in *why. */
bool ag_ipaddr_net_parse(ag_str_t s, ag_ipaddr_net_t *out, const char **why);
/* True when <ip> is inside <net>. An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a
 * dual-stack socket reports for an IPv4 peer) is compared as the IPv4 address. */
bool ag_ipaddr_net_contains(const ag_ipaddr_net_t *net, const ag_ipaddr_t *ip);
/* True when <ip> is inside any of <nets>[0..n). */
bool ag_ipaddr_nets_contain(const ag_ipaddr_net_t *nets, int n, const ag_ipaddr_t *ip);

#endif
