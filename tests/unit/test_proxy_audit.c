/* The audit log (proxy/authz/audit.c) and its config section (config/audit_config.c): level
 * rules, the audit.k8s.io/v1 Event JSON, the writer thread (lines whole, size rotation,
 * a full queue drops and counts instead of blocking). */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "authz/audit.h"
#include "authz/authz_chain.h"
#include "authz/reqinfo.h"
#include "base/json.h"
#include "files.h"
#include "testlib.h"

static ag_err parse(const char *text, ag_audit_config_t *c, ag_arena_t *arena, char *msg,
                    size_t cap)
{
    ag_cfg_t cfg;
    ag_err err = ag_cfg_init(&cfg, "gw.json", ag_str_cstr(text), arena);
    if (!err)
        err = ag_audit_config_parse(&cfg, ag_json_root(cfg.doc), "audit", "/etc/ag", c);
    snprintf(msg, cap, "%s", ag_cfg_error(&cfg) ? ag_cfg_error(&cfg) : "");
    ag_cfg_dispose(&cfg);
    return err;
}

static ag_attrs_t res(const char *verb, const char *resource, const char *sub, const char *ns)
{
    return (ag_attrs_t){.resource_request = true,
                        .verb = ag_str_cstr(verb),
                        .resource = ag_str_cstr(resource),
                        .subresource = ag_str_cstr(sub),
                        .namespace_ = ag_str_cstr(ns)};
}

TEST(audit_config_defaults_and_relative_file)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_audit_config_t c;
    char msg[256];
    CHECK_EQ(parse("{\"file\":\"audit.log\"}", &c, &arena, msg, sizeof msg), 0);
    CHECK_STREQ(c.file, "/etc/ag/audit.log");
    CHECK_EQ(c.level, AG_AUDIT_METADATA);
    CHECK_EQ(c.max_backups, 5);
    CHECK_EQ(c.max_size, 100LL << 20);
    CHECK_EQ(c.mode, AG_AUDIT_MODE_BATCH);
    CHECK_EQ(parse("{\"file\":\"a\",\"mode\":\"blocking\"}", &c, &arena, msg, sizeof msg), 0);
    CHECK_EQ(c.mode, AG_AUDIT_MODE_BLOCKING);
    CHECK_EQ(parse("{\"file\":\"a\",\"mode\":\"blocking-strict\"}", &c, &arena, msg, sizeof msg),
             AG_E_CONFIG);
    CHECK(strstr(msg, "audit.mode") != NULL);
    CHECK_EQ(parse("{\"file\":\"a\",\"level\":\"Request\"}", &c, &arena, msg, sizeof msg),
             AG_E_CONFIG);
    CHECK(strstr(msg, "audit.level") != NULL);
    CHECK_EQ(
        parse("{\"file\":\"a\",\"rules\":[{\"verbs\":[\"get\"]}]}", &c, &arena, msg, sizeof msg),
        AG_E_CONFIG); /* a rule needs its level */
    CHECK(strstr(msg, "audit.rules[0]") != NULL);
    CHECK_EQ(parse("{\"file\":\"a\",\"max_size\":10}", &c, &arena, msg, sizeof msg), AG_E_CONFIG);
    ag_arena_dispose(&arena);
}

TEST(audit_first_matching_rule_decides_the_level)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_audit_config_t c;
    char msg[256];
    CHECK_EQ(
        parse(
            "{\"file\":\"a\",\"level\":\"Metadata\",\"rules\":["
            "{\"level\":\"Metadata\",\"users\":[\"alice\"],\"verbs\":[\"watch\"]},"
            "{\"level\":\"None\",\"verbs\":[\"watch\"]},"
            "{\"level\":\"None\",\"resources\":[\"events\",\"pods/log\"]},"
            "{\"level\":\"None\",\"groups\":[\"system:nodes\"]},"
            "{\"level\":\"None\",\"paths\":[\"/healthz*\"]},"
            "{\"level\":\"None\",\"namespaces\":[\"kube-system\"],\"resources\":[\"secrets/*\"]}]}",
            &c, &arena, msg, sizeof msg),
        0);
    ag_str_t ng[] = {AG_STR("system:nodes")};
    ag_identity_t alice = {.username = AG_STR("alice")}, bob = {.username = AG_STR("bob")},
                  node = {.username = AG_STR("node1"), .groups = ng, .ngroups = 1};
    ag_attrs_t a = res("watch", "pods", "", "default");
    CHECK_EQ(ag_audit_level_for(&c, &alice, &a), AG_AUDIT_METADATA); /* rule 0 first */
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_NONE);
    a = res("get", "pods", "log", "default");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_NONE);
    a = res("get", "pods", "", "default"); /* "pods/log" does not cover pods */
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_METADATA);
    CHECK_EQ(ag_audit_level_for(&c, &node, &a), AG_AUDIT_NONE);
    a = res("get", "secrets", "status", "kube-system");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_NONE);
    a = res("get", "secrets", "", "kube-system"); /* secrets/<any> needs a subresource */
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_METADATA);
    ag_attrs_t h = {.verb = AG_STR("get"), .path = AG_STR("/healthz/ready")};
    CHECK_EQ(ag_audit_level_for(&c, &bob, &h), AG_AUDIT_NONE);
    h.path = AG_STR("/version");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &h), AG_AUDIT_METADATA);
    ag_arena_dispose(&arena);
}

