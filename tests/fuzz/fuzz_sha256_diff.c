/* Differential libFuzzer target: core/base/sha256.c (its buffering and padding, both block
 * functions: SHA-NI when the CPU has it, and the portable one) against mbedTLS's SHA-256
 * and HMAC-SHA256, for any length and any split of the updates. Any difference aborts.
 *
 * Input: byte 0 the HMAC key length (0..255, longer than a block hashes the key first),
 * byte 1 a repeat count (the message is repeated up to 64 times to reach long, multi-block
 * lengths), bytes 2..9 the split pattern (update sizes, cycled), then key and message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "base/sha256.h"

#define MAX_MSG (64u * 4096u)

/* Feeds <msg> to <s> in pieces whose sizes are taken from <split> in turn; a size of 0
 * is fed as an empty update (which must change nothing), then as 1 byte. */
static void feed(ag_sha256_t *s, const unsigned char *msg, size_t n, const uint8_t split[8])
{
    size_t off = 0;
    for (int i = 0; off < n; i = (i + 1) & 7) {
        size_t take = split[i] % 131; /* crosses 64-byte boundaries at every phase */
        if (take == 0) {
            ag_sha256_update(s, msg + off, 0);
            take = 1;
        }
        if (take > n - off)
            take = n - off;
        ag_sha256_update(s, msg + off, take);
        off += take;
    }
}

static void check_impl(const unsigned char *key, size_t klen, const unsigned char *msg, size_t n,
                       const uint8_t split[8])
{
    unsigned char want[32], got[32], wmac[32];
    ag_sha256_t s;
    ag_hmac_sha256_key_t hk;

    if (mbedtls_sha256_ret(msg, n, want, 0) != 0 ||
        mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), key, klen, msg, n, wmac))
        abort();
    ag_sha256(msg, n, got);
    if (memcmp(got, want, 32) != 0)
        abort();
    ag_sha256_init(&s);
    feed(&s, msg, n, split);
    ag_sha256_finish(&s, got);
    if (memcmp(got, want, 32) != 0)
        abort();
    ag_hmac_sha256_key(&hk, key, klen);
    ag_hmac_sha256(&hk, msg, n, got);
    if (memcmp(got, wmac, 32) != 0)
        abort();
    ag_hmac_sha256_start(&hk, &s);
    feed(&s, msg, n, split);
    ag_hmac_sha256_finish(&hk, &s, got);
    if (memcmp(got, wmac, 32) != 0)
        abort();
    ag_hmac_sha256_wipe(&hk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char msg[MAX_MSG];
    if (size < 10)
        return 0;
    size_t klen = data[0], reps = 1 + data[1] % 64;
    const uint8_t *split = data + 2;
    data += 10, size -= 10;
    if (klen > size)
        klen = size;
    const unsigned char *key = data;
    size_t one = size - klen, n = 0;
    if (one > MAX_MSG / reps)
        one = MAX_MSG / reps;
    for (size_t r = 0; r < reps; r++, n += one)
        memcpy(msg + n, data + klen, one);
    check_impl(key, klen, msg, n, split);
    if (ag_sha256_force(AG_SHA256_SHANI) == 0) /* the other block function too */
        check_impl(key, klen, msg, n, split);
    ag_sha256_force(AG_SHA256_PORTABLE);
    check_impl(key, klen, msg, n, split);
    ag_sha256_force(AG_SHA256_AUTO);
    return 0;
}
