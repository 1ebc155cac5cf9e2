/* Unit tests for core/base/sha256.c: FIPS 180-4 example vectors, RFC 4231 HMAC-SHA256 test
 * cases, and randomized agreement with mbedTLS over many lengths and update splits —
 * each with both block functions forced (SHA-NI only where the CPU has it). */
#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

#include "base/sha256.h"
#include "testlib.h"

static const ag_sha256_impl_t impls[] = {AG_SHA256_PORTABLE, AG_SHA256_SHANI};

/* Forces impls[i]; false (and a note) when this CPU has no SHA extensions. */
static int use_impl(int i)
{
    if (ag_sha256_force(impls[i]) != 0) {
        fprintf(stderr, "note: SHA-NI not available on this CPU, portable path only\n");
        return 0;
    }
    CHECK_EQ(ag_sha256_active(), impls[i]);
    return 1;
}

static void hex(const unsigned char *b, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++)
        out[2 * i] = d[b[i] >> 4], out[2 * i + 1] = d[b[i] & 15];
    out[2 * n] = 0;
}

static void check_sha(const void *msg, size_t n, const char *want)
{
    unsigned char md[32];
    char h[65];
    ag_sha256(msg, n, md);
    hex(md, 32, h);
    CHECK_STREQ(h, want);
}

TEST(sha256_fips_examples)
{
    for (int i = 0; i < 2; i++) {
        if (!use_impl(i))
            continue;
        check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        /* 56 bytes: the padding needs a second block */
        check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    }
    ag_sha256_force(AG_SHA256_AUTO);
}

TEST(sha256_million_a_in_uneven_updates)
{
    static unsigned char a[1000];
    memset(a, 'a', sizeof a);
    for (int i = 0; i < 2; i++) {
        if (!use_impl(i))
            continue;
        ag_sha256_t s;
        unsigned char md[32];
        char h[65];
        size_t done = 0, step = 1;
        ag_sha256_init(&s);
        while (done < 1000000) {
            size_t n = step < 1000000 - done ? step : 1000000 - done;
            ag_sha256_update(&s, a, n);
            done += n;
            step = step * 7 % 997 + 1; /* odd sizes cross block edges everywhere */
        }
        ag_sha256_finish(&s, md);
        hex(md, 32, h);
        CHECK_STREQ(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
    ag_sha256_force(AG_SHA256_AUTO);
}

static void check_hmac(const void *key, size_t nkey, const void *msg, size_t n, const char *want)
{
    ag_hmac_sha256_key_t k;
    unsigned char mac[32];
    char h[65];
    ag_hmac_sha256_key(&k, key, nkey);
    ag_hmac_sha256(&k, msg, n, mac);
    hex(mac, 32, h);
    CHECK_STREQ(h, want);
    ag_hmac_sha256_wipe(&k);
}

TEST(hmac_sha256_rfc4231)
{
    unsigned char k20[20], k25[25], kaa[131], d50[50];
    for (int i = 0; i < 25; i++)
        k25[i] = (unsigned char)(i + 1);
    for (int i = 0; i < 2; i++) {
        if (!use_impl(i))
            continue;
        memset(k20, 0x0b, sizeof k20); /* test case 1 */
        check_hmac(k20, 20, "Hi There", 8,
                   "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        check_hmac("Jefe", 4, "what do ya want for nothing?", 28, /* 2 */
                   "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        memset(k20, 0xaa, sizeof k20); /* 3 */
        memset(d50, 0xdd, sizeof d50);
        check_hmac(k20, 20, d50, 50,
                   "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
        memset(d50, 0xcd, sizeof d50); /* 4 */
        check_hmac(k25, 25, d50, 50,
                   "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
        memset(kaa, 0xaa, sizeof kaa); /* 6 and 7: keys longer than a block are hashed */
        check_hmac(kaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First", 54,
                   "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        const char *m7 = "This is a test using a larger than block-size key and a larger than "
                         "block-size data. The key needs to be hashed before being used by the "
                         "HMAC algorithm.";
        check_hmac(kaa, 131, m7, strlen(m7),
                   "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    }
    ag_sha256_force(AG_SHA256_AUTO);
}

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng >> 32);
}

TEST(sha256_matches_mbedtls_over_lengths_and_splits)
{
    static unsigned char msg[4200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)rnd();
    for (int i = 0; i < 2; i++) {
        if (!use_impl(i))
            continue;
        int bad = 0;
        for (size_t n = 0; n <= sizeof msg; n += n < 300 ? 1 : 37) {
            unsigned char want[32], got[32], got2[32];
            mbedtls_sha256_ret(msg, n, want, 0);
            ag_sha256(msg, n, got);
            ag_sha256_t s; /* the same bytes in random pieces */
            ag_sha256_init(&s);
            for (size_t off = 0; off < n;) {
                size_t take = rnd() % 150;
                take = take < n - off ? take : n - off;
                ag_sha256_update(&s, msg + off, take);
                off += take;
            }
            ag_sha256_finish(&s, got2);
            bad += memcmp(want, got, 32) != 0 || memcmp(want, got2, 32) != 0;
        }
        CHECK_EQ(bad, 0);
    }
    ag_sha256_force(AG_SHA256_AUTO);
}

TEST(hmac_sha256_matches_mbedtls_over_key_and_message_lengths)
{
    static unsigned char msg[1500], key[200];
    const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (unsigned char)rnd();
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)rnd();
    for (int i = 0; i < 2; i++) {
        if (!use_impl(i))
            continue;
        int bad = 0, runs = 0;
        for (size_t nk = 0; nk <= sizeof key; nk += 7) {
            ag_hmac_sha256_key_t k;
            ag_hmac_sha256_key(&k, key, nk);
            for (size_t n = nk % 5; n <= sizeof msg; n += 61 + nk % 13, runs++) {
                unsigned char want[32], got[32];
                mbedtls_md_hmac(md, key, nk, msg, n, want);
                ag_hmac_sha256(&k, msg, n, got);
                bad += memcmp(want, got, 32) != 0;
            }
        }
        CHECK(runs > 500);
        CHECK_EQ(bad, 0);
    }
    ag_sha256_force(AG_SHA256_AUTO);
}

TEST(sha256_force_reports_what_runs)
{
    CHECK_EQ(ag_sha256_force(AG_SHA256_PORTABLE), 0);
    CHECK_EQ(ag_sha256_active(), AG_SHA256_PORTABLE);
    CHECK_EQ(ag_sha256_force(AG_SHA256_AUTO), 0);
    ag_sha256_impl_t a = ag_sha256_active();
    CHECK(a == AG_SHA256_PORTABLE || a == AG_SHA256_SHANI);
    CHECK_EQ(ag_sha256_force(AG_SHA256_SHANI) == 0, a == AG_SHA256_SHANI);
    ag_sha256_force(AG_SHA256_AUTO);
}
