/* libFuzzer target for what the ARM poller reads from the network (core/authz/azure/azrbac_arm.c,
 * core/authz/azure/azrbac_load.c): arbitrary bytes as a list page and as each kind of ARM list
 * loaded into a snapshot. Checks the promises the poller relies on: an accepted nextLink stays on
 * the base origin; a page is either refused or loads; a snapshot that loads answers a decision
 * without crashing and never grants a principal the input does not name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz/azure/azrbac.h"
#include "authz/azure/azrbac_arm.h"
#include "base/arena.h"
#include "graph/graph.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

#define CLUSTER                                                                                    \
    "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/rg1/providers/"            \
    "Microsoft.ContainerService/managedClusters/web"
#define ABSENT "aaaaaaaa-0000-4000-8000-00000000beef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void load_as(ag_str_t in, int kind)
{
    ag_azrbac_src_t s = {in, "fuzz", true};
    ag_azrbac_srcs_t srcs = {0};
    if (kind == 0)
        srcs.defs = &s, srcs.ndefs = 1;
    else if (kind == 1)
        srcs.asg = &s, srcs.nasg = 1;
    else
        srcs.deny = &s, srcs.ndeny = 1;
    ag_azrbac_opts_t opts = {AG_STR(CLUSTER)};
    ag_azrbac_t *p = NULL;
    if (ag_azrbac_load_srcs(&srcs, &opts, &p, NULL) != 0)
        return;
    ag_identity_t id = {.oid = AG_STR(ABSENT)};
    ag_attrs_t a = {.verb = AG_STR("get"),
                    .resource = AG_STR("pods"),
                    .namespace_ = AG_STR("dev"),
                    .resource_request = true};
    ag_authz_decision_t d;
    if (memmem(in.p, in.n, ABSENT, 36) == NULL && ag_azrbac_eval(p, &id, &a, &d) == AG_AUTHZ_ALLOW)
        FAIL("granted a principal the input does not name");
    ag_azrbac_unref(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t in = ag_str_make((const char *)data, size);
    ag_str_t base = AG_STR("https://management.azure.com");
    ag_arena_t a;
    ag_arm_page_t page;
    ag_arena_init(&a, 0, 1 << 26);
    if (ag_arm_page_parse(in, base, &a, &page) == 0) {
        if (page.items < 0)
            FAIL("negative item count");
        if (page.next.p && !ag_graph_same_origin(base, page.next))
            FAIL("accepted nextLink off the base origin");
    }
    ag_arena_dispose(&a);
    for (int kind = 0; kind < 3; kind++)
        load_as(in, kind);
    return 0;
}
