/* core/login/kubeconfig: the cluster/user/context `authgate kubeconfig` writes, merged into an
 * existing kubeconfig by name. */
#include "base/json.h"
#include "login/kubeconfig.h"
#include "testlib.h"

static const char *const args[] = {"login", "--issuer-url", "https://idp", "--client-id", "k",
                                   NULL};
static const ag_kubeconfig_entry_t entry = {.name = "gw",
                                            .server = "https://127.0.0.1:8443",
                                            .ca_data = "Q0E=",
                                            .namespace_ = "dev",
                                            .command = "/usr/bin/authgate",
                                            .args = args};

static ag_err merge(const char *existing, ag_buf_t *out)
{
    ag_json_error_t je;
    ag_buf_clear(out);
    return ag_kubeconfig_merge(ag_str_cstr(existing), &entry, out, &je);
}

/* jq-like probe: member <k1> (array) element whose name is <name>, then path. */
static bool has(const char *text, const char *list, const char *name)
{
    ag_arena_t a;
    ag_json_t doc;
    bool found = false;
    ag_arena_init(&a, 4096, 1 << 20);
    if (ag_json_parse(&doc, ag_str_cstr(text), NULL, &a, NULL) == 0)
        for (ag_json_ref v = ag_json_first(&doc, ag_json_get(&doc, 0, list)); v != AG_JSON_NONE;
             v = ag_json_next(&doc, v))
            found |= ag_json_str_eq(&doc, ag_json_get(&doc, v, "name"), name);
    ag_arena_dispose(&a);
    return found;
}

TEST(kubeconfig_new_file_has_exec_user_cluster_and_context)
{
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(merge("", &out), 0);
    CHECK(strstr(out.p, "\"server\":\"https://127.0.0.1:8443\",\"certificate-authority-data\":"
                        "\"Q0E=\"") != NULL);
    CHECK(strstr(out.p, "\"exec\":{\"apiVersion\":\"client.authentication.k8s.io/v1\","
                        "\"command\":\"/usr/bin/authgate\",\"args\":[\"login\",\"--issuer-url\","
                        "\"https://idp\",\"--client-id\",\"k\"],\"env\":null,\"interactiveMode\":"
                        "\"IfAvailable\",\"provideClusterInfo\":false}") != NULL);
    CHECK(strstr(out.p, "\"context\":{\"cluster\":\"gw\",\"user\":\"gw\",\"namespace\":\"dev\"}"));
    CHECK(strstr(out.p, "\"current-context\":\"gw\"") != NULL);
    ag_buf_dispose(&out);
}

TEST(kubeconfig_merges_yaml_replacing_same_name_keeping_others)
{
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK_EQ(merge("apiVersion: v1\nkind: Config\npreferences: {colors: true}\n"
                   "clusters:\n- name: prod\n  cluster: {server: 'https://prod:6443'}\n"
                   "- name: gw\n  cluster: {server: 'https://stale:1'}\n"
                   "users:\n- name: prod\n  user: {token: \"a\\\"b\"}\n"
                   "contexts: []\ncurrent-context: prod\n",
                   &out),
             0);
    CHECK(has(out.p, "clusters", "prod") && has(out.p, "clusters", "gw"));
    CHECK(has(out.p, "users", "prod") && has(out.p, "users", "gw"));
    CHECK(has(out.p, "contexts", "gw"));
    CHECK(strstr(out.p, "stale") == NULL);
    CHECK(strstr(out.p, "\"token\":\"a\\\"b\"") != NULL); /* kept byte for byte */
    CHECK(strstr(out.p, "\"preferences\":{\"colors\":true}") != NULL);
    CHECK(strstr(out.p, "\"current-context\":\"gw\"") != NULL);
    /* and the result merges again to the same text (JSON input) */
    ag_buf_t again = AG_BUF_INIT(1 << 20);
    ag_json_error_t je;
    CHECK_EQ(ag_kubeconfig_merge(ag_buf_str(&out), &entry, &again, &je), 0);
    CHECK_STREQ(again.p, out.p);
    ag_buf_dispose(&again);
    ag_buf_dispose(&out);
}

TEST(kubeconfig_refuses_what_is_not_a_kubeconfig)
{
    ag_buf_t out = AG_BUF_INIT(1 << 20);
    CHECK(merge("- a\n- b\n", &out) != 0);
    CHECK(merge("clusters: {a: 1}\n", &out) != 0);
    CHECK(merge("clusters:\n- cluster: {server: x}\n", &out) != 0); /* no name */
    CHECK(merge("a: 1\n---\nb: 2\n", &out) != 0);
    CHECK(merge("a: &x 1\nb: *x\n", &out) != 0); /* aliases refused by the YAML reader */
    ag_buf_dispose(&out);
}
