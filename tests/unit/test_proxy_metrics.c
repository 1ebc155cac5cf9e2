/* proxy/runtime/metrics.c: per-thread cells summed on render, registry semantics, the built-in
 * request counter and latency histogram, the Prometheus text shape. */
#include <pthread.h>

#include "runtime/metrics.h"
#include "testlib.h"

static ag_metric_id shared_counter;

static void *bump(void *arg)
{
    ag_metrics_thread((int)(long)arg);
    for (int i = 0; i < 100000; i++)
        ag_metrics_inc(shared_counter);
    ag_metrics_request(200, 150000); /* 150 us */
    return NULL;
}

static bool has_line(const ag_buf_t *b, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    return b->p && strstr(b->p, want) != NULL;
}

TEST(metrics_per_thread_cells_sum_on_render)
{
    CHECK_EQ(ag_metrics_init(), 0);
    shared_counter = ag_metrics_counter("test_bumps_total", NULL, "Bumps from four threads.");
    CHECK(shared_counter >= 0);
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, bump, (void *)(i + 1));
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "test_bumps_total 400000"));
    CHECK(has_line(&out, "# TYPE test_bumps_total counter"));
    CHECK(has_line(&out, "authgate_http_requests_total{code=\"200\"} 4"));
    /* 150 us lands in the 250 us bucket and every bucket above it */
    CHECK(has_line(&out, "authgate_http_request_duration_seconds_bucket{le=\"0.0001\"} 0"));
    CHECK(has_line(&out, "authgate_http_request_duration_seconds_bucket{le=\"0.00025\"} 4"));
    CHECK(has_line(&out, "authgate_http_request_duration_seconds_bucket{le=\"+Inf\"} 4"));
    CHECK(has_line(&out, "authgate_http_request_duration_seconds_count 4"));
    ag_buf_dispose(&out);
}

TEST(metrics_registration_is_idempotent_and_labelled)
{
    ag_metric_id a = ag_metrics_counter("test_results_total", "result=\"ok\"", "Results.");
    ag_metric_id b = ag_metrics_counter("test_results_total", "result=\"ok\"", "Results.");
    ag_metric_id c = ag_metrics_counter("test_results_total", "result=\"bad\"", "Results.");
    ag_metric_id g = ag_metrics_gauge("test_level", NULL, "A gauge.");
    CHECK(a >= 0 && a == b && c != a);
    ag_metrics_thread(0);
    ag_metrics_add(a, 3);
    ag_metrics_add(c, 1);
    ag_metrics_add(g, 5);
    ag_metrics_add(g, -2);
    ag_metrics_add(-1, 7); /* a failed registration is a no-op, never a crash */
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "test_results_total{result=\"ok\"} 3"));
    CHECK(has_line(&out, "test_results_total{result=\"bad\"} 1"));
    CHECK(has_line(&out, "# TYPE test_level gauge"));
    CHECK(has_line(&out, "test_level 3"));
    ag_buf_dispose(&out);
}

/* Series that follow the configuration (one per issuer): shown while retained, gone from
 * /metrics (with their family's HELP/TYPE when none is left) once released. */
TEST(metrics_retained_series_leave_when_released)
{
    ag_metric_id x = ag_metrics_gauge("test_issuer_keys", "issuer=\"x\"", "Per issuer.");
    ag_metric_id y = ag_metrics_gauge("test_issuer_keys", "issuer=\"y\"", "Per issuer.");
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    ag_metrics_retain(x);
    ag_metrics_retain(x); /* two managers hold it during a reload */
    ag_metrics_retain(y);
    ag_metrics_release(y);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "test_issuer_keys{issuer=\"x\"} 0"));
    CHECK(!has_line(&out, "test_issuer_keys{issuer=\"y\"} 0"));
    ag_metrics_release(x);
    ag_buf_clear(&out);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "test_issuer_keys{issuer=\"x\"} 0")); /* one holder left */
    ag_metrics_release(x);
    ag_buf_clear(&out);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(!has_line(&out, "test_issuer_keys{issuer=\"x\"} 0"));
    CHECK(!has_line(&out, "# TYPE test_issuer_keys gauge"));
    ag_metrics_retain(y); /* an issuer added back is shown again */
    ag_buf_clear(&out);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "test_issuer_keys{issuer=\"y\"} 0"));
    CHECK(has_line(&out, "# TYPE test_issuer_keys gauge"));
    ag_buf_dispose(&out);
}

TEST(metrics_upstream_errors_by_reason)
{
    ag_metrics_thread(0);
    ag_metrics_upstream_error("timeout");
    ag_metrics_upstream_error("timeout");
    ag_metrics_upstream_error("no-such-reason"); /* ignored */
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "authgate_upstream_errors_total{reason=\"timeout\"} 2"));
    CHECK(has_line(&out, "authgate_upstream_errors_total{reason=\"connect\"} 0"));
    ag_buf_dispose(&out);
}

