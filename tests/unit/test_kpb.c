/* The protobuf wire reader/writer (core/review/pb.h) and Kubernetes' protobuf encoding of the
 * review kinds (core/review/kpb.h): round trips, kubectl 1.32's own bytes, and every malformed
 * class (truncated varints, over-long varints, bad field numbers, wrong and undefined wire
 * types, lengths past the end, wrong envelopes), plus unknown fields skipped. */
#include <stdint.h>

#include "base/json.h"
#include "review/kpb.h"
#include "review/pb.h"
#include "testlib.h"

/* `kubectl auth can-i get pods` (v1.32.5, namespace default), as it went on the wire. */
static const unsigned char kubectl_ssar[] = {
    0x6b, 0x38, 0x73, 0x00, 0x0a, 0x32, 0x0a, 0x17, 'a',  'u',  't',  'h',  'o',  'r',  'i',  'z',
    'a',  't',  'i',  'o',  'n',  '.',  'k',  '8',  's',  '.',  'i',  'o',  '/',  'v',  '1',  0x12,
    0x17, 'S',  'e',  'l',  'f',  'S',  'u',  'b',  'j',  'e',  'c',  't',  'A',  'c',  'c',  'e',
    's',  's',  'R',  'e',  'v',  'i',  'e',  'w',  0x12, 0x3c, 0x0a, 0x10, 0x0a, 0x00, 0x12, 0x00,
    0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x1e, 0x0a, 0x1c,
    0x0a, 0x07, 'd',  'e',  'f',  'a',  'u',  'l',  't',  0x12, 0x03, 'g',  'e',  't',  0x1a, 0x00,
    0x22, 0x00, 0x2a, 0x04, 'p',  'o',  'd',  's',  0x32, 0x00, 0x3a, 0x00, 0x1a, 0x08, 0x08, 0x00,
    0x12, 0x00, 0x1a, 0x00, 0x20, 0x00, 0x1a, 0x00, 0x22, 0x00};
#define KUBECTL_JSON                                                                               \
    "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\","            \
    "\"metadata\":{},\"spec\":{\"resourceAttributes\":{\"namespace\":\"default\",\"verb\":"        \
    "\"get\",\"resource\":\"pods\"}},\"status\":{\"allowed\":false,\"denied\":false}}"

static const ag_kpb_kind_t *kind(const char *av, const char *k)
{
    const ag_kpb_kind_t *r = ag_kpb_find(ag_str_cstr(av), ag_str_cstr(k));
    CHECK(r != NULL);
    return r;
}

static const ag_kpb_kind_t *ssar(void)
{
    return kind("authorization.k8s.io/v1", "SelfSubjectAccessReview");
}

/* to_json of <n> bytes; returns the error, leaves the JSON in <out>. */
static ag_err to_json(const void *p, size_t n, const ag_kpb_kind_t *k, ag_buf_t *out)
{
    const char *why = NULL;
    ag_buf_clear(out);
    ag_err err = ag_kpb_to_json(ag_str_make(p, n), k, out, &why);
    if (err == AG_E_PARSE)
        CHECK(why != NULL);
    return err;
}

TEST(pb_varint_round_trips)
{
    static const uint64_t v[] = {0, 1, 127, 128, 300, 16383, 16384, 1ull << 32, UINT64_MAX};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        ag_buf_t b = AG_BUF_INIT(64);
        uint64_t got = 0;
        CHECK_EQ(ag_pb_put_varint(&b, v[i]), 0);
        const unsigned char *p = (const unsigned char *)b.p;
        CHECK_EQ(ag_pb_varint(&p, p + b.n, &got), 0);
        CHECK(got == v[i]);
        CHECK(p == (const unsigned char *)b.p + b.n);
        CHECK_EQ(b.n, v[i] == UINT64_MAX   ? 10
                      : v[i] >= 1ull << 32 ? 5
                      : v[i] >= 16384      ? 3
                      : v[i] >= 128        ? 2
                                           : 1);
        ag_buf_dispose(&b);
    }
}

