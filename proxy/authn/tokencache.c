/* Verified-token cache (tokencache.h). Each shard is a chained hash table over the
 * 32-byte keys plus two LRU lists (successes, failures); in-flight ("pending") entries
 * are in the table but on no list, so they are never evicted. The shard is chosen by
 * key bytes 0-3 and the bucket by bytes 4-11: the keys are HMAC outputs, uniform and
 * unpredictable to a client. HMAC uses precomputed inner/outer SHA-256 states (core/
 * sha256.c, SHA-NI where the CPU has it), so the hot path allocates nothing. */
#include "authn/tokencache.h"

#include <mbedtls/platform_util.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/sha256.h"

typedef struct entry entry_t;

struct entry {
    ag_tokencache_key_t key;
    entry_t *hnext;         /* hash chain */
    entry_t *lprev, *lnext; /* LRU list (success or failure), not when pending */
    long long expires_ms;
    int result; /* failures: the ag_authn_result */
    enum { PENDING, POSITIVE, NEGATIVE } state;
    ag_tokencache_waiter_t *waiters; /* PENDING only */
    ag_identity_t id;                /* POSITIVE: points into blob */
    void *blob;                      /* owned */
    size_t blob_n;                   /* what copy_identity measured for id */
};

typedef struct {
    entry_t *head, *tail; /* head = most recently used */
    int n, max;
} lru_t;

typedef struct {
    pthread_mutex_t lock;
    entry_t **buckets;
    size_t mask;
    lru_t pos, neg;
    int npending;
    ag_tokencache_stats_t st;
} shard_t;

struct ag_tokencache {
    ag_hmac_sha256_key_t mac; /* HMAC states after the padded key blocks */
    long long ttl_ms, neg_ttl_ms;
    unsigned nshards;
    shard_t *shards;
};

/* ---- identity deep copy ---------------------------------------------------------- */

typedef struct {
    char *p; /* NULL: measuring only */
    size_t used;
} bump_t;

static void *bump(bump_t *b, size_t n, size_t align)
{
    b->used = (b->used + align - 1) & ~(align - 1);
    void *r = b->p ? b->p + b->used : NULL;
    b->used += n;
    return r;
}

static ag_str_t bump_str(bump_t *b, ag_str_t s)
{
    char *d = bump(b, s.n + 1, 1);
    if (!d)
        return AG_STR_NULL;
    if (s.n)
        memcpy(d, s.p, s.n);
    d[s.n] = '\0';
    return ag_str_make(d, s.n);
}

/* With b->p NULL only measures; otherwise copies into b->p (sized by a measure pass). */
static void copy_identity(bump_t *b, const ag_identity_t *src, ag_identity_t *dst)
{
    ag_str_t *groups = bump(b, sizeof *groups * (size_t)src->ngroups, sizeof(void *));
    ag_extra_t *extra = bump(b, sizeof *extra * (size_t)src->nextra, sizeof(void *));
    *dst = *src;
    dst->username = bump_str(b, src->username);
    dst->uid = bump_str(b, src->uid);
    dst->oid = bump_str(b, src->oid);
    dst->tid = bump_str(b, src->tid);
    for (int i = 0; i < src->ngroups; i++) {
        ag_str_t g = bump_str(b, src->groups[i]);
        if (groups)
            groups[i] = g;
    }
    for (int i = 0; i < src->nextra; i++) {
        const ag_extra_t *e = &src->extra[i];
        ag_str_t *vals = bump(b, sizeof *vals * (size_t)e->nvalues, sizeof(void *));
        ag_str_t key = bump_str(b, e->key);
        for (int k = 0; k < e->nvalues; k++) {
            ag_str_t v = bump_str(b, e->values[k]);
            if (vals)
                vals[k] = v;
        }
        if (extra)
            extra[i] = (ag_extra_t){key, vals, e->nvalues};
    }
    dst->groups = groups;
    dst->extra = extra;
}

ag_err ag_identity_copy(ag_arena_t *arena, const ag_identity_t *src, ag_identity_t *dst)
{
    bump_t b = {NULL, 0};
    ag_identity_t tmp;
    copy_identity(&b, src, &tmp);
    if (!(b.p = ag_arena_alloc(arena, b.used + 1)))
        return AG_E_NOMEM;
    b.used = 0;
    copy_identity(&b, src, dst);
    return 0;
}

