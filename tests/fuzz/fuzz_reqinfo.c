/* libFuzzer target: request-attribute derivation (core/authz/reqinfo.c) over untrusted method
 * and target bytes, plus the selector parsers it uses. Input: METHOD ' ' TARGET. Checks
 * invariants: slices stay inside the input or the arena, a resource request always has
 * an API prefix (empty inner segments may leave version or resource empty, as upstream;
 * the proxy refuses such paths before they get here). */
#include <stdint.h>
#include <string.h>

#include "authz/reqinfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_str_t in = ag_str_make((const char *)data, size), method;
    ag_str_t target = ag_str_split(in, ' ', &method);
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 1 << 20);
    ag_attrs_t a;
    if (target.p && ag_reqinfo_parse(method, target, &arena, &a) == 0) {
        if (a.resource_request && !a.api_prefix.n)
            __builtin_trap();
        (void)ag_reqinfo_needs_create_check(&a, true);
        volatile size_t sum = 0; /* touch every byte so ASan sees a bad slice */
        const ag_str_t *all[] = {&a.verb,        &a.api_prefix, &a.api_group,
                                 &a.api_version, &a.namespace_, &a.resource,
                                 &a.subresource, &a.name,       &a.path};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            for (size_t k = 0; k < all[i]->n; k++)
                sum += (unsigned char)all[i]->p[k];
        (void)sum;
    }
    ag_str_t name;
    bool has;
    (void)ag_reqinfo_field_selector_name(in, &arena, &name, &has);
    (void)ag_reqinfo_label_selector_valid(in);
    ag_arena_dispose(&arena);
    return 0;
}
