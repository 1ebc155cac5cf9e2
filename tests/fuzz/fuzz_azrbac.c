/* libFuzzer target for Azure RBAC (core/authz/azure/azrbac_load.c, azrbac.c, azrbac_perm.c): the
 * input is up to four NUL-separated parts: role definitions, role assignments, deny assignments,
 * and a request ("verb\ngroup\nresource\nsubresource\nnamespace\npath\ngroup-id"). Loads the
 * policy, and when it loads evaluates the request for a fixed principal plus the group,
 * the same request as an ARM action, and the glob matcher on the raw parts. Checks that
 * an allow always names an assignment and that no decision is both allowed and in error;
 * a denial's closest-assignment explanation runs too.
 * Exported policy files are operator input, but a reload must never crash the gateway. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/azure/azrbac.h"
#include "authz/azure/azrbac_perm.h"

#define CLUSTER                                                                                    \
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/"            \
    "Microsoft.ContainerService/managedClusters/web"
#define OID "aaaaaaaa-0000-4000-8000-000000000001"

static ag_str_t next_part(ag_str_t *rest, char sep)
{
    ag_str_t head;
    ag_str_t tail = ag_str_split(*rest, sep, &head);
    *rest = tail;
    return head;
}

static void check(ag_authz_result r, const ag_authz_decision_t *d)
{
    if (r == AG_AUTHZ_ALLOW && (d->error || d->assignment_id.p == NULL)) {
        fprintf(stderr, "allow without an assignment, or with an error\n");
        abort();
    }
    ag_buf_t why = AG_BUF_INIT(1 << 16);
    if (ag_azrbac_reason(d, &why) != 0)
        abort();
    ag_buf_dispose(&why);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t rest = ag_str_make((const char *)data, size);
    ag_str_t defs = next_part(&rest, '\0'), asg = next_part(&rest, '\0');
    ag_str_t deny = next_part(&rest, '\0'), req = rest;
    ag_azrbac_opts_t opts = {AG_STR(CLUSTER)};
    ag_buf_t err = AG_BUF_INIT(4096), cluster = AG_BUF_INIT(4096);
    ag_azrbac_t *p = NULL;

    ag_azperm_glob(defs, asg); /* arbitrary pattern and string */
    ag_azrbac_infer_cluster(asg, &cluster);
    if (ag_azrbac_load_mem(defs, asg, deny, &opts, &p, &err) == 0) {
        ag_attrs_t a = {0};
        a.verb = next_part(&req, '\n');
        a.api_group = next_part(&req, '\n');
        a.resource = next_part(&req, '\n');
        a.subresource = next_part(&req, '\n');
        a.namespace_ = next_part(&req, '\n');
        a.path = next_part(&req, '\n');
        a.resource_request = a.path.n == 0;
        ag_str_t group = req;
        ag_identity_t u = {.username = AG_STR("fuzz"),
                           .oid = AG_STR(OID),
                           .groups = &group,
                           .ngroups = 1,
                           .flags = AG_ID_AZURE_AD};
        ag_authz_decision_t *d = malloc(sizeof *d);
        if (!d)
            abort();
        ag_authz_result r = ag_azrbac_eval(p, &u, &a, d);
        check(r, d);
        ag_buf_t near = AG_BUF_INIT(1 << 16);
        if (ag_azrbac_explain_denial(p, &u, &a, d, &near) && (r == AG_AUTHZ_ALLOW || !near.n))
            abort(); /* only denials are explained, and an explanation says something */
        ag_buf_dispose(&near);
        check(ag_azrbac_eval_arm(p, u.oid, &group, 1, a.verb, a.path, d), d);
        free(d);
        ag_azrbac_unref(p);
    }
    ag_buf_dispose(&err);
    ag_buf_dispose(&cluster);
    return 0;
}