TEST(pb_varint_rejects_truncated_and_overlong)
{
    uint64_t v;
    const unsigned char trunc[] = {0x80, 0x80}, *p = trunc;
    CHECK_EQ(ag_pb_varint(&p, trunc + 2, &v), AG_E_PARSE);
    CHECK(p == trunc); /* not advanced on failure */
    const unsigned char eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                    0x80, 0x80, 0x80, 0x80, 0x01};
    p = eleven;
    CHECK_EQ(ag_pb_varint(&p, eleven + 11, &v), AG_E_PARSE);
    const unsigned char over64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    p = over64;
    CHECK_EQ(ag_pb_varint(&p, over64 + 10, &v), AG_E_PARSE);
    const unsigned char padded[] = {0x81, 0x80, 0x00}; /* non-minimal is valid protobuf */
    p = padded;
    CHECK_EQ(ag_pb_varint(&p, padded + 3, &v), 0);
    CHECK(v == 1);
    p = trunc;
    CHECK_EQ(ag_pb_varint(&p, trunc, &v), AG_E_PARSE); /* empty */
}

static ag_err next1(const void *bytes, size_t n, ag_pb_field_t *f)
{
    ag_pb_reader_t r;
    ag_pb_reader_init(&r, ag_str_make(bytes, n));
    return ag_pb_next(&r, f);
}

TEST(pb_next_reads_every_wire_type)
{
    ag_pb_field_t f;
    CHECK_EQ(next1("\x08\x96\x01", 3, &f), 0);
    CHECK(f.num == 1 && f.wire == AG_PB_VARINT && f.u == 150);
    CHECK_EQ(next1("\x12\x03"
                   "abc",
                   5, &f),
             0);
    CHECK(f.num == 2 && f.wire == AG_PB_LEN && f.bytes.n == 3 && !memcmp(f.bytes.p, "abc", 3));
    CHECK_EQ(next1("\x19\x01\x02\x03\x04\x05\x06\x07\x08", 9, &f), 0);
    CHECK(f.num == 3 && f.wire == AG_PB_I64 && f.u == 0x0807060504030201ull);
    CHECK_EQ(next1("\x25\x01\x00\x00\x80", 5, &f), 0);
    CHECK(f.num == 4 && f.wire == AG_PB_I32 && f.u == 0x80000001ull);
    CHECK_EQ(next1("\xf8\xff\xff\xff\x0f\x00", 6, &f), 0); /* the largest field number */
    CHECK(f.num == AG_PB_MAX_FIELD);
    CHECK_EQ(next1("", 0, &f), 0);
    CHECK(f.num == 0); /* the end */
}