/* An audit.k8s.io/v1 Policy file: kube-apiserver's matching (GroupResources with the
 * group, "res/ *" covering res itself, "* /sub", resourceNames; namespaces alone limit to
 * resource requests; no rule: None). */
TEST(audit_policy_document_matches_as_kube_apiserver)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    char dir[] = "/tmp/ag-audit-policy.XXXXXX", file[64], cfgtext[256], msg[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(file, sizeof file, "%s/p.json", dir);
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    fputs(
        "{\"apiVersion\":\"audit.k8s.io/v1\",\"kind\":\"Policy\",\"rules\":["
        "{\"level\":\"Metadata\",\"resources\":[{\"group\":\"apps\",\"resources\":[\"*/scale\"]}]},"
        "{\"level\":\"None\",\"resources\":[{\"group\":\"apps\"}]},"
        "{\"level\":\"RequestResponse\",\"resources\":[{\"resources\":[\"pods/*\"],"
        "\"resourceNames\":[\"p1\"]}]},"
        "{\"level\":\"Request\",\"namespaces\":[\"dev\"]},"
        "{\"level\":\"Metadata\",\"nonResourceURLs\":[\"/metrics\",\"/debug/*\"]}]}",
        f);
    fclose(f);
    ag_audit_config_t c;
    snprintf(cfgtext, sizeof cfgtext, "{\"file\":\"a\",\"policy_file\":\"%s\"}", file);
    CHECK_EQ(parse(cfgtext, &c, &arena, msg, sizeof msg), 0);
    CHECK(c.policy && c.nrules == 5);
    ag_identity_t bob = {.username = AG_STR("bob")};
    ag_attrs_t a = res("update", "deployments", "scale", "ns");
    a.api_group = AG_STR("apps");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_METADATA); /* * /scale */
    a.subresource = AG_STR_NULL;
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_NONE); /* group apps, any resource */
    a = res("get", "pods", "", "default");
    a.name = AG_STR("p1");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_METADATA); /* pods/ * covers pods */
    a.subresource = AG_STR("log");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_METADATA);
    a.name = AG_STR("p2"); /* another name: no rule */
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_NONE);
    a.namespace_ = AG_STR("dev");
    CHECK_EQ(ag_audit_level_for(&c, &bob, &a), AG_AUDIT_METADATA); /* Request -> Metadata */
    ag_attrs_t h = {.verb = AG_STR("get"), .path = AG_STR("/debug/pprof")};
    CHECK_EQ(ag_audit_level_for(&c, &bob, &h), AG_AUDIT_METADATA);
    h.path = AG_STR("/metricsx"); /* exact unless a * suffix */
    CHECK_EQ(ag_audit_level_for(&c, &bob, &h), AG_AUDIT_NONE);
    CHECK_EQ(ag_audit_level_for(&c, NULL, &h), AG_AUDIT_NONE);
    unlink(file);
    rmdir(dir);
    ag_arena_dispose(&arena);
}

