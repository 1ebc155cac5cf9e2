/* Time-bound (just-in-time) RBAC bindings (rbac.h AG_RBAC_NOT_BEFORE/AG_RBAC_EXPIRES_AT):
 * a binding grants only inside its window, judged by the decision itself at the time it
 * is asked; the reason names the window; every malformed window is a load error naming
 * the file, position and object, never a binding silently made permanent. Policies are
 * written with ' for ". */
#include <stdint.h>

#include "authz/authz_chain.h"
#include "authz/rbac/rbac.h"
#include "base/rfc3339.h"
#include "testlib.h"

static char *dq(const char *s)
{
    char *o = strdup(s);
    for (char *p = o; *p; p++)
        if (*p == '\'')
            *p = '"';
    return o;
}

/* Loads <json_sq> without bootstrap; the error text (or "") in *why when asked. */
static ag_rbac_t *load(const char *json_sq, const char **why)
{
    static char msg[1024];
    char *j = dq(json_sq);
    ag_rbac_opts_t o = {.bootstrap = false};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(4096);
    ag_err e = ag_rbac_load_mem(ag_str_cstr(j), "f.json", &o, &p, &err);
    snprintf(msg, sizeof msg, "%s", e ? (err.p ? err.p : "?") : "");
    if (why)
        *why = msg;
    else if (e)
        fprintf(stderr, "load failed: %s\n", msg), ag_test_failures++;
    ag_buf_dispose(&err);
    free(j);
    return p;
}

#define T0 1796679000000LL /* 2026-12-07T21:30:00Z */
#define ROLE                                                                                       \
    "{'kind':'ClusterRole','metadata':{'name':'r'},'rules':[{'verbs':['get'],'apiGroups':[''],'"   \
    "resources':['pods']}]}"
#define ANN(a) "'annotations':{" a "}"
#define CRB(ann)                                                                                   \
    "{'kind':'ClusterRoleBinding','metadata':{'name':'jit'," ann                                   \
    "},'roleRef':{'kind':'ClusterRole','name':'r'},'subjects':[{'kind':'User','name':'alice'}]}"
#define RB(ann)                                                                                    \
    "{'kind':'RoleBinding','metadata':{'name':'jit','namespace':'dev'," ann                        \
    "},'roleRef':{'kind':'ClusterRole','name':'r'},'subjects':[{'kind':'Group','name':'oncall'}]}"
#define LIST2(a, b) "{'kind':'List','items':[" a "," b "]}"
#define NBF(t) "'authgate.io/not-before':'" t "'"
#define EXP(t) "'authgate.io/expires-at':'" t "'"

static ag_authz_result judge(const ag_rbac_t *p, const char *ns, int64_t now,
                             ag_authz_decision_t *d)
{
    ag_str_t groups[] = {AG_STR("oncall")};
    ag_identity_t u = {.username = AG_STR("alice"), .groups = groups, .ngroups = 1};
    ag_attrs_t a = {.resource_request = true,
                    .verb = AG_STR("get"),
                    .resource = AG_STR("pods"),
                    .namespace_ = ag_str_cstr(ns)};
    return ag_rbac_eval_at(p, &u, &a, now, d);
}

static const char *reason(const ag_authz_decision_t *d)
{
    static char buf[1024];
    ag_buf_t b = AG_BUF_INIT(1024);
    ag_authz_reason(d, &b);
    snprintf(buf, sizeof buf, "%s", b.p ? b.p : "");
    ag_buf_dispose(&b);
    return buf;
}