TEST(pb_next_rejects_every_malformed_class)
{
    ag_pb_field_t f;
    CHECK_EQ(next1("\x08", 1, &f), AG_E_PARSE);                     /* value missing */
    CHECK_EQ(next1("\x08\x80", 2, &f), AG_E_PARSE);                 /* truncated varint */
    CHECK_EQ(next1("\x80", 1, &f), AG_E_PARSE);                     /* truncated key */
    CHECK_EQ(next1("\x00\x01", 2, &f), AG_E_PARSE);                 /* field number 0 */
    CHECK_EQ(next1("\x80\x80\x80\x80\x10\x00", 6, &f), AG_E_PARSE); /* field number 2^29 */
    CHECK_EQ(next1("\x0b", 1, &f), AG_E_PARSE);                     /* start group */
    CHECK_EQ(next1("\x0c", 1, &f), AG_E_PARSE);                     /* end group */
    CHECK_EQ(next1("\x0e\x00", 2, &f), AG_E_PARSE);                 /* wire type 6 */
    CHECK_EQ(next1("\x0f\x00", 2, &f), AG_E_PARSE);                 /* wire type 7 */
    CHECK_EQ(next1("\x12\x04"
                   "abc",
                   5, &f),
             AG_E_PARSE); /* length past the end */
    CHECK_EQ(next1("\x12\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10, &f), AG_E_PARSE); /* 2^63 */
    CHECK_EQ(next1("\x12\xff\xff\xff\xff\x0f"
                   "a",
                   7, &f),
             AG_E_PARSE);                               /* 4 GiB */
    CHECK_EQ(next1("\x19\x01\x02", 3, &f), AG_E_PARSE); /* fixed64 truncated */
    CHECK_EQ(next1("\x25\x01", 2, &f), AG_E_PARSE);     /* fixed32 truncated */
}

TEST(pb_nested_messages_get_their_length_in_front)
{
    ag_buf_t b = AG_BUF_INIT(4096);
    char big[300];
    memset(big, 'x', sizeof big);
    size_t outer = ag_pb_begin(&b);
    CHECK_EQ(ag_pb_put_bytes(&b, 1, ag_str_make(big, sizeof big)), 0);
    CHECK_EQ(ag_pb_put_uint(&b, 2, 7), 0);
    CHECK_EQ(ag_pb_end(&b, 5, outer), 0);
    ag_pb_field_t f, g;
    CHECK_EQ(next1(b.p, b.n, &f), 0);
    CHECK(f.num == 5 && f.wire == AG_PB_LEN && f.bytes.n == 3 + 300 + 2);
    ag_pb_reader_t r;
    ag_pb_reader_init(&r, f.bytes);
    CHECK_EQ(ag_pb_next(&r, &g), 0);
    CHECK(g.num == 1 && g.bytes.n == 300);
    CHECK_EQ(ag_pb_next(&r, &g), 0);
    CHECK(g.num == 2 && g.u == 7);
    ag_buf_dispose(&b);
    ag_buf_t small = AG_BUF_INIT(4); /* the cap holds for the inserted head too */
    size_t m = ag_pb_begin(&small);
    CHECK_EQ(ag_buf_append(&small, "abcd", 4), 0);
    CHECK_EQ(ag_pb_end(&small, 1, m), AG_E_TOO_BIG);
    ag_buf_dispose(&small);
}

TEST(kpb_reads_kubectl_132_self_subject_access_review)
{
    ag_buf_t j = AG_BUF_INIT(1 << 16);
    CHECK_EQ(to_json(kubectl_ssar, sizeof kubectl_ssar, ssar(), &j), 0);
    CHECK_STREQ(j.p, KUBECTL_JSON);
    ag_buf_dispose(&j);
}

/* Appends unknown fields of every wire type inside spec.resourceAttributes and at the top. */
TEST(kpb_skips_unknown_fields_as_protobuf_does)
{
    static const unsigned char body[] = {
        'k',  '8',  's',  0,    0x12, 0x29,             /* raw (41 bytes) */
        0x12, 0x27, 0x0a, 0x25,                         /* spec.resourceAttributes (37) */
        0x12, 0x03, 'g',  'e',  't',                    /* verb */
        0x78, 0x05,                                     /* field 15 varint */
        0x81, 0x01, 1,    2,    3,    4,    5, 6, 7, 8, /* field 16 fixed64 */
        0x85, 0x01, 1,    2,    3,    4,                /* field 16 fixed32 */
        0x2a, 0x01, 'x',                                /* resource */
        0xfa, 0x01, 0x02, 0xff, 0xff,                   /* field 31 LEN, junk inside */
        0x9a, 0x05, 0x03, 0x80, 0x80, 0x80};            /* field 83 LEN */
    ag_buf_t j = AG_BUF_INIT(1 << 16);
    CHECK_EQ(to_json(body, sizeof body, ssar(), &j), 0);
    CHECK_STREQ(j.p, "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":"
                     "\"authorization.k8s.io/v1\",\"spec\":{\"resourceAttributes\":{\"verb\":"
                     "\"get\",\"resource\":\"x\"}}}");
    ag_buf_dispose(&j);
}

TEST(kpb_rejects_wrong_wire_types_and_truncations)
{
    ag_buf_t j = AG_BUF_INIT(1 << 16);
    /* spec given as a varint */
    CHECK_EQ(to_json("k8s\0\x12\x02\x10\x01", 8, ssar(), &j), AG_E_PARSE);
    /* verb as fixed32 inside resourceAttributes */
    CHECK_EQ(to_json("k8s\0\x12\x09\x12\x07\x0a\x05\x15\x01\x02\x03\x04", 15, ssar(), &j),
             AG_E_PARSE);
    /* status.allowed as a string */
    CHECK_EQ(to_json("k8s\0\x12\x05\x1a\x03\x0a\x01x", 11, ssar(), &j), AG_E_PARSE);
    /* a malformed field inside an unknown top-level field is not looked at (skipped) ... */
    CHECK_EQ(to_json("k8s\0\x12\x04\x7a\x02\x08\x80", 10, ssar(), &j), 0);
    /* ... but a malformed field inside a known message is */
    CHECK_EQ(to_json("k8s\0\x12\x04\x12\x02\x08\x80", 10, ssar(), &j), AG_E_PARSE);
    /* every strict prefix of kubectl's body: malformed, or (cut between two fields) a
     * well-formed object that says less; never anything else */
    int parsed = 0;
    for (size_t n = 0; n < sizeof kubectl_ssar; n++) {
        ag_err err = to_json(kubectl_ssar, n, ssar(), &j);
        CHECK(err == 0 || err == AG_E_PARSE);
        if (err == 0) {
            ag_arena_t a;
            ag_json_t doc;
            ag_arena_init(&a, 0, 0);
            CHECK_EQ(ag_json_parse(&doc, ag_buf_str(&j), NULL, &a, NULL), 0);
            ag_arena_dispose(&a);
            parsed++;
        }
    }
    CHECK_EQ(parsed, 4); /* only the cuts at the envelope's own field boundaries */
    ag_buf_dispose(&j);
}

TEST(kpb_checks_the_envelope)
{
    ag_buf_t j = AG_BUF_INIT(1 << 16);
    unsigned char b[sizeof kubectl_ssar];
    memcpy(b, kubectl_ssar, sizeof b);
    b[1] = '9'; /* magic */
    CHECK_EQ(to_json(b, sizeof b, ssar(), &j), AG_E_PARSE);
    CHECK_EQ(to_json("{\"kind\":\"SelfSubjectAccessReview\"}", 34, ssar(), &j), AG_E_PARSE);
    /* another kind, another version */
    CHECK_EQ(to_json(kubectl_ssar, sizeof kubectl_ssar,
                     kind("authorization.k8s.io/v1", "SelfSubjectRulesReview"), &j),
             AG_E_PARSE);
    CHECK_EQ(to_json(kubectl_ssar, sizeof kubectl_ssar,
                     kind("authorization.k8s.io/v1beta1", "SelfSubjectAccessReview"), &j),
             AG_E_PARSE);
    /* no typeMeta: the URL's kind (as kube-apiserver defaults it) */
    CHECK_EQ(to_json("k8s\0\x12\x00", 6, ssar(), &j), 0);
    CHECK_STREQ(j.p, "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":"
                     "\"authorization.k8s.io/v1\"}");
    /* contentEncoding set; contentType not protobuf; contentType protobuf is fine */
    CHECK_EQ(to_json("k8s\0\x12\x00\x1a\x04gzip", 12, ssar(), &j), AG_E_PARSE);
    CHECK_EQ(to_json("k8s\0\x12\x00\x22\x10"
                     "application/json",
                     24, ssar(), &j),
             AG_E_PARSE);
    CHECK_EQ(to_json("k8s\0\x12\x00\x22\x23" AG_KPB_MEDIA_TYPE, 43, ssar(), &j), 0);
    /* typeMeta with a wrong wire type */
    CHECK_EQ(to_json("k8s\0\x08\x01", 6, ssar(), &j), AG_E_PARSE);
    CHECK(ag_kpb_find(AG_STR("v1"), AG_STR("Pod")) == NULL);
    ag_buf_dispose(&j);
}

TEST(kpb_merges_a_message_field_given_twice)
{
    /* spec.resourceAttributes{verb} then spec.resourceAttributes{resource}: one object */
    static const char body[] = "k8s\0\x12\x12"
                               "\x12\x07\x0a\x05\x12\x03get"
                               "\x12\x07\x0a\x05\x2a\x03pod";
    ag_buf_t j = AG_BUF_INIT(1 << 16);
    CHECK_EQ(to_json(body, sizeof body - 1, ssar(), &j), 0);
    CHECK_STREQ(j.p, "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":"
                     "\"authorization.k8s.io/v1\",\"spec\":{\"resourceAttributes\":{\"verb\":"
                     "\"get\",\"resource\":\"pod\"}}}");
    ag_buf_dispose(&j);
}

/* JSON -> protobuf -> JSON gives the same document back. */
static void round_trip(const char *av, const char *k, const char *json)
{
    ag_arena_t a;
    ag_buf_t pb = AG_BUF_INIT(1 << 16), back = AG_BUF_INIT(1 << 16);
    ag_arena_init(&a, 0, 0);
    CHECK_EQ(ag_kpb_from_json(ag_str_cstr(json), kind(av, k), &a, &pb), 0);
    CHECK(pb.n > 4 && memcmp(pb.p, "k8s", 4) == 0);
    CHECK_EQ(to_json(pb.p, pb.n, kind(av, k), &back), 0);
    CHECK_STREQ(back.p, json);
    ag_arena_dispose(&a);
    ag_buf_dispose(&pb);
    ag_buf_dispose(&back);
}

TEST(kpb_round_trips_every_kind)
{
    round_trip("authorization.k8s.io/v1", "SelfSubjectAccessReview", KUBECTL_JSON);
    round_trip("authorization.k8s.io/v1", "SelfSubjectAccessReview",
               "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
               "\"spec\":{\"resourceAttributes\":{\"verb\":\"list\",\"resource\":\"pods\","
               "\"fieldSelector\":{\"requirements\":[{\"key\":\"spec.nodeName\",\"operator\":"
               "\"In\",\"values\":[\"n1\",\"n2\"]}]},\"labelSelector\":{\"rawSelector\":"
               "\"app=web\"}}},\"status\":{\"allowed\":true,\"reason\":\"r \\u003c\\u003e\","
               "\"evaluationError\":\"e\",\"denied\":false}}");
    round_trip("authorization.k8s.io/v1", "SelfSubjectRulesReview",
               "{\"kind\":\"SelfSubjectRulesReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
               "\"spec\":{\"namespace\":\"dev\"},\"status\":{\"resourceRules\":[{\"verbs\":"
               "[\"get\",\"list\"],\"apiGroups\":[\"\"],\"resources\":[\"pods\"]},{\"verbs\":"
               "[\"delete\"],\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\"],"
               "\"resourceNames\":[\"web\"]}],\"nonResourceRules\":[{\"verbs\":[\"get\"],"
               "\"nonResourceURLs\":[\"/healthz\",\"/api/*\"]}],\"incomplete\":true,"
               "\"evaluationError\":\"no\"}}");
    round_trip("authentication.k8s.io/v1", "SelfSubjectReview",
               "{\"kind\":\"SelfSubjectReview\",\"apiVersion\":\"authentication.k8s.io/v1\","
               "\"metadata\":{},\"status\":{\"userInfo\":{\"username\":\"alice\",\"uid\":"
               "\"u-1\",\"groups\":[\"dev\",\"system:authenticated\"],\"extra\":{\"oid\":"
               "[\"abc\"],\"scopes\":[\"a\",\"b\"],\"empty\":[]}}}}");
    round_trip("authorization.k8s.io/v1", "LocalSubjectAccessReview",
               "{\"kind\":\"LocalSubjectAccessReview\",\"apiVersion\":\"authorization.k8s.io/v1\","
               "\"metadata\":{\"namespace\":\"dev\"},\"spec\":{\"nonResourceAttributes\":"
               "{\"path\":\"/x\",\"verb\":\"get\"},\"user\":\"bob\",\"groups\":[\"g\"],"
               "\"extra\":{\"k\":[\"v\"]},\"uid\":\"1\"}}");
    round_trip("authorization.k8s.io/v1beta1", "LocalSubjectAccessReview",
               "{\"kind\":\"LocalSubjectAccessReview\",\"apiVersion\":"
               "\"authorization.k8s.io/v1beta1\",\"spec\":{\"user\":\"bob\",\"group\":[\"g\"]}}");
}

TEST(kpb_from_json_drops_members_it_has_no_number_for)
{
    ag_arena_t a;
    ag_buf_t pb = AG_BUF_INIT(1 << 16);
    ag_arena_init(&a, 0, 0);
    const ag_kpb_kind_t *k = ssar();
    CHECK_EQ(ag_kpb_from_json(AG_STR("{\"spec\":[]}"), k, &a, &pb), AG_E_INVAL);
    CHECK_EQ(ag_kpb_from_json(AG_STR("{\"status\":{\"allowed\":\"yes\"}}"), k, &a, &pb),
             AG_E_INVAL);
    ag_buf_clear(&pb);
    /* null members and members without a number (an echoed unknown field) are left out;
     * kind and apiVersion come from the table */
    CHECK_EQ(ag_kpb_from_json(AG_STR("{\"kind\":\"X\",\"metadata\":{\"creationTimestamp\":"
                                     "null},\"spec\":{\"bogus\":{\"x\":[1]}}}"),
                              k, &a, &pb),
             0);
    ag_buf_t j = AG_BUF_INIT(1 << 16);
    CHECK_EQ(to_json(pb.p, pb.n, k, &j), 0);
    CHECK_STREQ(j.p, "{\"kind\":\"SelfSubjectAccessReview\",\"apiVersion\":"
                     "\"authorization.k8s.io/v1\",\"metadata\":{},\"spec\":{}}");
    ag_arena_dispose(&a);
    ag_buf_dispose(&pb);
    ag_buf_dispose(&j);
}

TEST(kpb_to_json_stops_at_the_output_cap)
{
    ag_buf_t j = AG_BUF_INIT(40);
    const char *why = NULL;
    CHECK_EQ(ag_kpb_to_json(ag_str_make((const char *)kubectl_ssar, sizeof kubectl_ssar), ssar(),
                            &j, &why),
             AG_E_TOO_BIG);
    ag_buf_dispose(&j);
}