TEST(audit_event_json_has_the_api_server_fields)
{
    ag_str_t groups[] = {AG_STR("devs"), AG_STR("system:authenticated")};
    ag_str_t vals[] = {AG_STR("read")};
    ag_extra_t extra[] = {{AG_STR("example.com/scopes"), vals, 1}};
    ag_identity_t user = {.username = AG_STR("bob"), .groups = groups, .ngroups = 2};
    ag_identity_t imp = {.username = AG_STR("carol"),
                         .uid = AG_STR("42"),
                         .groups = groups + 1,
                         .ngroups = 1,
                         .extra = extra,
                         .nextra = 1};
    ag_audit_entry_t e = {.received_ns = 1780000000123456789ull,
                          .user = &user,
                          .impersonated = &imp,
                          .have_attrs = true,
                          .uri = AG_STR("/api/v1/namespaces/default/pods/web"),
                          .user_agent = AG_STR("kubectl/v1.31"),
                          .source_ip = AG_STR("10.0.0.1"),
                          .decision = AG_AUDIT_FORBID,
                          .reason = AG_STR("")};
    e.attrs = (ag_attrs_t){.resource_request = true,
                           .verb = AG_STR("get"),
                           .api_version = AG_STR("v1"),
                           .namespace_ = AG_STR("default"),
                           .resource = AG_STR("pods"),
                           .name = AG_STR("web")};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_audit_format(&e, AG_AUDIT_METADATA, 403, 1780000000200000000ull,
                             AG_STR("0b6ad1c4-ffff-4000-8000-000000000001"), &out),
             0);
    CHECK_STREQ(
        out.p,
        "{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"level\":\"Metadata\","
        "\"auditID\":\"0b6ad1c4-ffff-4000-8000-000000000001\",\"stage\":\"ResponseComplete\","
        "\"requestURI\":\"/api/v1/namespaces/default/pods/web\",\"verb\":\"get\","
        "\"user\":{\"username\":\"bob\",\"groups\":[\"devs\",\"system:authenticated\"]},"
        "\"impersonatedUser\":{\"username\":\"carol\",\"uid\":\"42\",\"groups\":"
        "[\"system:authenticated\"],\"extra\":{\"example.com/scopes\":[\"read\"]}},"
        "\"sourceIPs\":[\"10.0.0.1\"],\"userAgent\":\"kubectl/v1.31\","
        "\"objectRef\":{\"resource\":\"pods\",\"namespace\":\"default\",\"name\":\"web\","
        "\"apiVersion\":\"v1\"},\"responseStatus\":{\"metadata\":{},\"code\":403},"
        "\"requestReceivedTimestamp\":\"2026-05-28T20:26:40.123456Z\","
        "\"stageTimestamp\":\"2026-05-28T20:26:40.200000Z\",\"annotations\":"
        "{\"authorization.k8s.io/decision\":\"forbid\",\"authorization.k8s.io/reason\":\"\"}}");
    /* valid JSON */
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_json_t doc;
    CHECK_EQ(ag_json_parse(&doc, ag_buf_str(&out), NULL, &arena, NULL), 0);
    ag_arena_dispose(&arena);
    ag_buf_dispose(&out);
}

/* Behind a load balancer that sent a PROXY protocol header: the client it named, then the
 * balancer, as kube-apiserver lists a client and the proxies it came through. */
TEST(audit_source_ips_list_the_proxy_after_the_client)
{
    ag_audit_entry_t e = {.received_ns = 1780000000123456789ull,
                          .uri = AG_STR("/api"),
                          .source_ip = AG_STR("203.0.113.7"),
                          .proxy_ip = AG_STR("10.0.0.9")};
    ag_buf_t out = AG_BUF_INIT(1 << 16);
    CHECK_EQ(
        ag_audit_format(&e, AG_AUDIT_METADATA, 200, 1780000000200000000ull, AG_STR("id"), &out), 0);
    CHECK(out.p && strstr(out.p, ",\"sourceIPs\":[\"203.0.113.7\",\"10.0.0.9\"],"));
    ag_buf_clear(&out);
    e.proxy_ip = AG_STR_NULL;
    CHECK_EQ(
        ag_audit_format(&e, AG_AUDIT_METADATA, 200, 1780000000200000000ull, AG_STR("id"), &out), 0);
    CHECK(out.p && strstr(out.p, ",\"sourceIPs\":[\"203.0.113.7\"],"));
    ag_buf_dispose(&out);
}

static char *slurp(const char *path, size_t *n)
{
    ag_buf_t b = AG_BUF_INIT(1 << 24);
    if (ag_buf_read_file(&b, path) != 0) {
        ag_buf_dispose(&b);
        *n = 0;
        return NULL;
    }
    *n = b.n;
    return b.p;
}

