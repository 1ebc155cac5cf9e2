/* proxy/net/tls_record.c on its own: two record layers keyed from one key block (a server
 * and a client) exchange sealed records; the limits that a session test cannot reach
 * through ag_tls_write (empty records, the sequence number's end) are driven here. */
#include <stdint.h>

#include "net/tls_record.h"
#include "testlib.h"

static const struct {
    ag_tlsrec_aead aead;
    size_t keylen, ivlen;
} kinds[] = {
    {AG_TLSREC_AES_GCM, 16, 4},
    {AG_TLSREC_AES_GCM, 32, 4},
    {AG_TLSREC_CHACHA20_POLY1305, 32, 12},
};

/* A server and a client record layer of kind <k>, their next sequence numbers <seq>. */
static bool pair(size_t k, uint64_t seq, ag_tlsrec_t *s, ag_tlsrec_t *c)
{
    unsigned char kb[2 * 32 + 2 * 12];
    for (size_t i = 0; i < sizeof kb; i++)
        kb[i] = (unsigned char)(i * 7 + 1);
    memset(s, 0, sizeof *s);
    memset(c, 0, sizeof *c);
    return ag_tlsrec_set_keys(s, true, kb, 0, kinds[k].keylen, kinds[k].ivlen) == 0 &&
           ag_tlsrec_set_keys(c, false, kb, 0, kinds[k].keylen, kinds[k].ivlen) == 0 &&
           ag_tlsrec_start(s, kinds[k].aead, seq, seq) == 0 &&
           ag_tlsrec_start(c, kinds[k].aead, seq, seq) == 0;
}

/* Seals <n> bytes from <from> and opens them at <to>: the open's result. */
static ag_err pass(ag_tlsrec_t *from, ag_tlsrec_t *to, uint8_t type, const char *p, size_t n,
                   ag_tlsrec_msg_t *m)
{
    static unsigned char rec[AG_TLSREC_MAX_PLAIN + AG_TLSREC_OVERHEAD];
    size_t len;
    ag_err err = ag_tlsrec_seal(from, type, (const unsigned char *)p, n, rec, &len);
    if (err)
        return err;
    err = ag_tlsrec_open(to, rec, len, m);
    return err ? err : m->len == len ? 0 : AG_E_PARSE;
}

TEST(tlsrec_round_trip_both_ways_every_aead)
{
    for (size_t k = 0; k < AG_NELEMS(kinds); k++) {
        ag_tlsrec_t s, c;
        ag_tlsrec_msg_t m;
        CHECK(pair(k, 1, &s, &c));
        CHECK_EQ(pass(&c, &s, AG_TLSREC_APPDATA, "request", 7, &m), 0);
        CHECK(m.n == 7 && memcmp(m.data, "request", 7) == 0);
        CHECK_EQ(pass(&s, &c, AG_TLSREC_APPDATA, "response", 8, &m), 0);
        CHECK(m.n == 8 && memcmp(m.data, "response", 8) == 0);
        CHECK_EQ(pass(&s, &s, AG_TLSREC_APPDATA, "own", 3, &m), AG_E_CRYPTO); /* wrong keys */
        ag_tlsrec_wipe(&s);
        ag_tlsrec_wipe(&c);
    }
}

/* Empty application_data records cost a decryption each and carry nothing: a run of more
 * than AG_TLSREC_MAX_EMPTY is refused; data in between resets the count. */
TEST(tlsrec_many_empty_records_are_fatal)
{
    for (size_t k = 0; k < AG_NELEMS(kinds); k++) {
        ag_tlsrec_t s, c;
        ag_tlsrec_msg_t m;
        CHECK(pair(k, 1, &s, &c));
        for (int i = 0; i < AG_TLSREC_MAX_EMPTY; i++)
            CHECK_EQ(pass(&c, &s, AG_TLSREC_APPDATA, "", 0, &m), 0);
        CHECK_EQ(pass(&c, &s, AG_TLSREC_APPDATA, "x", 1, &m), 0);
        for (int i = 0; i < AG_TLSREC_MAX_EMPTY; i++)
            CHECK_EQ(pass(&c, &s, AG_TLSREC_APPDATA, "", 0, &m), 0);
        CHECK(pass(&c, &s, AG_TLSREC_APPDATA, "", 0, &m) < 0);
        CHECK_EQ(m.alert, 10); /* unexpected_message */
        ag_tlsrec_wipe(&s);
        ag_tlsrec_wipe(&c);
    }
}

