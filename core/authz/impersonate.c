/* Client impersonation (impersonate.h), following the API server's impersonation filter
 * (staging/src/k8s.io/apiserver/pkg/endpoints/filters/impersonation.go) as the reference
 * describes it in §7. */
#include "authz/impersonate.h"

#include <string.h>

/* Extra keys: lower-cased, then percent-decoded; a bad escape keeps the lower-cased text
 * (url.PathUnescape failing, §7.1). */
static ag_str_t extra_key(ag_arena_t *arena, ag_str_t raw)
{
    char *low = ag_arena_alloc(arena, raw.n + 1), *dec = ag_arena_alloc(arena, raw.n + 1);
    size_t n = 0;
    if (!low || !dec)
        return AG_STR_NULL;
    for (size_t i = 0; i < raw.n; i++)
        low[i] = ag_ascii_lower(raw.p[i]);
    for (size_t i = 0; i < raw.n; i++) {
        if (low[i] != '%') {
            dec[n++] = low[i];
            continue;
        }
        int hi = i + 2 < raw.n ? ag_hex_digit(low[i + 1]) : -1;
        int lo = i + 2 < raw.n ? ag_hex_digit(low[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return ag_str_make(low, raw.n);
        dec[n++] = (char)(hi * 16 + lo);
        i += 2;
    }
    return ag_str_make(dec, n);
}

static ag_err refuse(const char **why, const char *msg)
{
    if (why)
        *why = msg;
    return AG_E_INVAL;
}

ag_err ag_impersonate_parse(const ag_header_t *hs, int nh, ag_arena_t *arena, ag_impersonate_t *im,
                            const char **why)
{
    static const ag_str_t pfx = AG_STR("impersonate-"), xpfx = AG_STR("impersonate-extra-");
    bool seen_user = false, seen_uid = false;
    memset(im, 0, sizeof *im);
    for (int i = 0; i < nh; i++) {
        ag_str_t n = hs[i].name, v = hs[i].value;
        if (!ag_str_istarts_with(n, pfx))
            continue;
        if (++im->total > AG_IMPERSONATE_MAX)
            return refuse(why, "too many impersonation headers");
        if (ag_str_ieq(n, AG_STR("impersonate-user"))) {
            if (seen_user)
                return refuse(why, "more than one Impersonate-User header");
            seen_user = true;
            im->user = v, im->has_user = v.n > 0;
        } else if (ag_str_ieq(n, AG_STR("impersonate-uid"))) {
            if (seen_uid)
                return refuse(why, "more than one Impersonate-Uid header");
            seen_uid = true;
            im->uid = v, im->has_uid = v.n > 0;
        } else if (ag_str_ieq(n, AG_STR("impersonate-group"))) {
            if (!v.n)
                return refuse(why, "empty Impersonate-Group header");
            im->groups[im->ngroups++] = v;
        } else if (ag_str_istarts_with(n, xpfx)) {
            ag_str_t k = extra_key(arena, ag_str_sub(n, xpfx.n, n.n));
            if (!k.p)
                return AG_E_NOMEM;
            if (!k.n)
                return refuse(why, "empty Impersonate-Extra- key");
            im->xkeys[im->nextra] = k;
            im->xvalues[im->nextra++] = v;
        }
    }
    if (!im->has_user && (im->ngroups || im->nextra || im->has_uid))
        return refuse(why, "requested impersonation of groups, extra or uid without "
                           "impersonating a user");
    return 0;
}

bool ag_impersonate_sa_name(ag_str_t user, ag_str_t *ns, ag_str_t *name)
{
    static const ag_str_t p = AG_STR("system:serviceaccount:");
    if (!ag_str_starts_with(user, p))
        return false;
    ag_str_t rest = ag_str_sub(user, p.n, user.n);
    size_t c = ag_str_find_char(rest, ':');
    if (c == 0 || c == rest.n || c + 1 == rest.n)
        return false;
    *ns = ag_str_sub(rest, 0, c);
    *name = ag_str_sub(rest, c + 1, rest.n);
    return ag_str_find_char(*name, ':') == name->n;
}

int ag_impersonate_nchecks(const ag_impersonate_t *im)
{
    return im->has_user ? 1 + im->ngroups + im->nextra + (im->has_uid ? 1 : 0) : 0;
}

void ag_impersonate_check(const ag_impersonate_t *im, int i, ag_attrs_t *a)
{
    static const ag_str_t authn = AG_STR("authentication.k8s.io");
    ag_str_t ns, name;
    *a = (ag_attrs_t){
        .resource_request = true, .verb = AG_STR("impersonate"), .api_prefix = AG_STR("apis")};
    if (i == 0) {
        if (ag_impersonate_sa_name(im->user, &ns, &name))
            a->resource = AG_STR("serviceaccounts"), a->namespace_ = ns, a->name = name;
        else
            a->resource = AG_STR("users"), a->name = im->user;
        a->api_prefix = AG_STR("api");
        return;
    }
    if (--i < im->ngroups) {
        a->resource = AG_STR("groups"), a->name = im->groups[i];
        a->api_prefix = AG_STR("api");
        return;
    }
    a->api_group = authn;
    if ((i -= im->ngroups) < im->nextra) {
        a->resource = AG_STR("userextras"), a->subresource = im->xkeys[i];
        a->name = im->xvalues[i];
        return;
    }
    a->resource = AG_STR("uids"), a->name = im->uid;
}

static bool has_group(const ag_str_t *gs, int n, const char *g)
{
    for (int i = 0; i < n; i++)
        if (ag_str_eq_lit(gs[i], g))
            return true;
    return false;
}

/* Extra values grouped by key in order of first appearance, packed per key into <xv>. */
static int group_extra(const ag_impersonate_t *im, ag_extra_t *xs, ag_str_t *xv)
{
    int nx = 0, nv = 0;
    for (int i = 0; i < im->nextra; i++) {
        int k = 0;
        while (k < nx && !ag_str_eq(xs[k].key, im->xkeys[i]))
            k++;
        if (k < nx)
            continue;
        xs[nx] = (ag_extra_t){.key = im->xkeys[i], .values = xv + nv};
        for (int j = i; j < im->nextra; j++)
            if (ag_str_eq(im->xkeys[j], im->xkeys[i]))
                xv[nv++] = im->xvalues[j];
        xs[nx].nvalues = (int)(xv + nv - xs[nx].values);
        nx++;
    }
    return nx;
}

ag_err ag_impersonate_identity(const ag_impersonate_t *im, ag_arena_t *arena, ag_identity_t **out)
{
    static const char sa_prefix[] = "system:serviceaccounts:";
    ag_identity_t *id = ag_arena_calloc(arena, sizeof *id);
    ag_str_t *gs = ag_arena_calloc(arena, sizeof *gs * (size_t)(im->ngroups + 3));
    ag_extra_t *xs = ag_arena_calloc(arena, sizeof *xs * (size_t)(im->nextra + 1));
    ag_str_t *xv = ag_arena_calloc(arena, sizeof *xv * (size_t)(im->nextra + 1));
    ag_str_t ns, name;
    int ng = 0;
    if (!id || !gs || !xs || !xv)
        return AG_E_NOMEM;
    id->username = im->user;
    id->uid = im->has_uid ? im->uid : AG_STR_NULL;
    for (int i = 0; i < im->ngroups; i++)
        gs[ng++] = im->groups[i];
    if (ag_impersonate_sa_name(im->user, &ns, &name)) {
        id->flags |= AG_ID_SERVICE_ACCOUNT;
        if (ng == 0) {
            size_t len = sizeof sa_prefix - 1 + ns.n;
            char *p = ag_arena_alloc(arena, len);
            if (!p)
                return AG_E_NOMEM;
            memcpy(p, sa_prefix, sizeof sa_prefix - 1);
            memcpy(p + sizeof sa_prefix - 1, ns.p, ns.n);
            gs[ng++] = AG_STR("system:serviceaccounts");
            gs[ng++] = ag_str_make(p, len);
        }
    }
    if (ag_str_eq_lit(im->user, "system:anonymous")) {
        id->flags |= AG_ID_ANONYMOUS;
        if (!has_group(gs, ng, "system:unauthenticated"))
            gs[ng++] = AG_STR("system:unauthenticated");
    } else if (!has_group(gs, ng, "system:authenticated") &&
               !has_group(gs, ng, "system:unauthenticated")) {
        gs[ng++] = AG_STR("system:authenticated");
    }
    id->groups = gs, id->ngroups = ng;
    id->extra = xs, id->nextra = group_extra(im, xs, xv);
    *out = id;
    return 0;
}