static int count_lines(const char *p, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

TEST(audit_log_rotates_by_size_keeping_lines_whole)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256], p1[300], p2[300], p3[300];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/audit.log", dir);
    snprintf(p1, sizeof p1, "%s.1", path);
    snprintf(p2, sizeof p2, "%s.2", path);
    snprintf(p3, sizeof p3, "%s.3", path);
    ag_audit_config_t c = {
        .file = path, .max_size = 4096, .max_backups = 2, .queue_bytes = 1 << 20};
    ag_audit_log_t *l = NULL;
    CHECK_EQ(ag_audit_log_create(&c, 1, &l, NULL), 0);
    char line[100];
    memset(line, 'x', sizeof line);
    for (int i = 0; i < 200; i++) { /* 200 x 101 bytes = ~20 KiB: several rotations */
        int k = snprintf(line, sizeof line, "{\"n\":%d}", i);
        line[k] = ' ';
        CHECK(ag_audit_log_write(l, ag_str_make(line, sizeof line)));
    }
    ag_audit_log_destroy(l);
    size_t n0, n1, n2;
    char *a = slurp(path, &n0), *b = slurp(p1, &n1), *d = slurp(p2, &n2);
    CHECK(a && b && d);
    CHECK(access(p3, F_OK) != 0); /* max_backups 2 */
    CHECK(n0 <= 4096 && n1 <= 4096 && n2 <= 4096);
    CHECK(n1 > 4096 - 101 && n2 > 4096 - 101); /* rotated when the next line would not fit */
    CHECK_EQ(n0 % 101, 0);
    CHECK_EQ(n1 % 101, 0);
    CHECK_EQ(count_lines(a, n0) + count_lines(b, n1) + count_lines(d, n2) <= 200, 1);
    if (a)
        CHECK(strstr(a, "{\"n\":199}") != NULL); /* the newest is in the live file */
    free(a), free(b), free(d);
    unlink(path), unlink(p1), unlink(p2);
    rmdir(dir);
}

/* A log into <dir>/audit.log (dir made from a mkdtemp template), no rotation, with a queue
 * of <queue_bytes>. */
static ag_audit_log_t *temp_log(char *dir, char *path, size_t cap, int queue_bytes,
                                ag_audit_mode mode)
{
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, cap, "%s/audit.log", dir);
    ag_audit_config_t c = {.file = path,
                           .max_size = 1LL << 30,
                           .max_backups = 0,
                           .queue_bytes = queue_bytes,
                           .mode = mode};
    ag_audit_log_t *l = NULL;
    CHECK_EQ(ag_audit_log_create(&c, 1, &l, NULL), 0);
    return l;
}

TEST(audit_log_full_queue_drops_and_counts_without_blocking)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256];
    ag_audit_log_t *l = temp_log(dir, path, sizeof path, 64 * 1024, AG_AUDIT_MODE_BATCH);
    static char big[70 * 1024];
    memset(big, 'y', sizeof big);
    CHECK(!ag_audit_log_write(l, ag_str_make(big, sizeof big))); /* never fits */
    CHECK_EQ(ag_audit_log_dropped(l), 1);
    int ok = 0, dropped = 0;
    for (int i = 0; i < 2000; i++) /* far faster than the writer drains 64 KiB */
        ag_audit_log_write(l, ag_str_make(big, 1000)) ? ok++ : dropped++;
    CHECK_EQ((long long)ag_audit_log_dropped(l), dropped + 1);
    ag_audit_log_destroy(l); /* flushes what was queued */
    size_t n;
    char *a = slurp(path, &n);
    CHECK_EQ(count_lines(a, n), ok);
    CHECK_EQ(n, (size_t)ok * 1001);
    free(a);
    unlink(path);
    rmdir(dir);
}

/* ---- producers on several threads (also run under -fsanitize=thread) ------------------ */

enum { AUDIT_PRODUCERS = 4, AUDIT_LINES = 1500 };

typedef struct {
    ag_audit_log_t *log;
    pthread_barrier_t *start; /* all producers begin together: the most contention */
    int id, ok;
} producer_t;

/* Line i of producer p: "p i " then filler up to 40 + i % 90 bytes, varied so lines
 * straddle the ring's wrap at every offset. */
