/* Azure Resource Manager's Microsoft.Authorization lists, the pure half of the role
 * assignment poller (proxy/authz/armsync.c): the list URLs and a strict reading of one page.
 * Shapes read from the REST reference (learn.microsoft.com/rest/api/authorization, api
 * version 2022-04-01): "Role Assignments - List For Scope", "Role Definitions - List",
 * "Deny Assignments - List For Scope"; each answers {"value": [...], "nextLink": URL}
 * and the items are what core/authz/azure/azrbac_load.c reads (ag_azrbac_load_srcs).
 *
 * Never: opens a socket, or follows a nextLink off the configured ARM origin. */
#ifndef AG_ARM_H
#define AG_ARM_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_ARM_DEFAULT_BASE "https://management.azure.com"
/* The GA api-version of all three Microsoft.Authorization lists. */
#define AG_ARM_API_VERSION "2022-04-01"
/* One page; ARM pages are far smaller (role definitions, the largest, are ~2 MiB for
 * every built-in role). */
#define AG_ARM_MAX_PAGE_BYTES (16u << 20)

typedef enum {
    AG_ARM_ROLE_DEFINITIONS = 0,
    AG_ARM_ROLE_ASSIGNMENTS,
    AG_ARM_DENY_ASSIGNMENTS,
    AG_ARM_KINDS
} ag_arm_kind;

/* "roleDefinitions", "roleAssignments", "denyAssignments" (the URL's resource type). */
const char *ag_arm_kind_type(ag_arm_kind k);
/* "role_definitions", ... (metric labels). */
const char *ag_arm_kind_label(ag_arm_kind k);

/* Appends {base}{scope}/providers/Microsoft.Authorization/{type}?api-version=2022-04-01
 * for the list of <k> that applies to <scope> (the cluster's resource id): role
 * assignments and deny assignments at, above (management groups included) and below the
 * scope, role definitions applicable at it. Bytes of <scope> outside [A-Za-z0-9-._~/] are
 * percent-encoded. AG_E_INVAL for a scope that does not start with '/'. */
ag_err ag_arm_list_url(ag_buf_t *out, ag_str_t base, ag_str_t scope, ag_arm_kind k);

typedef struct {
    int items;     /* elements of "value", each a JSON object */
    ag_str_t next; /* nextLink (arena copy), p == NULL when absent, null or empty */
} ag_arm_page_t;

/* Reads one page strictly: a JSON object whose "value" is an array of objects, and whose
 * "nextLink", when present and not null, is a URL on <base>'s origin (scheme, host, port;
 * no userinfo, fragment or odd bytes). AG_E_PARSE for anything else, AG_E_TOO_BIG over
 * AG_ARM_MAX_PAGE_BYTES, AG_E_NOMEM. */
ag_err ag_arm_page_parse(ag_str_t body, ag_str_t base, ag_arena_t *arena, ag_arm_page_t *page);

#endif
