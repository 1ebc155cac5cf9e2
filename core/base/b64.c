/* Strict base64url (b64.h). A 256-entry table maps characters to 6-bit values; 0xFF
 * marks everything outside the URL-safe alphabet, '=' included. */
#include "base/b64.h"

static const char enc_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#define X 0xFF
static const unsigned char dec_tab[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, X,  X,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  X,  X,  X,  X,  0,  1,  2,  3,  4,  5,  6,
    7,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  63,
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48,
    49, 50, 51, X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,
};
#undef X

ag_err ag_b64url_decode(ag_str_t in, unsigned char *out, size_t cap, size_t *outlen)
{
    const unsigned char *s = (const unsigned char *)in.p;
    size_t full = in.n / 4, rest = in.n % 4, w = 0;

    if (rest == 1) /* 6 bits cannot encode a byte */
        return AG_E_PARSE;
    if (full * 3 + (rest ? rest - 1 : 0) > cap)
        return AG_E_TOO_BIG;
    for (size_t i = 0; i < full; i++, s += 4) {
        unsigned a = dec_tab[s[0]], b = dec_tab[s[1]], c = dec_tab[s[2]], d = dec_tab[s[3]];
        if ((a | b | c | d) & 0x80)
            return AG_E_PARSE;
        unsigned v = a << 18 | b << 12 | c << 6 | d;
        out[w++] = (unsigned char)(v >> 16);
        out[w++] = (unsigned char)(v >> 8);
        out[w++] = (unsigned char)v;
    }
    if (rest) {
        unsigned a = dec_tab[s[0]], b = dec_tab[s[1]], c = rest == 3 ? dec_tab[s[2]] : 0;
        if ((a | b | c) & 0x80)
            return AG_E_PARSE;
        unsigned v = a << 18 | b << 12 | c << 6;
        /* Canonical form: the bits past the last whole byte must be zero (RFC 4648 §3.5),
         * otherwise several strings decode to one token and caches keyed by the string
         * disagree with the signature. */
        if ((rest == 2 && (v & 0xFFFF)) || (rest == 3 && (v & 0xFF)))
            return AG_E_PARSE;
        out[w++] = (unsigned char)(v >> 16);
        if (rest == 3)
            out[w++] = (unsigned char)(v >> 8);
    }
    *outlen = w;
    return 0;
}

size_t ag_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t w = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[w++] = enc_tab[v >> 18];
        out[w++] = enc_tab[(v >> 12) & 63];
        out[w++] = enc_tab[(v >> 6) & 63];
        out[w++] = enc_tab[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[w++] = enc_tab[v >> 18];
        out[w++] = enc_tab[(v >> 12) & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[w++] = enc_tab[v >> 18];
        out[w++] = enc_tab[(v >> 12) & 63];
        out[w++] = enc_tab[(v >> 6) & 63];
    }
    return w;
}
