/* Who decides a request (step 5 of its path): Azure RBAC for Azure AD identities,
 * Kubernetes RBAC for everyone else (service accounts, client certificates, `system:`
 * users), as AKS does with "Azure RBAC for Kubernetes Authorization" (spec §9, §13.1).
 * Used by the proxy path, the SubjectAccessReview webhook and `authgate check`.
 *
 * Owns nothing: the chain borrows the two policy snapshots (the caller holds a reference
 * for as long as it evaluates). Never decides by itself: it only routes and combines. */
#ifndef AG_AUTHZ_CHAIN_H
#define AG_AUTHZ_CHAIN_H

#include <stdbool.h>

#include "authn/identity.h"
#include "authz/authz.h"
#include "authz/azure/azrbac.h"
#include "authz/rbac/rbac.h"
#include "base/err.h"

typedef enum {
    AG_CHAIN_RBAC_ONLY = 0,   /* Kubernetes RBAC for everyone (Azure assignments ignored) */
    AG_CHAIN_AZURE_THEN_RBAC, /* Azure decides for Azure AD identities, RBAC for the rest */
    AG_CHAIN_AZURE_OR_RBAC,   /* also let RBAC allow Azure AD identities ("team with") */
} ag_chain_mode;

/* The RBAC decision function; tests inject their own, NULL means ag_rbac_eval. */
typedef ag_authz_result (*ag_rbac_eval_fn)(const ag_rbac_t *p, const ag_identity_t *user,
                                           const ag_attrs_t *a, ag_authz_decision_t *d);

typedef struct {
    ag_chain_mode mode;
    const ag_rbac_t *rbac;     /* borrowed; NULL: RBAC grants nothing */
    const ag_azrbac_t *azure;  /* borrowed; NULL with an Azure mode: Azure AD users denied */
    ag_rbac_eval_fn rbac_eval; /* NULL: ag_rbac_eval */
} ag_authz_chain_t;

/* Decides <a> for <user>:
 * - RBAC_ONLY, or a non-Azure-AD identity: whatever Kubernetes RBAC says (ALLOW or
 *   NO_OPINION; the caller answers 403 / the SAR leaves it to other authorizers).
 * - AZURE_THEN_RBAC and an Azure AD identity: Azure RBAC's verdict is final: ALLOW, or
 *   DENY naming the data action no assignment grants (the SAR answers denied: true, as
 *   guard does) or the deny assignment that blocked it. Kubernetes RBAC is not asked,
 *   except for a create of the caller's own reviews (selfsubjectaccessreviews,
 *   selfsubjectrulesreviews, selfsubjectreviews), which RBAC's system:basic-user grants
 *   to every authenticated user as on AKS.
 * - AZURE_OR_RBAC and an Azure AD identity: as above, except that when no assignment
 *   grants it, an RBAC allow allows. A deny assignment (or an evaluation error) still
 *   denies: deny wins.
 * An identity is Azure AD when flags has AG_ID_AZURE_AD and its username does not start
 * with "system:" (guard leaves system users to other authorizers). At the SAR webhook,
 * call ag_identity_azure_from_extra first. <d> is filled (Azure reasons: azrbac.h). */
ag_authz_result ag_authz_chain_eval(const ag_authz_chain_t *c, const ag_identity_t *user,
                                    const ag_attrs_t *a, ag_authz_decision_t *d);

/* What <user> may do in namespace <ns> ("" : cluster-wide only), as rules, routed as
 * ag_authz_chain_eval routes a decision: Kubernetes RBAC's rule resolver (with
 * system:masters' everything first, as kube-apiserver's privileged-group authorizer), or
 * Azure RBAC's assignments translated to rules for an Azure AD identity (plus RBAC's under
 * AZURE_OR_RBAC; under AZURE_THEN_RBAC plus the self-review creates RBAC grants it). The
 * SelfSubjectRulesReview and `authgate check --list` answer. */
ag_err ag_authz_chain_rules(const ag_authz_chain_t *c, const ag_identity_t *user, ag_str_t ns,
                            ag_rules_t *out);

/* Whether the chain routes <user> to Azure RBAC under AZURE_* modes. */
bool ag_identity_is_azure(const ag_identity_t *user);

/* For a SubjectAccessReview: when spec.extra carries "oid" (as AKS's authenticator puts
 * it), marks <user> as Azure AD and sets user->oid (borrowed from the extra value).
 * Exactly one value is required; with none or several the flag is still set and oid
 * left empty, so Azure RBAC fails closed. Returns true when the key was present. */
bool ag_identity_azure_from_extra(ag_identity_t *user);

/* The SubjectAccessReview decide step (sar.h ag_sar_decide_fn) over a chain: <ctx> is a
 * const ag_authz_chain_t *. Applies ag_identity_azure_from_extra to a copy of <user>,
 * then ag_authz_chain_eval. */
ag_authz_result ag_authz_chain_sar_decide(void *ctx, const ag_identity_t *user, const ag_attrs_t *a,
                                          ag_authz_decision_t *d);

/* Config names: "rbac", "azure-then-rbac", "azure-or-rbac". AG_E_INVAL otherwise. */
ag_err ag_chain_mode_parse(ag_str_t name, ag_chain_mode *out);
const char *ag_chain_mode_name(ag_chain_mode mode);

/* Human-readable reason for <d> ("RBAC: allowed by ClusterRoleBinding \"x\" of
 * ClusterRole \"y\""), for --explain, audit annotations and logs: the authorizer that
 * decided words it (ag_rbac_reason, ag_azrbac_reason). */
ag_err ag_authz_reason(const ag_authz_decision_t *d, ag_buf_t *out);

#endif
