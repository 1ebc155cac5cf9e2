/* Prometheus metrics without locks on the hot path: every metric has one cell per thread
 * (control thread = slot 0, workers 1..n), written only by its own thread with relaxed
 * atomics and summed when /metrics is scraped. Built in: requests by status code, a
 * latency histogram with sub-millisecond buckets, open client and upstream connections,
 * upstream errors by reason. Other modules register their own counters and gauges at
 * start-up (before workers start) and bump them from any authgate thread.
 * Lifetime: process. Registration is not thread-safe: at start-up, or later on the control
 * thread only (where /metrics is rendered), before the id is handed to another thread. */
#ifndef AG_METRICS_H
#define AG_METRICS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define AG_METRICS_SLOTS 65  /* control + AG_CONFIG_MAX_WORKERS */
#define AG_METRICS_MAX 192   /* registered series */
#define AG_METRICS_CELLS 512 /* per-slot cells: one per counter/gauge, buckets+3 per histogram */

typedef int ag_metric_id; /* index into the registry; <0 when registration failed */

/* The number of workers (slots 1..n): /metrics then shows each one's open connections
 * and answered requests (authgate_worker_connections_open, authgate_worker_requests_total).
 * Start-up, before the workers run. */
void ag_metrics_workers(int n);
/* Sets the calling thread's slot (0 control, worker id for workers). */
void ag_metrics_thread(int slot);

/* Registers a counter/gauge family member. <name> like "authgate_authn_total", <labels>
 * like "result=\"expired\"" or NULL, <help> one line (the first registration of a name
 * supplies HELP/TYPE). Strings are borrowed (string literals). */
ag_metric_id ag_metrics_counter(const char *name, const char *labels, const char *help);
ag_metric_id ag_metrics_gauge(const char *name, const char *labels, const char *help);
void ag_metrics_add(ag_metric_id m, int64_t v);
/* Series that come and go with the configuration (one per issuer): a series retained at
 * least once is rendered only while retained (control thread, like registration). */
void ag_metrics_retain(ag_metric_id m);
void ag_metrics_release(ag_metric_id m);
/* Registers a histogram series: <bk> the upper bounds in seconds, ascending, borrowed
 * (static); rendered as one family with cumulative <name>_bucket{le}, _sum and _count. */
ag_metric_id ag_metrics_histogram(const char *name, const char *labels, const char *help,
                                  const double *bk, int nbk);
/* One observation of <ns> nanoseconds into histogram <m>. */
void ag_metrics_observe(ag_metric_id m, uint64_t ns);
static inline void ag_metrics_inc(ag_metric_id m)
{
    ag_metrics_add(m, 1);
}
#define ag_metrics_gauge_add ag_metrics_add

/* Built-ins registered by ag_metrics_init. */
extern ag_metric_id AG_M_CONNS_OPEN, AG_M_UPSTREAM_OPEN, AG_M_UPSTREAM_REUSED,
    AG_M_UPSTREAM_CONNECTS, AG_M_TLS_HANDSHAKE_ERRORS, AG_M_TIMEOUTS_HEAD, AG_M_TIMEOUTS_BODY,
    AG_M_TIMEOUTS_SEND, AG_M_CONNS_LINGERING, AG_M_CONNS_RELEASED, AG_M_TLS_RECORD_LIBCRYPTO,
    AG_M_TLS_RECORD_MBEDTLS;
ag_err ag_metrics_init(void);
/* One finished request: status code and latency from head received to response done. */
void ag_metrics_request(int code, uint64_t latency_ns);
/* An upstream failure by reason ("connect", "tls", "timeout", "reset", "protocol"). */
void ag_metrics_upstream_error(const char *reason);

/* Renders every metric in Prometheus text format 0.0.4, process_* included. */
ag_err ag_metrics_render(ag_buf_t *out);
/* The process_* metrics from /proc/self (procmetrics.c). */
void ag_process_metrics_render(ag_buf_t *out);

#endif
