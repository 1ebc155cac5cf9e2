/* Rules of an identity (rules.h): collecting, the review object, kubectl's table. */
#include "authz/rules.h"

#include <stdlib.h>
#include <string.h>

#include "base/json.h"

/* Room for one more of <n> elements of <size> in *v (arena; doubled when full). */
static ag_err grow(ag_arena_t *a, void **v, int n, int *cap, size_t size)
{
    if (n < *cap)
        return 0;
    int c = *cap ? 2 * *cap : 16;
    void *p = ag_arena_alloc(a, size * (size_t)c);
    if (!p)
        return AG_E_NOMEM;
    if (n)
        memcpy(p, *v, size * (size_t)n);
    *v = p;
    *cap = c;
    return 0;
}

void ag_rules_init(ag_rules_t *r, ag_arena_t *arena)
{
    *r = (ag_rules_t){.arena = arena};
}

ag_err ag_rules_add(ag_rules_t *r, const ag_rule_t *rule)
{
    ag_err err = grow(r->arena, (void **)&r->v, r->n, &r->cap, sizeof *r->v);
    if (!err)
        r->v[r->n++] = *rule;
    return err;
}

void ag_rules_error(ag_rules_t *r, const char *msg)
{
    for (int i = 0; i < r->nerrors; i++)
        if (strcmp(r->errors[i], msg) == 0)
            return;
    if (r->nerrors < AG_RULES_MAX_ERRORS)
        r->errors[r->nerrors++] = msg;
}

ag_err ag_rules_write_errors(ag_buf_t *out, const ag_rules_t *r)
{
    ag_err err = r->nerrors > 1 ? ag_buf_append(out, "[", 1) : 0;
    for (int i = 0; !err && i < r->nerrors; i++)
        if (!(i && (err = ag_buf_append(out, ", ", 2))))
            err = ag_buf_append_cstr(out, r->errors[i]);
    return err || r->nerrors <= 1 ? err : ag_buf_append(out, "]", 1);
}

/* "name":[...] with a leading comma unless <first>. */
static ag_err member(ag_buf_t *out, const char *name, ag_strs_t s, bool first)
{
    ag_err err = ag_buf_printf(out, "%s\"%s\":", first ? "" : ",", name);
    return err ? err : ag_json_write_strs(out, s.v, s.n);
}

static ag_err write_rules(ag_buf_t *out, const ag_rules_t *r, bool resource)
{
    ag_err err =
        ag_buf_append_cstr(out, resource ? "\"resourceRules\":[" : ",\"nonResourceRules\":[");
    bool first = true;
    for (int i = 0; !err && i < r->n; i++) {
        const ag_rule_t *x = &r->v[i];
        if ((resource ? x->resources.n : x->urls.n) == 0)
            continue;
        if ((err = ag_buf_append_cstr(out, first ? "{" : ",{")) ||
            (err = member(out, "verbs", x->verbs, true)))
            break;
        first = false;
        if (resource) {
            if ((x->groups.n && (err = member(out, "apiGroups", x->groups, false))) ||
                (err = member(out, "resources", x->resources, false)) ||
                (x->names.n && (err = member(out, "resourceNames", x->names, false))))
                break;
        } else if ((err = member(out, "nonResourceURLs", x->urls, false))) {
            break;
        }
        err = ag_buf_append(out, "}", 1);
    }
    return err ? err : ag_buf_append(out, "]", 1);
}

ag_err ag_rules_write_review(ag_buf_t *out, ag_str_t api_version, ag_str_t ns, const ag_rules_t *r)
{
    ag_err err;
    if ((err = ag_buf_append_cstr(out, "{\"kind\":\"SelfSubjectRulesReview\",\"apiVersion\":")) ||
        (err = ag_json_write_str(out, api_version)) ||
        (err = ag_buf_append_cstr(out, ",\"metadata\":{\"creationTimestamp\":null},\"spec\":{")) ||
        (ns.n && ((err = ag_buf_append_cstr(out, "\"namespace\":")) ||
                  (err = ag_json_write_str(out, ns)))) ||
        (err = ag_buf_append_cstr(out, "},\"status\":{")) || (err = write_rules(out, r, true)) ||
        (err = write_rules(out, r, false)) ||
        (err = ag_buf_printf(out, ",\"incomplete\":%s", r->incomplete ? "true" : "false")))
        return err;
    if (r->nerrors) {
        ag_buf_t msg = AG_BUF_INIT(1 << 20);
        if (!(err = ag_rules_write_errors(&msg, r)) &&
            !(err = ag_buf_append_cstr(out, ",\"evaluationError\":")))
            err = ag_json_write_str(out, ag_buf_str(&msg));
        ag_buf_dispose(&msg);
        if (err)
            return err;
    }
    return ag_buf_append_cstr(out, "}}");
}