/* The sequence number never wraps (RFC 5246 §6.1): the last one is refused both ways. */
TEST(tlsrec_sequence_number_wrap_is_fatal)
{
    for (size_t k = 0; k < AG_NELEMS(kinds); k++) {
        ag_tlsrec_t s, c;
        ag_tlsrec_msg_t m;
        unsigned char rec[64];
        size_t len;
        CHECK(pair(k, UINT64_MAX - 1, &s, &c));
        CHECK_EQ(pass(&c, &s, AG_TLSREC_APPDATA, "last", 4, &m), 0);
        CHECK(ag_tlsrec_seal(&c, AG_TLSREC_APPDATA, (const unsigned char *)"x", 1, rec, &len) < 0);
        c.wr.seq = UINT64_MAX - 1; /* a well-formed record the reader may no longer open */
        CHECK_EQ(ag_tlsrec_seal(&c, AG_TLSREC_APPDATA, (const unsigned char *)"x", 1, rec, &len),
                 0);
        CHECK_EQ(ag_tlsrec_open(&s, rec, len, &m), AG_E_CRYPTO);
        CHECK_EQ(m.alert, 0); /* refused before decryption (a tag failure says bad_record_mac) */
        ag_tlsrec_wipe(&s);
        ag_tlsrec_wipe(&c);
    }
}

/* Alerts: close_notify closes; any other alert, or an alert of the wrong size, is fatal. */
TEST(tlsrec_alerts)
{
    ag_tlsrec_t s, c;
    ag_tlsrec_msg_t m;
    CHECK(pair(0, 1, &s, &c));
    CHECK_EQ(pass(&c, &s, AG_TLSREC_ALERT, "\x01\x00", 2, &m), 0);
    CHECK(m.closed);
    CHECK(pass(&c, &s, AG_TLSREC_ALERT, "\x02\x28", 2, &m) < 0); /* handshake_failure */
    CHECK(pass(&c, &s, AG_TLSREC_ALERT, "\x01\x00\x00", 3, &m) < 0);
    ag_tlsrec_wipe(&s);
    ag_tlsrec_wipe(&c);
}

/* A released layer (idle session) rebuilds its EVP contexts from the kept keys; a wiped one
 * refuses to work. Key shapes that are not an AEAD suite's are refused. */
TEST(tlsrec_release_wipe_and_key_shapes)
{
    ag_tlsrec_t s, c;
    ag_tlsrec_msg_t m;
    unsigned char kb[128] = {0}, rec[64];
    size_t len;
    CHECK(pair(2, 1, &s, &c));
    ag_tlsrec_release(&s);
    ag_tlsrec_release(&c);
    CHECK(!s.rd.evp && !c.wr.evp);
    CHECK_EQ(pass(&c, &s, AG_TLSREC_APPDATA, "again", 5, &m), 0);
    CHECK(m.n == 5 && memcmp(m.data, "again", 5) == 0);
    ag_tlsrec_wipe(&c);
    CHECK(ag_tlsrec_seal(&c, AG_TLSREC_APPDATA, (const unsigned char *)"x", 1, rec, &len) < 0);
    ag_tlsrec_wipe(&s);
    CHECK_EQ(ag_tlsrec_set_keys(&s, true, kb, 20, 16, 4), AG_E_UNSUPPORTED); /* CBC + HMAC */
    CHECK_EQ(ag_tlsrec_set_keys(&s, true, kb, 0, 24, 4), AG_E_UNSUPPORTED);
    CHECK_EQ(ag_tlsrec_set_keys(&s, true, kb, 0, 16, 4), 0);
    CHECK_EQ(ag_tlsrec_start(&s, AG_TLSREC_CHACHA20_POLY1305, 1, 1), AG_E_UNSUPPORTED);
    ag_tlsrec_wipe(&s);
}
