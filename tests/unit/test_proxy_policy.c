/* The policy snapshot holder (proxy/policy.c): acquire/publish with hazard slots under
 * concurrent readers (run under ASan this catches a use after free), references held
 * across a swap, builds from files and a failed build leaving nothing behind. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "policy.h"
#include "testlib.h"

static const char doc[] = "{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"v\"},"
                          "\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"view\"},"
                          "\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]}";

static ag_policy_t *make(uint64_t generation)
{
    ag_policy_t *p = calloc(1, sizeof *p);
    atomic_init(&p->refs, 1);
    CHECK_EQ(ag_rbac_load_mem(ag_str_cstr(doc), "doc", NULL, &p->rbac, NULL), 0);
    p->chain = (ag_authz_chain_t){.mode = AG_CHAIN_RBAC_ONLY, .rbac = p->rbac};
    p->generation = generation;
    return p;
}

static atomic_bool stop;
static atomic_long decisions, wrong;

static void reader(void *arg)
{
    (void)arg;
    ag_identity_t alice = {.username = AG_STR("alice")};
    ag_attrs_t a = {.resource_request = true,
                    .verb = AG_STR("list"),
                    .resource = AG_STR("pods"),
                    .namespace_ = AG_STR("default")};
    uint64_t last = 0;
    while (!atomic_load(&stop)) {
        ag_policy_t *p = ag_policy_acquire();
        ag_authz_decision_t d;
        if (!p)
            continue;
        if (ag_authz_chain_eval(&p->chain, &alice, &a, &d) != AG_AUTHZ_ALLOW ||
            p->generation < last)
            atomic_fetch_add(&wrong, 1); /* generations only move forward */
        last = p->generation;
        ag_policy_unref(p);
        atomic_fetch_add(&decisions, 1);
    }
}

TEST(policy_swaps_under_concurrent_readers)
{
    uv_thread_t th[3];
    ag_policy_publish(make(1));
    for (int i = 0; i < 3; i++)
        uv_thread_create(&th[i], reader, (void *)(intptr_t)(i + 1));
    for (uint64_t g = 2; g <= 300; g++) {
        ag_policy_publish(make(g));
        usleep(200);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 3; i++)
        uv_thread_join(&th[i]);
    CHECK_EQ(atomic_load(&wrong), 0);
    CHECK(atomic_load(&decisions) > 1000);
    ag_policy_t *p = ag_policy_acquire();
    CHECK(p && p->generation == 300);
    ag_policy_unref(p);
}

TEST(policy_reference_outlives_the_swap)
{
    ag_policy_publish(make(1));
    ag_policy_t *held = ag_policy_acquire();
    ag_policy_publish(make(2));
    ag_policy_publish(make(3));
    CHECK_EQ(held->generation, 1);         /* still valid: ASan would report a freed read */
    CHECK_EQ(atomic_load(&held->refs), 2); /* ours + the holder's retired list */
    ag_policy_unref(held);
    ag_policy_t *now = ag_policy_acquire();
    CHECK_EQ(now->generation, 3);
    ag_policy_unref(now);
}

TEST(policy_build_from_files_and_failure)
{
    char path[] = "/tmp/ag-policy-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write(fd, doc, sizeof doc - 1) == (ssize_t)(sizeof doc - 1));
    close(fd);
    const char *files[] = {path};
    ag_authz_config_t c;
    ag_authz_config_defaults(&c);
    c.policies = files;
    c.npolicies = 1;
    ag_policy_t *p = NULL;
    ag_buf_t why = AG_BUF_INIT(4096);
    CHECK_EQ(ag_policy_build(&c, NULL, AG_CHAIN_RBAC_ONLY, &p, &why), 0);
    CHECK(p && p->rbac && !p->azure && atomic_load(&p->refs) == 1);
    ag_policy_unref(p);
    fd = open(path, O_WRONLY | O_TRUNC);
    CHECK(fd >= 0 && write(fd, "{\"kind\":", 8) == 8);
    close(fd);
    p = NULL;
    CHECK(ag_policy_build(&c, NULL, AG_CHAIN_RBAC_ONLY, &p, &why) != 0);
    CHECK(p == NULL);
    CHECK(strstr(why.p ? why.p : "", path) != NULL); /* names the file */
    ag_buf_dispose(&why);
    unlink(path);
}

