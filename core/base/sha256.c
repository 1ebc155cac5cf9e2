/* SHA-256 and HMAC-SHA256 (sha256.h). This file owns the message buffering and padding
 * (FIPS 180-4 §5.1.1) and two block functions: the x86 SHA extensions (Intel SDM,
 * SHA256RNDS2/SHA256MSG1/SHA256MSG2) and mbedTLS's portable one. The choice is made once
 * per process from CPUID (clang 14's __builtin_cpu_supports has no "sha"). Never
 * allocates; never logs. */
#include "base/sha256.h"

#include "base/mbedtls_pin.h"

#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define AG_SHA256_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

typedef void block_fn(uint32_t h[8], const unsigned char *p, size_t nblocks);

/* FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the cube roots of
 * the first 64 primes. */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* FIPS 180-4 §5.3.3 */
static const uint32_t H0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

/* ---- portable: mbedTLS's block function on our chaining value ---------------------- */

static void blocks_portable(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    memcpy(c.state, h, sizeof c.state);
    for (size_t i = 0; i < nblocks; i++)
        mbedtls_internal_sha256_process(&c, p + 64 * i);
    memcpy(h, c.state, sizeof c.state);
    mbedtls_sha256_free(&c);
}

/* ---- x86 SHA extensions ------------------------------------------------------------ */

#ifdef AG_SHA256_X86
#define SHANI __attribute__((target("sha,sse4.1")))

/* Four rounds. SHA256RNDS2 does two: its first operand holds C,D,G,H, its second A,B,E,F
 * (A in the top lane) and the implicit third W+K of the two rounds in its low 64 bits; it
 * returns the new A,B,E,F, and the old A,B,E,F are the new C,D,G,H. */
SHANI static inline void rounds4(__m128i *abef, __m128i *cdgh, __m128i w, int i)
{
    __m128i wk = _mm_add_epi32(w, _mm_loadu_si128((const __m128i *)&K[i]));
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    wk = _mm_shuffle_epi32(wk, 0x0e); /* W+K of rounds i+2, i+3 to the low half */
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, wk);
}

/* W[t..t+3] from a = W[t-16..t-13], b = W[t-12..], c = W[t-8..], d = W[t-4..] (§6.2.2):
 * MSG1 adds sigma0, the alignr supplies W[t-7..t-4], MSG2 adds sigma1 (chained within). */
SHANI static inline __m128i schedule4(__m128i a, __m128i b, __m128i c, __m128i d)
{
    __m128i t = _mm_sha256msg1_epu32(a, b);
    t = _mm_add_epi32(t, _mm_alignr_epi8(d, c, 4));
    return _mm_sha256msg2_epu32(t, d);
}

SHANI static void blocks_shani(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
    /* big-endian words (§3.1): byte-reverse each 32-bit lane */
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abcd = _mm_loadu_si128((const __m128i *)&h[0]); /* lanes A B C D */
    __m128i efgh = _mm_loadu_si128((const __m128i *)&h[4]); /* lanes E F G H */
    __m128i badc = _mm_shuffle_epi32(abcd, 0xb1);
    __m128i hgfe = _mm_shuffle_epi32(efgh, 0x1b);
    __m128i abef = _mm_alignr_epi8(badc, hgfe, 8);    /* lanes F E B A */
    __m128i cdgh = _mm_blend_epi16(hgfe, badc, 0xf0); /* lanes H G D C */

    for (size_t b = 0; b < nblocks; b++, p += 64) {
        __m128i save_abef = abef, save_cdgh = cdgh;
        __m128i w0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
        __m128i w1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
        __m128i w2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
        __m128i w3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
        for (int r = 0; r < 64; r += 16) {
            rounds4(&abef, &cdgh, w0, r);
            rounds4(&abef, &cdgh, w1, r + 4);
            rounds4(&abef, &cdgh, w2, r + 8);
            rounds4(&abef, &cdgh, w3, r + 12);
            if (r == 48)
                break;
            w0 = schedule4(w0, w1, w2, w3);
            w1 = schedule4(w1, w2, w3, w0);
            w2 = schedule4(w2, w3, w0, w1);
            w3 = schedule4(w3, w0, w1, w2);
        }
        abef = _mm_add_epi32(abef, save_abef); /* §6.2.2 step 4 */
        cdgh = _mm_add_epi32(cdgh, save_cdgh);
    }
    __m128i abef_r = _mm_shuffle_epi32(abef, 0x1b); /* lanes A B E F */
    __m128i ghcd = _mm_shuffle_epi32(cdgh, 0xb1);   /* lanes G H C D */
    _mm_storeu_si128((__m128i *)&h[0], _mm_blend_epi16(abef_r, ghcd, 0xf0));
    _mm_storeu_si128((__m128i *)&h[4], _mm_alignr_epi8(ghcd, abef_r, 8));
}

/* CPUID.7.0:EBX[29] SHA, CPUID.1:ECX[19] SSE4.1 and [9] SSSE3 (pshufb, palignr). */
static int cpu_has_shani(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 19)) || !(c & (1u << 9)))
        return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return 0;
    return (b >> 29) & 1;
}
#else
static int cpu_has_shani(void)
{
    return 0;
}
#endif

/* ---- dispatch ---------------------------------------------------------------------- */

static int active; /* 0: not chosen yet; else an ag_sha256_impl_t. Racing writers agree. */

