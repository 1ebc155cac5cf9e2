/* ag_buf: the inline append (room already allocated) and the growing one keep the same
 * contract: never past max, NUL after the bytes, an empty append on an unallocated buffer
 * allocates nothing. */
#include "base/buf.h"
#include "testlib.h"

TEST(buf_append_grows_to_max_and_refuses_past_it)
{
    ag_buf_t b = AG_BUF_INIT(10);
    CHECK_EQ(ag_buf_append(&b, "", 0), 0);
    CHECK(b.p != NULL); /* as before: even an empty append makes p[n] readable */
    CHECK_EQ(ag_buf_append(&b, "abcdefgh", 8), 0);
    CHECK_EQ(ag_buf_append(&b, "ij", 2), 0); /* exactly max */
    CHECK_STREQ(b.p, "abcdefghij");
    CHECK_EQ(ag_buf_append(&b, "k", 1), AG_E_TOO_BIG);
    CHECK_EQ(ag_buf_append(&b, "", 0), 0);
    CHECK_EQ(b.n, 10);
    CHECK_STREQ(b.p, "abcdefghij");
    ag_buf_dispose(&b);
}

TEST(buf_append_inline_path_honours_a_lowered_max)
{
    ag_buf_t b = AG_BUF_INIT(1024);
    CHECK_EQ(ag_buf_append_cstr(&b, "0123456789"), 0); /* 256 bytes allocated */
    CHECK(b.cap > 20);
    b.max = 12; /* room in the allocation, none under the cap */
    CHECK_EQ(ag_buf_append(&b, "ab", 2), 0);
    CHECK_EQ(ag_buf_append(&b, "c", 1), AG_E_TOO_BIG);
    b.max = 5; /* already past a cap lowered under n: nothing more, not even nothing */
    CHECK_EQ(ag_buf_append(&b, "", 0), AG_E_TOO_BIG);
    CHECK_EQ(b.n, 12);
    CHECK_STREQ(b.p, "0123456789ab");
    ag_buf_dispose(&b);
}

TEST(buf_append_fills_the_allocation_then_grows)
{
    ag_buf_t b = AG_BUF_INIT(1u << 20);
    char chunk[37];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 100; i++) /* crosses 256, 512, 1024, 2048, 4096 */
        CHECK_EQ(ag_buf_append(&b, chunk, sizeof chunk), 0);
    CHECK_EQ(b.n, 3700);
    CHECK(b.cap > b.n);
    CHECK_EQ(b.p[b.n], '\0');
    CHECK_EQ(strspn(b.p, "x"), 3700);
    ag_buf_dispose(&b);
}
