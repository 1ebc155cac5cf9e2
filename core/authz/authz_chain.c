/* The authorizer chain (authz_chain.h): routes each identity to Azure RBAC or Kubernetes
 * RBAC and combines their answers by the configured mode. No allocation, no I/O. */
#include "authz/authz_chain.h"

static const char *const mode_names[] = {
    [AG_CHAIN_RBAC_ONLY] = "rbac",
    [AG_CHAIN_AZURE_THEN_RBAC] = "azure-then-rbac",
    [AG_CHAIN_AZURE_OR_RBAC] = "azure-or-rbac",
};

ag_err ag_chain_mode_parse(ag_str_t name, ag_chain_mode *out)
{
    for (int m = 0; m < (int)(sizeof mode_names / sizeof mode_names[0]); m++)
        if (ag_str_eq(name, ag_str_cstr(mode_names[m]))) {
            *out = (ag_chain_mode)m;
            return 0;
        }
    return AG_E_INVAL;
}

const char *ag_chain_mode_name(ag_chain_mode mode)
{
    if ((unsigned)mode < sizeof mode_names / sizeof mode_names[0])
        return mode_names[mode];
    return "?";
}

bool ag_identity_is_azure(const ag_identity_t *user)
{
    /* guard's first rule: system users (service accounts, nodes) are not Azure's */
    return (user->flags & AG_ID_AZURE_AD) &&
           !ag_str_istarts_with(user->username, AG_STR("system:"));
}

bool ag_identity_azure_from_extra(ag_identity_t *user)
{
    for (int i = 0; i < user->nextra; i++) {
        const ag_extra_t *x = &user->extra[i];
        if (!ag_str_eq_lit(x->key, "oid"))
            continue;
        user->flags |= AG_ID_AZURE_AD;
        user->oid = x->nvalues == 1 ? x->values[0] : AG_STR_NULL;
        return true;
    }
    return false;
}

static ag_authz_result ask_rbac(const ag_authz_chain_t *c, const ag_identity_t *user,
                                const ag_attrs_t *a, ag_authz_decision_t *d)
{
    ag_authz_decision_reset(d, AG_AUTHZ_NO_OPINION, AG_AUTHZ_BY_NONE);
    if (!c->rbac) {
        d->source = AG_AUTHZ_BY_RBAC;
        return d->result = AG_AUTHZ_NO_OPINION;
    }
    ag_rbac_eval_fn eval = c->rbac_eval ? c->rbac_eval : ag_rbac_eval;
    ag_authz_result r = eval(c->rbac, user, a, d);
    /* RBAC only grants; anything else it says is "not allowed here" */
    return d->result = r == AG_AUTHZ_ALLOW ? AG_AUTHZ_ALLOW : AG_AUTHZ_NO_OPINION;
}

/* A review of the caller's own access (kubectl auth can-i, can-i --list, whoami): kube-
 * apiserver grants these to every authenticated user (system:basic-user), and on AKS the
 * API server's RBAC does so whatever guard says; no Azure built-in role names them. */
static bool self_review(const ag_attrs_t *a)
{
    if (!a->resource_request || !ag_str_eq_lit(a->verb, "create") || a->subresource.n)
        return false;
    if (ag_str_eq_lit(a->api_group, "authorization.k8s.io"))
        return ag_str_eq_lit(a->resource, "selfsubjectaccessreviews") ||
               ag_str_eq_lit(a->resource, "selfsubjectrulesreviews");
    return ag_str_eq_lit(a->api_group, "authentication.k8s.io") &&
           ag_str_eq_lit(a->resource, "selfsubjectreviews");
}

ag_authz_result ag_authz_chain_eval(const ag_authz_chain_t *c, const ag_identity_t *user,
                                    const ag_attrs_t *a, ag_authz_decision_t *d)
{
    if (c->mode == AG_CHAIN_RBAC_ONLY || !ag_identity_is_azure(user))
        return ask_rbac(c, user, a, d);
    ag_authz_result r = ag_azrbac_eval(c->azure, user, a, d); /* NULL policy: fails closed */
    if (r != AG_AUTHZ_NO_OPINION)
        return r;
    if (c->mode == AG_CHAIN_AZURE_OR_RBAC || self_review(a)) {
        /* a separate decision: d keeps the Azure reason (it points into d->azure_buf) */
        ag_authz_decision_t rd;
        if (ask_rbac(c, user, a, &rd) == AG_AUTHZ_ALLOW) {
            *d = rd;
            return AG_AUTHZ_ALLOW;
        }
    }
    /* Azure's "not allowed" is final for Azure AD identities (guard answers Denied) */
    return d->result = AG_AUTHZ_DENY;
}