static size_t audit_line(int p, int i, char *out, size_t cap)
{
    size_t n = 40 + (size_t)(i % 90);
    int k = snprintf(out, cap, "%d %d ", p, i);
    memset(out + k, 'a' + p, n - (size_t)k);
    return n;
}

static void *produce(void *arg)
{
    producer_t *pr = arg;
    char line[160];
    pthread_barrier_wait(pr->start);
    for (int i = 0; i < AUDIT_LINES; i++) {
        size_t n = audit_line(pr->id, i, line, sizeof line);
        pr->ok += ag_audit_log_write(pr->log, ag_str_make(line, n));
    }
    return NULL;
}

/* Every line in <a> is one producer's line, whole; each producer's lines come in its
 * order. Returns the number of lines, or -1 on a torn, foreign or reordered one. */
static int check_producer_lines(char *a, size_t n)
{
    int next[AUDIT_PRODUCERS] = {0}, lines = 0;
    char want[160];
    for (char *s = a, *e; s < a + n; s = e + 1) {
        int p, i;
        if (!(e = memchr(s, '\n', (size_t)(a + n - s))) || sscanf(s, "%d %d ", &p, &i) != 2 ||
            p < 0 || p >= AUDIT_PRODUCERS || i < next[p] || i >= AUDIT_LINES)
            return -1;
        size_t k = audit_line(p, i, want, sizeof want);
        if ((size_t)(e - s) != k || memcmp(s, want, k) != 0)
            return -1;
        next[p] = i + 1;
        lines++;
    }
    return lines;
}

TEST(audit_log_tsan_producers_on_threads_keep_lines_whole_and_ordered)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256];
    /* 16 KiB: the writer drains while producers fill, so the ring wraps many times and
     * some writes may be dropped (counted) */
    ag_audit_log_t *l = temp_log(dir, path, sizeof path, 16 * 1024, AG_AUDIT_MODE_BATCH);
    pthread_t th[AUDIT_PRODUCERS];
    producer_t pr[AUDIT_PRODUCERS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, AUDIT_PRODUCERS);
    for (int p = 0; p < AUDIT_PRODUCERS; p++) {
        pr[p] = (producer_t){.log = l, .start = &start, .id = p};
        CHECK_EQ(pthread_create(&th[p], NULL, produce, &pr[p]), 0);
    }
    int ok = 0;
    for (int p = 0; p < AUDIT_PRODUCERS; p++) {
        pthread_join(th[p], NULL);
        ok += pr[p].ok;
    }
    pthread_barrier_destroy(&start);
    CHECK_EQ((long long)ag_audit_log_dropped(l), AUDIT_PRODUCERS * AUDIT_LINES - ok);
    ag_audit_log_destroy(l);
    size_t n;
    char *a = slurp(path, &n);
    CHECK(a != NULL);
    if (a)
        CHECK_EQ(check_producer_lines(a, n), ok);
    CHECK(ok > 0);
    free(a);
    unlink(path);
    rmdir(dir);
}

/* ---- the worker's record and the writer's JSON (issue 17) ------------------------------ */

/* An event with every part: user with groups and extra, impersonation, attributes, an
 * allow whose reason the writer words (an RBAC binding with a window), a PROXY hop. */
