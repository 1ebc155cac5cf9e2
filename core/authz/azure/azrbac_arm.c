/* ARM list URLs and pages (azrbac_arm.h). A page comes from the network: anything but the
 * documented shape is an error, so the poller keeps the last good set. */
#include "authz/azure/azrbac_arm.h"

#include "base/json.h"
#include "graph/graph.h"

static const char *const types[AG_ARM_KINDS] = {"roleDefinitions", "roleAssignments",
                                                "denyAssignments"};
static const char *const labels[AG_ARM_KINDS] = {"role_definitions", "role_assignments",
                                                 "deny_assignments"};

const char *ag_arm_kind_type(ag_arm_kind k)
{
    return (unsigned)k < AG_ARM_KINDS ? types[k] : "";
}

const char *ag_arm_kind_label(ag_arm_kind k)
{
    return (unsigned)k < AG_ARM_KINDS ? labels[k] : "";
}

static ag_err append_path(ag_buf_t *out, ag_str_t scope)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < scope.n; i++) {
        unsigned char ch = (unsigned char)scope.p[i];
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~' ||
                     ch == '/';
        char enc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        ag_err err = plain ? ag_buf_append(out, &scope.p[i], 1) : ag_buf_append(out, enc, 3);
        if (err)
            return err;
    }
    return 0;
}

ag_err ag_arm_list_url(ag_buf_t *out, ag_str_t base, ag_str_t scope, ag_arm_kind k)
{
    ag_err err;
    if (scope.n == 0 || scope.p[0] != '/' || (unsigned)k >= AG_ARM_KINDS)
        return AG_E_INVAL;
    while (scope.n > 1 && scope.p[scope.n - 1] == '/')
        scope.n--;
    if ((err = ag_buf_append_str(out, base)) || (err = append_path(out, scope)))
        return err;
    return ag_buf_printf(out, "/providers/Microsoft.Authorization/%s?api-version=%s", types[k],
                         AG_ARM_API_VERSION);
}

static ag_err read_next(const ag_json_t *doc, ag_json_ref next, ag_str_t base, ag_arena_t *arena,
                        ag_arm_page_t *page)
{
    ag_str_t link;
    ag_json_type t = ag_json_typeof(doc, next);
    if (t == AG_JSON_ABSENT || t == AG_JSON_NULL)
        return 0;
    if (t != AG_JSON_STRING || ag_json_str(doc, next, arena, &link) != 0)
        return AG_E_PARSE;
    if (link.n == 0)
        return 0;
    if (!ag_graph_same_origin(base, link))
        return AG_E_PARSE; /* never follow a link off the configured ARM origin */
    page->next = ag_arena_strdup(arena, link);
    return page->next.p ? 0 : AG_E_NOMEM;
}

ag_err ag_arm_page_parse(ag_str_t body, ag_str_t base, ag_arena_t *arena, ag_arm_page_t *page)
{
    ag_json_t doc;
    ag_json_limits_t lim = {.max_depth = 24, .max_tokens = 0};
    ag_err err;
    *page = (ag_arm_page_t){0, AG_STR_NULL};
    if (body.n > AG_ARM_MAX_PAGE_BYTES)
        return AG_E_TOO_BIG;
    if ((err = ag_json_parse(&doc, body, &lim, arena, NULL)) != 0)
        return err == AG_E_NOMEM ? err : AG_E_PARSE;
    ag_json_ref root = ag_json_root(&doc);
    ag_json_ref value = ag_json_get(&doc, root, "value");
    if (ag_json_typeof(&doc, root) != AG_JSON_OBJECT ||
        ag_json_typeof(&doc, value) != AG_JSON_ARRAY)
        return AG_E_PARSE;
    for (ag_json_ref e = ag_json_first(&doc, value); e != AG_JSON_NONE;
         e = ag_json_next(&doc, e), page->items++)
        if (ag_json_typeof(&doc, e) != AG_JSON_OBJECT)
            return AG_E_PARSE;
    return read_next(&doc, ag_json_get(&doc, root, "nextLink"), base, arena, page);
}
