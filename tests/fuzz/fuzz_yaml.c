/* libFuzzer target: YAML policy input (core/base/yaml2json.c) over untrusted bytes. The JSON it
 * writes must always be JSON the strict reader accepts (only a duplicate key, or nesting
 * one level past the limit for the document array, may be refused there), every JSON
 * offset must map to a YAML position, and the same bytes then go through the RBAC and
 * Azure loaders as a .yaml file would. */
#include <stdint.h>
#include <string.h>

#include "authz/azure/azrbac.h"
#include "authz/rbac/rbac.h"
#include "base/yaml2json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_conversion(ag_str_t in)
{
    ag_yaml_json_t y;
    ag_json_error_t e = {0};
    ag_arena_t arena;
    ag_json_t doc;
    ag_arena_init(&arena, 0, 1 << 26);
    ag_err err = ag_yaml_to_json(in, 1 << 24, &y, &e);
    if (err) {
        if (e.line < 1 || e.col < 1)
            __builtin_trap(); /* every refusal names a position */
    } else {
        err = ag_yaml_json_parse(&y, &doc, NULL, &arena, &e);
        if (err && err != AG_E_DUPLICATE && err != AG_E_TOO_DEEP)
            __builtin_trap(); /* the converter wrote something that is not JSON */
        for (int i = 0; !err && i < doc.ntok; i++) {
            int line, col;
            ag_json_pos(&doc, i, &line, &col);
            if (i > 0 && (line < 1 || col < 1))
                __builtin_trap(); /* a value without a YAML position */
        }
    }
    ag_yaml_json_dispose(&y);
    ag_arena_dispose(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t in = ag_str_make((const char *)data, size);
    check_conversion(in);
    ag_rbac_opts_t opts = {.bootstrap = false};
    ag_rbac_t *p = NULL;
    ag_buf_t err = AG_BUF_INIT(1 << 16);
    if (ag_rbac_load_mem(in, "fuzz.yaml", &opts, &p, &err) == 0) {
        ag_identity_t u = {.username = AG_STR("u")};
        ag_attrs_t a = {.resource_request = true,
                        .verb = AG_STR("get"),
                        .resource = AG_STR("pods"),
                        .namespace_ = AG_STR("ns")};
        ag_authz_decision_t d;
        (void)ag_rbac_eval(p, &u, &a, &d);
    }
    ag_rbac_unref(p);
    ag_buf_dispose(&err);
    return 0;
}
