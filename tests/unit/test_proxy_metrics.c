/* proxy/metrics.c: per-thread cells summed on render, registry semantics, the built-in
 * request counter and latency histogram, the Prometheus text shape. */
#include <pthread.h>

#include "metrics.h"
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
