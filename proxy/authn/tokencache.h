/* Verified-token cache: the reason a token already seen costs almost nothing. Shared
 * by all workers, sharded by key with one mutex per shard (held only for a table
 * operation and one identity copy, never across I/O or crypto).
 *
 * Keys are HMAC-SHA256 under a per-process random key of the token plus the audiences
 * it was checked against (length-prefixed, so no two inputs collide): the token itself
 * is never stored (threat-model #24, #25). Successes and failures live in separate
 * bounded LRU tables, so a flood of garbage tokens cannot evict good entries. A success
 * lives no longer than the token's exp and the configured TTL; a failure lives
 * negative_ttl (0: failures are not cached).
 *
 * Single flight: the first lookup of a key gets AG_TC_MISS and owns the verification;
 * concurrent lookups of the same key get AG_TC_WAIT and park a waiter, which is woken
 * on its own loop (through its mailbox) when the owner completes. The owner must call
 * ag_tokencache_complete or ag_tokencache_abandon exactly once.
 *
 * Lifetime: process. Entries hold a deep copy of the identity (lifetime: entry); a hit
 * copies it into the caller's request arena, so eviction never pulls memory from under
 * a request. */
#ifndef AG_TOKENCACHE_H
#define AG_TOKENCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "authn/identity.h"
#include "authn_config.h" /* the defaults: AG_AUTHN_DEFAULT_CACHE_* */
#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"
#include "runtime/mailbox.h"

#define AG_TOKENCACHE_DEFAULT_ENTRIES AG_AUTHN_DEFAULT_CACHE_ENTRIES
#define AG_TOKENCACHE_DEFAULT_TTL_MS AG_AUTHN_DEFAULT_CACHE_TTL_MS
#define AG_TOKENCACHE_DEFAULT_NEG_ENTRIES AG_AUTHN_DEFAULT_CACHE_NEG_ENTRIES
#define AG_TOKENCACHE_DEFAULT_NEG_TTL_MS AG_AUTHN_DEFAULT_CACHE_NEG_TTL_MS
#define AG_TOKENCACHE_DEFAULT_SHARDS AG_AUTHN_DEFAULT_CACHE_SHARDS

typedef struct ag_tokencache ag_tokencache_t;

typedef struct {
    unsigned char b[32];
} ag_tokencache_key_t;

typedef struct {
    int max_entries;           /* successes kept; 0 = default */
    long long ttl_ms;          /* upper bound on a success's life; 0 = default */
    int max_negative;          /* failures kept; 0 = default */
    long long negative_ttl_ms; /* life of a failure; 0 = failures are not cached */
    int shards;                /* rounded up to a power of two; 0 = default */
} ag_tokencache_opts_t;

typedef enum {
    AG_TC_HIT = 0,  /* *id filled from a cached success */
    AG_TC_NEGATIVE, /* a cached failure: *result says which */
    AG_TC_MISS,     /* caller owns the verification and must complete or abandon */
    AG_TC_WAIT,     /* another request is verifying: the waiter will be woken */
    AG_TC_NOCACHE,  /* table full of in-flight entries: verify without caching */
} ag_tc_status;

typedef struct ag_tokencache_waiter ag_tokencache_waiter_t;
/* Runs on the waiter's mailbox loop. w->result is AG_TC_RETRY_RESULT when the owner
 * succeeded or gave up (look up again: the success is now cached, or this request may
 * become the owner); otherwise the failure the owner found (an ag_authn_result). */
typedef void (*ag_tokencache_wake_fn)(ag_tokencache_waiter_t *w);
#define AG_TC_RETRY_RESULT (-1)

/* Embedded in the parked request; fill mailbox, fn and arg before the lookup. */
struct ag_tokencache_waiter {
    ag_mailbox_msg_t msg;  /* private */
    ag_mailbox_t *mailbox; /* the waiting request's loop */
    ag_tokencache_wake_fn fn;
    void *arg;
    int result;                   /* set before fn runs */
    ag_tokencache_waiter_t *next; /* private */
};

typedef struct {
    unsigned long long hits, negative_hits, misses, waits, evictions, expired, entries,
        negative_entries;
} ag_tokencache_stats_t;

/* <opts> may be NULL. The HMAC key comes from getrandom(). */
ag_err ag_tokencache_create(const ag_tokencache_opts_t *opts, ag_tokencache_t **out);
/* No lookup may be in flight or waiting. NULL is ignored. */
void ag_tokencache_destroy(ag_tokencache_t *c);

/* Key of <token> checked against <audiences> (naudiences 0 for the issuers' own) under the
 * authentication section of <generation> (authenticate.c: +1 per reload), so a verdict
 * reached under an earlier section is never found again after a reload. */
void ag_tokencache_key(const ag_tokencache_t *c, uint64_t generation, ag_str_t token,
                       const ag_str_t *audiences, int naudiences, ag_tokencache_key_t *out);

/* Looks <key> up at <now_ms> (monotonic or wall, consistently). HIT: *id is a deep
 * copy in <arena> (NOMEM there reads as NOCACHE). NEGATIVE: *result is the cached
 * failure. WAIT: <w> is parked (w may be NULL only if the caller cannot wait: then a
 * pending key reads as NOCACHE). MISS: the caller must complete or abandon <key>. */
ag_tc_status ag_tokencache_lookup(ag_tokencache_t *c, const ag_tokencache_key_t *key,
                                  long long now_ms, ag_arena_t *arena, ag_identity_t *id,
                                  int *result, ag_tokencache_waiter_t *w);

/* Owner: stores a success (<id> deep-copied, borrowed; <exp_s> the token's exp in unix
 * seconds, 0 for none, with <now_s> the same clock) and wakes the waiters to look up
 * again. AG_E_NOMEM leaves nothing cached but still wakes the waiters. */
ag_err ag_tokencache_complete(ag_tokencache_t *c, const ag_tokencache_key_t *key, long long now_ms,
                              const ag_identity_t *id, long long exp_s, long long now_s);
/* Owner: records failure <result> (cached for negative_ttl when enabled and
 * <cacheable>: transient failures such as missing keys should not be) and hands it to
 * every waiter. */
void ag_tokencache_fail(ag_tokencache_t *c, const ag_tokencache_key_t *key, long long now_ms,
                        int result, bool cacheable);
/* Owner gives up (its request went away): waiters retry, one becomes the new owner. */
void ag_tokencache_abandon(ag_tokencache_t *c, const ag_tokencache_key_t *key);
void ag_tokencache_stats(ag_tokencache_t *c, ag_tokencache_stats_t *out);

/* Deep copy of <src> into <arena>; AG_E_NOMEM. Also used by callers that must keep an
 * identity beyond its source (exposed for tests). */
ag_err ag_identity_copy(ag_arena_t *arena, const ag_identity_t *src, ag_identity_t *dst);

#endif
