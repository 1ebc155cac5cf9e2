/* Lock-free per-thread metrics (metrics.h). Each cell has a single writer (its thread),
 * so an increment is a relaxed load plus a relaxed store: no locked instruction, no
 * shared cache line between workers. A scrape reads every cell with relaxed loads; sums
 * may be a request or two behind, never torn. */
#include "runtime/metrics.h"

#include <stdatomic.h>
#include <string.h>

#include "runtime/version.h"

#define CODES 600
/* Latency buckets in seconds: sub-millisecond resolution where a proxy hop lives. */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                 0.1,    0.25,    0.5,    1,     2.5,    5,     10,   30,    60};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])
static const char *const up_reasons[] = {"connect", "tls", "timeout", "reset", "protocol"};
#define NREASONS (sizeof up_reasons / sizeof up_reasons[0])

typedef struct {
    _Atomic uint64_t codes[CODES];
    _Atomic uint64_t up_errors[NREASONS];
    _Atomic int64_t cells[AG_METRICS_CELLS];
} __attribute__((aligned(64))) slot_t;

typedef enum { K_COUNTER, K_GAUGE, K_HISTOGRAM } kind_t;

/* A histogram's cells: one per bucket (not cumulative) and +Inf, then the sum in
 * nanoseconds, then the count. Counters and gauges have one cell. */
typedef struct {
    const char *name, *labels, *help;
    kind_t kind;
    int cell, ncells;
    const double *bk;
    int nbk;
    bool dynamic; /* retained at least once: rendered only while holders > 0 */
    int holders;
} metric_t;

static slot_t slots[AG_METRICS_SLOTS];
static metric_t metrics[AG_METRICS_MAX];
/* Registered series: written by the registering thread (start-up, later the control thread
 * only), read by every thread that bumps a metric; a series is complete before the count
 * that covers it is published (release), so a runtime registration races no reader. */
static atomic_int nmetrics;
static int ncells;
static _Thread_local int my_slot;
static int nworkers; /* slots 1..nworkers get per-worker series (ag_metrics_workers) */
static ag_metric_id m_duration = -1;

ag_metric_id AG_M_CONNS_OPEN = -1, AG_M_UPSTREAM_OPEN = -1, AG_M_UPSTREAM_REUSED = -1,
             AG_M_UPSTREAM_CONNECTS = -1, AG_M_TLS_HANDSHAKE_ERRORS = -1, AG_M_TIMEOUTS_HEAD = -1,
             AG_M_TIMEOUTS_BODY = -1, AG_M_TIMEOUTS_SEND = -1, AG_M_CONNS_LINGERING = -1,
             AG_M_CONNS_RELEASED = -1, AG_M_TLS_RECORD_LIBCRYPTO = -1, AG_M_TLS_RECORD_MBEDTLS = -1;

void ag_metrics_workers(int n)
{
    nworkers = n < 0 ? 0 : n < AG_METRICS_SLOTS ? n : AG_METRICS_SLOTS - 1;
}

void ag_metrics_thread(int slot)
{
    my_slot = slot >= 0 && slot < AG_METRICS_SLOTS ? slot : 0;
}

static ag_metric_id reg(metric_t m)
{
    const char *name = m.name, *labels = m.labels;
    for (int i = 0; i < nmetrics; i++) /* idempotent: the same series twice is one */
        if (strcmp(metrics[i].name, name) == 0 &&
            strcmp(metrics[i].labels ? metrics[i].labels : "", labels ? labels : "") == 0)
            return i;
    m.ncells = m.kind == K_HISTOGRAM ? m.nbk + 3 : 1;
    if (nmetrics >= AG_METRICS_MAX || ncells + m.ncells > AG_METRICS_CELLS)
        return -1;
    m.cell = ncells;
    ncells += m.ncells;
    int n = atomic_load_explicit(&nmetrics, memory_order_relaxed);
    metrics[n] = m;
    atomic_store_explicit(&nmetrics, n + 1, memory_order_release);
    return n;
}

ag_metric_id ag_metrics_counter(const char *name, const char *labels, const char *help)
{
    return reg((metric_t){.name = name, .labels = labels, .help = help, .kind = K_COUNTER});
}

ag_metric_id ag_metrics_gauge(const char *name, const char *labels, const char *help)
{
    return reg((metric_t){.name = name, .labels = labels, .help = help, .kind = K_GAUGE});
}

ag_metric_id ag_metrics_histogram(const char *name, const char *labels, const char *help,
                                  const double *bk, int nbk)
{
    return reg((metric_t){
        .name = name, .labels = labels, .help = help, .kind = K_HISTOGRAM, .bk = bk, .nbk = nbk});
}