/* Registration: every thread that registers holds a slot no other thread has, until it
 * unregisters; once all are taken registration fails instead of handing out a shared one. */
static struct {
    uv_barrier_t registered, release;
    atomic_int ok, refused;
    atomic_int slot[2 * AG_POLICY_SLOTS];
} reg;

static void registrant(void *arg)
{
    int i = (int)(intptr_t)arg, slot = -7;
    ag_err err = ag_policy_thread_register(&slot);
    atomic_store(&reg.slot[i], err ? -1 : slot);
    atomic_fetch_add(err ? &reg.refused : &reg.ok, 1);
    if (!err)
        CHECK(slot >= 0 && slot < AG_POLICY_SLOTS);
    else
        CHECK_EQ(err, AG_E_TOO_BIG);
    uv_barrier_wait(&reg.registered); /* everyone holds their slot at once */
    uv_barrier_wait(&reg.release);
    ag_policy_thread_unregister();
}

static void reader_once(void *arg)
{
    (void)arg;
    ag_policy_unref(ag_policy_acquire()); /* registers on first use, never unregisters */
}

/* Starts <n> threads that register together; returns how many got a slot. */
static int register_threads(int n)
{
    uv_thread_t th[2 * AG_POLICY_SLOTS];
    atomic_store(&reg.ok, 0);
    atomic_store(&reg.refused, 0);
    uv_barrier_init(&reg.registered, (unsigned)n + 1);
    uv_barrier_init(&reg.release, (unsigned)n + 1);
    for (int i = 0; i < n; i++)
        CHECK_EQ(uv_thread_create(&th[i], registrant, (void *)(intptr_t)i), 0);
    uv_barrier_wait(&reg.registered);
    bool seen[AG_POLICY_SLOTS] = {false};
    for (int i = 0; i < n; i++) {
        int s = atomic_load(&reg.slot[i]);
        if (s < 0)
            continue;
        CHECK(!seen[s]); /* distinct */
        seen[s] = true;
    }
    uv_barrier_wait(&reg.release);
    for (int i = 0; i < n; i++)
        uv_thread_join(&th[i]);
    uv_barrier_destroy(&reg.registered);
    uv_barrier_destroy(&reg.release);
    return atomic_load(&reg.ok);
}

TEST(policy_threads_get_distinct_slots)
{
    int mine = -1;
    CHECK_EQ(ag_policy_thread_register(&mine), 0);
    CHECK_EQ(register_threads(8), 8);
    CHECK_EQ(atomic_load(&reg.refused), 0);
    for (int i = 0; i < 8; i++)
        CHECK(atomic_load(&reg.slot[i]) != mine);
    int again = -1;
    CHECK_EQ(ag_policy_thread_register(&again), 0); /* idempotent */
    CHECK_EQ(again, mine);
    ag_policy_thread_unregister();
}

TEST(policy_registration_fails_when_slots_run_out)
{
    int n = AG_POLICY_SLOTS + 3;
    ag_policy_thread_unregister(); /* all slots free: earlier threads have exited */
    CHECK_EQ(register_threads(n), AG_POLICY_SLOTS);
    CHECK_EQ(atomic_load(&reg.refused), 3);
    /* released on unregister: the next threads get slots again */
    CHECK_EQ(register_threads(4), 4);
    /* and when a thread ends without unregistering */
    uv_thread_t t;
    CHECK_EQ(uv_thread_create(&t, reader_once, NULL), 0);
    uv_thread_join(&t);
    CHECK_EQ(register_threads(n), AG_POLICY_SLOTS);
    ag_policy_publish(make(7));
    ag_policy_t *p = ag_policy_acquire(); /* this thread registers on first use */
    CHECK(p && p->generation == 7);
    ag_policy_unref(p);
    ag_policy_thread_unregister();
}
