/* The gateway side of group resolution (graph.h): the helpers authentication's overage
 * step (proxy/authn/authenticate.c, for the gate and the TokenReview webhook) uses: copying
 * resolved groups into an identity, mapping a failure to a status. The lookup itself is
 * graph.c's, on the control loop. */
#include "authn/graph.h"

ag_err ag_graph_apply(const ag_graph_result_t *res, ag_arena_t *arena, ag_identity_t *id)
{
    if (res->err)
        return AG_E_INVAL;
    int n = id->ngroups + res->ngroups;
    ag_str_t *groups = ag_arena_alloc(arena, sizeof(ag_str_t) * (size_t)(n ? n : 1));
    if (!groups)
        return AG_E_NOMEM;
    for (int i = 0; i < id->ngroups; i++)
        groups[i] = id->groups[i];
    for (int i = 0; i < res->ngroups; i++) {
        groups[id->ngroups + i] = ag_arena_strdup(arena, res->groups[i]);
        if (!groups[id->ngroups + i].p)
            return AG_E_NOMEM;
    }
    id->groups = groups;
    id->ngroups = n;
    id->flags &= ~(unsigned)AG_ID_GROUP_OVERAGE;
    return 0;
}

int ag_graph_http_status(ag_err err)
{
    return err == AG_E_TOO_BIG || err == AG_E_NOT_FOUND ? 403 : 503;
}
