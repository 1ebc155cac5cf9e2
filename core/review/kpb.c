/* Kubernetes protobuf encoding of the review kinds (kpb.h). The tables below follow
 * kubernetes/api authorization/v1, authentication/v1 and apimachinery meta/v1
 * generated.proto; the v1beta1 messages have the same numbers (SubjectAccessReviewSpec's
 * field 4 is "group" in JSON there). */
#include "review/kpb.h"

#include <string.h>

#include "base/json.h"
#include "review/pb.h"

enum ftype { F_STRING, F_BOOL, F_MSG, F_STRINGS, F_MSGS, F_EXTRA };

typedef struct {
    uint32_t num;
    const char *json;
    enum ftype type;
    const ag_kpb_msg_t *msg; /* F_MSG, F_MSGS */
} field_t;

struct ag_kpb_msg {
    const field_t *f;
    int n;
};

#define MSG(name, ...)                                                                             \
    static const field_t name##_f[] = {__VA_ARGS__};                                               \
    static const ag_kpb_msg_t name = {name##_f, (int)(sizeof name##_f / sizeof name##_f[0])}

/* meta/v1 ObjectMeta: the identifying fields; the rest is skipped as unknown. */
MSG(object_meta, {1, "name", F_STRING, NULL}, {2, "generateName", F_STRING, NULL},
    {3, "namespace", F_STRING, NULL}, {5, "uid", F_STRING, NULL},
    {6, "resourceVersion", F_STRING, NULL});
/* meta/v1 LabelSelectorRequirement and authorization/v1 FieldSelectorRequirement */
MSG(selector_req, {1, "key", F_STRING, NULL}, {2, "operator", F_STRING, NULL},
    {3, "values", F_STRINGS, NULL});
MSG(selector_attrs, {1, "rawSelector", F_STRING, NULL}, {2, "requirements", F_MSGS, &selector_req});
MSG(resource_attrs, {1, "namespace", F_STRING, NULL}, {2, "verb", F_STRING, NULL},
    {3, "group", F_STRING, NULL}, {4, "version", F_STRING, NULL}, {5, "resource", F_STRING, NULL},
    {6, "subresource", F_STRING, NULL}, {7, "name", F_STRING, NULL},
    {8, "fieldSelector", F_MSG, &selector_attrs}, {9, "labelSelector", F_MSG, &selector_attrs});
MSG(non_resource_attrs, {1, "path", F_STRING, NULL}, {2, "verb", F_STRING, NULL});
MSG(sar_status, {1, "allowed", F_BOOL, NULL}, {2, "reason", F_STRING, NULL},
    {3, "evaluationError", F_STRING, NULL}, {4, "denied", F_BOOL, NULL});
MSG(ssar_spec, {1, "resourceAttributes", F_MSG, &resource_attrs},
    {2, "nonResourceAttributes", F_MSG, &non_resource_attrs});
MSG(ssar, {1, "metadata", F_MSG, &object_meta}, {2, "spec", F_MSG, &ssar_spec},
    {3, "status", F_MSG, &sar_status});
MSG(sar_spec, {1, "resourceAttributes", F_MSG, &resource_attrs},
    {2, "nonResourceAttributes", F_MSG, &non_resource_attrs}, {3, "user", F_STRING, NULL},
    {4, "groups", F_STRINGS, NULL}, {5, "extra", F_EXTRA, NULL}, {6, "uid", F_STRING, NULL});
MSG(sar_spec_beta, {1, "resourceAttributes", F_MSG, &resource_attrs},
    {2, "nonResourceAttributes", F_MSG, &non_resource_attrs}, {3, "user", F_STRING, NULL},
    {4, "group", F_STRINGS, NULL}, {5, "extra", F_EXTRA, NULL}, {6, "uid", F_STRING, NULL});
MSG(lsar, {1, "metadata", F_MSG, &object_meta}, {2, "spec", F_MSG, &sar_spec},
    {3, "status", F_MSG, &sar_status});
MSG(lsar_beta, {1, "metadata", F_MSG, &object_meta}, {2, "spec", F_MSG, &sar_spec_beta},
    {3, "status", F_MSG, &sar_status});
MSG(ssrr_spec, {1, "namespace", F_STRING, NULL});
MSG(resource_rule, {1, "verbs", F_STRINGS, NULL}, {2, "apiGroups", F_STRINGS, NULL},
    {3, "resources", F_STRINGS, NULL}, {4, "resourceNames", F_STRINGS, NULL});
MSG(non_resource_rule, {1, "verbs", F_STRINGS, NULL}, {2, "nonResourceURLs", F_STRINGS, NULL});
MSG(rules_status, {1, "resourceRules", F_MSGS, &resource_rule},
    {2, "nonResourceRules", F_MSGS, &non_resource_rule}, {3, "incomplete", F_BOOL, NULL},
    {4, "evaluationError", F_STRING, NULL});
MSG(ssrr, {1, "metadata", F_MSG, &object_meta}, {2, "spec", F_MSG, &ssrr_spec},
    {3, "status", F_MSG, &rules_status});
/* authentication/v1 */
MSG(user_info, {1, "username", F_STRING, NULL}, {2, "uid", F_STRING, NULL},
    {3, "groups", F_STRINGS, NULL}, {4, "extra", F_EXTRA, NULL});
MSG(ssr_status, {1, "userInfo", F_MSG, &user_info});
MSG(ssr, {1, "metadata", F_MSG, &object_meta}, {2, "status", F_MSG, &ssr_status});
/* map<string, ExtraValue> entries: key = 1, value = 2 (ExtraValue: repeated items = 1) */
MSG(extra_value, {1, "items", F_STRINGS, NULL});
MSG(extra_entry, {1, "key", F_STRING, NULL}, {2, "value", F_MSG, &extra_value});

static const ag_kpb_kind_t kinds[] = {
    {"authorization.k8s.io/v1", "SelfSubjectAccessReview", &ssar},
    {"authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", &ssar},
    {"authorization.k8s.io/v1", "LocalSubjectAccessReview", &lsar},
    {"authorization.k8s.io/v1beta1", "LocalSubjectAccessReview", &lsar_beta},
    {"authorization.k8s.io/v1", "SelfSubjectRulesReview", &ssrr},
    {"authorization.k8s.io/v1beta1", "SelfSubjectRulesReview", &ssrr},
    {"authentication.k8s.io/v1", "SelfSubjectReview", &ssr},
    {"authentication.k8s.io/v1beta1", "SelfSubjectReview", &ssr},
};

const ag_kpb_kind_t *ag_kpb_find(ag_str_t api_version, ag_str_t kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (ag_str_eq_lit(api_version, kinds[i].api_version) && ag_str_eq_lit(kind, kinds[i].kind))
            return &kinds[i];
    return NULL;
}

/* ---- protobuf -> JSON ----------------------------------------------------------------- */

static const field_t *field_by_num(const ag_kpb_msg_t *m, uint32_t num)
{
    for (int i = 0; i < m->n; i++)
        if (m->f[i].num == num)
            return &m->f[i];
    return NULL;
}

static int wire_of(enum ftype t)
{
    return t == F_BOOL ? AG_PB_VARINT : AG_PB_LEN;
}

/* One pass over <msg>: well-formed fields, known ones with their declared wire type. */
static ag_err check_msg(ag_str_t msg, const ag_kpb_msg_t *m, const char **why)
{
    ag_pb_reader_t r;
    ag_pb_field_t f;
    ag_pb_reader_init(&r, msg);
    for (;;) {
        if (ag_pb_next(&r, &f))
            return *why = "malformed protobuf: truncated or invalid field", AG_E_PARSE;
        if (!f.num)
            return 0;
        const field_t *d = field_by_num(m, f.num);
        if (d && f.wire != wire_of(d->type))
            return *why = "malformed protobuf: wrong wire type for a known field", AG_E_PARSE;
    }
}

/* Collects every occurrence of field <num> (already checked): the last one in *last,
 * their count returned; with <cat> the LEN payloads are concatenated into it (a message
 * field given twice is merged, which for protobuf is the parse of the concatenation). */
static int occurrences(ag_str_t msg, uint32_t num, ag_pb_field_t *last, ag_buf_t *cat, ag_err *err)
{
    ag_pb_reader_t r;
    ag_pb_field_t f;
    int n = 0;
    ag_pb_reader_init(&r, msg);
    while (ag_pb_next(&r, &f) == 0 && f.num)
        if (f.num == num) {
            *last = f;
            n++;
            if (cat && !*err)
                *err = ag_buf_append_str(cat, f.bytes);
        }
    return n;
}

static ag_err members_to_json(ag_str_t msg, const ag_kpb_msg_t *m, ag_buf_t *out, bool first,
                              const char **why);

static ag_err key(ag_buf_t *out, const char *name, bool *first)
{
    ag_err err = *first ? 0 : ag_buf_append(out, ",", 1);
    *first = false;
    return err ? err : ag_buf_printf(out, "\"%s\":", name);
}

static ag_err msg_to_json(ag_str_t msg, const ag_kpb_msg_t *m, ag_buf_t *out, const char **why)
{
    ag_err err = ag_buf_append(out, "{", 1);
    if (!err)
        err = members_to_json(msg, m, out, true, why);
    return err ? err : ag_buf_append(out, "}", 1);
}

/* The LEN occurrences of <num> in <msg> as a JSON array: strings, or messages of <m>. */
static ag_err array_to_json(ag_str_t msg, uint32_t num, const ag_kpb_msg_t *m, ag_buf_t *out,
                            const char **why)
{
    ag_pb_reader_t r;
    ag_pb_field_t f;
    ag_err err = ag_buf_append(out, "[", 1);
    bool first = true;
    ag_pb_reader_init(&r, msg);
    while (!err && ag_pb_next(&r, &f) == 0 && f.num) {
        if (f.num != num)
            continue;
        if (!first && (err = ag_buf_append(out, ",", 1)))
            break;
        first = false;
        err = m ? msg_to_json(f.bytes, m, out, why) : ag_json_write_str(out, f.bytes);
    }
    return err ? err : ag_buf_append(out, "]", 1);
}

/* map<string, ExtraValue>: {"key":[items...],...}; a key given twice keeps the last. */
static ag_err extra_to_json(ag_str_t msg, uint32_t num, ag_buf_t *out, const char **why)
{
    ag_pb_reader_t r;
    ag_pb_field_t f, k, v;
    ag_err err = ag_buf_append(out, "{", 1);
    bool first = true;
    ag_pb_reader_init(&r, msg);
    while (!err && ag_pb_next(&r, &f) == 0 && f.num) {
        if (f.num != num)
            continue;
        if ((err = check_msg(f.bytes, &extra_entry, why)))
            return err;
        k = (ag_pb_field_t){0};
        v = (ag_pb_field_t){0};
        occurrences(f.bytes, 1, &k, NULL, &err);
        occurrences(f.bytes, 2, &v, NULL, &err);
        if ((err = check_msg(v.bytes, &extra_value, why)) ||
            (!first && (err = ag_buf_append(out, ",", 1))) ||
            (err = ag_json_write_str(out, k.bytes)) || (err = ag_buf_append(out, ":", 1)))
            return err;
        first = false;
        err = array_to_json(v.bytes, 1, NULL, out, why);
    }
    return err ? err : ag_buf_append(out, "}", 1);
}

static ag_err member_to_json(ag_str_t msg, const field_t *d, ag_buf_t *out, bool *first,
                             const char **why)
{
    ag_pb_field_t last = {0};
    ag_buf_t cat = AG_BUF_INIT(msg.n);
    ag_err err = 0;
    int n = occurrences(msg, d->num, &last, d->type == F_MSG ? &cat : NULL, &err);
    if (err || !n || (d->type == F_STRING && !last.bytes.n))
        goto out;
    if ((err = key(out, d->json, first)))
        goto out;
    if (d->type == F_STRING)
        err = ag_json_write_str(out, last.bytes);
    else if (d->type == F_BOOL)
        err = ag_buf_append_cstr(out, last.u ? "true" : "false");
    else if (d->type == F_MSG)
        err = msg_to_json(ag_buf_str(&cat), d->msg, out, why);
    else if (d->type == F_EXTRA)
        err = extra_to_json(msg, d->num, out, why);
    else
        err = array_to_json(msg, d->num, d->type == F_MSGS ? d->msg : NULL, out, why);
out:
    ag_buf_dispose(&cat);
    return err;
}

static ag_err members_to_json(ag_str_t msg, const ag_kpb_msg_t *m, ag_buf_t *out, bool first,
                              const char **why)
{
    ag_err err = check_msg(msg, m, why);
    for (int i = 0; !err && i < m->n; i++)
        err = member_to_json(msg, &m->f[i], out, &first, why);
    return err;
}

/* ---- the envelope ------------------------------------------------------------------- */

static const char magic[4] = {'k', '8', 's', '\0'};

typedef struct {
    ag_str_t api_version, kind, raw, encoding, type;
} envelope_t;

static ag_err read_envelope(ag_str_t body, envelope_t *e, const char **why)
{
    ag_pb_reader_t r;
    ag_pb_field_t f;
    *e = (envelope_t){0};
    if (body.n < 4 || memcmp(body.p, magic, 4) != 0)
        return *why = "not the Kubernetes protobuf encoding: the k8s\\0 prefix is missing",
               AG_E_PARSE;
    static const field_t known[] = {{1, "", F_MSG, NULL},
                                    {2, "", F_STRING, NULL},
                                    {3, "", F_STRING, NULL},
                                    {4, "", F_STRING, NULL}};
    static const ag_kpb_msg_t unknown = {known, 4};
    static const field_t tm_f[] = {{1, "", F_STRING, NULL}, {2, "", F_STRING, NULL}};
    static const ag_kpb_msg_t type_meta = {tm_f, 2};
    ag_str_t env = ag_str_sub(body, 4, body.n - 4);
    ag_err err = check_msg(env, &unknown, why);
    ag_pb_reader_init(&r, env);
    while (!err && ag_pb_next(&r, &f) == 0 && f.num) {
        if (f.num == 1 && !(err = check_msg(f.bytes, &type_meta, why))) {
            ag_pb_field_t t = {0};
            if (occurrences(f.bytes, 1, &t, NULL, &err))
                e->api_version = t.bytes;
            if (occurrences(f.bytes, 2, &t, NULL, &err))
                e->kind = t.bytes;
        }
        ag_str_t *slot = f.num == 2   ? &e->raw
                         : f.num == 3 ? &e->encoding
                         : f.num == 4 ? &e->type
                                      : NULL;
        if (slot)
            *slot = f.bytes;
    }
    return err;
}

ag_err ag_kpb_to_json(ag_str_t body, const ag_kpb_kind_t *k, ag_buf_t *json, const char **why)
{
    envelope_t e;
    ag_err err = read_envelope(body, &e, why);
    if (err)
        return err;
    if ((e.kind.n && !ag_str_eq_lit(e.kind, k->kind)) ||
        (e.api_version.n && !ag_str_eq_lit(e.api_version, k->api_version)))
        return *why = "the protobuf envelope names another kind or apiVersion than the URL",
               AG_E_PARSE;
    if (e.encoding.n)
        return *why = "protobuf contentEncoding is not supported", AG_E_PARSE;
    if (e.type.n && !ag_str_eq_lit(e.type, AG_KPB_MEDIA_TYPE))
        return *why = "the protobuf envelope's contentType is not protobuf", AG_E_PARSE;
    if ((err = ag_buf_printf(json, "{\"kind\":\"%s\",\"apiVersion\":\"%s\"", k->kind,
                             k->api_version)) ||
        (err = members_to_json(e.raw, k->msg, json, false, why)))
        return err;
    return ag_buf_append(json, "}", 1);
}

/* ---- JSON -> protobuf ----------------------------------------------------------------- */

static ag_err obj_to_pb(const ag_json_t *doc, ag_json_ref obj, const ag_kpb_msg_t *m, ag_arena_t *a,
                        ag_buf_t *out, bool top);

static ag_err strings_to_pb(const ag_json_t *doc, ag_json_ref arr, uint32_t num, ag_arena_t *a,
                            ag_buf_t *out)
{
    ag_err err = ag_json_typeof(doc, arr) == AG_JSON_ARRAY ? 0 : AG_E_INVAL;
    for (ag_json_ref e = ag_json_first(doc, arr); !err && e != AG_JSON_NONE;
         e = ag_json_next(doc, e)) {
        ag_str_t s;
        if (!(err = ag_json_str(doc, e, a, &s)))
            err = ag_pb_put_bytes(out, num, s);
    }
    return err;
}

static ag_err extra_to_pb(const ag_json_t *doc, ag_json_ref obj, uint32_t num, ag_arena_t *a,
                          ag_buf_t *out)
{
    ag_err err = ag_json_typeof(doc, obj) == AG_JSON_OBJECT ? 0 : AG_E_INVAL;
    for (ag_json_ref k = ag_json_first(doc, obj); !err && k != AG_JSON_NONE;
         k = ag_json_next(doc, k)) {
        ag_str_t key;
        size_t entry = ag_pb_begin(out), value;
        if ((err = ag_json_str(doc, k, a, &key)) || (err = ag_pb_put_bytes(out, 1, key)))
            break;
        value = ag_pb_begin(out);
        if (!(err = strings_to_pb(doc, ag_json_value(k), 1, a, out)) &&
            !(err = ag_pb_end(out, 2, value)))
            err = ag_pb_end(out, num, entry);
    }
    return err;
}

static ag_err member_to_pb(const ag_json_t *doc, ag_json_ref v, const field_t *d, ag_arena_t *a,
                           ag_buf_t *out)
{
    ag_str_t s;
    bool b;
    ag_err err = 0;
    size_t mark = ag_pb_begin(out);
    switch (d->type) {
    case F_STRING:
        return (err = ag_json_str(doc, v, a, &s)) ? err : ag_pb_put_bytes(out, d->num, s);
    case F_BOOL:
        return (err = ag_json_bool(doc, v, &b)) ? err : ag_pb_put_uint(out, d->num, b);
    case F_MSG:
        return (err = obj_to_pb(doc, v, d->msg, a, out, false)) ? err
                                                                : ag_pb_end(out, d->num, mark);
    case F_STRINGS:
        return strings_to_pb(doc, v, d->num, a, out);
    case F_EXTRA:
        return extra_to_pb(doc, v, d->num, a, out);
    case F_MSGS:
        if (ag_json_typeof(doc, v) != AG_JSON_ARRAY)
            return AG_E_INVAL;
        for (ag_json_ref e = ag_json_first(doc, v); !err && e != AG_JSON_NONE;
             e = ag_json_next(doc, e)) {
            mark = ag_pb_begin(out);
            if (!(err = obj_to_pb(doc, e, d->msg, a, out, false)))
                err = ag_pb_end(out, d->num, mark);
        }
        return err;
    }
    return AG_E_INVAL;
}

static const field_t *field_by_json(const ag_json_t *doc, ag_json_ref key, const ag_kpb_msg_t *m)
{
    for (int i = 0; i < m->n; i++)
        if (ag_json_str_eq(doc, key, m->f[i].json))
            return &m->f[i];
    return NULL;
}

/* The members of <obj>, in its order (which is proto order for the gateway's answers). */
static ag_err obj_to_pb(const ag_json_t *doc, ag_json_ref obj, const ag_kpb_msg_t *m, ag_arena_t *a,
                        ag_buf_t *out, bool top)
{
    ag_err err = ag_json_typeof(doc, obj) == AG_JSON_OBJECT ? 0 : AG_E_INVAL;
    for (ag_json_ref k = ag_json_first(doc, obj); !err && k != AG_JSON_NONE;
         k = ag_json_next(doc, k)) {
        ag_json_ref v = ag_json_value(k);
        if (ag_json_typeof(doc, v) == AG_JSON_NULL ||
            (top && (ag_json_str_eq(doc, k, "kind") || ag_json_str_eq(doc, k, "apiVersion"))))
            continue;
        const field_t *d = field_by_json(doc, k, m);
        if (d) /* a member without a number (an unknown field a JSON request echoed) is
                  dropped, as kube-apiserver drops unknown fields when it decodes */
            err = member_to_pb(doc, v, d, a, out);
    }
    return err;
}

ag_err ag_kpb_from_json(ag_str_t json, const ag_kpb_kind_t *k, ag_arena_t *arena, ag_buf_t *out)
{
    ag_json_t doc;
    ag_err err = ag_json_parse(&doc, json, NULL, arena, NULL);
    if (err)
        return err;
    size_t tm, raw;
    if ((err = ag_buf_append(out, magic, 4)))
        return err;
    tm = ag_pb_begin(out);
    if ((err = ag_pb_put_bytes(out, 1, ag_str_cstr(k->api_version))) ||
        (err = ag_pb_put_bytes(out, 2, ag_str_cstr(k->kind))) || (err = ag_pb_end(out, 1, tm)))
        return err;
    raw = ag_pb_begin(out);
    if ((err = obj_to_pb(&doc, ag_json_root(&doc), k->msg, arena, out, true)) ||
        (err = ag_pb_end(out, 2, raw)))
        return err;
    /* contentEncoding and contentType, empty, as the Go encoder writes them */
    if ((err = ag_pb_put_bytes(out, 3, AG_STR(""))))
        return err;
    return ag_pb_put_bytes(out, 4, AG_STR(""));
}
