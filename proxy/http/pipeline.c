/* The request pipeline (pipeline.h): runs the steps in order and is the single way back
 * into the request for a parked step (ag_gate_done), which resumes at the next step. */
#include "http/pipeline.h"

ag_err ag_pipeline_add(ag_pipeline_t *p, const char *name, ag_gate_fn fn, void *ud)
{
    if (p->nsteps >= AG_PIPELINE_MAX_STEPS)
        return AG_E_TOO_BIG;
    p->steps[p->nsteps++] = (ag_pipeline_step_t){name, fn, ud};
    return 0;
}

/* A DENY always carries an error status; anything but the three results is a step's bug,
 * answered 500 (fail closed). */
static ag_gate_result checked(ag_gate_t *g, ag_gate_result r)
{
    if (r != AG_GATE_ALLOW && r != AG_GATE_DENY && r != AG_GATE_PENDING) {
        g->status = 500;
        g->message = AG_STR("internal error");
        return AG_GATE_DENY;
    }
    if (r == AG_GATE_DENY && (g->status < 400 || g->status > 599))
        g->status = 403;
    return r;
}

/* Runs the steps from g->step on; stops at the first DENY or PENDING. */
static ag_gate_result run_from(ag_gate_t *g)
{
    const ag_pipeline_t *p = g->pipeline;
    for (; g->step < p->nsteps; g->step++) {
        const ag_pipeline_step_t *s = &p->steps[g->step];
        ag_gate_result r = checked(g, s->fn(g, s->ud));
        if (r != AG_GATE_ALLOW)
            return r;
    }
    if (g->identity && (g->identity->flags & AG_ID_GROUP_OVERAGE)) {
        /* fail closed: an identity whose groups are unknown (no groups step ran) is
         * never authorized or forwarded */
        g->identity = NULL;
        g->status = 403;
        g->message = AG_STR("forbidden: too many groups");
        return AG_GATE_DENY;
    }
    return AG_GATE_ALLOW;
}

ag_gate_result ag_pipeline_run(ag_gate_t *g)
{
    g->step = 0;
    if (!g->pipeline || g->pipeline->nsteps == 0) { /* nothing decides: refuse (fail closed) */
        g->identity = NULL;
        g->status = 401;
        g->message = AG_STR("Unauthorized");
        return AG_GATE_DENY;
    }
    return run_from(g);
}

void ag_gate_done(ag_gate_t *g, ag_gate_result r)
{
    if (r != AG_GATE_ALLOW && r != AG_GATE_DENY) { /* not a completion: a step's bug */
        r = AG_GATE_DENY;
        g->status = 500;
        g->message = AG_STR("internal error");
    }
    r = checked(g, r);
    /* the parked step allowed: the rest of the pipeline runs, unless the client left */
    if (r == AG_GATE_ALLOW && !g->cancelled && g->pipeline && g->step < g->pipeline->nsteps) {
        g->step++;
        if ((r = run_from(g)) == AG_GATE_PENDING)
            return; /* parked again: that step calls ag_gate_done */
    }
    g->resume(g, r);
}

void ag_gate_finished(ag_gate_t *g, int code)
{
    if (g->pipeline && g->pipeline->finish)
        g->pipeline->finish(g, code, true);
}

void ag_gate_response_started(ag_gate_t *g, int code)
{
    if (g->pipeline && g->pipeline->finish)
        g->pipeline->finish(g, code, false);
}
