/* Key manager: the verification keys of every remote issuer, kept fresh by the control
 * loop and read by workers without locks. Per issuer: OIDC discovery
 * (/.well-known/openid-configuration -> jwks_uri, whose "issuer" must equal the
 * configured URL exactly) or a configured jwks_uri, then the JWKS, parsed by
 * ag_jwks_parse and published as a snapshot (snapshot.h: pointer swap, per-thread
 * reader slots). Issuers with local keys (file, PEM, inline) are served from the issuer itself.
 *
 * Refresh: on a schedule that honours Cache-Control max-age clamped to
 * [refresh_min, refresh_max] (a week-long max-age must not delay a rotation:
 * threat-model #30); on failure with backoff. An unknown kid asks for ONE coalesced
 * refresh per issuer, at most once per kid_interval (threat-model #29: random-kid
 * floods cost at most one fetch per interval), and the asking request waits for it at
 * most kid_wait. A failed fetch or a response that does not parse never replaces good
 * keys: the last good set keeps serving, and the issuer is reported stale (metric
 * authgate_jwks_stale_issuers, a rate-limited WARN line) until a fetch succeeds.
 *
 * Threads: create/start/destroy and every fetch on the control loop; ag_keys_acquire,
 * ag_keys_ready and ag_keys_refresh_for_kid from any thread. Lifetime: process (one
 * manager per issuer set; the issuer set must outlive it). */
#ifndef AG_KEYS_H
#define AG_KEYS_H

#include <stdbool.h>
#include <uv.h>

#include "authn/issuer.h"
#include "authn/jwks.h"
#include "base/err.h"
#include "net/fetch.h"
#include "runtime/mailbox.h"
#include "runtime/snapshot.h"

#define AG_KEYS_MAX_KID 256 /* longer kids are never looked up remotely */

typedef struct ag_keys ag_keys_t;

typedef struct {
    long long refresh_min_ms;   /* floor for max-age; default 60 s */
    long long refresh_max_ms;   /* ceiling for max-age, and the period without one;
                                   default 1 h */
    long long kid_interval_ms;  /* at most one unknown-kid refresh per issuer per this;
                                   default 10 s */
    long long kid_wait_ms;      /* a request waits this long for that refresh; default 2 s */
    long long retry_min_ms;     /* first retry after a failure; default 1 s, doubling */
    long long retry_max_ms;     /* ...up to this; default 60 s */
    long long fetch_timeout_ms; /* per fetch; default 5 s */
    size_t max_bytes;           /* per response; default 1 MiB */
} ag_keys_opts_t;

/* Outcome handed to a waiting request. */
typedef enum {
    AG_KEYS_REFRESHED = 0, /* a fresh key set is published: verify again */
    AG_KEYS_UNCHANGED,     /* the refresh is rate limited, or the kid is unusable */
    AG_KEYS_TIMEOUT,       /* still fetching after kid_wait */
    AG_KEYS_FAILED,        /* the fetch failed (last good keys still serve) or shutdown */
} ag_keys_outcome;

typedef struct ag_keys_waiter ag_keys_waiter_t;
typedef void (*ag_keys_cb)(void *arg, ag_keys_outcome outcome);

/* Embedded in the parked request; must stay alive until <cb> runs. */
struct ag_keys_waiter {
    ag_mailbox_msg_t msg; /* private from here on */
    ag_keys_t *keys;
    int slot;
    char kid[AG_KEYS_MAX_KID];
    size_t kid_n;
    ag_mailbox_t *reply;
    ag_keys_cb cb;
    void *arg;
    ag_keys_outcome outcome;
    ag_keys_waiter_t *next;
};

/* Per-issuer state for /readyz detail and tests (a copy). */
typedef struct {
    bool remote;   /* keys fetched (false: local keys from config) */
    bool has_keys; /* a set is published */
    bool stale;    /* the last refresh failed */
    int nkeys;
    unsigned long long refreshes, failures, kid_refreshes;
    long long next_refresh_ms; /* from now; -1 while a fetch runs */
} ag_keys_status_t;

/* Control loop: creates the manager for <issuers> (borrowed) fetching with <fetch>
 * (borrowed; destroy the manager first). <opts> may be NULL. */
ag_err ag_keys_create(uv_loop_t *loop, ag_fetch_t *fetch, const ag_issuer_set_t *issuers,
                      const ag_keys_opts_t *opts, ag_keys_t **out);
/* Control loop, between create and start (authentication reload): every remote issuer of
 * <k> that <from> fetched the same way (issuer URL, jwks_uri, discovery) starts with
 * <from>'s current keys and refresh schedule instead of an empty set and a fetch now, so a
 * reload leaves no gap. <from> may be NULL; it is not changed. */
void ag_keys_adopt(ag_keys_t *k, ag_keys_t *from);
/* Control loop: starts the first fetch of every remote issuer (an adopted one: when its
 * old schedule says). */
void ag_keys_start(ag_keys_t *k);
/* Control loop: answers every waiter AG_KEYS_FAILED, stops timers, and frees the
 * manager once its handles are closed and its fetches have called back (destroy the
 * fetch engine after this, or let in-flight fetches finish). NULL is ignored. */
void ag_keys_destroy(ag_keys_t *k);

/* Any thread: a ref on <iss>'s current key set (remote or local), or NULL when none
 * is loaded yet; release with ag_jwks_unref. It writes the set's shared count: not for
 * the request path (ag_keys_borrow_fn is). */
ag_jwks_t *ag_keys_acquire(ag_keys_t *k, const ag_issuer_t *iss);
/* Any thread: true once every issuer not marked optional has keys (stays true: stale keys
 * still serve). */
bool ag_keys_ready(const ag_keys_t *k);
/* Control loop: whether issuer <i> (ag_issuer_at order) has keys; when not, <why> gets
 * "no keys yet: " and the last failed fetch, for /readyz?verbose. */
bool ag_keys_issuer_ready(ag_keys_t *k, int i, char *why, size_t n);

/* Any thread (a worker): <iss> lacks <kid> (or has no keys yet): ask the control loop
 * for a refresh and run <cb>(arg, outcome) on <reply>'s loop when it is done, rate
 * limited or timed out (within kid_wait). <w> is caller storage. Returns AG_E_INVAL
 * (issuer not managed here or its keys are local) without calling <cb>. */
ag_err ag_keys_refresh_for_kid(ag_keys_t *k, const ag_issuer_t *iss, ag_str_t kid,
                               ag_mailbox_t *reply, ag_keys_cb cb, void *arg, ag_keys_waiter_t *w);

/* The ag_keys_fn adapter for ag_authn_verify: <ctx> is an ag_keys_borrow_t. The issuer's
 * key snapshot is entered (snapshot.h) until ag_keys_borrow_release, which must follow
 * the verify call in the same callback on the same thread; nothing shared is written. */
typedef struct {
    ag_keys_t *keys;
    ag_snap_domain_t *entered; /* private */
} ag_keys_borrow_t;
const ag_jwks_t *ag_keys_borrow_fn(void *ctx, const ag_issuer_t *iss);
void ag_keys_borrow_release(ag_keys_borrow_t *b);

/* Control loop (or any thread, approximately): per-issuer status, index as in the set. */
void ag_keys_status(ag_keys_t *k, int issuer_index, ag_keys_status_t *out);

#endif
