/* The list/watch wire format (core/authz/rbac/kwatch.c): events and pages as kube-apiserver writes
 * them, everything else refused whole; and the policy files laid over a live source's
 * objects (rbac_set.h ag_rbac_view_over, ag_rbac_set_put_files), as proxy/authz/policy.c
 * builds the cluster's RBAC under a break-glass file. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "authz/rbac/kwatch.h"
#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_set.h"
#include "authz/reqinfo.h"
#include "base/arena.h"
#include "files.h"
#include "testlib.h"

static ag_err parse(const char *line, bool namespaced, ag_kw_event_t *ev, ag_arena_t *a)
{
    ag_arena_reset(a);
    return ag_kw_parse_event(ag_str_cstr(line), namespaced, a, ev);
}

TEST(kwatch_reads_added_modified_deleted_with_identity_and_version)
{
    ag_arena_t a;
    ag_kw_event_t ev;
    ag_arena_init(&a, 4096, 0);
    const char *line = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"RoleBinding\",\"metadata\":"
                       "{\"name\":\"rb\\u0031\",\"namespace\":\"default\",\"resourceVersion\":"
                       "\"1042\"},\"subjects\":[]}}";
    CHECK_EQ(parse(line, true, &ev, &a), 0);
    CHECK_EQ(ev.type, AG_KW_ADDED);
    CHECK_SLICE(ev.obj.name, "rb1"); /* unescaped */
    CHECK_SLICE(ev.obj.ns, "default");
    CHECK_SLICE(ev.obj.rv, "1042");
    CHECK(ev.obj.json.n > 0 && ev.obj.json.p[0] == '{' && ev.obj.json.p[ev.obj.json.n - 1] == '}');
    CHECK_EQ(parse("{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"x\","
                   "\"resourceVersion\":\"7\"}}}",
                   false, &ev, &a),
             0);
    CHECK_EQ(ev.type, AG_KW_DELETED);
    CHECK_SLICE(ev.obj.ns, "");
    ag_arena_dispose(&a);
}

TEST(kwatch_reads_bookmark_and_error_status)
{
    ag_arena_t a;
    ag_kw_event_t ev;
    ag_arena_init(&a, 4096, 0);
    CHECK_EQ(parse("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Role\",\"metadata\":"
                   "{\"resourceVersion\":\"99\"}}}",
                   true, &ev, &a),
             0);
    CHECK_EQ(ev.type, AG_KW_BOOKMARK);
    CHECK_SLICE(ev.obj.rv, "99");
    CHECK_EQ(parse("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":"
                   "\"Expired\",\"message\":\"too old resource version: 1 (5)\"}}",
                   true, &ev, &a),
             0);
    CHECK_EQ(ev.type, AG_KW_ERROR);
    CHECK_EQ(ev.code, 410);
    CHECK_SLICE(ev.message, "too old resource version: 1 (5)");
    ag_arena_dispose(&a);
}

TEST(kwatch_refuses_garbage_and_incomplete_events)
{
    static const char *const bad[] = {
        "{\"type\": \"ADDED\", \"object\": {\"kind\": garbage", "not json at all", "[]",
        "{\"type\":\"ADDED\"}",
        "{\"type\":\"RENAMED\",\"object\":{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}"
        "}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\"}}}", /* no version */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"resourceVersion\":\"1\"}}}", /* no name */
        /* a namespaced kind without its namespace */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"resourceVersion\":\"1\"}}}",
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":7,\"namespace\":\"d\","
        "\"resourceVersion\":\"1\"}}}",
        "{\"type\":\"ERROR\",\"object\":{\"code\":\"410\"}}",
        "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}",
        "{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}", /* duplicate key */
        "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"x\",\"namespace\":\"d\","
        "\"resourceVersion\":\"1111111111111111111111111111111111111111111111111111111111111111"
        "1\"}}}", /* a version over AG_KWATCH_MAX_RV */
    };
    ag_arena_t a;
    ag_kw_event_t ev;
    ag_arena_init(&a, 4096, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ag_err err = parse(bad[i], true, &ev, &a);
        if (err != AG_E_PARSE)
            fprintf(stderr, "case %zu: %s\n", i, ag_err_str(err));
        CHECK_EQ(err, AG_E_PARSE);
    }
    ag_arena_dispose(&a);
}

