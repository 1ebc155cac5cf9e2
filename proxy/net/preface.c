/* The PROXY protocol trust rule for main-listener connections (preface.h): whom a header
 * is accepted from, what a refusal says to the peer, the log and the metric. The bytes
 * are core/http/proxyproto.c's; the socket and the answer are http1.c's. */
#include "net/preface.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "http/proxyproto.h"
#include "runtime/log.h"
#include "runtime/metrics.h"

typedef enum {
    R_UNTRUSTED,
    R_MISSING,
    R_MALFORMED,
    R_OVERSIZED,
    R_TRUNCATED,
    R_TIMEOUT,
    R_N
} why_t;

static const char *const reason_label[R_N] = {"reason=\"untrusted\"", "reason=\"missing\"",
                                              "reason=\"malformed\"", "reason=\"oversized\"",
                                              "reason=\"truncated\"", "reason=\"timeout\""};
static ag_metric_id m_errors[R_N] = {-1, -1, -1, -1, -1, -1};

void ag_preface_metrics_init(void)
{
    for (int i = 0; i < R_N; i++)
        m_errors[i] = ag_metrics_counter(
            "authgate_proxy_protocol_errors_total", reason_label[i],
            "Main-listener connections refused over a PROXY protocol header: from a peer "
            "outside listen.proxy_protocol.trusted, missing from a trusted one, malformed, "
            "too long, cut short by the peer's EOF, or not complete within timeouts.header_read.");
}

void ag_preface_begin(ag_preface_t *pf, const ag_config_listen_t *listen,
                      const struct sockaddr *peer)
{
    ag_ipaddr_t ip = {0};
    memset(pf, 0, sizeof *pf);
    if (peer && peer->sa_family == AF_INET) {
        ip.family = AG_IPADDR_V4;
        memcpy(ip.a, &((const struct sockaddr_in *)peer)->sin_addr, 4);
    } else if (peer && peer->sa_family == AF_INET6) {
        ip.family = AG_IPADDR_V6;
        memcpy(ip.a, &((const struct sockaddr_in6 *)peer)->sin6_addr, 16);
    } else {
        return; /* unknown peer: never trusted */
    }
    ag_ipaddr_format(&ip, pf->peer, sizeof pf->peer);
    pf->trusted = ag_ipaddr_nets_contain(listen->pp_trusted, listen->pp_ntrusted, &ip);
}

/* One WARN a second per worker at most: any peer can make refusals. */
static void log_refusal(const ag_preface_t *pf, const char *what, const char *detail)
{
    static _Thread_local time_t logged_at;
    static _Thread_local unsigned quiet;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (logged_at && now.tv_sec == logged_at) {
        quiet++;
        return;
    }
    char more[48] = "";
    if (quiet)
        snprintf(more, sizeof more, "; %u more since the last such line", quiet);
    ag_warn("refused a connection from %s: %s (%s)%s",
            pf->peer[0] ? pf->peer : "an unknown address", what, detail, more);
    logged_at = now.tv_sec;
    quiet = 0;
}

static ag_preface_result refuse(const ag_preface_t *pf, why_t why, const char *detail,
                                const char **msg)
{
    static const char *const to_peer[R_N] = {
        [R_UNTRUSTED] = "PROXY protocol header not accepted from this address",
        [R_MISSING] = "a PROXY protocol header is required from this address",
        [R_MALFORMED] = "malformed PROXY protocol header",
        [R_OVERSIZED] = "PROXY protocol header too long",
    };
    ag_metrics_inc(m_errors[why]);
    log_refusal(pf, to_peer[why], detail);
    *msg = to_peer[why];
    return AG_PREFACE_REFUSE;
}

/* A peer outside the trusted networks: anything but a PROXY signature passes. */
static ag_preface_result untrusted(const ag_preface_t *pf, const char *p, size_t n,
                                   const char **msg)
{
    switch (ag_proxyproto_sniff((const uint8_t *)p, n)) {
    case AG_PROXYPROTO_NONE:
        return AG_PREFACE_PASS;
    case AG_PROXYPROTO_MORE:
        return AG_PREFACE_WAIT;
    default:
        return refuse(pf, R_UNTRUSTED, "listen.proxy_protocol.trusted does not list it", msg);
    }
}

ag_preface_result ag_preface_take(ag_preface_t *pf, const char *p, size_t n, size_t *used,
                                  char *client_ip, size_t len, const char **msg)
{
    ag_proxyproto_t h;
    const char *why = NULL;
    *used = 0;
    pf->seen = pf->seen || n > 0;
    if (!pf->trusted)
        return untrusted(pf, p, n, msg);
    switch (ag_proxyproto_parse((const uint8_t *)p, n, &h, &why)) {
    case AG_PROXYPROTO_MORE:
        return AG_PREFACE_WAIT;
    case AG_PROXYPROTO_NONE:
        return refuse(pf, R_MISSING, "listen.proxy_protocol.trusted lists it", msg);
    case AG_PROXYPROTO_INVALID:
        return refuse(pf, R_MALFORMED, why, msg);
    case AG_PROXYPROTO_TOO_BIG:
        return refuse(pf, R_OVERSIZED, why, msg);
    case AG_PROXYPROTO_DONE:
        break;
    }
    *used = h.len;
    pf->proxied = h.has_addr && ag_ipaddr_format(&h.src, client_ip, len) > 0;
    ag_debug("PROXY protocol v%d header from %s: client %s port %u", h.version, pf->peer,
             h.has_addr ? client_ip : "(the connection's own)", h.has_addr ? h.src_port : 0);
    return AG_PREFACE_PASS;
}

bool ag_preface_abort(ag_preface_t *pf, bool timeout)
{
    if (!pf->trusted || !pf->seen)
        return false; /* no header was expected, or nothing came: an idle connection */
    ag_metrics_inc(m_errors[timeout ? R_TIMEOUT : R_TRUNCATED]);
    log_refusal(pf,
                timeout ? "PROXY protocol header not complete in time"
                        : "PROXY protocol header cut short",
                timeout ? "timeouts.header_read" : "the peer closed");
    return true;
}
