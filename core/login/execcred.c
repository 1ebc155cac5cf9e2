/* kubectl exec credential protocol (execcred.h): KUBERNETES_EXEC_INFO in, ExecCredential
 * out. Read with json.c's strict reader; written with its string escaper. */
#include "login/execcred.h"

#include <string.h>

#include "base/json.h"
#include "login/oauth.h"

ag_err ag_execcred_parse_info(ag_str_t text, ag_arena_t *arena, ag_execcred_info_t *out)
{
    ag_json_limits_t lim = {.max_depth = 16, .max_tokens = 1024};
    ag_json_t doc;
    ag_err err;
    if (text.n > 64 * 1024)
        return AG_E_TOO_BIG;
    if ((err = ag_json_parse(&doc, text, &lim, arena, NULL)) != 0)
        return err;
    ag_json_ref root = ag_json_root(&doc);
    ag_json_ref ver = ag_json_get(&doc, root, "apiVersion");
    ag_json_ref spec = ag_json_get(&doc, root, "spec");
    ag_json_ref inter = ag_json_get(&doc, spec, "interactive");
    if (!ag_json_str_eq(&doc, ag_json_get(&doc, root, "kind"), "ExecCredential"))
        return AG_E_PARSE;
    if (ag_json_str_eq(&doc, ver, AG_EXECCRED_V1))
        out->api_version = AG_EXECCRED_V1;
    else if (ag_json_str_eq(&doc, ver, AG_EXECCRED_V1BETA1))
        out->api_version = AG_EXECCRED_V1BETA1;
    else
        return ag_json_typeof(&doc, ver) == AG_JSON_STRING ? AG_E_UNSUPPORTED : AG_E_PARSE;
    bool v1 = strcmp(out->api_version, AG_EXECCRED_V1) == 0;
    out->interactive = false;
    if (spec != AG_JSON_NONE && ag_json_typeof(&doc, spec) != AG_JSON_OBJECT)
        return AG_E_PARSE;
    if (inter == AG_JSON_NONE) /* v1 always sends it; v1beta1 may not */
        return v1 ? AG_E_PARSE : 0;
    return ag_json_bool(&doc, inter, &out->interactive) == 0 ? 0 : AG_E_PARSE;
}

ag_err ag_execcred_write(ag_buf_t *out, const char *api_version, ag_str_t token,
                         long long expires_at)
{
    char ts[32];
    ag_err err;
    ag_oauth_rfc3339(expires_at, ts);
    if ((err = ag_buf_append_cstr(out, "{\"apiVersion\":")) != 0 ||
        (err = ag_json_write_str(out, ag_str_cstr(api_version))) != 0 ||
        (err = ag_buf_append_cstr(out, ",\"kind\":\"ExecCredential\",\"status\":{\"token\":")) !=
            0 ||
        (err = ag_json_write_str(out, token)) != 0)
        return err;
    return ag_buf_printf(out, ",\"expirationTimestamp\":\"%s\"}}\n", ts);
}