static ag_err collect(void *ctx, ag_str_t line)
{
    ag_buf_t *out = ctx;
    ag_buf_append_str(out, line);
    return ag_buf_append_cstr(out, "|");
}

TEST(kwatch_frames_lines_across_pieces_and_bounds_one_line)
{
    ag_buf_t line = AG_BUF_INIT(16), got = AG_BUF_INIT(4096);
    CHECK_EQ(ag_kw_feed(&line, AG_STR("{\"a\":"), collect, &got), 0);
    CHECK_EQ(got.n, 0); /* nothing complete yet */
    CHECK_EQ(ag_kw_feed(&line, AG_STR("1}\n\n{\"b\":2}\r\n{\"c\""), collect, &got), 0);
    CHECK_STREQ(got.p, "{\"a\":1}|{\"b\":2}|");
    CHECK_EQ(ag_kw_feed(&line, AG_STR(":3}\n"), collect, &got), 0);
    CHECK_STREQ(got.p, "{\"a\":1}|{\"b\":2}|{\"c\":3}|");
    CHECK_EQ(ag_kw_feed(&line, AG_STR("0123456789abcdefX"), collect, &got), AG_E_TOO_BIG);
    ag_buf_dispose(&line);
    ag_buf_dispose(&got);
}

static ag_err count_item(void *ctx, const ag_kw_object_t *item)
{
    (void)item;
    ++*(int *)ctx;
    return 0;
}

TEST(kwatch_page_gives_version_continue_and_items_or_nothing)
{
    ag_arena_t a;
    ag_str_t rv, cont;
    int n = 0;
    ag_arena_init(&a, 4096, 0);
    const char *page =
        "{\"kind\":\"RoleBindingList\",\"metadata\":{\"resourceVersion\":\"12\","
        "\"continue\":\"abc\"},\"items\":[{\"metadata\":{\"name\":\"a\","
        "\"namespace\":\"d\"}},{\"metadata\":{\"name\":\"b\",\"namespace\":\"d\"}}]}";
    CHECK_EQ(ag_kw_parse_page(ag_str_cstr(page), true, &a, &rv, &cont, count_item, &n), 0);
    CHECK_EQ(n, 2);
    CHECK_SLICE(rv, "12");
    CHECK_SLICE(cont, "abc");
    n = 0;
    CHECK_EQ(ag_kw_parse_page(AG_STR("{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":null}"),
                              true, &a, &rv, &cont, count_item, &n),
             0);
    CHECK_EQ(n, 0);
    CHECK_SLICE(cont, "");
    /* the second item is broken: the first is not handed out either */
    const char *bad = "{\"metadata\":{\"resourceVersion\":\"12\"},\"items\":[{\"metadata\":"
                      "{\"name\":\"a\",\"namespace\":\"d\"}},{\"metadata\":{\"name\":\"b\"}}]}";
    CHECK_EQ(ag_kw_parse_page(ag_str_cstr(bad), true, &a, &rv, &cont, count_item, &n), AG_E_PARSE);
    CHECK_EQ(n, 0);
    CHECK_EQ(ag_kw_parse_page(AG_STR("{\"items\":[]}"), true, &a, &rv, &cont, count_item, &n),
             AG_E_PARSE); /* no resourceVersion */
    ag_arena_dispose(&a);
}

static bool can(const ag_rbac_t *p, const char *user, const char *verb, const char *ns)
{
    ag_identity_t id = {.username = ag_str_cstr(user)};
    ag_attrs_t at = {.resource_request = true,
                     .verb = ag_str_cstr(verb),
                     .namespace_ = ag_str_cstr(ns),
                     .api_group = AG_STR(""),
                     .resource = AG_STR("pods")};
    ag_authz_decision_t d;
    return ag_rbac_eval(p, &id, &at, &d) == AG_AUTHZ_ALLOW;
}