static void full_entry(ag_audit_entry_t *e, ag_arena_t *arena, ag_authz_decision_t *d)
{
    static ag_str_t groups[] = {AG_STR("devs"), AG_STR("system:authenticated")};
    static ag_str_t vals[] = {AG_STR("read"), AG_STR("w\"rite")};
    static ag_extra_t extra[] = {{AG_STR("example.com/scopes"), vals, 2}};
    static ag_identity_t user = {.username = AG_STR("bob"), .groups = groups, .ngroups = 2};
    static ag_identity_t imp = {.username = AG_STR("carol"),
                                .uid = AG_STR("42"),
                                .groups = groups + 1,
                                .ngroups = 1,
                                .extra = extra,
                                .nextra = 1};
    *e = (ag_audit_entry_t){.received_ns = 1780000000123456789ull,
                            .user = &user,
                            .impersonated = &imp,
                            .have_attrs = true,
                            .uri = AG_STR("/apis/apps/v1/namespaces/default/deployments/web/scale"),
                            .user_agent = AG_STR("kubectl/v1.31 \x01"),
                            .source_ip = AG_STR("203.0.113.7"),
                            .proxy_ip = AG_STR("10.0.0.9")};
    e->attrs = (ag_attrs_t){.resource_request = true,
                            .verb = AG_STR("update"),
                            .api_group = AG_STR("apps"),
                            .api_version = AG_STR("v1"),
                            .namespace_ = AG_STR("default"),
                            .resource = AG_STR("deployments"),
                            .subresource = AG_STR("scale"),
                            .name = AG_STR("web")};
    ag_authz_decision_reset(d, AG_AUTHZ_ALLOW, AG_AUTHZ_BY_RBAC);
    d->binding_kind = AG_STR("RoleBinding");
    d->binding_namespace = AG_STR("default");
    d->binding_name = AG_STR("jit-ops");
    d->role_kind = AG_STR("ClusterRole");
    d->role_name = AG_STR("edit");
    d->subject_kind = AG_STR("Group");
    d->subject_name = AG_STR("devs");
    d->windowed = true;
    d->not_before = INT64_MIN;
    d->expires_at = 1780000900000;
    d->judged_at = 1780000000123;
    ag_audit_set_allow(e, arena, d);
}

static char *read_log(ag_audit_log_t *l, const char *path, size_t *n)
{
    ag_audit_log_destroy(l); /* flushes */
    return slurp(path, n);
}

/* The writer's line is what ag_audit_format makes of the same request on the worker
 * (the reason worded by ag_authz_reason), byte for byte. */
TEST(audit_log_event_is_written_as_ag_audit_format_writes_it)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256];
    ag_audit_log_t *l = temp_log(dir, path, sizeof path, 1 << 20, AG_AUDIT_MODE_BATCH);
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_audit_entry_t e, refused = {.received_ns = 1780000000000000001ull,
                                   .uri = AG_STR("/api/v1/pods"),
                                   .source_ip = AG_STR("::1"),
                                   .own_message = AG_STR("Unauthorized")};
    ag_authz_decision_t d;
    full_entry(&e, &arena, &d);
    CHECK(e.why.n && e.decision == AG_AUDIT_ALLOW && !e.reason.n);
    ag_gate_t g = {0}, g2 = {0};
    ag_str_t id = ag_str_cstr(ag_gate_audit_id(&g)), id2 = ag_str_cstr(ag_gate_audit_id(&g2));
    CHECK_EQ(ag_audit_log_event(l, &e, AG_AUDIT_METADATA, 200, 1780000000200000000ull,
                                ag_gate_audit_seq(&g)),
             AG_AUDIT_QUEUED);
    CHECK_EQ(ag_audit_log_event(l, &refused, AG_AUDIT_METADATA, 401, 1780000000300000000ull,
                                ag_gate_audit_seq(&g2)),
             AG_AUDIT_QUEUED);
    size_t n;
    char *got = read_log(l, path, &n);
    ag_buf_t want = AG_BUF_INIT(1 << 20), why = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_authz_reason(&d, &why), 0);
    CHECK(why.p && strstr(why.p, "RoleBinding \"jit-ops/default\"") && strstr(why.p, "2026"));
    e.why = AG_STR_NULL;
    e.reason = ag_buf_str(&why);
    CHECK_EQ(ag_audit_format(&e, AG_AUDIT_METADATA, 200, 1780000000200000000ull, id, &want), 0);
    ag_buf_append(&want, "\n", 1);
    CHECK_EQ(ag_audit_format(&refused, AG_AUDIT_METADATA, 401, 1780000000300000000ull, id2, &want),
             0);
    ag_buf_append(&want, "\n", 1);
    CHECK(got && want.p);
    if (got && want.p) {
        CHECK_EQ(n, want.n);
        CHECK(memcmp(got, want.p, want.n < n ? want.n : n) == 0);
    }
    free(got);
    ag_buf_dispose(&want);
    ag_buf_dispose(&why);
    ag_arena_dispose(&arena);
    unlink(path);
    rmdir(dir);
}

/* Queues up to <total> copies of a full event, stopping after <max_drops> drops; counts
 * them by result in n[AG_AUDIT_DROPPED..AG_AUDIT_QUEUED_AFTER_WAIT]. */