static inline void bump_u(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

static inline void bump(_Atomic int64_t *c, int64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

void ag_metrics_add(ag_metric_id m, int64_t v)
{
    if (m < 0 || m >= atomic_load_explicit(&nmetrics, memory_order_acquire))
        return;
    bump(&slots[my_slot].cells[metrics[m].cell], v);
}

void ag_metrics_observe(ag_metric_id m, uint64_t ns)
{
    if (m < 0 || m >= atomic_load_explicit(&nmetrics, memory_order_acquire) ||
        metrics[m].kind != K_HISTOGRAM)
        return;
    const metric_t *h = &metrics[m];
    _Atomic int64_t *c = &slots[my_slot].cells[h->cell];
    double sec = (double)ns / 1e9;
    int b = 0;
    while (b < h->nbk && sec > h->bk[b])
        b++;
    bump(&c[b], 1);
    bump(&c[h->nbk + 1], (int64_t)ns);
    bump(&c[h->nbk + 2], 1);
}

ag_err ag_metrics_init(void)
{
    AG_M_CONNS_OPEN =
        ag_metrics_gauge("authgate_connections_open", NULL, "Client connections currently open.");
    AG_M_UPSTREAM_OPEN = ag_metrics_gauge("authgate_upstream_connections_open", NULL,
                                          "Upstream connections currently open (busy or idle).");
    AG_M_UPSTREAM_REUSED = ag_metrics_counter("authgate_upstream_reused_total", NULL,
                                              "Requests sent on a pooled keep-alive connection.");
    AG_M_UPSTREAM_CONNECTS = ag_metrics_counter("authgate_upstream_connects_total", NULL,
                                                "Upstream connections started.");
    AG_M_TLS_HANDSHAKE_ERRORS = ag_metrics_counter("authgate_tls_handshake_errors_total", NULL,
                                                   "Client TLS handshakes that failed.");
    AG_M_TLS_RECORD_LIBCRYPTO = ag_metrics_counter(
        "authgate_tls_record_layer_total", "layer=\"libcrypto\"",
        "Client TLS handshakes completed, by who protects the connection's records after it "
        "(libcrypto: handed over by mbedTLS, tls.record_layer).");
    AG_M_TLS_RECORD_MBEDTLS =
        ag_metrics_counter("authgate_tls_record_layer_total", "layer=\"mbedtls\"", NULL);
    AG_M_TIMEOUTS_HEAD = ag_metrics_counter("authgate_request_timeouts_total", "kind=\"head\"",
                                            "Connections cut for a slow client: too slow "
                                            "sending the head or the body (answered 408), or "
                                            "reading nothing of a response (send).");
    AG_M_TIMEOUTS_BODY =
        ag_metrics_counter("authgate_request_timeouts_total", "kind=\"body\"", NULL);
    AG_M_TIMEOUTS_SEND =
        ag_metrics_counter("authgate_request_timeouts_total", "kind=\"send\"", NULL);
    m_duration =
        ag_metrics_histogram("authgate_http_request_duration_seconds", NULL,
                             "Time from request head to response end.", buckets, (int)NBUCKETS);
    AG_M_CONNS_LINGERING = ag_metrics_gauge("authgate_connections_lingering", NULL,
                                            "Client connections in a lingering close "
                                            "(answered, reading what the client still sends).");
    AG_M_CONNS_RELEASED = ag_metrics_gauge("authgate_connections_idle_released", NULL,
                                           "Idle keep-alive client connections holding no "
                                           "buffers of their own (given back after 1 s).");
    /* the build_info convention: a constant 1, the facts in the labels (set once) */
    static bool build_info;
    if (!build_info) {
        build_info = true;
        ag_metrics_add(ag_metrics_gauge("authgate_build_info", ag_version_metric_labels(),
                                        "Version, commit and running library versions."),
                       1);
    }
    return AG_M_CONNS_LINGERING < 0 || AG_M_CONNS_RELEASED < 0 || m_duration < 0 ? AG_E_NOMEM : 0;
}

void ag_metrics_request(int code, uint64_t ns)
{
    slot_t *s = &slots[my_slot];
    if (code < 0 || code >= CODES)
        code = 0;
    bump_u(&s->codes[code], 1);
    ag_metrics_observe(m_duration, ns);
}

void ag_metrics_upstream_error(const char *reason)
{
    for (size_t i = 0; i < NREASONS; i++)
        if (strcmp(reason, up_reasons[i]) == 0)
            bump_u(&slots[my_slot].up_errors[i], 1);
}

static uint64_t sum_u(size_t offset)
{
    uint64_t t = 0;
    for (int i = 0; i < AG_METRICS_SLOTS; i++)
        t += atomic_load_explicit((_Atomic uint64_t *)((char *)&slots[i] + offset),
                                  memory_order_relaxed);
    return t;
}

static void render_builtin(ag_buf_t *out)
{
    ag_buf_append_cstr(out,
                       "# HELP authgate_http_requests_total Requests answered, by status code.\n"
                       "# TYPE authgate_http_requests_total counter\n");
    for (int c = 0; c < CODES; c++) {
        uint64_t n = sum_u(offsetof(slot_t, codes) + (size_t)c * sizeof(uint64_t));
        if (n)
            ag_buf_printf(out, "authgate_http_requests_total{code=\"%d\"} %llu\n", c,
                          (unsigned long long)n);
    }
    ag_buf_append_cstr(out, "# HELP authgate_upstream_errors_total Upstream failures, by reason.\n"
                            "# TYPE authgate_upstream_errors_total counter\n");
    for (size_t r = 0; r < NREASONS; r++)
        ag_buf_printf(
            out, "authgate_upstream_errors_total{reason=\"%s\"} %llu\n", up_reasons[r],
            (unsigned long long)sum_u(offsetof(slot_t, up_errors) + r * sizeof(uint64_t)));
}

/* How the work is spread over the workers: each one's open connections (its cell of
 * authgate_connections_open) and the requests it answered. */
static void render_workers(ag_buf_t *out)
{
    if (nworkers == 0 || AG_M_CONNS_OPEN < 0)
        return;
    int cell = metrics[AG_M_CONNS_OPEN].cell;
    ag_buf_append_cstr(out, "# HELP authgate_worker_connections_open Client connections open, "
                            "by worker.\n# TYPE authgate_worker_connections_open gauge\n");
    for (int w = 1; w <= nworkers; w++)
        ag_buf_printf(out, "authgate_worker_connections_open{worker=\"%d\"} %lld\n", w,
                      (long long)atomic_load_explicit(&slots[w].cells[cell], memory_order_relaxed));
    ag_buf_append_cstr(out, "# HELP authgate_worker_requests_total Requests answered, by worker.\n"
                            "# TYPE authgate_worker_requests_total counter\n");
    for (int w = 1; w <= nworkers; w++) {
        uint64_t n = 0;
        for (int c = 0; c < CODES; c++)
            n += atomic_load_explicit(&slots[w].codes[c], memory_order_relaxed);
        ag_buf_printf(out, "authgate_worker_requests_total{worker=\"%d\"} %llu\n", w,
                      (unsigned long long)n);
    }
}

static int64_t cell_sum(int cell)
{
    int64_t t = 0;
    for (int i = 0; i < AG_METRICS_SLOTS; i++)
        t += atomic_load_explicit(&slots[i].cells[cell], memory_order_relaxed);
    return t;
}

/* name{labels,extra} or name{extra} or name{labels} or name */
static void series(ag_buf_t *out, const char *name, const char *suffix, const char *labels,
                   const char *extra)
{
    bool l = labels && *labels, e = extra && *extra;
    ag_buf_printf(out, "%s%s%s%s%s%s%s ", name, suffix, l || e ? "{" : "", l ? labels : "",
                  l && e ? "," : "", e ? extra : "", l || e ? "}" : "");
}

static void render_histogram(ag_buf_t *out, const metric_t *h)
{
    int64_t cum = 0;
    char le[48];
    for (int b = 0; b <= h->nbk; b++) {
        cum += cell_sum(h->cell + b);
        if (b < h->nbk)
            snprintf(le, sizeof le, "le=\"%g\"", h->bk[b]);
        else
            snprintf(le, sizeof le, "le=\"+Inf\"");
        series(out, h->name, "_bucket", h->labels, le);
        ag_buf_printf(out, "%lld\n", (long long)cum);
    }
    series(out, h->name, "_sum", h->labels, NULL);
    ag_buf_printf(out, "%.9f\n", (double)cell_sum(h->cell + h->nbk + 1) / 1e9);
    series(out, h->name, "_count", h->labels, NULL);
    ag_buf_printf(out, "%lld\n", (long long)cell_sum(h->cell + h->nbk + 2));
}

void ag_metrics_retain(ag_metric_id m)
{
    if (m >= 0 && m < nmetrics) {
        metrics[m].dynamic = true;
        metrics[m].holders++;
    }
}

void ag_metrics_release(ag_metric_id m)
{
    if (m >= 0 && m < nmetrics && metrics[m].holders > 0)
        metrics[m].holders--;
}

static bool shown(const metric_t *m)
{
    return !m->dynamic || m->holders > 0;
}

static const char *const kind_names[] = {"counter", "gauge", "histogram"};

/* Every series of one family together under its HELP and TYPE (the text format wants a
 * family's samples in one group). */
static void render_family(ag_buf_t *out, int first)
{
    const metric_t *f = &metrics[first];
    ag_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help ? f->help : "", f->name,
                  kind_names[f->kind]);
    for (int m = first; m < nmetrics; m++) {
        if (strcmp(metrics[m].name, f->name) != 0 || !shown(&metrics[m]))
            continue;
        if (metrics[m].kind == K_HISTOGRAM) {
            render_histogram(out, &metrics[m]);
            continue;
        }
        series(out, metrics[m].name, "", metrics[m].labels, NULL);
        ag_buf_printf(out, "%lld\n", (long long)cell_sum(metrics[m].cell));
    }
}

ag_err ag_metrics_render(ag_buf_t *out)
{
    render_builtin(out);
    render_workers(out);
    for (int m = 0; m < nmetrics; m++) {
        bool first = shown(&metrics[m]); /* the first shown series names the family */
        for (int k = 0; k < m && first; k++)
            first = !shown(&metrics[k]) || strcmp(metrics[k].name, metrics[m].name) != 0;
        if (first)
            render_family(out, m);
    }
    ag_process_metrics_render(out);
    return out->n < out->max ? 0 : AG_E_TOO_BIG;
}
