/* libFuzzer target: Kubernetes protobuf request bodies (untrusted bytes from any
 * authenticated client) through ag_kpb_to_json for every review kind. Whatever is
 * accepted must be JSON and must encode back to protobuf (ag_kpb_from_json); one more
 * protobuf round trip must then give the very same JSON (the first may only normalise:
 * invalid UTF-8 becomes U+FFFD, written as an escape the first time). The first byte
 * picks the kind; the rest is the body, so the corpus can start from real kubectl
 * requests. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "review/kpb.h"

static const char *const kinds[][2] = {
    {"authorization.k8s.io/v1", "SelfSubjectAccessReview"},
    {"authorization.k8s.io/v1beta1", "SelfSubjectAccessReview"},
    {"authorization.k8s.io/v1", "LocalSubjectAccessReview"},
    {"authorization.k8s.io/v1beta1", "LocalSubjectAccessReview"},
    {"authorization.k8s.io/v1", "SelfSubjectRulesReview"},
    {"authentication.k8s.io/v1", "SelfSubjectReview"},
};

/* <json> -> protobuf -> JSON into <back>; false when <json> has a duplicate key. */
static bool round_trip(ag_str_t json, const ag_kpb_kind_t *k, ag_arena_t *arena, ag_buf_t *back)
{
    ag_json_t doc;
    ag_buf_t pb = AG_BUF_INIT(1 << 24);
    const char *why = NULL;
    ag_err err = ag_json_parse(&doc, json, NULL, arena, NULL);
    if (err == AG_E_DUPLICATE) {
        ag_buf_dispose(&pb); /* a map key given twice: the JSON path refuses it (400) */
        return false;
    }
    if (err)
        abort(); /* we wrote something that is not JSON */
    if (ag_kpb_from_json(json, k, arena, &pb) != 0)
        abort(); /* every member we write has a number */
    if (ag_kpb_to_json(ag_buf_str(&pb), k, back, &why) != 0)
        abort();
    ag_buf_dispose(&pb);
    return true;
}

static void check(ag_str_t json, const ag_kpb_kind_t *k, ag_arena_t *arena)
{
    ag_buf_t once = AG_BUF_INIT(1 << 24), twice = AG_BUF_INIT(1 << 24);
    if (round_trip(json, k, arena, &once) && round_trip(ag_buf_str(&once), k, arena, &twice) &&
        (once.n != twice.n || memcmp(once.p, twice.p, once.n) != 0))
        abort(); /* not the same object */
    ag_buf_dispose(&once);
    ag_buf_dispose(&twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *const *kd = kinds[data[0] % (sizeof kinds / sizeof kinds[0])];
    const ag_kpb_kind_t *k = ag_kpb_find(ag_str_cstr(kd[0]), ag_str_cstr(kd[1]));
    ag_buf_t json = AG_BUF_INIT(8u << 20);
    ag_arena_t arena;
    const char *why = NULL;
    if (!k)
        abort();
    ag_arena_init(&arena, 0, 1 << 26);
    ag_err err = ag_kpb_to_json(ag_str_make((const char *)data + 1, size - 1), k, &json, &why);
    if (err == 0)
        check(ag_buf_str(&json), k, &arena);
    else if (err == AG_E_PARSE && !why)
        abort(); /* a 400 without a message */
    ag_buf_dispose(&json);
    ag_arena_dispose(&arena);
    return 0;
}
