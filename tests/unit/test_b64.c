/* core/base/b64: canonical unpadded base64url only (RFC 4648 §5, JWS §2). */
#include "base/b64.h"
#include "testlib.h"

static ag_err dec(const char *in, char *out, size_t cap, size_t *n)
{
    ag_err err = ag_b64url_decode(ag_str_cstr(in), (unsigned char *)out, cap, n);
    if (!err && *n < cap)
        out[*n] = '\0';
    return err;
}

TEST(b64_decodes_rfc4648_vectors_unpadded)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (int i = 0; i < 7; i++) {
        char out[16];
        size_t n = 99;
        CHECK_EQ(dec(enc[i], out, sizeof out, &n), 0);
        CHECK_EQ(n, strlen(plain[i]));
        CHECK_STREQ(out, plain[i]);
        char back[16];
        CHECK_EQ(ag_b64url_encode((const unsigned char *)plain[i], strlen(plain[i]), back),
                 strlen(enc[i]));
        CHECK_EQ(ag_b64url_encoded_len(strlen(plain[i])), strlen(enc[i]));
        CHECK(memcmp(back, enc[i], strlen(enc[i])) == 0);
    }
}

TEST(b64_uses_the_url_alphabet)
{
    unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    char out[8];
    size_t n;
    CHECK_EQ(ag_b64url_encode(bytes, 3, out), 4);
    CHECK(memcmp(out, "-_-_", 4) == 0);
    CHECK_EQ(dec("-_-_", out, sizeof out, &n), 0);
    CHECK(n == 3 && memcmp(out, bytes, 3) == 0);
}

TEST(b64_rejects_padding_and_standard_alphabet)
{
    char out[16];
    size_t n;
    const char *bad[] = {"Zg==", "Zm8=",  "Zg=",    "+/+/",  "Zm9v+w",
                         "Zm9/", "Zm 9v", "Zm9v\n", "Zm9v.", "Z\x80gg"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(dec(bad[i], out, sizeof out, &n), AG_E_PARSE);
}

TEST(b64_rejects_length_4k_plus_1)
{
    char out[16];
    size_t n;
    CHECK_EQ(dec("Z", out, sizeof out, &n), AG_E_PARSE);
    CHECK_EQ(dec("Zm9vY", out, sizeof out, &n), AG_E_PARSE);
}

TEST(b64_rejects_nonzero_trailing_bits)
{
    char out[16];
    size_t n;
    /* "Zg" is 'f'; "Zh".."Zv" decode to 'f' too in lenient decoders */
    CHECK_EQ(dec("Zh", out, sizeof out, &n), AG_E_PARSE);
    CHECK_EQ(dec("Zv", out, sizeof out, &n), AG_E_PARSE);
    CHECK_EQ(dec("Zm9", out, sizeof out, &n), AG_E_PARSE); /* "Zm8" is canonical */
    CHECK_EQ(dec("Zm8", out, sizeof out, &n), 0);
}

TEST(b64_respects_output_capacity)
{
    char out[4];
    size_t n;
    CHECK_EQ(dec("Zm9vYmFy", out, 5, &n), AG_E_TOO_BIG);
    CHECK_EQ(dec("Zm9v", out, 3, &n), 0);
    CHECK_EQ(ag_b64url_decoded_max(8) >= 6, 1);
}