/* ---- HMAC-SHA256 with precomputed pads (RFC 2104) ---------------------------------- */

static ag_err hmac_setup(ag_tokencache_t *c)
{
    unsigned char key[32];
    if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
        return AG_E_IO;
    ag_hmac_sha256_key(&c->mac, key, sizeof key);
    mbedtls_platform_zeroize(key, sizeof key);
    return 0;
}

static void put_len(ag_sha256_t *h, ag_str_t s)
{
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)((unsigned long long)s.n >> (56 - 8 * i));
    ag_sha256_update(h, len, sizeof len);
    ag_sha256_update(h, s.p, s.n);
}

void ag_tokencache_key(const ag_tokencache_t *c, uint64_t generation, ag_str_t token,
                       const ag_str_t *audiences, int naudiences, ag_tokencache_key_t *out)
{
    ag_sha256_t h;
    unsigned char count = (unsigned char)(naudiences > 255 ? 255 : naudiences), gen[8];
    for (int i = 0; i < 8; i++)
        gen[i] = (unsigned char)(generation >> (56 - 8 * i));
    ag_hmac_sha256_start(&c->mac, &h);
    /* Fixed-size generation, then length-prefixed fields: (token, aud1, aud2) never equals
     * (token', aud1') (#24). */
    ag_sha256_update(&h, gen, sizeof gen);
    ag_sha256_update(&h, &count, 1);
    put_len(&h, token);
    for (int i = 0; i < naudiences; i++)
        put_len(&h, audiences[i]);
    ag_hmac_sha256_finish(&c->mac, &h, out->b);
}

/* ---- shard tables -------------------------------------------------------------------- */

static uint64_t key_bits(const ag_tokencache_key_t *k, int off)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | k->b[off + i];
    return v;
}

static shard_t *shard_of(ag_tokencache_t *c, const ag_tokencache_key_t *k)
{
    return &c->shards[key_bits(k, 0) & (c->nshards - 1)];
}

static entry_t **slot_of(shard_t *s, const ag_tokencache_key_t *k)
{
    entry_t **pp = &s->buckets[key_bits(k, 8) & s->mask];
    while (*pp && memcmp((*pp)->key.b, k->b, sizeof k->b) != 0)
        pp = &(*pp)->hnext;
    return pp;
}

static void lru_unlink(lru_t *l, entry_t *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        l->head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        l->tail = e->lprev;
    e->lprev = e->lnext = NULL;
    l->n--;
}

static void lru_push(lru_t *l, entry_t *e)
{
    e->lprev = NULL;
    e->lnext = l->head;
    if (l->head)
        l->head->lprev = e;
    else
        l->tail = e;
    l->head = e;
    l->n++;
}

static lru_t *lru_of(shard_t *s, entry_t *e)
{
    return e->state == POSITIVE ? &s->pos : e->state == NEGATIVE ? &s->neg : NULL;
}

/* Unlinks <e> from the table and its list and frees it (no waiters may remain). */
static void entry_remove(shard_t *s, entry_t *e)
{
    entry_t **pp = slot_of(s, &e->key);
    *pp = e->hnext;
    lru_t *l = lru_of(s, e);
    if (l)
        lru_unlink(l, e);
    else
        s->npending--;
    free(e->blob);
    free(e);
}

/* Puts a just-completed entry on its list, evicting the least recently used. */
static void entry_settle(shard_t *s, entry_t *e)
{
    lru_t *l = lru_of(s, e);
    s->npending--;
    lru_push(l, e);
    while (l->n > l->max && l->tail != e) {
        entry_remove(s, l->tail);
        s->st.evictions++;
    }
}

/* Detaches the waiters of a pending entry, to be woken outside the lock. */
static ag_tokencache_waiter_t *take_waiters(entry_t *e, int result)
{
    ag_tokencache_waiter_t *w = e->waiters;
    e->waiters = NULL;
    for (ag_tokencache_waiter_t *x = w; x; x = x->next)
        x->result = result;
    return w;
}

static void on_wake(ag_mailbox_msg_t *msg)
{
    ag_tokencache_waiter_t *w = (ag_tokencache_waiter_t *)msg;
    w->fn(w);
}

