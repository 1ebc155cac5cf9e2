/* The authorizer chain (authz_chain.h): routes each identity to Azure RBAC or Kubernetes
 * RBAC and combines their answers by the configured mode. No allocation, no I/O. */
#include "authz_chain.h"

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

ag_authz_result ag_authz_chain_eval(const ag_authz_chain_t *c, const ag_identity_t *user,
                                    const ag_attrs_t *a, ag_authz_decision_t *d)
{
    if (c->mode == AG_CHAIN_RBAC_ONLY || !ag_identity_is_azure(user))
        return ask_rbac(c, user, a, d);
    ag_authz_result r = ag_azrbac_eval(c->azure, user, a, d); /* NULL policy: fails closed */
    if (r != AG_AUTHZ_NO_OPINION)
        return r;
    if (c->mode == AG_CHAIN_AZURE_OR_RBAC) {
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
