/* Tests for the request pipeline runner (proxy/http/pipeline.c) without a connection: steps run
 * in order, a DENY or PENDING stops the run, a parked step's ag_gate_done resumes the
 * pipeline at the next step and hands the final result to g->resume once, a cancelled
 * request runs no further step, an empty pipeline refuses with 401 and a step's bad result
 * is a 500 (fail closed). */
#include "http/pipeline.h"
#include "testlib.h"

typedef struct {
    char trace[32]; /* one letter per step run, in order */
    int n;
    int resumed;
    ag_gate_result final;
    ag_gate_t *parked;
} rig_t;

static rig_t rig;

static void note(char c)
{
    if (rig.n < (int)sizeof rig.trace - 1)
        rig.trace[rig.n++] = c;
}

static ag_gate_result allow_a(ag_gate_t *g, void *ud)
{
    (void)g, (void)ud;
    note('a');
    return AG_GATE_ALLOW;
}

static ag_gate_result allow_b(ag_gate_t *g, void *ud)
{
    (void)g, (void)ud;
    note('b');
    return AG_GATE_ALLOW;
}

static ag_gate_result deny(ag_gate_t *g, void *ud)
{
    (void)ud;
    note('d');
    g->status = 200; /* not an error status: the runner makes it 403 */
    return AG_GATE_DENY;
}

static ag_gate_result park(ag_gate_t *g, void *ud)
{
    (void)ud;
    note('p');
    rig.parked = g;
    return AG_GATE_PENDING;
}

static ag_gate_result broken(ag_gate_t *g, void *ud)
{
    (void)g, (void)ud;
    note('x');
    return (ag_gate_result)7;
}

static void on_resume(ag_gate_t *g, ag_gate_result r)
{
    (void)g;
    rig.resumed++;
    rig.final = r;
}

static ag_gate_result run(ag_pipeline_t *p, ag_gate_t *g)
{
    memset(&rig, 0, sizeof rig);
    *g = (ag_gate_t){.pipeline = p, .resume = on_resume};
    return ag_pipeline_run(g);
}

static void add(ag_pipeline_t *p, ag_gate_fn fn)
{
    CHECK_EQ(ag_pipeline_add(p, "step", fn, NULL), 0);
}

TEST(pipeline_runs_steps_in_order_and_stops_at_a_deny)
{
    ag_pipeline_t p = {0};
    ag_gate_t g;
    add(&p, allow_a);
    add(&p, allow_b);
    CHECK_EQ(run(&p, &g), AG_GATE_ALLOW);
    CHECK_STREQ(rig.trace, "ab");
    CHECK_EQ(rig.resumed, 0); /* a synchronous result is returned, never resumed */
    ag_pipeline_t q = {0};
    add(&q, allow_a);
    add(&q, deny);
    add(&q, allow_b);
    CHECK_EQ(run(&q, &g), AG_GATE_DENY);
    CHECK_STREQ(rig.trace, "ad");
    CHECK_EQ(g.status, 403);
}

TEST(pipeline_parked_step_resumes_at_the_next_step)
{
    ag_pipeline_t p = {0};
    ag_gate_t g;
    add(&p, allow_a);
    add(&p, park);
    add(&p, allow_b);
    add(&p, park);
    add(&p, allow_a);
    CHECK_EQ(run(&p, &g), AG_GATE_PENDING);
    CHECK_STREQ(rig.trace, "ap");
    ag_gate_done(rig.parked, AG_GATE_ALLOW);
    CHECK_STREQ(rig.trace, "apbp"); /* parked again at the second park */
    CHECK_EQ(rig.resumed, 0);
    ag_gate_done(rig.parked, AG_GATE_ALLOW);
    CHECK_STREQ(rig.trace, "apbpa");
    CHECK_EQ(rig.resumed, 1);
    CHECK_EQ(rig.final, AG_GATE_ALLOW);
}

TEST(pipeline_parked_deny_or_cancel_runs_no_further_step)
{
    ag_pipeline_t p = {0};
    ag_gate_t g;
    add(&p, park);
    add(&p, allow_b);
    CHECK_EQ(run(&p, &g), AG_GATE_PENDING);
    g.status = 401;
    ag_gate_done(&g, AG_GATE_DENY);
    CHECK_STREQ(rig.trace, "p");
    CHECK_EQ(rig.resumed, 1);
    CHECK_EQ(rig.final, AG_GATE_DENY);
    CHECK_EQ(g.status, 401);
    CHECK_EQ(run(&p, &g), AG_GATE_PENDING);
    g.cancelled = true; /* the client went away while parked */
    ag_gate_done(&g, AG_GATE_ALLOW);
    CHECK_STREQ(rig.trace, "p");
    CHECK_EQ(rig.resumed, 1);
}

TEST(pipeline_empty_refuses_401_and_a_bad_result_is_500)
{
    ag_pipeline_t empty = {0}, p = {0};
    ag_gate_t g;
    CHECK_EQ(run(&empty, &g), AG_GATE_DENY);
    CHECK_EQ(g.status, 401);
    CHECK_EQ(run(NULL, &g), AG_GATE_DENY);
    CHECK_EQ(g.status, 401);
    add(&p, broken);
    add(&p, allow_b);
    CHECK_EQ(run(&p, &g), AG_GATE_DENY);
    CHECK_STREQ(rig.trace, "x");
    CHECK_EQ(g.status, 500);
    ag_pipeline_t q = {0};
    add(&q, park);
    add(&q, allow_b);
    CHECK_EQ(run(&q, &g), AG_GATE_PENDING);
    ag_gate_done(&g, AG_GATE_PENDING); /* not a completion */
    CHECK_EQ(rig.final, AG_GATE_DENY);
    CHECK_EQ(g.status, 500);
    CHECK_STREQ(rig.trace, "p");
}

TEST(pipeline_has_a_bounded_number_of_steps)
{
    ag_pipeline_t p = {0};
    for (int i = 0; i < AG_PIPELINE_MAX_STEPS; i++)
        CHECK_EQ(ag_pipeline_add(&p, "step", allow_a, NULL), 0);
    CHECK_EQ(ag_pipeline_add(&p, "step", allow_a, NULL), AG_E_TOO_BIG);
}

static ag_identity_t overage = {.username = {"ada", 3}, .flags = AG_ID_GROUP_OVERAGE};

static ag_gate_result overage_identity(ag_gate_t *g, void *ud)
{
    (void)ud;
    note('o');
    g->identity = &overage;
    return AG_GATE_ALLOW;
}

TEST(pipeline_never_lets_an_unresolved_group_overage_through)
{
    ag_pipeline_t p = {0};
    ag_gate_t g;
    add(&p, overage_identity);
    add(&p, allow_b);
    CHECK_EQ(run(&p, &g), AG_GATE_DENY); /* no groups step resolved it */
    CHECK_STREQ(rig.trace, "ob");
    CHECK_EQ(g.status, 403);
    CHECK(g.identity == NULL);
}