TEST(rbac_window_grants_only_between_not_before_and_expires_at)
{
    ag_rbac_t *p = load(
        LIST2(ROLE, CRB(ANN(NBF("2026-12-07T21:30:00Z") "," EXP("2026-12-07T22:30:00Z")))), NULL);
    ag_authz_decision_t d;
    CHECK_EQ(judge(p, "", T0 - 1, &d), AG_AUTHZ_NO_OPINION);
    CHECK(d.outside_window);
    CHECK_EQ(judge(p, "", T0, &d), AG_AUTHZ_ALLOW); /* not-before is inclusive */
    CHECK(d.windowed && !d.outside_window);
    CHECK_EQ(judge(p, "", T0 + 3600000 - 1, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(judge(p, "", T0 + 3600000, &d), AG_AUTHZ_NO_OPINION); /* expires-at is exclusive */
    CHECK(d.outside_window);
    CHECK_EQ(judge(p, "", INT64_MAX - 1, &d), AG_AUTHZ_NO_OPINION);
    ag_rbac_stats_t st;
    ag_rbac_stats(p, &st);
    CHECK_EQ(st.time_bound, 1);
    ag_rbac_unref(p);
}

TEST(rbac_window_one_sided_and_rolebinding_windows)
{
    ag_rbac_t *p = load(LIST2(ROLE, RB(ANN(EXP("2026-12-07T21:30:00.5Z")))), NULL);
    ag_authz_decision_t d;
    CHECK_EQ(judge(p, "dev", INT64_MIN + 1, &d), AG_AUTHZ_ALLOW); /* no start: from ever */
    CHECK_EQ(judge(p, "dev", T0 + 499, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(judge(p, "dev", T0 + 500, &d), AG_AUTHZ_NO_OPINION);
    CHECK_EQ(judge(p, "other", T0, &d), AG_AUTHZ_NO_OPINION);
    CHECK(!d.outside_window); /* not in scope at all: nothing to name */
    ag_rbac_unref(p);
    p = load(LIST2(ROLE, CRB(ANN(NBF("2026-12-07T23:30:00+02:00")))), NULL);
    CHECK_EQ(judge(p, "", T0 - 1, &d), AG_AUTHZ_NO_OPINION);
    CHECK_EQ(judge(p, "", T0, &d), AG_AUTHZ_ALLOW);
    CHECK_EQ(judge(p, "", INT64_MAX - 1, &d), AG_AUTHZ_ALLOW); /* no end: forever after */
    ag_rbac_unref(p);
}

/* A lapsed grant does not stop a later permanent grant from allowing; the decision names
 * the one that allowed, and a denial names the lapsed one and its window. */
TEST(rbac_window_reason_names_the_window_and_the_lapse)
{
    ag_rbac_t *p = load(
        LIST2(ROLE, CRB(ANN(NBF("2026-12-07T21:30:00Z") "," EXP("2026-12-07T22:30:00Z")))), NULL);
    ag_authz_decision_t d;
    judge(p, "", T0 + 1000, &d);
    CHECK_STREQ(reason(&d),
                "RBAC: allowed by ClusterRoleBinding \"jit\" of ClusterRole \"r\" to User "
                "\"alice\", time-bound from 2026-12-07T21:30:00Z until 2026-12-07T22:30:00Z");
    judge(p, "", T0 + 3600000, &d);
    CHECK_STREQ(reason(&d),
                "RBAC: outside the validity window of ClusterRoleBinding \"jit\" of "
                "ClusterRole \"r\" to User \"alice\", time-bound from 2026-12-07T21:30:00Z "
                "until 2026-12-07T22:30:00Z (expired at 2026-12-07T22:30:00Z)");
    judge(p, "", T0 - 1, &d);
    CHECK(strstr(reason(&d), "(not yet valid, starts at 2026-12-07T21:30:00Z)") != NULL);
    ag_rbac_unref(p);
    /* the same grant permanently through a group: allowed after the lapse, plain reason */
    p = load(
        "{'kind':'List','items':[" ROLE "," CRB(ANN(
            EXP("2026-12-07T21:30:00Z"))) ","
                                          "{'kind':'RoleBinding','metadata':{'name':'perm','"
                                          "namespace':'dev'},'roleRef':{'kind':'ClusterRole','name'"
                                          ":'r'},'subjects':[{'kind':'Group','name':'oncall'}]}]}",
        NULL);
    CHECK_EQ(judge(p, "dev", T0 + 1, &d), AG_AUTHZ_ALLOW);
    CHECK(!d.windowed && !d.outside_window);
    CHECK_STREQ(
        reason(&d),
        "RBAC: allowed by RoleBinding \"perm/dev\" of ClusterRole \"r\" to Group \"oncall\"");
    ag_rbac_unref(p);
}

TEST(rbac_window_next_boundary_walks_every_start_and_end)
{
    ag_rbac_t *p =
        load("{'kind':'List','items':[" ROLE "," CRB(ANN(NBF("2026-12-07T21:30:00Z") "," EXP(
                 "2026-12-07T22:30:00Z"))) "," RB(ANN(EXP("2026-12-07T22:00:00Z"))) "]}",
             NULL);
    CHECK_EQ(ag_rbac_next_boundary(p, 0), T0);
    CHECK_EQ(ag_rbac_next_boundary(p, T0 - 1), T0);
    CHECK_EQ(ag_rbac_next_boundary(p, T0), T0 + 1800000); /* strictly after */
    CHECK_EQ(ag_rbac_next_boundary(p, T0 + 1800000), T0 + 3600000);
    CHECK_EQ(ag_rbac_next_boundary(p, T0 + 3600000), INT64_MAX);
    ag_rbac_unref(p);
    p = load(LIST2(ROLE, CRB("'labels':{}")), NULL);
    CHECK_EQ(ag_rbac_next_boundary(p, 0), INT64_MAX);
    ag_rbac_unref(p);
}

/* The clock decides when no time is given: a window that ended a second ago refuses, one
 * around now allows. */
TEST(rbac_window_eval_reads_the_clock)
{
    char json[2048], a[AG_RFC3339_BUF], b[AG_RFC3339_BUF];
    int64_t now = ag_rbac_now_ms();
    CHECK(now > T0 - 86400000LL * 3650); /* a sane wall clock */
    for (int lapsed = 0; lapsed < 2; lapsed++) {
        ag_rfc3339_format_ms(now - 60000, a);
        ag_rfc3339_format_ms(lapsed ? now - 1000 : now + 60000, b);
        snprintf(
            json, sizeof json,
            LIST2(ROLE, CRB(ANN("'authgate.io/not-before':'%s','authgate.io/expires-at':'%s'"))), a,
            b);
        ag_rbac_t *p = load(json, NULL);
        ag_str_t groups[] = {AG_STR("oncall")};
        ag_identity_t u = {.username = AG_STR("alice"), .groups = groups, .ngroups = 1};
        ag_attrs_t at = {
            .resource_request = true, .verb = AG_STR("get"), .resource = AG_STR("pods")};
        ag_authz_decision_t d;
        CHECK_EQ(ag_rbac_eval(p, &u, &at, &d), lapsed ? AG_AUTHZ_NO_OPINION : AG_AUTHZ_ALLOW);
        CHECK(d.judged_at >= now);
        ag_rbac_unref(p);
    }
}

TEST(rbac_window_malformed_windows_are_load_errors_naming_the_object)
{
    static const struct {
        const char *json, *want;
    } rows[] = {
        {LIST2(ROLE, CRB(ANN(EXP("tomorrow")))),
         "f.json:1:232: ClusterRoleBinding \"jit\": "
         "metadata.annotations[\"authgate.io/expires-at\"]: "
         "\"tomorrow\" is not an RFC 3339 time (e.g. 2026-12-07T21:30:00Z)"},
        {LIST2(ROLE, RB(ANN(NBF("2026-12-07T21:30:00")))),
         "RoleBinding \"jit\" in namespace \"dev\": "
         "metadata.annotations[\"authgate.io/not-before\"]: "
         "\"2026-12-07T21:30:00\" is not an RFC 3339 time"},
        {LIST2(ROLE, CRB(ANN(EXP("")))), "\"\" is not an RFC 3339 time"},
        {LIST2(ROLE, CRB(ANN("'authgate.io/expires-at':1796679000"))),
         "[\"authgate.io/expires-at\"]: must be a string"},
        {LIST2(ROLE, CRB(ANN("'authgate.io/expires-at':null"))), "must be a string"},
        {LIST2(ROLE, CRB(ANN("'authgate.io/expire-at':'2026-12-07T21:30:00Z'"))),
         "[\"authgate.io/expire-at\"]: unknown annotation (expected authgate.io/not-before or "
         "authgate.io/expires-at)"},
        {LIST2(ROLE, CRB(ANN(NBF("2026-12-07T22:30:00Z") "," EXP("2026-12-07T21:30:00Z")))),
         "[\"authgate.io/expires-at\"]: must be later than authgate.io/not-before (the window is "
         "empty)"},
        {LIST2(ROLE, CRB(ANN(NBF("2026-12-07T21:30:00Z") "," EXP("2026-12-07T21:30:00Z")))),
         "the window is empty"},
        {LIST2(ROLE, CRB("'annotations':'x'")),
         "metadata.annotations: must be an object of strings"},
        {LIST2("{'kind':'ClusterRole','metadata':{'name':'r','annotations':{'authgate.io/"
               "expires-at':'2026-12-07T21:30:00Z'}},'rules':[]}",
               CRB("'labels':{}")),
         "ClusterRole \"r\": metadata.annotations[\"authgate.io/expires-at\"]: a validity window "
         "applies to RoleBindings and ClusterRoleBindings only"},
        {LIST2(ROLE, CRB(ANN(EXP("2026-12-07T21:30:00Z\\n\\u0000")))),
         "\"2026-12-07T21:30:00Z??\" is not an RFC 3339 time"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *e;
        ag_rbac_t *p = load(rows[i].json, &e);
        if (p || !strstr(e, rows[i].want) || strncmp(e, "f.json:1:", 9) != 0) {
            fprintf(stderr, "  row %zu: got \"%s\", want \"%s\"\n", i, e, rows[i].want);
            CHECK(0);
        }
        ag_rbac_unref(p);
    }
    /* other annotations are nobody's business */
    const char *e;
    ag_rbac_t *p = load(
        LIST2(
            ROLE,
            CRB(ANN("'kubectl.kubernetes.io/last-applied-configuration':'{}','authgate.io':'x'"))),
        &e);
    CHECK_STREQ(e, "");
    ag_authz_decision_t d;
    CHECK_EQ(judge(p, "", T0, &d), AG_AUTHZ_ALLOW);
    CHECK(!d.windowed);
    ag_rbac_unref(p);
}