TEST(rbac_files_laid_over_cluster_objects_win_by_identity)
{
    static const char file[] =
        "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"List\",\"items\":["
        "{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":\"glass\"},\"roleRef\":"
        "{\"kind\":\"ClusterRole\",\"name\":\"cluster-admin\"},\"subjects\":[{\"kind\":"
        "\"User\",\"name\":\"root\"}]}]}";
    char path[] = "/tmp/ag-kwatch-XXXXXX.json";
    int fd = mkstemps(path, 5);
    CHECK(fd >= 0 && write(fd, file, sizeof file - 1) == (ssize_t)(sizeof file - 1));
    close(fd);
    ag_rbac_opts_t boot = {.bootstrap = true}, none = {.bootstrap = false};
    ag_rbac_set_t *cluster = NULL, *files = NULL;
    ag_rbac_view_t *cv = NULL, *v = NULL;
    ag_rbac_t *p = NULL;
    ag_buf_t why = AG_BUF_INIT(4096);
    int refused = -1;
    CHECK_EQ(ag_rbac_set_create(&boot, &cluster), 0);
    /* the same identity as the file's binding (granting eve), and the cluster's own "view"
     * replacing the bootstrap one (delete only) */
    CHECK_EQ(ag_rbac_set_put(cluster,
                             AG_STR("{\"kind\":\"ClusterRoleBinding\",\"metadata\":{\"name\":"
                                    "\"glass\"},\"roleRef\":{\"kind\":\"ClusterRole\",\"name\":"
                                    "\"cluster-admin\"},\"subjects\":[{\"kind\":\"User\","
                                    "\"name\":\"eve\"}]}"),
                             "c1", &refused, &why),
             0);
    CHECK_EQ(ag_rbac_set_put(cluster,
                             AG_STR("{\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"view\"},"
                                    "\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\"],"
                                    "\"verbs\":[\"delete\"]}]}"),
                             "c2", &refused, &why),
             0);
    CHECK_EQ(ag_rbac_set_put(cluster,
                             AG_STR("{\"kind\":\"RoleBinding\",\"metadata\":{\"name\":\"a\","
                                    "\"namespace\":\"d\"},\"roleRef\":{\"kind\":\"ClusterRole\","
                                    "\"name\":\"view\"},\"subjects\":[{\"kind\":\"User\","
                                    "\"name\":\"alice\"}]}"),
                             "c3", &refused, &why),
             0);
    const char *paths[] = {path};
    CHECK_EQ(ag_rbac_set_create(&none, &files), 0);
    CHECK_EQ(ag_rbac_set_put_files(files, paths, 1, &refused, &why), 0);
    CHECK_EQ(refused, 0);
    CHECK_EQ(ag_rbac_set_view(cluster, &cv), 0);
    CHECK_EQ(ag_rbac_view_over(cv, files, &v), 0);
    CHECK_EQ(ag_rbac_view_build(v, &p, &why), 0);
    CHECK(p != NULL);
    if (p) {
        CHECK(can(p, "root", "get", "d"));     /* the file's binding */
        CHECK(!can(p, "eve", "get", "d"));     /* replaced by the file's */
        CHECK(can(p, "alice", "delete", "d")); /* the cluster's view ... */
        CHECK(!can(p, "alice", "get", "d"));   /* ... not the bootstrap one */
    }
    /* the files set is the caller's: the snapshot outlives every set and view */
    ag_rbac_view_destroy(v);
    ag_rbac_view_destroy(cv);
    ag_rbac_set_destroy(files);
    ag_rbac_set_destroy(cluster);
    if (p)
        CHECK(can(p, "root", "list", "x"));
    ag_rbac_unref(p);
    ag_buf_dispose(&why);
    unlink(path);
}

TEST(rbac_set_put_files_names_a_missing_file)
{
    ag_rbac_opts_t none = {.bootstrap = false};
    ag_rbac_set_t *s = NULL;
    ag_buf_t why = AG_BUF_INIT(4096);
    const char *paths[] = {"/nonexistent/authgate-policy.json"};
    CHECK_EQ(ag_rbac_set_create(&none, &s), 0);
    CHECK_EQ(ag_rbac_set_put_files(s, paths, 1, NULL, &why), AG_E_IO);
    CHECK(why.p && strstr(why.p, "/nonexistent/authgate-policy.json"));
    ag_rbac_set_destroy(s);
    ag_buf_dispose(&why);
}