static void wake(ag_tokencache_waiter_t *w)
{
    while (w) {
        ag_tokencache_waiter_t *next = w->next; /* w may be gone once posted */
        w->next = NULL;
        w->msg.fn = on_wake;
        ag_mailbox_post(w->mailbox, &w->msg);
        w = next;
    }
}

/* ---- public ---------------------------------------------------------------------------- */

ag_err ag_tokencache_create(const ag_tokencache_opts_t *opts, ag_tokencache_t **out)
{
    ag_tokencache_opts_t o = opts ? *opts : (ag_tokencache_opts_t){0};
    ag_tokencache_t *c = NULL;
    ag_err err = AG_E_NOMEM;
    unsigned n = 1;

    if (o.max_entries <= 0)
        o.max_entries = AG_TOKENCACHE_DEFAULT_ENTRIES;
    if (o.max_negative <= 0)
        o.max_negative = AG_TOKENCACHE_DEFAULT_NEG_ENTRIES;
    if (o.ttl_ms <= 0)
        o.ttl_ms = AG_TOKENCACHE_DEFAULT_TTL_MS;
    if (o.shards <= 0)
        o.shards = AG_TOKENCACHE_DEFAULT_SHARDS;
    while (n < (unsigned)o.shards && n < 1024)
        n <<= 1;
    if (!(c = calloc(1, sizeof *c)) || !(c->shards = calloc(n, sizeof *c->shards)))
        goto fail;
    c->nshards = n;
    c->ttl_ms = o.ttl_ms;
    c->neg_ttl_ms = o.negative_ttl_ms > 0 ? o.negative_ttl_ms : 0;
    int per = (o.max_entries + (int)n - 1) / (int)n, nper = (o.max_negative + (int)n - 1) / (int)n;
    size_t nb = 16;
    while (nb < (size_t)(per + nper) * 2)
        nb <<= 1;
    for (unsigned i = 0; i < n; i++) {
        shard_t *s = &c->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->pos.max = per;
        s->neg.max = nper;
        s->mask = nb - 1;
        if (!(s->buckets = calloc(nb, sizeof *s->buckets)))
            goto fail;
    }
    if ((err = hmac_setup(c)) != 0)
        goto fail;
    *out = c;
    return 0;
fail:
    ag_tokencache_destroy(c);
    return err;
}

void ag_tokencache_destroy(ag_tokencache_t *c)
{
    if (!c)
        return;
    for (unsigned i = 0; c->shards && i < c->nshards; i++) {
        shard_t *s = &c->shards[i];
        for (size_t b = 0; s->buckets && b <= s->mask; b++)
            while (s->buckets[b])
                entry_remove(s, s->buckets[b]);
        free(s->buckets);
        pthread_mutex_destroy(&s->lock);
    }
    free(c->shards);
    ag_hmac_sha256_wipe(&c->mac);
    free(c);
}

/* Under the lock: what a found entry means for this lookup. */
static ag_tc_status found(shard_t *s, entry_t *e, ag_arena_t *arena, ag_identity_t *id, int *result,
                          ag_tokencache_waiter_t *w)
{
    if (e->state == PENDING) {
        if (!w)
            return AG_TC_NOCACHE;
        w->next = e->waiters;
        e->waiters = w;
        s->st.waits++;
        return AG_TC_WAIT;
    }
    lru_t *l = lru_of(s, e);
    lru_unlink(l, e);
    lru_push(l, e);
    if (e->state == NEGATIVE) {
        *result = e->result;
        s->st.negative_hits++;
        return AG_TC_NEGATIVE;
    }
    bump_t b = {ag_arena_alloc(arena, e->blob_n + 1), 0}; /* measured when it was cached */
    if (!b.p)
        return AG_TC_NOCACHE;
    copy_identity(&b, &e->id, id);
    s->st.hits++;
    return AG_TC_HIT;
}