TEST(metrics_histogram_is_one_family_with_bucket_sum_count)
{
    static const double bk[] = {0.001, 0.01};
    ag_metric_id a = ag_metrics_histogram("test_wait_seconds", "kind=\"a\"", "Waits.", bk, 2);
    ag_metric_id x = ag_metrics_counter("test_between_total", NULL, "Registered in between.");
    ag_metric_id b = ag_metrics_histogram("test_wait_seconds", "kind=\"b\"", "Waits.", bk, 2);
    CHECK(a >= 0 && b >= 0 && x >= 0 && a != b);
    ag_metrics_thread(0);
    ag_metrics_observe(a, 500000);     /* 0.5 ms */
    ag_metrics_observe(a, 5000000);    /* 5 ms */
    ag_metrics_observe(a, 2000000000); /* 2 s: +Inf only */
    ag_metrics_observe(b, 1000000);    /* exactly 1 ms: le="0.001" */
    ag_metrics_observe(x, 1);          /* not a histogram: ignored */
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "# TYPE test_wait_seconds histogram"));
    CHECK(has_line(&out, "test_wait_seconds_bucket{kind=\"a\",le=\"0.001\"} 1"));
    CHECK(has_line(&out, "test_wait_seconds_bucket{kind=\"a\",le=\"0.01\"} 2"));
    CHECK(has_line(&out, "test_wait_seconds_bucket{kind=\"a\",le=\"+Inf\"} 3"));
    CHECK(has_line(&out, "test_wait_seconds_sum{kind=\"a\"} 2.005500000"));
    CHECK(has_line(&out, "test_wait_seconds_count{kind=\"a\"} 3"));
    CHECK(has_line(&out, "test_wait_seconds_bucket{kind=\"b\",le=\"0.001\"} 1"));
    /* both series under the one HELP/TYPE, before the counter registered between them */
    const char *fam = strstr(out.p, "# TYPE test_wait_seconds histogram");
    const char *sb = strstr(out.p, "test_wait_seconds_count{kind=\"b\"}");
    const char *mid = strstr(out.p, "# TYPE test_between_total counter");
    CHECK(fam && sb && mid && fam < sb && sb < mid);
    CHECK(strstr(fam + 1, "# TYPE test_wait_seconds ") == NULL);
    ag_buf_dispose(&out);
}

static void *worker_two(void *arg)
{
    (void)arg;
    ag_metrics_thread(2);
    ag_metrics_gauge_add(AG_M_CONNS_OPEN, 3);
    ag_metrics_request(200, 1000);
    ag_metrics_request(404, 1000);
    return NULL;
}

/* How the work is spread: each worker's open connections and answered requests, from its
 * own cells; the control thread (slot 0) is no worker. */
TEST(metrics_per_worker_connections_and_requests)
{
    pthread_t th;
    CHECK_EQ(ag_metrics_init(), 0);
    ag_metrics_workers(2);
    ag_metrics_thread(0);
    ag_metrics_gauge_add(AG_M_CONNS_OPEN, 7);
    ag_metrics_request(200, 1000);
    pthread_create(&th, NULL, worker_two, NULL);
    pthread_join(th, NULL);
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(has_line(&out, "authgate_connections_open 10"));
    CHECK(has_line(&out, "# TYPE authgate_worker_connections_open gauge"));
    CHECK(has_line(&out, "authgate_worker_connections_open{worker=\"1\"} 0"));
    CHECK(has_line(&out, "authgate_worker_connections_open{worker=\"2\"} 3"));
    CHECK(has_line(&out, "authgate_worker_requests_total{worker=\"1\"} 0"));
    CHECK(has_line(&out, "authgate_worker_requests_total{worker=\"2\"} 2"));
    CHECK(strstr(out.p, "{worker=\"3\"}") == NULL);
    ag_buf_dispose(&out);
}

TEST(metrics_process_from_proc)
{
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(ag_metrics_render(&out), 0);
    CHECK(strstr(out.p, "\n# TYPE process_cpu_seconds_total counter\n") != NULL);
    const char *p = strstr(out.p, "\nprocess_resident_memory_bytes ");
    CHECK(p && strtod(p + 31, NULL) > 1e5);
    p = strstr(out.p, "\nprocess_open_fds ");
    CHECK(p && strtod(p + 18, NULL) >= 3);
    p = strstr(out.p, "\nprocess_start_time_seconds ");
    CHECK(p && strtod(p + 28, NULL) > 1.6e9);
    CHECK(strstr(out.p, "\nprocess_max_fds ") && strstr(out.p, "\nprocess_virtual_memory_bytes "));
    ag_buf_dispose(&out);
}
