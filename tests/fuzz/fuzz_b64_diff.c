/* Differential libFuzzer target: core/base/b64.c (the hand-written base64url codec every token
 * segment and JWK number goes through) against mbedTLS's base64 (RFC 4648 §4 alphabet,
 * padded). The input is decoded by both: ours must accept exactly the strings that are
 * base64url in canonical unpadded form (mbedTLS decodes the translated, padded string and
 * re-encodes it to the same characters), with the same bytes. The input is also encoded
 * by both, and ours must round-trip. Any difference aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>

#include "base/b64.h"

#define MAX_IN 4096

/* base64url -> base64 with padding; false on a character outside the url alphabet. */
static bool to_std(const uint8_t *in, size_t n, unsigned char *out, size_t *outn)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_';
        if (!ok)
            return false;
        out[i] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    *outn = n;
    while (*outn % 4)
        out[(*outn)++] = '=';
    return true;
}

/* mbedTLS's encoding of <in> in url form, unpadded; returns its length. */
static size_t ref_encode(const unsigned char *in, size_t n, char *out, size_t cap)
{
    size_t olen = 0;
    if (mbedtls_base64_encode((unsigned char *)out, cap, &olen, in, n) != 0)
        abort();
    while (olen && out[olen - 1] == '=')
        olen--;
    for (size_t i = 0; i < olen; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return olen;
}

/* The reference decision: canonical unpadded base64url, decoded by mbedTLS. */
static bool ref_decode(const uint8_t *in, size_t n, unsigned char *out, size_t *outn)
{
    static unsigned char std[MAX_IN + 4];
    static char again[MAX_IN * 2];
    size_t sn;
    if (n % 4 == 1 || !to_std(in, n, std, &sn))
        return false;
    if (mbedtls_base64_decode(out, MAX_IN, outn, std, sn) != 0)
        return false;
    size_t an = ref_encode(out, *outn, again, sizeof again);
    return an == n && memcmp(again, in, n) == 0; /* one string per byte sequence */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char ours[MAX_IN], ref[MAX_IN];
    static char enc[MAX_IN * 2], renc[MAX_IN * 2];
    size_t on = 0, rn = 0;
    if (size > MAX_IN)
        return 0;
    bool a = ag_b64url_decode(ag_str_make((const char *)data, size), ours, sizeof ours, &on) == 0;
    bool b = ref_decode(data, size, ref, &rn);
    if (a != b || (a && (on != rn || memcmp(ours, ref, on) != 0)))
        abort();
    size_t en = ag_b64url_encode(data, size, enc);
    size_t ren = ref_encode(data, size, renc, sizeof renc);
    if (en != ag_b64url_encoded_len(size) || en != ren || memcmp(enc, renc, en) != 0)
        abort();
    if (ag_b64url_decode(ag_str_make(enc, en), ours, sizeof ours, &on) != 0 || on != size ||
        memcmp(ours, data, size) != 0)
        abort();
    return 0;
}
