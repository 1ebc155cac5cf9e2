/* The gateway side of group resolution (graph.h): start-up wiring of the process's
 * resolver, the overage step a gate runs after authentication, and the helpers the
 * TokenReview handler shares with it (copying resolved groups into an identity, mapping a
 * failure to a status). The gate step runs on worker loops; the lookup itself is
 * graph.c's, on the control loop. */
#include "graph.h"

#include "log.h"

ag_err ag_graph_start(const ag_graph_cfg_t *cfg, uv_loop_t *control, ag_fetch_t *fetch)
{
    ag_graph_t *g = NULL;
    ag_err err;
    if (!cfg)
        return 0;
    if ((err = ag_graph_create(control, fetch, cfg, &g)) != 0) {
        ag_error("graph: cannot start the group resolver: %s (client credentials %s)",
                 ag_err_str(err),
                 cfg->client_secret_file ? cfg->client_secret_file : cfg->client_key_file);
        return err;
    }
    ag_graph_set_default(g);
    ag_info("graph: resolving group overage with %.*s (%s, max %d groups, cache %lld ms)",
            AG_STR_FMT(cfg->base_url),
            cfg->method == AG_GRAPH_GET_MEMBER_GROUPS ? "getMemberGroups" : "getMemberObjects",
            cfg->max_groups, cfg->cache_ttl_ms);
    return 0;
}

void ag_graph_stop(void)
{
    ag_graph_t *g = ag_graph_default();
    ag_graph_set_default(NULL);
    ag_graph_destroy(g);
}

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

/* ---- the gate's overage step ---------------------------------------------------------- */

typedef struct {
    ag_gate_t *gate;
    ag_identity_t *id;
    ag_graph_gate_fn done;
    void *ud;
} gate_step_t;

/* Denies <gate> for a failed resolution: the status says retry (503) or no (403); the
 * message reads like an API server error; the reason goes to the log, not the client. */
static void gate_deny(ag_gate_t *gate, const ag_identity_t *id, int status, const char *reason)
{
    gate->status = status;
    gate->message = status == 503
                        ? AG_STR("Unable to resolve the user's group memberships right now; "
                                 "try again later")
                        : AG_STR("The user's group memberships cannot be used for "
                                 "authorization by this gateway");
    /* The resolver already warned (rate limited) about Graph itself; this is per request. */
    ag_info("graph: answering %d for oid %.*s: %s", status, AG_STR_FMT(id->oid), reason);
}

static void on_gate_groups(void *arg, const ag_graph_result_t *res)
{
    gate_step_t *st = arg;
    ag_gate_t *gate = st->gate;
    if (ag_gate_cancelled(gate)) { /* the client went away: only release the gate */
        st->done(gate, st->ud, AG_GATE_DENY);
        return;
    }
    if (res->err) {
        gate_deny(gate, st->id, ag_graph_http_status(res->err), res->reason);
        st->done(gate, st->ud, AG_GATE_DENY);
        return;
    }
    if (ag_graph_apply(res, gate->arena, st->id) != 0) {
        gate_deny(gate, st->id, 503, "out of memory");
        st->done(gate, st->ud, AG_GATE_DENY);
        return;
    }
    if (res->stale)
        ag_debug("graph: stale groups for oid %.*s (%s)", AG_STR_FMT(st->id->oid), res->reason);
    st->done(gate, st->ud, AG_GATE_ALLOW);
}

ag_gate_result ag_graph_gate_step(ag_gate_t *gate, ag_mailbox_t *reply, ag_identity_t *id,
                                  ag_graph_gate_fn done, void *ud)
{
    if (!(id->flags & AG_ID_GROUP_OVERAGE))
        return AG_GATE_ALLOW;
    ag_graph_t *g = ag_graph_default();
    if (!g) {
        ag_warn("graph: a token has a group overage marker but no \"graph\" section is "
                "configured; its groups cannot be resolved");
        gate_deny(gate, id, 403, "group overage in the token but no \"graph\" configured");
        return AG_GATE_DENY;
    }
    gate_step_t *st = ag_arena_alloc(gate->arena, sizeof(*st));
    if (!st) {
        gate_deny(gate, id, 503, "out of memory");
        return AG_GATE_DENY;
    }
    *st = (gate_step_t){gate, id, done, ud};
    ag_err err = ag_graph_resolve(g, id->oid, reply, on_gate_groups, st, NULL);
    if (err) {
        gate_deny(gate, id, err == AG_E_INVAL ? 403 : 503,
                  err == AG_E_INVAL ? "the token's oid is not a GUID" : ag_err_str(err));
        return AG_GATE_DENY;
    }
    return AG_GATE_PENDING;
}
