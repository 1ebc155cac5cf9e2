/* The policy snapshot holder (proxy/authz/policy.c): enter/publish under concurrent readers
 * (run under ASan this catches a use after free), a policy held across a swap, builds
 * from files and a failed build leaving nothing behind. Reader slots and retirement are
 * tested in test_proxy_snapshot.c. */
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "authz/policy.h"
#include "testlib.h"

static const char doc[] = "{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"v\"},"
                          "\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":\"view\"},"
                          "\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"}]}";

static void policy_free(ag_snap_t *s)
{
    ag_policy_destroy((ag_policy_t *)s);
}

static ag_policy_t *make(uint64_t generation)
{
    ag_policy_t *p = calloc(1, sizeof *p);
    p->snap.free = policy_free;
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
        const ag_policy_t *p = ag_policy_enter();
        ag_authz_decision_t d;
        if (!p) {
            ag_policy_leave();
            continue;
        }
        if (ag_authz_chain_eval(&p->chain, &alice, &a, &d) != AG_AUTHZ_ALLOW ||
            p->generation < last)
            atomic_fetch_add(&wrong, 1); /* generations only move forward */
        last = p->generation;
        ag_policy_leave();
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
    const ag_policy_t *p = ag_policy_enter();
    CHECK(p && p->generation == 300);
    ag_policy_leave();
}

TEST(policy_entered_outlives_the_swap)
{
    ag_policy_publish(make(1));
    const ag_policy_t *held = ag_policy_enter();
    ag_policy_publish(make(2));
    ag_policy_publish(make(3));
    CHECK_EQ(held->generation, 1); /* still valid: ASan would report a freed read */
    CHECK(held->rbac != NULL);
    ag_policy_leave();
    const ag_policy_t *now = ag_policy_enter();
    CHECK_EQ(now->generation, 3);
    ag_policy_leave();
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
    CHECK(p && p->rbac && !p->azure && p->snap.free != NULL);
    ag_policy_destroy(p);
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
