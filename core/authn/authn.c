/* Authentication decisions (authn.h): the bearer header, the token checks in a fixed
 * order, and the claim-to-identity mappings of the three issuer types (OIDC as
 * kube-apiserver's OIDC authenticator, Azure AD as AKS/guard, service accounts as the
 * API server's SA authenticators). Everything lives in the request arena; the only
 * work outside it is mbedTLS's own bignum scratch memory. */
#include "authn/authn.h"

#include "authn/jwt.h"

/* ---- Authorization header ---------------------------------------------------------- */

/* token68 characters besides '=' (RFC 7235 §2.1): A-Z a-z 0-9 - . _ ~ + /. A table read
 * eight bytes a round, since every request scans a ~1 KB token here (the chain of
 * compares cost ~6.4k instructions a request). */
static const unsigned char token68_char[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static bool is_token68(ag_str_t t)
{
    const unsigned char *p = (const unsigned char *)t.p;
    const unsigned char *tc = token68_char;
    size_t i = 0;
    while (i + 8 <= t.n && (tc[p[i]] & tc[p[i + 1]] & tc[p[i + 2]] & tc[p[i + 3]] & tc[p[i + 4]] &
                            tc[p[i + 5]] & tc[p[i + 6]] & tc[p[i + 7]]))
        i += 8;
    while (i < t.n && tc[p[i]])
        i++;
    if (i == 0)
        return false;
    while (i < t.n && t.p[i] == '=') /* token68 may end in '=' padding only */
        i++;
    return i == t.n;
}

ag_authn_result ag_authn_bearer(const ag_str_t *values, int nvalues, ag_str_t *token)
{
    static const ag_str_t scheme = AG_STR("Bearer ");
    if (nvalues <= 0)
        return AG_AUTHN_NO_CREDENTIALS;
    /* Two Authorization fields could be read two ways by us and an intermediary. */
    if (nvalues != 1)
        return AG_AUTHN_BAD_AUTHORIZATION_HEADER;
    ag_str_t v = values[0];
    if (!ag_str_istarts_with(v, scheme)) /* auth-scheme is case-insensitive, RFC 7235 §2.1 */
        return AG_AUTHN_BAD_AUTHORIZATION_HEADER;
    ag_str_t t = ag_str_sub(v, scheme.n, v.n);
    if (!is_token68(t)) /* also rejects a second space, trailing junk, empty */
        return AG_AUTHN_BAD_AUTHORIZATION_HEADER;
    *token = t;
    return AG_AUTHN_OK;
}

/* ---- identity building ------------------------------------------------------------ */

#define MAX_EXTRA (AG_ISSUER_MAX_EXTRA + 8)

typedef struct {
    const ag_jwt_t *jwt;
    const ag_issuer_t *is;
    ag_arena_t *arena;
    ag_identity_t *id;
    ag_authn_info_t *info;
    ag_str_t *groups; /* arena, capacity gcap */
    int ngroups, gcap;
    ag_extra_t extra[MAX_EXTRA];
    int nextra;
} vctx;

static ag_json_ref claim(const vctx *v, const char *name)
{
    return ag_json_get(&v->jwt->payload, ag_json_root(&v->jwt->payload), name);
}

static ag_authn_result fail_claim(vctx *v, ag_authn_result r, const char *name)
{
    v->info->claim = ag_str_cstr(name);
    return r;
}

static ag_authn_result str_claim(vctx *v, const char *name, bool required, ag_str_t *out)
{
    ag_authn_result r = ag_jwt_claim_str(v->jwt, name, v->arena, out);
    if (r == AG_AUTHN_MISSING_CLAIM && !required) {
        *out = AG_STR_NULL;
        return AG_AUTHN_OK;
    }
    return r == AG_AUTHN_OK ? r : fail_claim(v, r, name);
}

static ag_str_t join(ag_arena_t *a, ag_str_t x, ag_str_t y)
{
    char *p = x.p ? ag_arena_alloc(a, x.n + y.n + 1) : NULL; /* x.p NULL: a failed join */
    if (!p)
        return AG_STR_NULL;
    if (x.n)
        memcpy(p, x.p, x.n);
    if (y.n)
        memcpy(p + x.n, y.p, y.n);
    p[x.n + y.n] = '\0';
    return ag_str_make(p, x.n + y.n);
}

static ag_authn_result reserve_groups(vctx *v, int more)
{
    if (v->ngroups + more > AG_ISSUER_MAX_GROUPS + 4)
        return AG_AUTHN_TOO_MANY_GROUPS;
    if (v->ngroups + more <= v->gcap)
        return AG_AUTHN_OK;
    int cap = v->ngroups + more + 4;
    ag_str_t *g = ag_arena_alloc(v->arena, sizeof(*g) * (size_t)cap);
    if (!g)
        return AG_AUTHN_INTERNAL;
    if (v->ngroups)
        memcpy(g, v->groups, sizeof(*g) * (size_t)v->ngroups);
    v->groups = g;
    v->gcap = cap;
    return AG_AUTHN_OK;
}

static ag_authn_result add_group(vctx *v, ag_str_t g)
{
    ag_authn_result r = reserve_groups(v, 1);
    if (r == AG_AUTHN_OK)
        v->groups[v->ngroups++] = g;
    return r;
}

/* Claim <ref> that is a string or an array of strings -> arena slices, each prefixed. */
static ag_authn_result strings_of(vctx *v, ag_json_ref ref, ag_str_t prefix, int max,
                                  ag_str_t **out, int *n)
{
    const ag_json_t *d = &v->jwt->payload;
    ag_json_type t = ag_json_typeof(d, ref);
    int count = t == AG_JSON_ARRAY ? ag_json_count(d, ref) : 1;
    ag_json_ref e = t == AG_JSON_ARRAY ? ag_json_first(d, ref) : ref;
    if (t != AG_JSON_ARRAY && t != AG_JSON_STRING)
        return AG_AUTHN_BAD_CLAIM;
    if (count > max)
        return AG_AUTHN_TOO_MANY_GROUPS;
    ag_str_t *s = ag_arena_alloc(v->arena, sizeof(*s) * (size_t)(count + 1));
    if (!s)
        return AG_AUTHN_INTERNAL;
    for (int i = 0; i < count; i++, e = ag_json_next(d, e)) {
        ag_err err = ag_json_str(d, e, v->arena, &s[i]);
        if (err)
            return err == AG_E_NOMEM ? AG_AUTHN_INTERNAL : AG_AUTHN_BAD_CLAIM;
        if (prefix.n && !(s[i] = join(v->arena, prefix, s[i])).p)
            return AG_AUTHN_INTERNAL;
    }
    *out = s;
    *n = count;
    return AG_AUTHN_OK;
}

static ag_authn_result add_extra(vctx *v, ag_str_t key, const ag_str_t *vals, int n)
{
    if (v->nextra == MAX_EXTRA)
        return AG_AUTHN_INTERNAL;
    v->extra[v->nextra++] = (ag_extra_t){key, vals, n};
    return AG_AUTHN_OK;
}

static ag_authn_result add_extra1(vctx *v, const char *key, ag_str_t val)
{
    ag_str_t *one = ag_arena_alloc(v->arena, sizeof(*one));
    if (!one)
        return AG_AUTHN_INTERNAL;
    *one = val;
    return add_extra(v, ag_str_cstr(key), one, 1);
}

/* ---- time and audience ------------------------------------------------------------ */

static ag_authn_result check_times(vctx *v, long long now)
{
    long long exp = 0, nbf = 0, iat = 0, lee = v->is->leeway_s;
    ag_authn_result r = ag_jwt_claim_time(v->jwt, "exp", &exp);
    /* exp is required (legacy SA tokens never had one, as in the API server) */
    if (r != AG_AUTHN_OK && !(r == AG_AUTHN_MISSING_CLAIM && v->is->legacy_sa))
        return fail_claim(v, r, "exp");
    v->info->exp = exp;
    if (r == AG_AUTHN_OK && now >= exp + lee) /* RFC 7519 §4.1.4 */
        return AG_AUTHN_EXPIRED;
    if ((r = ag_jwt_claim_time(v->jwt, "nbf", &nbf)) == AG_AUTHN_OK && now + lee < nbf)
        return AG_AUTHN_NOT_YET_VALID;
    if (r != AG_AUTHN_OK && r != AG_AUTHN_MISSING_CLAIM)
        return fail_claim(v, r, "nbf");
    if ((r = ag_jwt_claim_time(v->jwt, "iat", &iat)) == AG_AUTHN_OK && iat > now + lee)
        return AG_AUTHN_ISSUED_IN_FUTURE;
    if (r != AG_AUTHN_OK && r != AG_AUTHN_MISSING_CLAIM)
        return fail_claim(v, r, "iat");
    return AG_AUTHN_OK;
}

/* aud (string or array) must contain one of <want>; info->audiences gets the overlap. */
static ag_authn_result check_audience(vctx *v, const ag_str_t *want, int nwant)
{
    ag_json_ref aud = claim(v, "aud");
    const ag_str_t *toks = NULL;
    int ntok = 0, nmatch = 0;
    ag_authn_result r;
    if (aud == AG_JSON_NONE && v->is->legacy_sa) {
        /* Legacy SA tokens have no aud: they count as issued for the API server's own
         * audiences (§10), i.e. the issuer's configured ones. Requested audiences
         * (TokenReview) must intersect those. */
        if (want == v->is->audiences) {
            v->info->audiences = want;
            v->info->naudiences = nwant;
            return AG_AUTHN_OK;
        }
        toks = v->is->audiences;
        ntok = v->is->naudiences;
    } else if (aud == AG_JSON_NONE) {
        return fail_claim(v, AG_AUTHN_WRONG_AUDIENCE, "aud");
    } else if ((r = strings_of(v, aud, AG_STR_NULL, 256, (ag_str_t **)&toks, &ntok)) !=
               AG_AUTHN_OK) {
        return fail_claim(v, r == AG_AUTHN_TOO_MANY_GROUPS ? AG_AUTHN_BAD_CLAIM : r, "aud");
    }
    ag_str_t *match = ag_arena_alloc(v->arena, sizeof(*match) * (size_t)(nwant + 1));
    if (!match)
        return AG_AUTHN_INTERNAL;
    for (int i = 0; i < nwant; i++)
        for (int j = 0; j < ntok; j++)
            if (ag_str_eq(want[i], toks[j])) {
                match[nmatch++] = want[i];
                break;
            }
    if (nmatch == 0) {
        v->info->token_aud = toks;
        v->info->ntoken_aud = ntok;
        return AG_AUTHN_WRONG_AUDIENCE;
    }
    v->info->audiences = match;
    v->info->naudiences = nmatch;
    return AG_AUTHN_OK;
}

/* ---- OIDC ------------------------------------------------------------------------- */

static bool reserved(ag_str_t s)
{
    return ag_str_starts_with(s, AG_STR("system:"));
}

static ag_authn_result map_oidc(vctx *v)
{
    const ag_issuer_t *is = v->is;
    ag_str_t user, *vals;
    int n;
    ag_authn_result r;

    /* claim names in the issuer are NUL-terminated arena copies */
    if ((r = str_claim(v, is->username_claim.p, true, &user)) != AG_AUTHN_OK)
        return r;
    if (user.n == 0)
        return fail_claim(v, AG_AUTHN_BAD_CLAIM, is->username_claim.p);
    if (ag_str_eq_lit(is->username_claim, "email")) { /* OIDC Core §5.1; as the API server */
        ag_json_ref ev = claim(v, "email_verified");
        bool ok = false;
        if (ev != AG_JSON_NONE && (ag_json_bool(&v->jwt->payload, ev, &ok) != 0 || !ok))
            return fail_claim(v, AG_AUTHN_EMAIL_NOT_VERIFIED, "email_verified");
    }
    if (is->username_prefix.n && !(user = join(v->arena, is->username_prefix, user)).p)
        return AG_AUTHN_INTERNAL;
    v->id->username = user;
    if (reserved(user)) /* an IdP must not mint system: users (threat model #6) */
        return fail_claim(v, AG_AUTHN_RESERVED_PREFIX, is->username_claim.p);
    if (is->uid_claim.n && (r = str_claim(v, is->uid_claim.p, false, &v->id->uid)) != AG_AUTHN_OK)
        return r;
    ag_json_ref g = is->groups_claim.n ? claim(v, is->groups_claim.p) : AG_JSON_NONE;
    if (g != AG_JSON_NONE) {
        if ((r = strings_of(v, g, is->groups_prefix, AG_ISSUER_MAX_GROUPS, &vals, &n)) !=
            AG_AUTHN_OK)
            return fail_claim(v, r, is->groups_claim.p);
        for (int i = 0; i < n; i++) {
            if (reserved(vals[i]))
                return fail_claim(v, AG_AUTHN_RESERVED_PREFIX, is->groups_claim.p);
            if ((r = add_group(v, vals[i])) != AG_AUTHN_OK)
                return r;
        }
    }
    for (int i = 0; i < is->nextra; i++) {
        ag_json_ref e = claim(v, is->extra[i].claim.p);
        if (e == AG_JSON_NONE)
            continue;
        if ((r = strings_of(v, e, AG_STR_NULL, 64, &vals, &n)) != AG_AUTHN_OK)
            return fail_claim(v, r == AG_AUTHN_INTERNAL ? r : AG_AUTHN_BAD_CLAIM,
                              is->extra[i].claim.p);
        ag_str_t key = ag_arena_strdup(v->arena, is->extra[i].key); /* outlives reloads */
        if (!key.p)
            return AG_AUTHN_INTERNAL;
        if ((r = add_extra(v, key, vals, n)) != AG_AUTHN_OK)
            return r;
    }
    return AG_AUTHN_OK;
}

/* ---- Azure AD (azure-rbac.md §10-11) ---------------------------------------------- */

static ag_authn_result map_azure(vctx *v)
{
    ag_str_t tid, oid, upn, *vals;
    int n;
    ag_authn_result r;
    const ag_json_t *d = &v->jwt->payload;

    if ((r = str_claim(v, "tid", true, &tid)) != AG_AUTHN_OK)
        return r;
    if (!ag_str_eq(tid, v->is->tenant_id)) /* exact, single-tenant (§10.2) */
        return fail_claim(v, AG_AUTHN_WRONG_TENANT, "tid");
    if ((r = str_claim(v, "oid", true, &oid)) != AG_AUTHN_OK ||
        (r = str_claim(v, "upn", false, &upn)) != AG_AUTHN_OK)
        return r;
    if (oid.n == 0)
        return fail_claim(v, AG_AUTHN_BAD_CLAIM, "oid");
    v->id->username = upn.n ? upn : oid; /* guard: upn, else oid (service principals, v2) */
    if (reserved(v->id->username))
        return fail_claim(v, AG_AUTHN_RESERVED_PREFIX, upn.n ? "upn" : "oid");
    v->id->oid = oid;
    v->id->tid = tid;
    v->id->flags |= AG_ID_AZURE_AD;
    if ((r = add_extra1(v, "oid", oid)) != AG_AUTHN_OK)
        return r;
    ag_json_ref g = claim(v, "groups");
    if (g != AG_JSON_NONE) { /* groups present: use them, no Graph call (§11) */
        if (ag_json_typeof(d, g) != AG_JSON_ARRAY)
            return fail_claim(v, AG_AUTHN_BAD_CLAIM, "groups");
        if ((r = strings_of(v, g, AG_STR_NULL, AG_ISSUER_MAX_GROUPS, &vals, &n)) != AG_AUTHN_OK)
            return fail_claim(v, r, "groups");
        for (int i = 0; i < n; i++) {
            if (reserved(vals[i]))
                return fail_claim(v, AG_AUTHN_RESERVED_PREFIX, "groups");
            if ((r = add_group(v, vals[i])) != AG_AUTHN_OK)
                return r;
        }
        return AG_AUTHN_OK;
    }
    /* Overage: the groups are elsewhere; the proxy asks Graph by oid. The endpoint in
     * _claim_sources is never fetched (SSRF, threat model #37). */
    ag_json_ref names = claim(v, "_claim_names");
    bool has = false;
    if ((ag_json_typeof(d, names) == AG_JSON_OBJECT &&
         ag_json_get(d, names, "groups") != AG_JSON_NONE) ||
        (ag_json_bool(d, claim(v, "hasgroups"), &has) == 0 && has))
        v->id->flags |= AG_ID_GROUP_OVERAGE;
    return AG_AUTHN_OK;
}

/* ---- service accounts (kubernetes-authz.md §3, §10) ------------------------------- */

/* DNS-1123 label (namespace names) or, with <dots>, subdomain (SA names). */
static bool dns1123(ag_str_t s, bool dots)
{
    if (s.n == 0 || s.n > (dots ? 253u : 63u))
        return false;
    for (size_t i = 0; i < s.n; i++) {
        char c = s.p[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool edge = i == 0 || i + 1 == s.n || (dots && (s.p[i - 1] == '.' || s.p[i + 1] == '.'));
        if (!alnum && (edge || !(c == '-' || (dots && c == '.'))))
            return false;
    }
    return true;
}

/* Nested string member <a>.<b> of object <obj> (b may be NULL). */
static ag_authn_result member_str(vctx *v, ag_json_ref obj, const char *a, const char *b,
                                  ag_str_t *out)
{
    const ag_json_t *d = &v->jwt->payload;
    ag_json_ref r = ag_json_get(d, obj, a);
    if (b && r != AG_JSON_NONE)
        r = ag_json_get(d, r, b);
    if (r == AG_JSON_NONE) {
        *out = AG_STR_NULL;
        return AG_AUTHN_MISSING_CLAIM;
    }
    ag_err err = ag_json_str(d, r, v->arena, out);
    return err == AG_E_NOMEM ? AG_AUTHN_INTERNAL : err ? AG_AUTHN_BAD_CLAIM : AG_AUTHN_OK;
}

static ag_authn_result sa_identity(vctx *v, ag_str_t ns, ag_str_t name, ag_str_t uid)
{
    static const ag_str_t pre = AG_STR("system:serviceaccount:");
    ag_str_t sub;
    ag_authn_result r;
    if (!dns1123(ns, false) || !dns1123(name, true))
        return fail_claim(v, AG_AUTHN_BAD_CLAIM, "kubernetes.io");
    ag_str_t user = join(v->arena, join(v->arena, join(v->arena, pre, ns), AG_STR(":")), name);
    if (!user.p)
        return AG_AUTHN_INTERNAL;
    /* sub must name the same account as the private claims */
    if ((r = str_claim(v, "sub", v->is->legacy_sa, &sub)) != AG_AUTHN_OK)
        return r;
    if (sub.p && !ag_str_eq(sub, user))
        return fail_claim(v, AG_AUTHN_BAD_CLAIM, "sub");
    ag_str_t nsgroup = join(v->arena, AG_STR("system:serviceaccounts:"), ns);
    if (!nsgroup.p)
        return AG_AUTHN_INTERNAL;
    v->id->username = user;
    v->id->uid = uid;
    v->id->flags |= AG_ID_SERVICE_ACCOUNT;
    if ((r = add_group(v, AG_STR("system:serviceaccounts"))) != AG_AUTHN_OK)
        return r;
    return add_group(v, nsgroup);
}

static ag_authn_result map_sa_legacy(vctx *v)
{
    ag_json_ref root = ag_json_root(&v->jwt->payload);
    ag_str_t ns, name, uid, secret;
    ag_authn_result r;
    if ((r = member_str(v, root, "kubernetes.io/serviceaccount/namespace", NULL, &ns)) ||
        (r = member_str(v, root, "kubernetes.io/serviceaccount/secret.name", NULL, &secret)) ||
        (r = member_str(v, root, "kubernetes.io/serviceaccount/service-account.name", NULL,
                        &name)) ||
        (r = member_str(v, root, "kubernetes.io/serviceaccount/service-account.uid", NULL, &uid)))
        return fail_claim(v, r, "kubernetes.io/serviceaccount");
    if (secret.n == 0 || uid.n == 0)
        return fail_claim(v, AG_AUTHN_BAD_CLAIM, "kubernetes.io/serviceaccount");
    return sa_identity(v, ns, name, uid);
}

static ag_authn_result map_sa_bound(vctx *v)
{
    const ag_json_t *d = &v->jwt->payload;
    ag_json_ref k = claim(v, "kubernetes.io");
    ag_str_t ns, name, uid, pname, puid, nname, nuid, jti;
    ag_authn_result r;
    if (ag_json_typeof(d, k) != AG_JSON_OBJECT)
        return fail_claim(v, k == AG_JSON_NONE ? AG_AUTHN_MISSING_CLAIM : AG_AUTHN_BAD_CLAIM,
                          "kubernetes.io");
    if ((r = member_str(v, k, "namespace", NULL, &ns)) ||
        (r = member_str(v, k, "serviceaccount", "name", &name)) ||
        (r = member_str(v, k, "serviceaccount", "uid", &uid)))
        return fail_claim(v, r, "kubernetes.io");
    if (uid.n == 0 ||
        (ag_json_get(d, k, "pod") != AG_JSON_NONE && ag_json_get(d, k, "secret") != AG_JSON_NONE))
        return fail_claim(v, AG_AUTHN_BAD_CLAIM, "kubernetes.io"); /* at most one bound object */
    if ((r = sa_identity(v, ns, name, uid)) != AG_AUTHN_OK)
        return r;
    /* extra as the API server sets it (pkg/serviceaccount/claims.go) */
    static const struct {
        const char *obj, *field, *key;
    } ex[] = {
        {"pod", "name", "authentication.kubernetes.io/pod-name"},
        {"pod", "uid", "authentication.kubernetes.io/pod-uid"},
        {"node", "name", "authentication.kubernetes.io/node-name"},
        {"node", "uid", "authentication.kubernetes.io/node-uid"},
    };
    ag_str_t *vals[] = {&pname, &puid, &nname, &nuid};
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        r = member_str(v, k, ex[i].obj, ex[i].field, vals[i]);
        if (r == AG_AUTHN_MISSING_CLAIM)
            continue;
        if (r != AG_AUTHN_OK || (r = add_extra1(v, ex[i].key, *vals[i])) != AG_AUTHN_OK)
            return fail_claim(v, r, "kubernetes.io");
    }
    if ((r = str_claim(v, "jti", false, &jti)) != AG_AUTHN_OK)
        return r;
    if (jti.n) {
        ag_str_t cred = join(v->arena, AG_STR("JTI="), jti);
        if (!cred.p || (r = add_extra1(v, "authentication.kubernetes.io/credential-id", cred)))
            return cred.p ? r : AG_AUTHN_INTERNAL;
    }
    return AG_AUTHN_OK;
}

/* ---- final checks ------------------------------------------------------------------ */

static ag_authn_result check_required(vctx *v)
{
    for (int i = 0; i < v->is->nrequired; i++) {
        ag_str_t got;
        const ag_issuer_required_t *rq = &v->is->required[i];
        ag_authn_result r = ag_jwt_claim_str(v->jwt, rq->claim.p, v->arena, &got);
        if (r == AG_AUTHN_INTERNAL) /* never report (or cache) an OOM as a verdict */
            return r;
        if (r != AG_AUTHN_OK || !ag_str_eq(got, rq->value))
            return fail_claim(v, AG_AUTHN_REQUIRED_CLAIM_MISMATCH, rq->claim.p);
    }
    return AG_AUTHN_OK;
}

/* No control characters anywhere in an identity: names end up in Impersonate-* header
 * values, audit lines and logs (CR/LF/NUL injection, threat model #2). */
static bool clean(ag_str_t s)
{
    for (size_t i = 0; i < s.n; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

static ag_authn_result check_identity(const ag_identity_t *id)
{
    bool ok = clean(id->username) && clean(id->uid);
    for (int i = 0; ok && i < id->ngroups; i++)
        ok = clean(id->groups[i]);
    for (int i = 0; ok && i < id->nextra; i++)
        for (int j = 0; ok && j < id->extra[i].nvalues; j++)
            ok = clean(id->extra[i].values[j]);
    return ok ? AG_AUTHN_OK : AG_AUTHN_BAD_CLAIM;
}

static ag_authn_result finish(vctx *v)
{
    ag_authn_result r = add_group(v, AG_STR("system:authenticated"));
    if (r != AG_AUTHN_OK)
        return r;
    if (v->ngroups > AG_ISSUER_MAX_GROUPS + 1)
        return AG_AUTHN_TOO_MANY_GROUPS;
    ag_extra_t *ex = NULL;
    if (v->nextra) {
        if (!(ex = ag_arena_alloc(v->arena, sizeof(*ex) * (size_t)v->nextra)))
            return AG_AUTHN_INTERNAL;
        memcpy(ex, v->extra, sizeof(*ex) * (size_t)v->nextra);
    }
    v->id->groups = v->groups;
    v->id->ngroups = v->ngroups;
    v->id->extra = ex;
    v->id->nextra = v->nextra;
    return check_identity(v->id);
}

/* ---- verification ------------------------------------------------------------------ */

/* Entra ID v2 keys carry the issuer they sign for, "{tenantid}" standing for any tenant
 * (azure-rbac.md §10.2: honour it for v2). A key published for another issuer must not
 * vouch for ours. v1 metadata keys have no such member. */
static bool key_issuer_ok(const ag_issuer_t *is, const ag_jwk_t *k)
{
    static const ag_str_t v2 = AG_STR("/v2.0"), tmpl = AG_STR("{tenantid}");
    ag_str_t ki = ag_jwk_issuer(k), url = is->url;
    if (is->type != AG_ISSUER_AZURE_AD || ki.n == 0 || url.n < v2.n ||
        !ag_str_eq(ag_str_sub(url, url.n - v2.n, v2.n), v2))
        return true;
    const char *t = memmem(ki.p, ki.n, tmpl.p, tmpl.n);
    if (!t)
        return ag_str_eq(ki, url);
    size_t pre = (size_t)(t - ki.p), post = ki.n - pre - tmpl.n;
    /* url == ki[:pre] + tenant_id + ki[pre+len:] */
    return url.n == pre + is->tenant_id.n + post && memcmp(url.p, ki.p, pre) == 0 &&
           ag_str_eq(ag_str_sub(url, pre, is->tenant_id.n), is->tenant_id) &&
           memcmp(url.p + url.n - post, t + tmpl.n, post) == 0;
}

/* Everything after the signature: times, audience, the issuer type's mapping, required
 * claims, and the final identity checks. */
static ag_authn_result check_claims(vctx *v, const ag_str_t *auds, int naud, long long now)
{
    ag_authn_result r;
    if (naud <= 0) {
        auds = v->is->audiences;
        naud = v->is->naudiences;
    }
    if ((r = check_times(v, now)) || (r = check_audience(v, auds, naud)))
        return r;
    if (v->is->type == AG_ISSUER_AZURE_AD)
        r = map_azure(v);
    else if (v->is->type == AG_ISSUER_KUBERNETES_SA)
        r = v->is->legacy_sa ? map_sa_legacy(v) : map_sa_bound(v);
    else
        r = map_oidc(v);
    if (r || (r = check_required(v)))
        return r;
    return finish(v);
}

static ag_authn_result verify(vctx *v, const ag_issuer_set_t *issuers, ag_keys_fn keys,
                              void *keys_ctx, ag_str_t token, const ag_str_t *auds, int naud,
                              long long now)
{
    ag_jwt_t jwt;
    ag_authn_result r;
    ag_str_t iss;

    if ((r = ag_jwt_parse(token, (size_t)ag_issuer_set_max_token(issuers), v->arena, &jwt)))
        return r;
    v->jwt = &jwt;
    v->info->alg = jwt.alg;
    v->info->kid = jwt.kid;
    if ((r = str_claim(v, "iss", true, &iss)) != AG_AUTHN_OK)
        return r;
    v->info->iss = iss;
    if (ag_jwt_claim_str(&jwt, "sub", v->arena, &v->info->sub) != AG_AUTHN_OK)
        v->info->sub = AG_STR_NULL; /* for logs only; mappings check it themselves */
    if (!(v->is = ag_issuer_find(issuers, iss)))
        return AG_AUTHN_UNKNOWN_ISSUER; /* chosen by the unverified iss; the key proves it */
    v->info->issuer = v->is;
    if ((long long)token.n > v->is->max_token_bytes)
        return AG_AUTHN_TOO_LARGE;
    if (!(v->is->algorithms & (1u << jwt.alg))) /* the issuer's allow-list (threat model #33) */
        return AG_AUTHN_UNSUPPORTED_ALG;
    const ag_jwks_t *ks = keys ? keys(keys_ctx, v->is) : NULL;
    if (!ks)
        ks = v->is->static_keys;
    if (!ks || ag_jwks_count(ks) == 0)
        return AG_AUTHN_NO_KEYS;
    const ag_jwk_t *key = NULL;
    if ((r = ag_jwt_verify_keys(&jwt, ks, &key)) != AG_AUTHN_OK)
        return r;
    if (!key_issuer_ok(v->is, key))
        return AG_AUTHN_KEY_ISSUER_MISMATCH;
    return check_claims(v, auds, naud, now);
}

static void vctx_init(vctx *v, ag_arena_t *arena, ag_identity_t *id, ag_authn_info_t *info,
                      ag_authn_info_t *scratch)
{
    memset(v, 0, sizeof(*v));
    v->arena = arena;
    v->id = id;
    v->info = info ? info : scratch;
    memset(v->info, 0, sizeof(*v->info));
    memset(id, 0, sizeof(*id));
}

ag_authn_result ag_authn_verify_audiences(const ag_issuer_set_t *issuers, ag_keys_fn keys,
                                          void *keys_ctx, ag_str_t token, const ag_str_t *audiences,
                                          int naudiences, long long now, ag_arena_t *arena,
                                          ag_identity_t *id, ag_authn_info_t *info)
{
    ag_authn_info_t scratch;
    vctx v;
    vctx_init(&v, arena, id, info, &scratch);
    ag_authn_result r = ag_issuer_count(issuers) > 0
                            ? verify(&v, issuers, keys, keys_ctx, token, audiences, naudiences, now)
                            : AG_AUTHN_UNKNOWN_ISSUER; /* no issuers: no token is ours */
    if (r != AG_AUTHN_OK)
        memset(id, 0, sizeof(*id)); /* fail closed: no half-built identity escapes */
    return r;
}

ag_authn_result ag_authn_check_claims(const ag_issuer_t *is, const struct ag_jwt *jwt,
                                      const ag_str_t *audiences, int naudiences, long long now,
                                      ag_arena_t *arena, ag_identity_t *id, ag_authn_info_t *info)
{
    ag_authn_info_t scratch;
    vctx v;
    vctx_init(&v, arena, id, info, &scratch);
    v.jwt = jwt;
    v.is = is;
    v.info->issuer = is;
    ag_authn_result r = check_claims(&v, audiences, naudiences, now);
    if (r != AG_AUTHN_OK)
        memset(id, 0, sizeof(*id));
    return r;
}

ag_authn_result ag_authn_verify(const ag_issuer_set_t *issuers, ag_keys_fn keys, void *keys_ctx,
                                ag_str_t token, long long now, ag_arena_t *arena, ag_identity_t *id,
                                ag_authn_info_t *info)
{
    return ag_authn_verify_audiences(issuers, keys, keys_ctx, token, NULL, 0, now, arena, id, info);
}

/* ---- certificates and anonymous ---------------------------------------------------- */

ag_err ag_authn_from_cert(ag_str_t cn, const ag_str_t *orgs, int norgs, ag_arena_t *arena,
                          ag_identity_t *id)
{
    memset(id, 0, sizeof(*id));
    if (cn.n == 0 || !clean(cn) || norgs < 0 || norgs > AG_ISSUER_MAX_GROUPS)
        return AG_E_INVAL;
    ag_str_t *g = ag_arena_alloc(arena, sizeof(*g) * (size_t)(norgs + 1));
    if (!g)
        return AG_E_NOMEM;
    for (int i = 0; i < norgs; i++) {
        if (!clean(orgs[i]))
            return AG_E_INVAL;
        if (!(g[i] = ag_arena_strdup(arena, orgs[i])).p)
            return AG_E_NOMEM;
    }
    g[norgs] = AG_STR("system:authenticated");
    if (!(id->username = ag_arena_strdup(arena, cn)).p)
        return AG_E_NOMEM;
    id->groups = g;
    id->ngroups = norgs + 1;
    id->flags = AG_ID_CLIENT_CERT;
    return 0;
}

void ag_authn_anonymous(ag_identity_t *id)
{
    static const ag_str_t groups[] = {AG_STR("system:unauthenticated")};
    memset(id, 0, sizeof(*id));
    id->username = AG_STR("system:anonymous");
    id->groups = groups;
    id->ngroups = 1;
    id->flags = AG_ID_ANONYMOUS;
}
