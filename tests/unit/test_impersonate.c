/* core/authz/impersonate.c: the Impersonate-* headers as the API server reads them, the checks
 * they require (reference §7.2) and the resulting identity (§7.3, the examples there). */
#include "authz/impersonate.h"
#include "testlib.h"

#define H(n, v) ((ag_header_t){AG_STR(n), AG_STR(v), 0})

static ag_arena_t arena;
static ag_impersonate_t im;

static ag_err parse(const ag_header_t *hs, int n, const char **why)
{
    ag_arena_init(&arena, 0, 0);
    return ag_impersonate_parse(hs, n, &arena, &im, why);
}

static bool groups_are(const ag_identity_t *id, const char *const *want, int n)
{
    if (id->ngroups != n)
        return false;
    for (int i = 0; i < n; i++)
        if (!ag_str_eq_lit(id->groups[i], want[i]))
            return false;
    return true;
}

TEST(impersonate_no_headers_is_no_impersonation)
{
    ag_header_t hs[] = {H("Authorization", "Bearer x"), H("Impersonate-User", "")};
    CHECK_EQ(parse(hs, 2, NULL), 0);
    CHECK(!im.has_user); /* empty value: Header.Get gives "" = not requested */
    CHECK_EQ(ag_impersonate_nchecks(&im), 0);
    ag_arena_dispose(&arena);
}

TEST(impersonate_refuses_what_the_api_server_answers_400)
{
    const char *why = NULL;
    ag_header_t no_user[] = {H("Impersonate-Group", "g")};
    CHECK_EQ(parse(no_user, 1, &why), AG_E_INVAL);
    CHECK(why && strstr(why, "without impersonating a user"));
    ag_arena_dispose(&arena);
    ag_header_t uid_only[] = {H("impersonate-uid", "1")};
    CHECK_EQ(parse(uid_only, 1, &why), AG_E_INVAL);
    ag_arena_dispose(&arena);
    ag_header_t two[] = {H("Impersonate-User", "a"), H("IMPERSONATE-USER", "b")};
    CHECK_EQ(parse(two, 2, &why), AG_E_INVAL);
    ag_arena_dispose(&arena);
    ag_header_t empty_group[] = {H("Impersonate-User", "a"), H("Impersonate-Group", "")};
    CHECK_EQ(parse(empty_group, 2, &why), AG_E_INVAL);
    ag_arena_dispose(&arena);
    ag_header_t empty_key[] = {H("Impersonate-User", "a"), H("Impersonate-Extra-", "v")};
    CHECK_EQ(parse(empty_key, 2, &why), AG_E_INVAL);
    ag_arena_dispose(&arena);
    ag_header_t many[AG_IMPERSONATE_MAX + 1];
    many[0] = H("Impersonate-User", "a");
    for (int i = 1; i <= AG_IMPERSONATE_MAX; i++)
        many[i] = H("Impersonate-Group", "g");
    CHECK_EQ(parse(many, AG_IMPERSONATE_MAX, &why), 0);
    ag_arena_dispose(&arena);
    CHECK_EQ(parse(many, AG_IMPERSONATE_MAX + 1, &why), AG_E_INVAL);
    ag_arena_dispose(&arena);
}

TEST(impersonate_extra_keys_lowercase_then_unescape)
{
    ag_header_t hs[] = {H("Impersonate-User", "u"),
                        H("Impersonate-Extra-Example.com%2FScopes", "read"),
                        H("impersonate-extra-%E1%9B%84", "rune"),
                        H("Impersonate-Extra-Bad%zZ", "x"), H("Impersonate-Extra-Tail%4", "y")};
    CHECK_EQ(parse(hs, 5, NULL), 0);
    CHECK_EQ(im.nextra, 4);
    CHECK(ag_str_eq_lit(im.xkeys[0], "example.com/scopes"));
    CHECK(ag_str_eq_lit(im.xkeys[1], "\xe1\x9b\x84"));
    CHECK(ag_str_eq_lit(im.xkeys[2], "bad%zz")); /* decoding failed: lower-cased raw */
    CHECK(ag_str_eq_lit(im.xkeys[3], "tail%4"));
    CHECK(ag_str_eq_lit(im.xvalues[0], "read")); /* values verbatim */
    ag_arena_dispose(&arena);
}

