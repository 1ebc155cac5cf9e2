/* libFuzzer target for the TLS record decoder of libcrypto's record layer
 * (proxy/net/tls_record.c), which reads the bytes a peer sends after the handshake. The
 * input is a script: byte 0 picks the AEAD; then each control byte c takes the next c >> 2
 * input bytes either as plaintext that a writer keyed like the peer seals (an application
 * data or alert record, c & 2) or as raw bytes appended as they are (c & 1 == 0). The
 * stream is then opened record by record, in a buffer of exactly its size (ASan sees any
 * read past it). Invariants (any break aborts):
 *  - a record opened lies within the input, its plaintext within the record, at most 2^14;
 *  - every proper prefix of a record that opens asks for more (never an error, never data);
 *  - a stream made only of sealed records opens to exactly the plaintexts sealed, in order,
 *    until a close_notify or a run of empty records the decoder refuses;
 *  - after an error the decoder is not asked again (the session is over). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls_record.h"

#define FAIL(msg)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "invariant broken: %s\n", msg);                                            \
        abort();                                                                                   \
    } while (0)

#define MAX_STREAM (1 << 18)

typedef struct {
    unsigned char *p;
    size_t n;
    bool raw;          /* some bytes were not sealed by the writer */
    const uint8_t *pt; /* the sealed plaintexts, concatenated, when !raw */
    size_t ptn;
} stream_t;

/* Reader and writer of AEAD <k>: 0 AES-128-GCM, 1 AES-256-GCM, 2 ChaCha20-Poly1305. */
static bool keyed(size_t k, ag_tlsrec_t *rd, ag_tlsrec_t *wr)
{
    unsigned char kb[2 * 32 + 2 * 12];
    size_t keylen = k == 0 ? 16 : 32, ivlen = k == 2 ? 12 : 4;
    ag_tlsrec_aead aead = k == 2 ? AG_TLSREC_CHACHA20_POLY1305 : AG_TLSREC_AES_GCM;
    for (size_t i = 0; i < sizeof kb; i++)
        kb[i] = (unsigned char)(i * 13 + 5);
    memset(rd, 0, sizeof *rd);
    memset(wr, 0, sizeof *wr);
    if (ag_tlsrec_set_keys(rd, true, kb, 0, keylen, ivlen) != 0 ||
        ag_tlsrec_set_keys(wr, false, kb, 0, keylen, ivlen) != 0)
        return false;
    return ag_tlsrec_start(rd, aead, 1, 1) == 0 && ag_tlsrec_start(wr, aead, 1, 1) == 0;
}

/* Builds the stream the script describes; the plaintexts of application data records are
 * appended to <plain>. */
static void build(ag_tlsrec_t *wr, const uint8_t *d, size_t n, stream_t *s, uint8_t *plain)
{
    size_t i = 0;
    while (i < n && s->n < MAX_STREAM - AG_TLSREC_MAX_PLAIN - AG_TLSREC_OVERHEAD) {
        uint8_t c = d[i++];
        size_t take = (size_t)(c >> 2) < n - i ? (size_t)(c >> 2) : n - i;
        size_t len = 0;
        if ((c & 1) == 0) {
            memcpy(s->p + s->n, d + i, take);
            s->n += take;
            s->raw = true;
        } else if (c & 2) {
            if (ag_tlsrec_seal(wr, AG_TLSREC_ALERT, d + i, take < 2 ? take : 2, s->p + s->n,
                               &len) != 0)
                FAIL("seal of an alert failed");
            s->n += len;
            s->raw = true; /* alerts end or fail the stream: no plaintext to compare */
        } else {
            if (ag_tlsrec_seal(wr, AG_TLSREC_APPDATA, d + i, take, s->p + s->n, &len) != 0)
                FAIL("seal failed");
            memcpy(plain + s->ptn, d + i, take);
            s->ptn += take;
            s->n += len;
        }
        i += take;
    }
}

static void open_all(ag_tlsrec_t *rd, stream_t *s, const uint8_t *plain)
{
    size_t off = 0, got = 0;
    ag_tlsrec_msg_t m;
    while (off < s->n) {
        if (ag_tlsrec_open(rd, s->p + off, s->n - off, &m) != 0) {
            if (!s->raw && m.alert != 10)
                FAIL("a sealed record was refused for another reason than empty records");
            return;
        }
        if (m.len == 0)
            return; /* incomplete: the rest would come later */
        if (m.len > s->n - off || m.len < AG_TLSREC_HEADER + 16)
            FAIL("record length outside the input");
        if (m.data &&
            (m.data < s->p + off || m.data + m.n > s->p + off + m.len || m.n > AG_TLSREC_MAX_PLAIN))
            FAIL("plaintext outside its record");
        if (!s->raw && (got + m.n > s->ptn || memcmp(m.data, plain + got, m.n) != 0))
            FAIL("plaintext differs from what was sealed");
        got += m.n;
        off += m.len;
        if (m.closed)
            return;
    }
    if (!s->raw && got != s->ptn)
        FAIL("sealed plaintext missing");
}

/* Every proper prefix of the first record asks for more when the whole record opens. */
static void check_prefixes(size_t k, const stream_t *s)
{
    ag_tlsrec_t rd, wr;
    ag_tlsrec_msg_t m;
    unsigned char *copy = malloc(s->n ? s->n : 1);
    if (!copy || !keyed(k, &rd, &wr))
        FAIL("setup");
    memcpy(copy, s->p, s->n);
    size_t len = s->n >= 5 ? AG_TLSREC_HEADER + ((size_t)s->p[3] << 8 | s->p[4]) : 0;
    if (len && len <= s->n && ag_tlsrec_open(&rd, copy, s->n, &m) == 0 && m.len == len) {
        ag_tlsrec_wipe(&rd);
        ag_tlsrec_wipe(&wr);
        if (!keyed(k, &rd, &wr))
            FAIL("setup");
        for (size_t cut = 0; cut < len; cut += 1 + cut / 4)
            if (ag_tlsrec_open(&rd, s->p, cut, &m) != 0 || m.len != 0 || m.data)
                FAIL("a record's prefix was not incomplete");
    }
    ag_tlsrec_wipe(&rd);
    ag_tlsrec_wipe(&wr);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char buf[MAX_STREAM];
    static uint8_t plain[MAX_STREAM];
    ag_tlsrec_t rd, wr;
    if (size < 1)
        return 0;
    size_t k = data[0] % 3;
    stream_t s = {.p = buf};
    if (!keyed(k, &rd, &wr))
        FAIL("setup");
    build(&wr, data + 1, size - 1, &s, plain);
    unsigned char *exact = malloc(s.n ? s.n : 1);
    if (!exact)
        FAIL("malloc");
    memcpy(exact, buf, s.n);
    check_prefixes(k, &s); /* on buf, before it is decrypted in place */
    s.p = exact;
    open_all(&rd, &s, plain);
    ag_tlsrec_wipe(&rd);
    ag_tlsrec_wipe(&wr);
    free(exact);
    return 0;
}
