/* libFuzzer target: client impersonation headers (core/authz/impersonate.c) over untrusted
 * bytes. Input: header lines "Name: value" separated by '\n'. Checks invariants: parse
 * either refuses or yields at most AG_IMPERSONATE_MAX values with a user when anything
 * is requested; every check has the impersonate verb and a resource; the identity always
 * carries system:authenticated or system:unauthenticated; every slice is readable. */
#include <stdint.h>
#include <string.h>

#include "authz/impersonate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(ag_str_t s)
{
    volatile unsigned sum = 0;
    for (size_t i = 0; i < s.n; i++)
        sum += (unsigned char)s.p[i];
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ag_header_t hs[128];
    int n = 0;
    ag_str_t rest = ag_str_make((const char *)data, size), line;
    while (rest.n && n < 128) {
        rest = ag_str_split(rest, '\n', &line);
        ag_str_t name, value = ag_str_split(line, ':', &name);
        hs[n++] = (ag_header_t){name, value, 0};
    }
    ag_arena_t arena;
    ag_arena_init(&arena, 0, 1 << 20);
    ag_impersonate_t im;
    const char *why = NULL;
    if (ag_impersonate_parse(hs, n, &arena, &im, &why) == 0) {
        if (im.ngroups + im.nextra > AG_IMPERSONATE_MAX ||
            (!im.has_user && (im.ngroups || im.nextra || im.has_uid)))
            __builtin_trap();
        for (int i = 0, k = ag_impersonate_nchecks(&im); i < k; i++) {
            ag_attrs_t a;
            ag_impersonate_check(&im, i, &a);
            if (!ag_str_eq_lit(a.verb, "impersonate") || !a.resource.n)
                __builtin_trap();
            touch(a.name), touch(a.subresource), touch(a.namespace_);
        }
        ag_identity_t *id = NULL;
        if (im.has_user && ag_impersonate_identity(&im, &arena, &id) == 0) {
            bool marked = false;
            for (int i = 0; i < id->ngroups; i++) {
                touch(id->groups[i]);
                marked = marked || ag_str_eq_lit(id->groups[i], "system:authenticated") ||
                         ag_str_eq_lit(id->groups[i], "system:unauthenticated");
            }
            for (int i = 0; i < id->nextra; i++)
                for (int k = 0; k < id->extra[i].nvalues; k++)
                    touch(id->extra[i].key), touch(id->extra[i].values[k]);
            if (!marked)
                __builtin_trap();
        }
    }
    ag_arena_dispose(&arena);
    return 0;
}
