/* The gate phase (gate.h): a function pointer installed at start-up, and the single way
 * back into the request for asynchronous gates. */
#include "gate.h"

static ag_gate_fn gate_fn;
static void *gate_ud;

void ag_gate_install(ag_gate_fn fn, void *ud)
{
    gate_fn = fn;
    gate_ud = ud;
}

ag_gate_result ag_gate_passthrough(ag_gate_t *g, void *ud)
{
    (void)ud;
    g->identity = NULL; /* a plain proxy: the gateway's credential, no impersonation */
    return AG_GATE_ALLOW;
}

ag_gate_result ag_gate_run(ag_gate_t *g)
{
    if (!gate_fn) { /* nothing authenticates or authorizes: refuse (fail closed) */
        g->identity = NULL;
        g->status = 401;
        g->message = AG_STR("Unauthorized");
        return AG_GATE_DENY;
    }
    ag_gate_result r = gate_fn(g, gate_ud);
    if (r != AG_GATE_ALLOW && r != AG_GATE_DENY && r != AG_GATE_PENDING) {
        g->status = 500; /* fail closed on a gate bug */
        g->message = AG_STR("internal error");
        return AG_GATE_DENY;
    }
    if (r == AG_GATE_DENY && (g->status < 400 || g->status > 599))
        g->status = 403;
    return r;
}

void ag_gate_done(ag_gate_t *g, ag_gate_result r)
{
    if (r != AG_GATE_ALLOW && r != AG_GATE_DENY) {
        r = AG_GATE_DENY;
        g->status = 500;
        g->message = AG_STR("internal error");
    }
    if (r == AG_GATE_DENY && (g->status < 400 || g->status > 599))
        g->status = 403;
    if (g->resume)
        g->resume(g, r);
    else
        ag_http1_gate_resume(g, r);
}

static ag_gate_finish_fn finish_fn;

void ag_gate_install_finish(ag_gate_finish_fn fn)
{
    finish_fn = fn;
}

void ag_gate_finished(ag_gate_t *g, int code)
{
    if (finish_fn)
        finish_fn(g, code, true);
}

void ag_gate_response_started(ag_gate_t *g, int code)
{
    if (finish_fn)
        finish_fn(g, code, false);
}
