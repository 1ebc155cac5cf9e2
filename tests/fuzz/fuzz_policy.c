/* libFuzzer target: RBAC policy loading (core/authz/rbac/rbac_load.c) and the SubjectAccessReview
 * codec (core/review/sar.c) over untrusted JSON. A policy that loads is also evaluated and
 * walked by who-can (and a denial explained: rbac_explain.c), so index and aggregation
 * bugs surface too. */
#include <stdint.h>
#include <string.h>

#include "authz/rbac/rbac.h"
#include "review/sar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_subject(void *ctx, ag_str_t kind, ag_str_t ns, ag_str_t name,
                       const ag_authz_decision_t *via)
{
    size_t *n = ctx;
    *n += kind.n + ns.n + name.n + via->role_name.n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t in = ag_str_make((const char *)data, size);
    ag_rbac_opts_t opts = {.bootstrap = (size & 15) == 1}; /* bootstrap is slow to re-load */
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(1 << 16);
    if (ag_rbac_load_mem(in, "fuzz.json", &opts, &p, &err) == 0) {
        static const ag_str_t groups[] = {AG_STR_NULL, {"system:authenticated", 20}, {"g", 1}};
        ag_identity_t u = {.username = AG_STR("u"), .groups = groups + 1, .ngroups = 2};
        ag_attrs_t a = {.resource_request = true,
                        .verb = AG_STR("get"),
                        .resource = AG_STR("pods"),
                        .namespace_ = AG_STR("ns"),
                        .name = AG_STR("n")};
        ag_authz_decision_t d;
        ag_buf_t near = AG_BUF_INIT(1 << 16);
        if (ag_rbac_eval(p, &u, &a, &d) != AG_AUTHZ_ALLOW &&
            ag_rbac_explain_denial(p, &u, &a, &near) && !near.n)
            __builtin_trap(); /* an explanation says something */
        ag_buf_dispose(&near);
        size_t n = 0;
        ag_rbac_who_can(p, &a, on_subject, &n);
        a.resource_request = false, a.path = AG_STR("/healthz");
        (void)ag_rbac_eval(p, &u, &a, &d);
    }
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
    /* the same bytes as a review */
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 1 << 24);
    ag_buf_t resp = AG_BUF_INIT(1 << 20);
    int status;
    static ag_rbac_t *boot; /* the bootstrap policy, loaded once */
    if (!boot &&
        ag_rbac_load_mem(AG_STR("{\"kind\":\"List\",\"items\":[]}"), "empty", NULL, &boot, NULL))
        __builtin_trap();
    (void)ag_sar_handle(in, ag_sar_rbac_decide, boot, &arena, &resp, &status);
    ag_buf_dispose(&resp);
    ag_arena_dispose(&arena);
    return 0;
}