/* ---- kubectl auth can-i --list's table ------------------------------------------------- */

/* One broken-down rule: one (group, resource[, name]) or one URL, with its verbs. */
typedef struct {
    bool url;
    ag_str_t group, resource, name, path;
    bool has_name;
    ag_str_t *verbs;
    int nverbs, cap;
    char *key; /* PolicyRule.String(): what kubectl sorts by */
    int order;
} row_t;

typedef struct {
    ag_arena_t *arena;
    row_t *v;
    int n, cap;
} rows_t;

static ag_err push_verbs(ag_arena_t *a, row_t *x, ag_strs_t verbs, bool dedup)
{
    for (int i = 0; i < verbs.n; i++) {
        bool seen = false;
        for (int j = 0; dedup && !seen && j < x->nverbs; j++)
            seen = ag_str_eq(x->verbs[j], verbs.v[i]);
        if (seen)
            continue;
        ag_err err = grow(a, (void **)&x->verbs, x->nverbs, &x->cap, sizeof *x->verbs);
        if (err)
            return err;
        x->verbs[x->nverbs++] = verbs.v[i];
    }
    return 0;
}

/* Adds a row, or merges its verbs into the resource row with the same key (CompactRules). */
static ag_err add_row(rows_t *rs, const row_t *x, ag_strs_t verbs)
{
    for (int i = 0; !x->url && i < rs->n; i++) {
        row_t *y = &rs->v[i];
        if (!y->url && ag_str_eq(y->group, x->group) && ag_str_eq(y->resource, x->resource) &&
            y->has_name == x->has_name && ag_str_eq(y->name, x->name))
            return push_verbs(rs->arena, y, verbs, true);
    }
    ag_err err = grow(rs->arena, (void **)&rs->v, rs->n, &rs->cap, sizeof *rs->v);
    if (err)
        return err;
    rs->v[rs->n] = *x;
    rs->v[rs->n].order = rs->n;
    return push_verbs(rs->arena, &rs->v[rs->n++], verbs, false);
}

/* BreakdownRule: every group x resource (x name), then every URL. */
static ag_err breakdown(rows_t *rs, const ag_rules_t *r)
{
    ag_err err = 0;
    for (int i = 0; !err && i < r->n; i++) {
        const ag_rule_t *x = &r->v[i];
        for (int g = 0; !err && x->resources.n && g < x->groups.n; g++)
            for (int k = 0; !err && k < x->resources.n; k++)
                for (int m = 0; !err && m < (x->names.n ? x->names.n : 1); m++) {
                    row_t row = {.group = x->groups.v[g],
                                 .resource = x->resources.v[k],
                                 .has_name = x->names.n > 0};
                    if (x->names.n)
                        row.name = x->names.v[m];
                    err = add_row(rs, &row, x->verbs);
                }
    }
    for (int i = 0; !err && i < r->n; i++)
        for (int u = 0; !err && u < r->v[i].urls.n; u++) {
            row_t row = {.url = true, .path = r->v[i].urls.v[u]};
            err = add_row(rs, &row, r->v[i].verbs);
        }
    return err;
}

/* Go's fmt %v of a []string: "[a b]". */
static ag_err go_list(ag_buf_t *b, const ag_str_t *v, int n)
{
    ag_err err = ag_buf_append(b, "[", 1);
    for (int i = 0; !err && i < n; i++)
        if (!(i && (err = ag_buf_append(b, " ", 1))))
            err = ag_buf_append_str(b, v[i]);
    return err ? err : ag_buf_append(b, "]", 1);
}