static ag_sha256_impl_t resolve(void)
{
    int a = __atomic_load_n(&active, __ATOMIC_RELAXED);
    if (a)
        return (ag_sha256_impl_t)a;
    a = cpu_has_shani() ? AG_SHA256_SHANI : AG_SHA256_PORTABLE;
    __atomic_store_n(&active, a, __ATOMIC_RELAXED);
    return (ag_sha256_impl_t)a;
}

static void blocks(uint32_t h[8], const unsigned char *p, size_t nblocks)
{
#ifdef AG_SHA256_X86
    if (resolve() == AG_SHA256_SHANI) {
        blocks_shani(h, p, nblocks);
        return;
    }
#endif
    blocks_portable(h, p, nblocks);
}

ag_err ag_sha256_force(ag_sha256_impl_t impl)
{
    if (impl == AG_SHA256_SHANI && !cpu_has_shani())
        return AG_E_UNSUPPORTED;
    if (impl == AG_SHA256_AUTO)
        impl = cpu_has_shani() ? AG_SHA256_SHANI : AG_SHA256_PORTABLE;
    __atomic_store_n(&active, (int)impl, __ATOMIC_RELAXED);
    return 0;
}

ag_sha256_impl_t ag_sha256_active(void)
{
    return resolve();
}

/* ---- buffering and padding (§5.1.1) ------------------------------------------------ */

void ag_sha256_init(ag_sha256_t *s)
{
    memcpy(s->h, H0, sizeof s->h);
    s->total = 0;
    s->nbuf = 0;
}

void ag_sha256_update(ag_sha256_t *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->total += n;
    if (s->nbuf) {
        size_t take = AG_SHA256_BLOCK - s->nbuf;
        if (take > n)
            take = n;
        memcpy(s->buf + s->nbuf, p, take);
        s->nbuf += take;
        p += take;
        n -= take;
        if (s->nbuf < AG_SHA256_BLOCK)
            return;
        blocks(s->h, s->buf, 1);
        s->nbuf = 0;
    }
    if (n >= AG_SHA256_BLOCK) {
        blocks(s->h, p, n / AG_SHA256_BLOCK);
        p += n & ~(size_t)(AG_SHA256_BLOCK - 1);
        n &= AG_SHA256_BLOCK - 1;
    }
    if (n) {
        memcpy(s->buf, p, n);
        s->nbuf = n;
    }
}

void ag_sha256_finish(ag_sha256_t *s, unsigned char out[AG_SHA256_LEN])
{
    uint64_t bits = s->total * 8; /* the message length mod 2^64 bits */
    s->buf[s->nbuf++] = 0x80;
    if (s->nbuf > AG_SHA256_BLOCK - 8) {
        memset(s->buf + s->nbuf, 0, AG_SHA256_BLOCK - s->nbuf);
        blocks(s->h, s->buf, 1);
        s->nbuf = 0;
    }
    memset(s->buf + s->nbuf, 0, AG_SHA256_BLOCK - 8 - s->nbuf);
    for (int i = 0; i < 8; i++)
        s->buf[AG_SHA256_BLOCK - 1 - i] = (unsigned char)(bits >> (8 * i));
    blocks(s->h, s->buf, 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

void ag_sha256(const void *data, size_t n, unsigned char out[AG_SHA256_LEN])
{
    ag_sha256_t s;
    ag_sha256_init(&s);
    ag_sha256_update(&s, data, n);
    ag_sha256_finish(&s, out);
}

/* ---- HMAC (RFC 2104) --------------------------------------------------------------- */

static void pad_state(uint32_t h[8], const unsigned char *key, size_t n, unsigned char x)
{
    unsigned char block[AG_SHA256_BLOCK];
    memset(block, x, sizeof block);
    for (size_t i = 0; i < n; i++)
        block[i] ^= key[i];
    memcpy(h, H0, sizeof H0);
    blocks(h, block, 1);
    mbedtls_platform_zeroize(block, sizeof block);
}

void ag_hmac_sha256_key(ag_hmac_sha256_key_t *k, const void *key, size_t n)
{
    unsigned char hashed[AG_SHA256_LEN];
    const unsigned char *kp = key;
    if (n > AG_SHA256_BLOCK) {
        ag_sha256(key, n, hashed);
        kp = hashed;
        n = sizeof hashed;
    }
    pad_state(k->inner, kp, n, 0x36);
    pad_state(k->outer, kp, n, 0x5c);
    mbedtls_platform_zeroize(hashed, sizeof hashed);
}

void ag_hmac_sha256_wipe(ag_hmac_sha256_key_t *k)
{
    mbedtls_platform_zeroize(k, sizeof *k);
}

void ag_hmac_sha256_start(const ag_hmac_sha256_key_t *k, ag_sha256_t *s)
{
    memcpy(s->h, k->inner, sizeof s->h);
    s->total = AG_SHA256_BLOCK;
    s->nbuf = 0;
}

void ag_hmac_sha256_finish(const ag_hmac_sha256_key_t *k, ag_sha256_t *s,
                           unsigned char out[AG_SHA256_LEN])
{
    unsigned char inner[AG_SHA256_LEN];
    ag_sha256_finish(s, inner);
    memcpy(s->h, k->outer, sizeof s->h);
    s->total = AG_SHA256_BLOCK;
    s->nbuf = 0;
    ag_sha256_update(s, inner, sizeof inner);
    ag_sha256_finish(s, out);
}

void ag_hmac_sha256(const ag_hmac_sha256_key_t *k, const void *msg, size_t n,
                    unsigned char out[AG_SHA256_LEN])
{
    ag_sha256_t s;
    ag_hmac_sha256_start(k, &s);
    ag_sha256_update(&s, msg, n);
    ag_hmac_sha256_finish(k, &s, out);
}
