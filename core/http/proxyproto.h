/* The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a load
 * balancer in TCP mode writes before the first byte it relays, naming the client it
 * relays for. This is the parser alone, over the connection's first bytes and without
 * I/O: the caller hands it everything received so far, each time more arrives, and
 * gets one of
 *   AG_PROXYPROTO_MORE     a proper prefix of a header: read more (the caller's header
 *                          timeout bounds how long);
 *   AG_PROXYPROTO_DONE     a complete header of h->len bytes (the bytes after it are the
 *                          relayed stream: a TLS ClientHello or an HTTP request);
 *   AG_PROXYPROTO_NONE     the bytes do not start with a PROXY signature;
 *   AG_PROXYPROTO_INVALID  a signature, then something the specification does not
 *                          allow (a static reason in *why);
 *   AG_PROXYPROTO_TOO_BIG  a v1 line without CRLF in AG_PROXYPROTO_V1_MAX bytes, or a v2
 *                          length over AG_PROXYPROTO_V2_MAX_LEN.
 * Whom to accept a header from (trusted networks) is the caller's decision. Stateless:
 * re-parsing the growing prefix costs at most a few KiB of scanning per connection. */
#ifndef AG_PROXYPROTO_H
#define AG_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/ipaddr.h"

#define AG_PROXYPROTO_V1_MAX 107 /* spec 2.1: the longest v1 line, CRLF included */
/* v2 address block + TLVs. The spec allows 65535; what is sent in practice is far less
 * (36 bytes of IPv6 addresses; cloud load balancers' TLVs, a VPC endpoint or link id,
 * are tens of bytes; HAProxy's SSL TLVs a few hundred), and a bound keeps a trusted but
 * broken sender from holding a connection's buffer. */
#define AG_PROXYPROTO_V2_MAX_LEN 2048
#define AG_PROXYPROTO_V2_HEAD 16 /* signature, version/command, family, length */

typedef enum {
    AG_PROXYPROTO_MORE,
    AG_PROXYPROTO_DONE,
    AG_PROXYPROTO_NONE,
    AG_PROXYPROTO_INVALID,
    AG_PROXYPROTO_TOO_BIG,
} ag_proxyproto_status;

typedef struct {
    int version; /* 1 or 2 */
    size_t len;  /* bytes of the header, to skip */
    /* false: the header carries no client address and the connection's own endpoints
     * stand (v1 "UNKNOWN", v2 LOCAL, v2 UNSPEC, v2 UDP or UNIX families). */
    bool has_addr;
    ag_ipaddr_t src, dst; /* has_addr: the client and the address it connected to */
    uint16_t src_port, dst_port;
} ag_proxyproto_t;

/* Whether <p,n> starts with a PROXY signature ("PROXY " for v1, the 12 bytes of v2):
 * AG_PROXYPROTO_DONE (a whole signature), AG_PROXYPROTO_MORE (every byte so far matches
 * one; n may be 0) or AG_PROXYPROTO_NONE. */
ag_proxyproto_status ag_proxyproto_sniff(const uint8_t *p, size_t n);

/* Parses the header at the start of <p,n> (borrowed) into <h> (filled on DONE only);
 * *why is set on INVALID and TOO_BIG. */
ag_proxyproto_status ag_proxyproto_parse(const uint8_t *p, size_t n, ag_proxyproto_t *h,
                                         const char **why);

#endif
