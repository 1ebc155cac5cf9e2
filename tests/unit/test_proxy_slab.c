/* ag_slab (runtime/slab.h): long-lived objects stay dense whatever is allocated and freed
 * between them, freed slots are reused, and empty blocks go back (one spare kept). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/asan_interface.h>

#include "runtime/slab.h"
#include "testlib.h"

#define N 200
#define OBJ 2072                       /* about a connection struct */
#define SLOT (16 + ((OBJ + 15) & ~15)) /* its block pointer (padded) and the object */

TEST(slab_packs_objects_allocated_between_transient_ones)
{
    static ag_slab_t s = AG_SLAB_INIT(OBJ);
    unsigned char *o[N];
    for (int i = 0; i < N; i++) {
        void *junk = malloc(3000); /* a handshake's short-lived state */
        CHECK(junk != NULL);
        o[i] = ag_slab_calloc(&s);
        CHECK(o[i] != NULL);
        for (int k = 0; k < OBJ; k++)
            CHECK_EQ(o[i][k], 0);
        memset(o[i], 0xA5, OBJ);
        free(junk);
    }
    size_t live, blocks;
    ag_slab_stats(&s, &live, &blocks);
    CHECK_EQ(live, N);
    size_t per_block = AG_SLAB_BLOCK / SLOT;
    CHECK(blocks <= (N + per_block - 1) / per_block + 1);
    size_t jumps = 0; /* one object right after the other, but where a new block starts */
    for (int i = 1; i < N; i++)
        jumps += (uintptr_t)o[i] - (uintptr_t)o[i - 1] != SLOT;
    CHECK(jumps < blocks);
    for (int i = 0; i < N; i++)
        ag_slab_free(&s, o[i]);
    ag_slab_stats(&s, &live, &blocks);
    CHECK_EQ(live, 0);
    CHECK_EQ(blocks, 1); /* the spare */
}

TEST(slab_reuses_a_freed_slot_zeroed)
{
    static ag_slab_t s = AG_SLAB_INIT(40);
    unsigned char *a = ag_slab_calloc(&s), *b = ag_slab_calloc(&s);
    CHECK(a != NULL && b != NULL);
    CHECK((uintptr_t)a % 16 == 0 && (uintptr_t)b % 16 == 0);
    memset(a, 0xFF, 40);
    ag_slab_free(&s, a);
#if defined(__SANITIZE_ADDRESS__)
    CHECK(__asan_address_is_poisoned(a) && __asan_address_is_poisoned(a + 39));
    CHECK(!__asan_address_is_poisoned(b));
#endif
    unsigned char *c = ag_slab_calloc(&s);
    CHECK(c == a);
    for (int k = 0; k < 40; k++)
        CHECK_EQ(c[k], 0);
    ag_slab_free(&s, b);
    ag_slab_free(&s, c);
    ag_slab_free(&s, NULL);
    size_t live, blocks;
    ag_slab_stats(&s, &live, &blocks);
    CHECK_EQ(live, 0);
    CHECK_EQ(blocks, 1);
}