static ag_err row_key(ag_arena_t *a, row_t *x)
{
    ag_buf_t b = AG_BUF_INIT(1 << 20);
    ag_err err;
    int one = x->url ? 0 : 1;
    if (!(err = ag_buf_append_cstr(&b, "&PolicyRule{Verbs:")) &&
        !(err = go_list(&b, x->verbs, x->nverbs)) &&
        !(err = ag_buf_append_cstr(&b, ",APIGroups:")) && !(err = go_list(&b, &x->group, one)) &&
        !(err = ag_buf_append_cstr(&b, ",Resources:")) && !(err = go_list(&b, &x->resource, one)) &&
        !(err = ag_buf_append_cstr(&b, ",ResourceNames:")) &&
        !(err = go_list(&b, &x->name, x->has_name)) &&
        !(err = ag_buf_append_cstr(&b, ",NonResourceURLs:")) &&
        !(err = go_list(&b, &x->path, x->url)) && !(err = ag_buf_append_cstr(&b, ",}")))
        err = (x->key = ag_arena_cstr(a, ag_buf_str(&b))) ? 0 : AG_E_NOMEM;
    ag_buf_dispose(&b);
    return err;
}

/* kubectl: non-resource rows first (in order), then the merged resource rows, then a
 * stable sort by PolicyRule.String(). */
static int by_key(const void *pa, const void *pb)
{
    const row_t *a = pa, *b = pb;
    int c = strcmp(a->key, b->key);
    if (c)
        return c;
    if (a->url != b->url)
        return a->url ? -1 : 1;
    return a->order - b->order;
}

/* Column 1 (CombineResourceGroup): resource[.group][/subresource]. */
static ag_err cell_resource(ag_buf_t *b, const row_t *x)
{
    if (x->url)
        return 0;
    ag_str_t res, sub = ag_str_split(x->resource, '/', &res);
    ag_err err = ag_buf_append_str(b, res);
    if (!err && x->group.n && !(err = ag_buf_append(b, ".", 1)))
        err = ag_buf_append_str(b, x->group);
    if (!err && sub.p && !(err = ag_buf_append(b, "/", 1)))
        err = ag_buf_append_str(b, sub);
    return err;
}

static ag_err cells(ag_buf_t *c, const row_t *x, size_t ends[3])
{
    ag_err err = cell_resource(c, x);
    ends[0] = c->n;
    if (!err && !(err = go_list(c, &x->path, x->url)))
        ends[1] = c->n;
    if (!err && !(err = go_list(c, &x->name, x->has_name)))
        ends[2] = c->n;
    return err ? err : go_list(c, x->verbs, x->nverbs);
}

/* Writes the header and rows padded as text/tabwriter (minwidth 6, padding 3). */
static ag_err print_rows(ag_buf_t *out, const rows_t *rs, bool no_headers)
{
    static const char *head[4] = {"Resources", "Non-Resource URLs", "Resource Names", "Verbs"};
    size_t w[3] = {6, 6, 6}, ends[3];
    ag_buf_t c = AG_BUF_INIT(1 << 20);
    ag_err err = 0;
    for (int k = 0; !no_headers && k < 3; k++)
        w[k] = strlen(head[k]) + 3 > w[k] ? strlen(head[k]) + 3 : w[k];
    for (int i = 0; !err && i < rs->n; i++) {
        ag_buf_clear(&c);
        if (!(err = cells(&c, &rs->v[i], ends)))
            for (int k = 0; k < 3; k++) {
                size_t len = ends[k] - (k ? ends[k - 1] : 0);
                w[k] = len + 3 > w[k] ? len + 3 : w[k];
            }
    }
    if (!err && !no_headers)
        err = ag_buf_printf(out, "%-*s%-*s%-*s%s\n", (int)w[0], head[0], (int)w[1], head[1],
                            (int)w[2], head[2], head[3]);
    for (int i = 0; !err && i < rs->n; i++) {
        ag_buf_clear(&c);
        if (!(err = cells(&c, &rs->v[i], ends)))
            err = ag_buf_printf(out, "%-*.*s%-*.*s%-*.*s%s\n", (int)w[0], (int)ends[0], c.p,
                                (int)w[1], (int)(ends[1] - ends[0]), c.p + ends[0], (int)w[2],
                                (int)(ends[2] - ends[1]), c.p + ends[1], c.p + ends[2]);
    }
    ag_buf_dispose(&c);
    return err;
}

ag_err ag_rules_print_table(ag_buf_t *out, const ag_rules_t *r, bool no_headers)
{
    rows_t rs = {.arena = r->arena};
    ag_err err = breakdown(&rs, r);
    for (int i = 0; !err && i < rs.n; i++)
        err = row_key(r->arena, &rs.v[i]);
    if (err)
        return err;
    if (rs.n)
        qsort(rs.v, (size_t)rs.n, sizeof *rs.v, by_key);
    return print_rows(out, &rs, no_headers);
}
