/* Request attributes ("RequestInfo"): step 4 of a request's path. Turns an HTTP method
 * and request target into the attributes the API server's authorizers see (verb, API
 * group/version, namespace, resource, subresource, name, or the non-resource path),
 * exactly as kube-apiserver's RequestInfoFactory does (reference §1). Pure: no I/O, no
 * allocation unless the target carries percent-escapes. Never judges anything itself. */
#ifndef AG_REQINFO_H
#define AG_REQINFO_H

#include <stdbool.h>

#include "authz/authz.h"
#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"

/* Derives attributes from <method> + <target> (origin-form "path?query"). Slices in
 * <out> borrow from <method>/<target> (both must outlive <out>); percent-decoded values
 * are copied into <arena>. The verb is lower case: get/list/watch by name presence and
 * ?watch, the legacy /watch/ and /proxy/ path verbs, POST create, PUT update, PATCH
 * patch, DELETE delete/deletecollection; non-resource requests carry the lower-cased
 * method and the path. A list/watch gets <name> from an exact metadata.name field
 * selector only when all list options decode cleanly (then also field_selector_name).
 * Returns AG_E_PARSE for what the API server refuses to derive (a bare /watch or /proxy,
 * a malformed percent-escape in the path, an empty method), AG_E_NOMEM. */
ag_err ag_reqinfo_parse(ag_str_t method, ag_str_t target, ag_arena_t *arena, ag_attrs_t *out);

/* The exec rule of newer API servers: a WebSocket GET ("get" verb) on pods/exec,
 * pods/attach, pods/portforward or nodes/proxy must also be allowed "create". Returns
 * true when the caller must run a second check with verb "create". Callers that want the
 * stricter reading pass <websocket> true for every GET. */
bool ag_reqinfo_needs_create_check(const ag_attrs_t *a, bool websocket);

/* Parses a field selector (fields.ParseSelector rules: ',' separates terms, '\' escapes
 * ',', '=' and '\' in values, operators "!=", "==", "="). Returns false when it does not
 * parse. On success, when some term requires metadata.name to equal a value, *name gets
 * it (unescaped into <arena>) and *has_name is set. */
bool ag_reqinfo_field_selector_name(ag_str_t sel, ag_arena_t *arena, ag_str_t *name,
                                    bool *has_name);
/* Whether <sel> parses as a label selector (labels.Parse grammar). */
bool ag_reqinfo_label_selector_valid(ag_str_t sel);

#endif