static void flood(ag_audit_log_t *l, int total, int max_drops, int n[3])
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_audit_entry_t e;
    ag_authz_decision_t d;
    full_entry(&e, &arena, &d);
    n[0] = n[1] = n[2] = 0;
    for (int i = 0; i < total && n[AG_AUDIT_DROPPED] < max_drops; i++)
        n[ag_audit_log_event(l, &e, AG_AUDIT_METADATA, 200, 1780000000200000000ull + i,
                             (uint64_t)i + 1)]++;
    ag_arena_dispose(&arena);
}

/* Stops <l> (flushing it) and counts the lines written. */
static int lines_of(ag_audit_log_t *l, const char *path)
{
    size_t len;
    char *a = read_log(l, path, &len);
    int lines = count_lines(a, len);
    free(a);
    return lines;
}

/* A full ring (mode "batch"): the event is refused at once, counted, and every event that
 * was accepted is in the file; none is lost without a count. */
TEST(audit_log_tsan_full_ring_drops_events_and_counts_them)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256];
    ag_audit_log_t *l = temp_log(dir, path, sizeof path, 64 * 1024, AG_AUDIT_MODE_BATCH);
    int n[3];
    flood(l, 1000000, 100, n); /* far faster than the writer drains a 256 KiB ring */
    CHECK(n[AG_AUDIT_DROPPED] > 0);
    CHECK_EQ(n[AG_AUDIT_QUEUED_AFTER_WAIT], 0);
    CHECK_EQ((long long)ag_audit_log_dropped(l), n[AG_AUDIT_DROPPED]);
    CHECK_EQ(ag_audit_log_blocked(l), 0);
    CHECK_EQ(lines_of(l, path), n[AG_AUDIT_QUEUED]);
    unlink(path);
    rmdir(dir);
}

/* Mode "blocking": the producer waits for the writer instead; nothing is dropped. */
TEST(audit_log_tsan_blocking_mode_waits_and_drops_nothing)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256];
    ag_audit_log_t *l = temp_log(dir, path, sizeof path, 64 * 1024, AG_AUDIT_MODE_BLOCKING);
    int n[3];
    flood(l, 8000, 1, n); /* ~7 MB of JSON through a 256 KiB ring */
    CHECK_EQ(n[AG_AUDIT_DROPPED], 0);
    CHECK(n[AG_AUDIT_QUEUED_AFTER_WAIT] > 0);
    CHECK_EQ((long long)ag_audit_log_blocked(l), n[AG_AUDIT_QUEUED_AFTER_WAIT]);
    CHECK_EQ(ag_audit_log_dropped(l), 0);
    CHECK_EQ(lines_of(l, path), 8000);
    unlink(path);
    rmdir(dir);
}

/* The attributes an entry keeps outlive the head they were parsed from: slices of the
 * target move to the entry's copy of it, decoded ones stay in the arena. */
TEST(audit_entry_attrs_outlive_the_head)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    char head[] = "/api/v1/namespaces/default/pods/we%62?watch=1";
    ag_str_t target = ag_str_make(head, sizeof head - 1);
    ag_attrs_t a;
    CHECK_EQ(ag_reqinfo_parse(AG_STR("GET"), target, &arena, &a), 0);
    ag_audit_entry_t e = {.uri = ag_arena_strdup(&arena, target)};
    ag_audit_set_attrs(&e, &arena, &a, target);
    memset(head, 'X', sizeof head - 1); /* the read buffer is reused */
    CHECK(e.have_attrs && e.attrs.resource_request);
    CHECK_SLICE(e.attrs.verb, "get");
    CHECK_SLICE(e.attrs.api_version, "v1");
    CHECK_SLICE(e.attrs.namespace_, "default");
    CHECK_SLICE(e.attrs.resource, "pods");
    CHECK_SLICE(e.attrs.name, "web"); /* decoded: the arena's */
    CHECK_SLICE(e.attrs.path, "/api/v1/namespaces/default/pods/web");
    CHECK_SLICE(e.attrs.api_prefix, "api");
    ag_arena_dispose(&arena);
}

/* The worker's clock: CLOCK_MONOTONIC plus the writer's offset is the wall clock (within
 * what two readings a few microseconds apart may differ by, and a loaded machine). */