ag_authz_result ag_authz_chain_sar_decide(void *ctx, const ag_identity_t *user, const ag_attrs_t *a,
                                          ag_authz_decision_t *d)
{
    ag_identity_t u = *user; /* the review's identity, plus what extra["oid"] says */
    ag_identity_azure_from_extra(&u);
    return ag_authz_chain_eval((const ag_authz_chain_t *)ctx, &u, a, d);
}

static ag_err rbac_rules(const ag_authz_chain_t *c, const ag_identity_t *user, ag_str_t ns,
                         ag_rules_t *out)
{
    static const ag_str_t all[] = {AG_STR("*")};
    for (int g = 0; g < user->ngroups; g++)
        if (ag_str_eq_lit(user->groups[g], "system:masters")) {
            ag_rule_t res = {.verbs = {all, 1}, .groups = {all, 1}, .resources = {all, 1}};
            ag_rule_t url = {.verbs = {all, 1}, .urls = {all, 1}};
            ag_err err = ag_rules_add(out, &res);
            if (err || (err = ag_rules_add(out, &url)))
                return err;
            break;
        }
    return c->rbac ? ag_rbac_rules_for(c->rbac, user, ns, out) : 0;
}

/* Under AZURE_THEN_RBAC: the self-review creates RBAC grants <user> (self_review above). */
static ag_err self_review_rules(const ag_authz_chain_t *c, const ag_identity_t *user,
                                ag_rules_t *out)
{
    static const ag_str_t create[] = {AG_STR("create")},
                          groups[] = {AG_STR("authorization.k8s.io"),
                                      AG_STR("authorization.k8s.io"),
                                      AG_STR("authentication.k8s.io")},
                          res[] = {AG_STR("selfsubjectaccessreviews"),
                                   AG_STR("selfsubjectrulesreviews"), AG_STR("selfsubjectreviews")};
    ag_err err = 0;
    for (int i = 0; !err && c->rbac && i < 3; i++) {
        ag_attrs_t a = {.resource_request = true,
                        .verb = create[0],
                        .api_group = groups[i],
                        .resource = res[i]};
        ag_authz_decision_t d;
        ag_rule_t r = {.verbs = {create, 1}, .groups = {&groups[i], 1}, .resources = {&res[i], 1}};
        if (ask_rbac(c, user, &a, &d) == AG_AUTHZ_ALLOW)
            err = ag_rules_add(out, &r);
    }
    return err;
}

ag_err ag_authz_chain_rules(const ag_authz_chain_t *c, const ag_identity_t *user, ag_str_t ns,
                            ag_rules_t *out)
{
    if (c->mode == AG_CHAIN_RBAC_ONLY || !ag_identity_is_azure(user))
        return rbac_rules(c, user, ns, out);
    ag_err err = 0;
    if (!c->azure) /* no Azure snapshot: Azure AD users are denied everything */
        ag_rules_error(out, "Azure RBAC: no role assignments are loaded");
    else
        err = ag_azrbac_rules_for(c->azure, user, ns, out);
    if (!err)
        err = c->mode == AG_CHAIN_AZURE_OR_RBAC ? rbac_rules(c, user, ns, out)
                                                : self_review_rules(c, user, out);
    return err;
}

ag_err ag_authz_reason(const ag_authz_decision_t *d, ag_buf_t *out)
{
    if (d->source == AG_AUTHZ_BY_AZURE)
        return ag_azrbac_reason(d, out);
    if (d->source == AG_AUTHZ_BY_RBAC)
        return ag_rbac_reason(d, out);
    if (d->result == AG_AUTHZ_ALLOW && d->source == AG_AUTHZ_BY_SUPERUSER)
        return ag_buf_append_cstr(out, "allowed: user is in group \"system:masters\"");
    return d->error ? ag_buf_append_cstr(out, d->error) : 0;
}
