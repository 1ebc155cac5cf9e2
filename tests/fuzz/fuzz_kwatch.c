/* libFuzzer target: the Kubernetes watch stream and list pages (core/authz/rbac/kwatch.c) as the
 * RBAC reflector (proxy/authz/rbacsync.c) reads them, applied to a parsed object set (rbac_set.h)
 * the same way: a page put whole, ADDED/MODIFIED put, DELETED removed; then the set's view is built
 * into a snapshot under a files layer (ag_rbac_view_over). Checks: nothing an event or page holds
 * can fail a build (invalid objects are refused one by one), a line over the framer's bound is
 * AG_E_TOO_BIG and nothing else. */
#include <stdint.h>
#include <string.h>

#include "authz/rbac/kwatch.h"
#include "authz/rbac/rbac.h"
#include "authz/rbac/rbac_set.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const kinds[4] = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"};

typedef struct {
    ag_rbac_set_t *set;
    ag_arena_t arena;
    int kind;
} ctx_t;

static bool namespaced(const ctx_t *c)
{
    return c->kind >= 2;
}

static ag_err on_line(void *p, ag_str_t line)
{
    ctx_t *c = p;
    ag_kw_event_t ev;
    int refused;
    ag_arena_reset(&c->arena);
    ag_err err = ag_kw_parse_event(line, namespaced(c), &c->arena, &ev);
    if (err)
        return err == AG_E_PARSE || err == AG_E_TOO_BIG ? 0 : err;
    if (ev.type == AG_KW_ADDED || ev.type == AG_KW_MODIFIED)
        err = ag_rbac_set_put(c->set, ev.obj.json, "event", &refused, NULL);
    else if (ev.type == AG_KW_DELETED)
        (void)ag_rbac_set_remove(c->set, ag_str_cstr(kinds[c->kind]), ev.obj.ns, ev.obj.name);
    else if (ev.type == AG_KW_ERROR && (ev.code < 0 || ev.code > 999))
        __builtin_trap();
    return err == AG_E_CONFIG ? 0 : err; /* a put of something that is no object */
}

static ag_err on_item(void *p, const ag_kw_object_t *item)
{
    (void)p, (void)item;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    ctx_t c = {.kind = data[0] & 3};
    ag_rbac_opts_t none = {.bootstrap = false};
    ag_rbac_set_t *files = NULL;
    if (ag_rbac_set_create(&none, &c.set) || ag_rbac_set_create(&none, &files))
        __builtin_trap();
    ag_arena_init(&c.arena, 4096, 1 << 24);
    ag_str_t in = ag_str_make((const char *)data + 1, size - 1);
    ag_buf_t line = AG_BUF_INIT(1 + (data[0] >> 2) * 64u); /* a small bound: oversized lines */
    size_t cut = in.n ? (data[0] * 31u) % in.n : 0;        /* the stream in two pieces */
    ag_err err = ag_kw_feed(&line, ag_str_sub(in, 0, cut), on_line, &c);
    if (!err)
        err = ag_kw_feed(&line, ag_str_sub(in, cut, in.n - cut), on_line, &c);
    if (err && err != AG_E_TOO_BIG && err != AG_E_NOMEM)
        __builtin_trap();
    ag_str_t rv, cont;
    int refused;
    ag_arena_reset(&c.arena);
    if (ag_kw_parse_page(in, namespaced(&c), &c.arena, &rv, &cont, on_item, &c) == 0)
        (void)ag_rbac_set_put(c.set, in, "page", &refused, NULL);
    ag_rbac_view_t *cv = NULL, *v = NULL;
    ag_rbac_t *p = NULL;
    if (ag_rbac_set_view(c.set, &cv) == 0 && ag_rbac_view_over(cv, files, &v) == 0 &&
        ag_rbac_view_build(v, &p, NULL) != 0)
        __builtin_trap(); /* a view holds valid objects only */
    ag_rbac_unref(p);
    ag_rbac_view_destroy(v);
    ag_rbac_view_destroy(cv);
    ag_rbac_set_destroy(files);
    ag_rbac_set_destroy(c.set);
    ag_buf_dispose(&line);
    ag_arena_dispose(&c.arena);
    return 0;
}