TEST(audit_log_wall_ns_is_the_wall_clock)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256];
    ag_audit_log_t *l = temp_log(dir, path, sizeof path, 64 * 1024, AG_AUDIT_MODE_BATCH);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    uint64_t got = ag_audit_log_wall_ns(l, uv_hrtime());
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t after = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    CHECK(got + 1000000 >= before && got <= after + 1000000);
    ag_audit_log_destroy(l);
    unlink(path);
    rmdir(dir);
}

/* The encoded reason the writer words is checked byte by byte: every prefix of a good
 * encoding and a length running past the end are refused, never read beyond. */
TEST(audit_why_encoding_cut_short_is_refused)
{
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_audit_entry_t e;
    ag_authz_decision_t d;
    full_entry(&e, &arena, &d);
    ag_buf_t out = AG_BUF_INIT(1 << 16), want = AG_BUF_INIT(1 << 16);
    CHECK_EQ(ag_audit_why_word(e.why, &out), 0);
    CHECK_EQ(ag_authz_reason(&d, &want), 0);
    CHECK(out.n == want.n && want.n && memcmp(out.p, want.p, want.n) == 0);
    int refused = 0;
    for (size_t n = 0; n < e.why.n; n++) {
        char *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees a read past them */
        memcpy(cut, e.why.p, n);
        ag_buf_clear(&out);
        refused += ag_audit_why_word(ag_str_make(cut, n), &out) == AG_E_INVAL;
        free(cut);
    }
    CHECK_EQ(refused, (int)e.why.n);
    char *bad = ag_arena_alloc(&arena, e.why.n + 1);
    memcpy(bad, e.why.p, e.why.n);
    bad[e.why.n] = 'x'; /* trailing bytes */
    CHECK_EQ(ag_audit_why_word(ag_str_make(bad, e.why.n + 1), &out), AG_E_INVAL);
    ag_buf_dispose(&out);
    ag_buf_dispose(&want);
    ag_arena_dispose(&arena);
}

/* Microseconds since the epoch of the RFC 3339 time after "KEY":" in <line> (-1: none). */
static long long stamp_us(const char *line, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = line ? strstr(line, pat) : NULL;
    struct tm tm = {0};
    int us = -1;
    if (!p || sscanf(p + strlen(pat), "%d-%d-%dT%d:%d:%d.%6dZ", &tm.tm_year, &tm.tm_mon,
                     &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &us) != 7)
        return -1;
    tm.tm_year -= 1900, tm.tm_mon -= 1;
    return (long long)timegm(&tm) * 1000000 + us;
}

/* The request path takes the driver's clock readings when it has them (the head read, the
 * answer): the event's two times are those, not readings of its own. */
TEST(audit_finish_takes_the_drivers_times)
{
    char dir[] = "/tmp/ag-audit-XXXXXX", path[256], text[512];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/audit.log", dir);
    snprintf(text, sizeof text,
             "{\"listen\":{\"address\":\"127.0.0.1:0\"},\"upstream\":{\"url\":"
             "\"http://127.0.0.1:1\"},\"audit\":{\"file\":\"%s\"}}",
             path);
    ag_config_t *conf = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    CHECK_EQ(ag_config_parse("t.json", ag_str_cstr(text), &conf, &err), 0);
    CHECK_EQ(ag_audit_setup(conf, &err), 0);
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 0);
    ag_http_req_t req = {.method = AG_STR("GET"), .target = AG_STR("/api/v1/pods")};
    ag_gate_t g = {.req = &req,
                   .arena = &arena,
                   .client_ip = AG_STR("10.0.0.1"),
                   .received_at = 5000000000ull}; /* far from now: no clock gives it */
    CHECK(ag_audit_begin(&g) != NULL);
    g.finished_at = g.received_at + 1234567000ull;
    ag_audit_finish(&g, 200, true);
    ag_audit_shutdown(); /* flushes */
    size_t n;
    char *line = slurp(path, &n);
    long long rx = stamp_us(line, "requestReceivedTimestamp"),
              st = stamp_us(line, "stageTimestamp");
    CHECK(rx > 0 && st > 0);
    CHECK_EQ(st - rx, 1234567);
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long wall_us = (long long)time(NULL) * 1000000; /* received: 5 s after boot */
    CHECK(rx < wall_us - ((long long)now.tv_sec - 5) * 1000000 + 2000000);
    free(line);
    ag_arena_dispose(&arena);
    ag_buf_dispose(&err);
    ag_config_destroy(conf);
    unlink(path);
    rmdir(dir);
}
