/* authgate's own tiny unit-test runner. Each test program is one .c file:
 *
 *   #include "testlib.h"
 *   TEST(jwt_rejects_alg_none) { CHECK(...); CHECK_EQ(a, b); CHECK_STREQ(s, "x"); }
 *
 * `prog` runs every case, `prog NAME` runs one, `prog --list` prints the names (CMake
 * registers each name as its own CTest test). A failed CHECK reports file:line and marks
 * the case failed; the case goes on so one run shows every broken expectation. */
#ifndef AG_TESTLIB_H
#define AG_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Number of elements of an array (a table of cases). */
#define AG_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

typedef void (*ag_test_fn)(void);
static struct {
    const char *name;
    ag_test_fn fn;
} ag_tests[512];
static int ag_ntests;
static int ag_test_failures;

static void ag_test_register(const char *name, ag_test_fn fn)
{
    if (ag_ntests < (int)(sizeof ag_tests / sizeof ag_tests[0]))
        ag_tests[ag_ntests++].name = name, ag_tests[ag_ntests - 1].fn = fn;
}

#define TEST(name)                                                                                 \
    static void test_##name(void);                                                                 \
    __attribute__((constructor)) static void ag_reg_##name(void)                                   \
    {                                                                                              \
        ag_test_register(#name, test_##name);                                                      \
    }                                                                                              \
    static void test_##name(void)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
            ag_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_EQ(a, b)                                                                             \
    do {                                                                                           \
        long long ag_a_ = (long long)(a), ag_b_ = (long long)(b);                                  \
        if (ag_a_ != ag_b_) {                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %lld, expected %s == %lld\n", __FILE__, \
                    __LINE__, #a, ag_a_, #b, ag_b_);                                               \
            ag_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

#define CHECK_STREQ(a, b)                                                                          \
    do {                                                                                           \
        const char *ag_a_ = (a), *ag_b_ = (b);                                                     \
        if (!ag_a_ || !ag_b_ || strcmp(ag_a_, ag_b_) != 0) {                                       \
            fprintf(stderr, "%s:%d: CHECK_STREQ failed: %s = \"%s\", expected \"%s\"\n", __FILE__, \
                    __LINE__, #a, ag_a_ ? ag_a_ : "(null)", ag_b_ ? ag_b_ : "(null)");             \
            ag_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

/* Compares an ag_str_t with a C string. */
#define CHECK_SLICE(s, lit)                                                                        \
    do {                                                                                           \
        ag_str_t ag_s_ = (s);                                                                      \
        const char *ag_l_ = (lit);                                                                 \
        if (ag_s_.n != strlen(ag_l_) || (ag_s_.n && memcmp(ag_s_.p, ag_l_, ag_s_.n))) {            \
            fprintf(stderr, "%s:%d: CHECK_SLICE failed: %s = \"%.*s\", expected \"%s\"\n",         \
                    __FILE__, __LINE__, #s, (int)ag_s_.n, ag_s_.p ? ag_s_.p : "", ag_l_);          \
            ag_test_failures++;                                                                    \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    int ran = 0, failed = 0;
    if (argc > 1 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < ag_ntests; i++)
            printf("%s\n", ag_tests[i].name);
        return 0;
    }
    for (int i = 0; i < ag_ntests; i++) {
        if (argc > 1 && strcmp(argv[1], ag_tests[i].name) != 0)
            continue;
        int before = ag_test_failures;
        ag_tests[i].fn();
        ran++;
        if (ag_test_failures != before) {
            failed++;
            fprintf(stderr, "FAIL %s\n", ag_tests[i].name);
        }
    }
    if (ran == 0) {
        fprintf(stderr, "no test named %s\n", argc > 1 ? argv[1] : "(any)");
        return 2;
    }
    printf("%d passed, %d failed\n", ran - failed, failed);
    return failed ? 1 : 0;
}

#endif
