/* What comes before TLS or HTTP on a main-listener connection: a PROXY protocol header
 * (core/http/proxyproto.h) or nothing. The rule (config/README.md, listen.proxy_protocol):
 *  - a peer inside listen.proxy_protocol.trusted must open with a header (as HAProxy's
 *    accept-proxy and nginx's proxy_protocol require); its client address then stands
 *    for the connection (logs, audit sourceIPs, X-Forwarded-For), except for v2 LOCAL
 *    and v1 UNKNOWN, where the peer's own address does;
 *  - from any other peer a header is refused as soon as its signature shows (400 and
 *    close), so nobody can claim another client's address.
 * http1.c calls ag_preface_take with the connection's first bytes each time more arrive
 * and answers what it decides; this file owns the decision, its log lines and the
 * authgate_proxy_protocol_errors_total counters. No I/O. Lifetime: per connection,
 * embedded in it. */
#ifndef AG_PREFACE_H
#define AG_PREFACE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "base/ipaddr.h"
#include "config.h"

typedef enum {
    AG_PREFACE_WAIT,   /* more bytes needed (the header timeout bounds the wait) */
    AG_PREFACE_PASS,   /* *used bytes were the header (0: none); TLS or HTTP follows */
    AG_PREFACE_REFUSE, /* answer 400 with *msg and close */
} ag_preface_result;

typedef struct {
    bool trusted;                /* the peer is in listen.proxy_protocol.trusted */
    bool seen;                   /* a byte arrived */
    bool proxied;                /* a header named the client: peer is its proxy */
    char peer[AG_IPADDR_STRLEN]; /* the TCP peer's address ("" if unknown) */
} ag_preface_t;

/* Registers the counters (start-up, before the workers run). */
void ag_preface_metrics_init(void);

/* Starts the preface of a connection from <peer> (NULL: unknown, never trusted) under
 * <listen>. */
void ag_preface_begin(ag_preface_t *pf, const ag_config_listen_t *listen,
                      const struct sockaddr *peer);

/* Decides on the connection's first bytes <p,n> (borrowed). On PASS with a header that
 * names a client, <client_ip> (NUL-terminated, <len> bytes) gets its address. On REFUSE
 * *msg is the Status message for the 400 (static); the refusal is logged and counted. */
ag_preface_result ag_preface_take(ag_preface_t *pf, const char *p, size_t n, size_t *used,
                                  char *client_ip, size_t len, const char **msg);

/* The connection ended in the preface: by the header timeout (<timeout>) or the peer's
 * EOF. A trusted peer that sent part of a header is counted ("timeout"/"truncated");
 * returns whether it was (then the caller answers 408 on a timeout). */
bool ag_preface_abort(ag_preface_t *pf, bool timeout);

#endif