TEST(impersonate_checks_follow_the_api_server_table)
{
    ag_header_t hs[] = {H("Impersonate-User", "system:serviceaccount:ns1:robot"),
                        H("Impersonate-Group", "g1"), H("Impersonate-Extra-Scopes", "read"),
                        H("Impersonate-Uid", "42")};
    CHECK_EQ(parse(hs, 4, NULL), 0);
    CHECK_EQ(ag_impersonate_nchecks(&im), 4);
    ag_attrs_t a;
    ag_impersonate_check(&im, 0, &a);
    CHECK(a.resource_request && ag_str_eq_lit(a.verb, "impersonate"));
    CHECK(ag_str_eq_lit(a.resource, "serviceaccounts") && ag_str_eq_lit(a.namespace_, "ns1") &&
          ag_str_eq_lit(a.name, "robot") && a.api_group.n == 0);
    ag_impersonate_check(&im, 1, &a);
    CHECK(ag_str_eq_lit(a.resource, "groups") && ag_str_eq_lit(a.name, "g1") &&
          a.namespace_.n == 0);
    ag_impersonate_check(&im, 2, &a);
    CHECK(ag_str_eq_lit(a.api_group, "authentication.k8s.io") &&
          ag_str_eq_lit(a.resource, "userextras") && ag_str_eq_lit(a.subresource, "scopes") &&
          ag_str_eq_lit(a.name, "read"));
    ag_impersonate_check(&im, 3, &a);
    CHECK(ag_str_eq_lit(a.api_group, "authentication.k8s.io") &&
          ag_str_eq_lit(a.resource, "uids") && ag_str_eq_lit(a.name, "42"));
    ag_arena_dispose(&arena);
    ag_header_t user[] = {H("Impersonate-User", "system:serviceaccount:ns1")}; /* not an SA */
    CHECK_EQ(parse(user, 1, NULL), 0);
    ag_impersonate_check(&im, 0, &a);
    CHECK(ag_str_eq_lit(a.resource, "users") && ag_str_eq_lit(a.name, "system:serviceaccount:ns1"));
    ag_arena_dispose(&arena);
}

TEST(impersonate_identity_matches_the_reference_examples)
{
    ag_identity_t *id = NULL;
    ag_header_t sa[] = {H("Impersonate-User", "system:serviceaccount:foo:default")};
    CHECK_EQ(parse(sa, 1, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    const char *sa_groups[] = {"system:serviceaccounts", "system:serviceaccounts:foo",
                               "system:authenticated"};
    CHECK(groups_are(id, sa_groups, 3));
    CHECK(id->flags & AG_ID_SERVICE_ACCOUNT);
    ag_arena_dispose(&arena);

    ag_header_t tester[] = {H("Impersonate-User", "tester")};
    CHECK_EQ(parse(tester, 1, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    const char *t_groups[] = {"system:authenticated"};
    CHECK(groups_are(id, t_groups, 1));
    CHECK_EQ(id->uid.n, 0);
    CHECK_EQ(id->nextra, 0);
    ag_arena_dispose(&arena);

    ag_header_t kept[] = {H("Impersonate-User", "x"), H("Impersonate-Group", "some-group"),
                          H("Impersonate-Group", "system:authenticated")};
    CHECK_EQ(parse(kept, 3, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    const char *k_groups[] = {"some-group", "system:authenticated"};
    CHECK(groups_are(id, k_groups, 2));
    ag_arena_dispose(&arena);

    ag_header_t unauth[] = {H("Impersonate-User", "unknown"),
                            H("Impersonate-Group", "system:unauthenticated")};
    CHECK_EQ(parse(unauth, 2, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    const char *u_groups[] = {"system:unauthenticated"};
    CHECK(groups_are(id, u_groups, 1));
    ag_arena_dispose(&arena);

    ag_header_t anon[] = {H("Impersonate-User", "system:anonymous")};
    CHECK_EQ(parse(anon, 1, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    CHECK(groups_are(id, u_groups, 1));
    CHECK(id->flags & AG_ID_ANONYMOUS);
    ag_arena_dispose(&arena);

    /* SA with explicit groups: exactly those (+ system:authenticated) */
    ag_header_t sag[] = {H("Impersonate-User", "system:serviceaccount:foo:default"),
                         H("Impersonate-Group", "g")};
    CHECK_EQ(parse(sag, 2, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    const char *sg[] = {"g", "system:authenticated"};
    CHECK(groups_are(id, sg, 2));
    ag_arena_dispose(&arena);
}

TEST(impersonate_identity_groups_extra_values_by_key)
{
    ag_identity_t *id = NULL;
    ag_header_t hs[] = {H("Impersonate-User", "u"), H("Impersonate-Uid", "7"),
                        H("Impersonate-Extra-A", "1"), H("Impersonate-Extra-B", "2"),
                        H("Impersonate-Extra-a", "3")};
    CHECK_EQ(parse(hs, 5, NULL), 0);
    CHECK_EQ(ag_impersonate_identity(&im, &arena, &id), 0);
    CHECK(ag_str_eq_lit(id->uid, "7"));
    CHECK_EQ(id->nextra, 2);
    CHECK(ag_str_eq_lit(id->extra[0].key, "a") && id->extra[0].nvalues == 2);
    CHECK(ag_str_eq_lit(id->extra[0].values[1], "3"));
    CHECK(ag_str_eq_lit(id->extra[1].key, "b") && id->extra[1].nvalues == 1);
    ag_arena_dispose(&arena);
}
