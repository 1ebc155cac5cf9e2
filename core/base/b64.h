/* Base64url (RFC 4648 §5) as JWS uses it: the strict decoder every token segment and
 * JWK number goes through, and an encoder. Canonical form only: no padding, no '+' or
 * '/', no whitespace, and the unused low bits of the last character must be zero, so
 * one byte string has exactly one accepted encoding (no token malleability). Pure;
 * writes only into caller buffers. */
#ifndef AG_B64_H
#define AG_B64_H

#include <stddef.h>

#include "base/err.h"
#include "base/str.h"

/* Upper bound of the decoded size of <n> input characters. */
static inline size_t ag_b64url_decoded_max(size_t n)
{
    return n / 4 * 3 + 2;
}
/* Exact encoded size (no padding) of <n> bytes. */
static inline size_t ag_b64url_encoded_len(size_t n)
{
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* Decodes canonical unpadded base64url <in> into <out> (capacity <cap>), *outlen gets the
 * byte count. AG_E_PARSE on any non-canonical input (padding, foreign characters, a
 * length of 4k+1, non-zero trailing bits), AG_E_TOO_BIG when <cap> is short. */
ag_err ag_b64url_decode(ag_str_t in, unsigned char *out, size_t cap, size_t *outlen);
/* Encodes <n> bytes into <out> (capacity >= ag_b64url_encoded_len(n)); returns the length. */
size_t ag_b64url_encode(const unsigned char *in, size_t n, char *out);

#endif
