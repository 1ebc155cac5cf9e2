/* Tests for the webhooks listener's caller allow-list (proxy/review/webhook_callers.c): a
 * listed CN becomes the caller with its O values and system:authenticated as groups, an
 * unlisted CN is refused with 403, no (verified) certificate with 401; an empty list takes
 * any verified certificate. */
#include <stdio.h>

#include "review/webhook_callers.h"
#include "testlib.h"

static const ag_str_t cns[] = {AG_STR("kube-apiserver"), AG_STR("other-caller")};
static ag_arena_t arena;

/* The decision of <wc> for a certificate with <cn> (and <org> when not NULL). */
static int call(const ag_webhook_callers_t *wc, const char *cn, const char *org, bool verified,
                ag_identity_t *id)
{
    ag_tls_peer_t p = {.verified = verified};
    snprintf(p.cn, sizeof p.cn, "%s", cn);
    if (org) {
        snprintf(p.orgs[0], sizeof p.orgs[0], "%s", org);
        p.norgs = 1;
    }
    ag_arena_dispose(&arena);
    ag_arena_init(&arena, 0, 0);
    return ag_webhook_caller(wc, &p, &arena, id);
}

TEST(webhook_callers_allow_a_listed_cn_as_its_certificate_says)
{
    ag_webhook_callers_t wc;
    ag_webhook_callers_init(&wc, cns, 2);
    ag_identity_t id = {0};
    CHECK_EQ(call(&wc, "kube-apiserver", "system:masters", true, &id), 0);
    CHECK(ag_str_eq(id.username, AG_STR("kube-apiserver")));
    CHECK_EQ(id.ngroups, 2);
    CHECK(ag_str_eq(id.groups[0], AG_STR("system:masters")));
    CHECK(ag_str_eq(id.groups[1], AG_STR("system:authenticated")));
    CHECK_EQ(call(&wc, "other-caller", NULL, true, &id), 0);
    ag_arena_dispose(&arena);
}

TEST(webhook_callers_refuse_an_unknown_cn_and_no_certificate)
{
    ag_webhook_callers_t wc;
    ag_webhook_callers_init(&wc, cns, 2);
    ag_identity_t id = {0};
    CHECK_EQ(call(&wc, "kube-apiserver-x", NULL, true, &id), 403);
    CHECK_EQ(call(&wc, "kube", NULL, true, &id), 403); /* a prefix is not the name */
    CHECK_EQ(call(&wc, "kube-apiserver", NULL, false, &id), 401);
    CHECK_EQ(call(&wc, "", NULL, true, &id), 401);
    CHECK_EQ(call(NULL, "kube-apiserver", NULL, true, &id), 401);
    CHECK_EQ(ag_webhook_caller(&wc, NULL, &arena, &id), 401); /* no certificate */
    CHECK(id.username.n == 0);                                /* nothing filled on a refusal */
    ag_arena_dispose(&arena);
}

TEST(webhook_callers_without_a_list_take_any_verified_certificate)
{
    ag_webhook_callers_t wc;
    ag_webhook_callers_init(&wc, NULL, 0);
    ag_identity_t id = {0};
    CHECK_EQ(call(&wc, "anyone", NULL, true, &id), 0);
    CHECK(ag_str_eq(id.username, AG_STR("anyone")));
    CHECK_EQ(call(&wc, "anyone", NULL, false, &id), 401);
    ag_arena_dispose(&arena);
}