ag_tc_status ag_tokencache_lookup(ag_tokencache_t *c, const ag_tokencache_key_t *key,
                                  long long now_ms, ag_arena_t *arena, ag_identity_t *id,
                                  int *result, ag_tokencache_waiter_t *w)
{
    shard_t *s = shard_of(c, key);
    ag_tc_status st;
    pthread_mutex_lock(&s->lock);
    entry_t **pp = slot_of(s, key), *e = *pp;
    if (e && e->state != PENDING && now_ms >= e->expires_ms) {
        entry_remove(s, e); /* never serve past exp or TTL */
        s->st.expired++;
        e = NULL;
    }
    if (e) {
        st = found(s, e, arena, id, result, w);
    } else if (s->npending >= s->pos.max || !(e = calloc(1, sizeof *e))) {
        st = AG_TC_NOCACHE;
    } else {
        e->key = *key;
        e->state = PENDING;
        e->hnext = s->buckets[key_bits(key, 8) & s->mask];
        s->buckets[key_bits(key, 8) & s->mask] = e;
        s->npending++;
        s->st.misses++;
        st = AG_TC_MISS;
    }
    pthread_mutex_unlock(&s->lock);
    return st;
}

/* Finds the caller's pending entry; NULL if it is not pending (a caller bug). */
static entry_t *pending_entry(shard_t *s, const ag_tokencache_key_t *key)
{
    entry_t *e = *slot_of(s, key);
    return e && e->state == PENDING ? e : NULL;
}

ag_err ag_tokencache_complete(ag_tokencache_t *c, const ag_tokencache_key_t *key, long long now_ms,
                              const ag_identity_t *id, long long exp_s, long long now_s)
{
    shard_t *s = shard_of(c, key);
    ag_tokencache_waiter_t *w = NULL;
    ag_err err = AG_E_INVAL;
    bump_t b = {NULL, 0};
    ag_identity_t tmp;
    void *blob = NULL;

    copy_identity(&b, id, &tmp);
    size_t blob_n = b.used;
    if ((b.p = blob = malloc(blob_n + 1)) != NULL)
        b.used = 0;
    pthread_mutex_lock(&s->lock);
    entry_t *e = pending_entry(s, key);
    if (!e)
        goto out;
    w = take_waiters(e, AG_TC_RETRY_RESULT);
    long long life = c->ttl_ms;
    if (exp_s > 0 && exp_s - now_s <= life / 1000)
        life = (exp_s - now_s) * 1000; /* an entry never outlives its token */
    if (!blob || life <= 0) {
        entry_remove(s, e);
        err = blob ? 0 : AG_E_NOMEM;
        goto out;
    }
    copy_identity(&b, id, &e->id);
    e->blob = blob;
    e->blob_n = blob_n;
    blob = NULL;
    e->state = POSITIVE;
    e->expires_ms = now_ms + life;
    entry_settle(s, e);
    err = 0;
out:
    pthread_mutex_unlock(&s->lock);
    free(blob);
    wake(w);
    return err;
}

void ag_tokencache_fail(ag_tokencache_t *c, const ag_tokencache_key_t *key, long long now_ms,
                        int result, bool cacheable)
{
    shard_t *s = shard_of(c, key);
    ag_tokencache_waiter_t *w = NULL;
    pthread_mutex_lock(&s->lock);
    entry_t *e = pending_entry(s, key);
    if (e) {
        w = take_waiters(e, result);
        if (cacheable && c->neg_ttl_ms > 0) {
            e->state = NEGATIVE;
            e->result = result;
            e->expires_ms = now_ms + c->neg_ttl_ms;
            entry_settle(s, e);
        } else {
            entry_remove(s, e);
        }
    }
    pthread_mutex_unlock(&s->lock);
    wake(w);
}

void ag_tokencache_abandon(ag_tokencache_t *c, const ag_tokencache_key_t *key)
{
    shard_t *s = shard_of(c, key);
    ag_tokencache_waiter_t *w = NULL;
    pthread_mutex_lock(&s->lock);
    entry_t *e = pending_entry(s, key);
    if (e) {
        w = take_waiters(e, AG_TC_RETRY_RESULT);
        entry_remove(s, e);
    }
    pthread_mutex_unlock(&s->lock);
    wake(w);
}

void ag_tokencache_stats(ag_tokencache_t *c, ag_tokencache_stats_t *out)
{
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < c->nshards; i++) {
        shard_t *s = &c->shards[i];
        pthread_mutex_lock(&s->lock);
        out->hits += s->st.hits;
        out->negative_hits += s->st.negative_hits;
        out->misses += s->st.misses;
        out->waits += s->st.waits;
        out->evictions += s->st.evictions;
        out->expired += s->st.expired;
        out->entries += (unsigned long long)s->pos.n;
        out->negative_entries += (unsigned long long)s->neg.n;
        pthread_mutex_unlock(&s->lock);
    }
}
