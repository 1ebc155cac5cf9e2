/* The audit log's writer (audit.h): one lock-free single-producer ring per producer thread
 * (proxy/runtime/spsc.h), a writer thread that merges them in time order, formats each event's
 * JSON (ag_audit_format), writes whole lines to the file and rotates it by size.
 *
 * A worker's part of an event is a compact record: a fixed 32-byte header (times, code,
 * level, decision, flags, the audit ID's number) and the event's strings copied in, each
 * a varint length and its bytes (audit_pack.h), in a fixed order, never truncated; the
 * writer spells out the ID and words the reason. It takes no lock and writes no cache line another
 * thread writes: its ring's tail and, once per lap, a look at the writer's head. A record that does
 * not fit (ring full, mode "batch") is dropped and counted, never silently; in mode "blocking" the
 * worker waits for the writer instead (counted too). */
#include "authz/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "authz/audit_pack.h"
#include "runtime/log.h"
#include "runtime/spsc.h"

#define MAX_RINGS 128           /* producer threads per log; beyond: dropped */
#define MIN_RING (256 * 1024)   /* a 64 KiB record always fits */
#define FLUSH_BYTES (64 * 1024) /* the writer's write() size */
#define PASS_RECORDS 4096       /* records per drain pass */
#define DROP_LOG_INTERVAL_NS (10ull * 1000000000ull)
#define BATCH_NS (20ull * 1000000ull) /* an event reaches the file within ~20 ms */
#define IDLE_NS (1000000000ull)       /* an idle writer looks at the drop counter each second */
#define BLOCK_WAIT_NS 20000           /* mode "blocking": a full ring is retried this often */

typedef struct {
    ag_spsc_t q;
    _Atomic uint64_t dropped, blocked; /* written by the ring's producer only */
} ring_t;

struct ag_audit_log {
    ring_t *rings[MAX_RINGS];
    _Atomic int nrings;
    uint64_t id;       /* tells logs apart for the producers' thread-local ring */
    size_t ring_bytes; /* each ring's size */
    bool blocking;     /* audit.mode "blocking" */
    uv_mutex_t mu;     /* registering a ring; the writer's sleep */
    uv_cond_t cv;
    uv_thread_t thread;
    _Atomic int sleeping; /* the writer waits for the next event: wake it */
    _Atomic bool stop;
    _Atomic uint64_t unregistered;            /* events of threads that got no ring */
    _Atomic uint64_t lost;                    /* writer: events that reached no file */
    _Alignas(64) _Atomic int64_t wall_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, ns */
    int fd;
    const char *path;
    long long max_size, size;
    int backups;
    long long max_age_s; /* backups last written longer ago are removed (0: kept) */
    time_t last_prune;
    uint64_t reported; /* writer thread: drops already logged */
    uint64_t last_report;
};

/* A record: this header, then (events) the strings (audit_pack.h), or (lines) the line. */
enum { REC_LINE = 1, REC_EVENT = 2 };
enum { F_STARTED = 1, F_ATTRS = 2, F_RESREQ = 4, F_USER = 8, F_IMP = 16, F_WHY = 32 };
typedef struct {
    uint8_t kind, level, decision, flags;
    int32_t code;
    uint64_t ts; /* merge order: stage time of an event, queue time of a line */
    uint64_t received_ns;
    uint64_t audit_seq; /* ag_gate_audit_id_format spells the ID */
} rec_t;

static _Atomic uint64_t log_ids;
static _Thread_local struct {
    uint64_t log_id;
    ring_t *ring;
} mine;

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- records ----------------------------------------------------------------------------- */

static size_t pack_identity(char *p, size_t at, const ag_identity_t *u)
{
    at = ag_ap_s(p, ag_ap_s(p, at, u->username), u->uid);
    at = ag_ap_n(p, at, (size_t)u->ngroups);
    for (int i = 0; i < u->ngroups; i++)
        at = ag_ap_s(p, at, u->groups[i]);
    at = ag_ap_n(p, at, (size_t)u->nextra);
    for (int i = 0; i < u->nextra; i++) {
        at = ag_ap_n(p, ag_ap_s(p, at, u->extra[i].key), (size_t)u->extra[i].nvalues);
        for (int k = 0; k < u->extra[i].nvalues; k++)
            at = ag_ap_s(p, at, u->extra[i].values[k]);
    }
    return at;
}

/* The strings of <e> after the header, in the order unpack_entry reads them. */
/* The entry's strings in their record order (the last seven are the attributes). */
static const size_t entry_off[] = {
    offsetof(ag_audit_entry_t, uri),
    offsetof(ag_audit_entry_t, user_agent),
    offsetof(ag_audit_entry_t, source_ip),
    offsetof(ag_audit_entry_t, proxy_ip),
    offsetof(ag_audit_entry_t, reason),
    offsetof(ag_audit_entry_t, own_message),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, verb),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, api_group),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, api_version),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, namespace_),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, resource),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, subresource),
    offsetof(ag_audit_entry_t, attrs) + offsetof(ag_attrs_t, name)};
#define ENTRY_STRS (sizeof entry_off / sizeof entry_off[0])
#define ENTRY_STR(e, i) ((ag_str_t *)((char *)(e) + entry_off[i]))

/* The strings of <e> after the header, in the order unpack_entry reads them. */
static size_t pack_entry(char *p, size_t at, const ag_audit_entry_t *e)
{
    size_t n = e->have_attrs ? ENTRY_STRS : 6;
    for (size_t i = 0; i < n; i++)
        at = ag_ap_s(p, at, *ENTRY_STR(e, i));
    if (e->user)
        at = pack_identity(p, at, e->user);
    if (e->impersonated)
        at = pack_identity(p, at, e->impersonated);
    if (e->why.n)
        at = ag_ap_s(p, at, e->why);
    return at;
}

/* Strings point into the record; arrays come from <arena>. */
static ag_identity_t *unpack_identity(ag_ap_reader_t *r, ag_arena_t *arena)
{
    ag_identity_t *u = ag_arena_calloc(arena, sizeof *u);
    ag_str_t *g;
    ag_extra_t *x;
    if (!u)
        return NULL;
    u->username = ag_ap_get_s(r);
    u->uid = ag_ap_get_s(r);
    u->ngroups = (int)ag_ap_get_n(r); /* a count of n takes n bytes at least: bounded by size */
    if (r->bad || (size_t)u->ngroups > (size_t)(r->end - r->p) ||
        !(u->groups = g = ag_arena_alloc(arena, sizeof *g * (size_t)u->ngroups + 1)))
        return NULL;
    for (int i = 0; i < u->ngroups; i++)
        g[i] = ag_ap_get_s(r);
    u->nextra = (int)ag_ap_get_n(r);
    if (r->bad || (size_t)u->nextra > (size_t)(r->end - r->p) / 2 ||
        !(u->extra = x = ag_arena_alloc(arena, sizeof *x * (size_t)u->nextra + 1)))
        return NULL;
    for (int i = 0; i < u->nextra; i++) {
        x[i].key = ag_ap_get_s(r);
        x[i].nvalues = (int)ag_ap_get_n(r);
        ag_str_t *v = (size_t)x[i].nvalues <= (size_t)(r->end - r->p)
                          ? ag_arena_alloc(arena, sizeof *v * (size_t)x[i].nvalues + 1)
                          : NULL;
        if (r->bad || !(x[i].values = v))
            return NULL;
        for (int k = 0; k < x[i].nvalues; k++)
            v[k] = ag_ap_get_s(r);
    }
    return r->bad ? NULL : u;
}

/* The writer's scratch: per record arena, the output, the reason worded. */
typedef struct {
    ag_arena_t arena;
    ag_buf_t out, words;
} scratch_t;

/* An allow's reason, worded from the fields the worker kept. */
static bool unpack_why(ag_ap_reader_t *r, scratch_t *w, ag_audit_entry_t *e)
{
    ag_str_t why = ag_ap_get_s(r);
    ag_buf_clear(&w->words);
    if (r->bad || ag_audit_why_word(why, &w->words))
        return false;
    e->reason = ag_buf_str(&w->words);
    return true;
}

static bool unpack_entry(const rec_t *h, size_t n, scratch_t *w, ag_audit_entry_t *e)
{
    ag_arena_t *arena = &w->arena;
    ag_ap_reader_t r = {(const char *)(h + 1), (const char *)h + n, n < sizeof *h};
    *e = (ag_audit_entry_t){.received_ns = h->received_ns,
                            .decision = h->decision,
                            .started = h->flags & F_STARTED,
                            .have_attrs = h->flags & F_ATTRS};
    e->attrs.resource_request = h->flags & F_RESREQ;
    for (size_t i = 0; i < (e->have_attrs ? ENTRY_STRS : 6); i++)
        *ENTRY_STR(e, i) = ag_ap_get_s(&r);
    if ((h->flags & F_USER) && !(e->user = unpack_identity(&r, arena)))
        return false;
    if ((h->flags & F_IMP) && !(e->impersonated = unpack_identity(&r, arena)))
        return false;
    if ((h->flags & F_WHY) && !unpack_why(&r, w, e))
        return false;
    return !r.bad;
}

/* ---- the file ---------------------------------------------------------------------------- */

static ag_err open_file(ag_audit_log_t *l, bool truncate)
{
    l->fd =
        open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0600);
    if (l->fd < 0)
        return AG_E_IO;
    struct stat st;
    l->size = fstat(l->fd, &st) == 0 ? (long long)st.st_size : 0;
    return 0;
}

/* Removes the backups FILE.1 .. FILE.N last written more than max_age ago, as
 * kube-apiserver's --audit-log-maxage (at start, at each rotation and hourly). */
static void prune(ag_audit_log_t *l)
{
    char name[4096];
    time_t now = time(NULL);
    l->last_prune = now;
    for (int i = 1; l->max_age_s > 0 && i <= l->backups; i++) {
        struct stat st;
        snprintf(name, sizeof name, "%s.%d", l->path, i);
        if (stat(name, &st) == 0 && now - st.st_mtime > l->max_age_s && unlink(name) != 0)
            ag_warn("audit: cannot remove %s (older than max_age_days): %s", name, strerror(errno));
    }
}

/* FILE -> FILE.1 -> ... -> FILE.N (the oldest falls off); then a fresh FILE. */
static void rotate(ag_audit_log_t *l)
{
    char from[4096], to[4096];
    close(l->fd);
    l->fd = -1;
    for (int i = l->backups; i >= 1; i--) {
        if (i == 1)
            snprintf(from, sizeof from, "%s", l->path);
        else
            snprintf(from, sizeof from, "%s.%d", l->path, i - 1);
        snprintf(to, sizeof to, "%s.%d", l->path, i);
        if (rename(from, to) != 0 && errno != ENOENT)
            ag_warn("audit: cannot rotate %s: %s", from, strerror(errno));
    }
    l->size = 0;
    if (open_file(l, true) != 0)
        ag_error("audit: cannot reopen %s: %s", l->path, strerror(errno));
    prune(l);
}

static void write_out(ag_audit_log_t *l, const char *p, size_t n)
{
    while (n > 0 && l->fd >= 0) {
        ssize_t k = write(l->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            ag_error("audit: write to %s failed: %s", l->path, strerror(errno));
            return;
        }
        p += k, n -= (size_t)k, l->size += k;
    }
}

/* Whole lines; a file is rotated before the line that would take it past max_size (a
 * single line longer than that gets a file of its own). */
static void write_lines(ag_audit_log_t *l, const char *p, size_t n)
{
    size_t seg = 0; /* bytes of p[0..seg) that fit in the current file */
    if (l->fd < 0 && open_file(l, false) != 0) { /* retried once per chunk */
        uint64_t lost = 0;
        for (size_t i = 0; i < n; i++)
            lost += p[i] == '\n';
        atomic_fetch_add(&l->lost, lost); /* never silently */
        l->size = 0;
        return;
    }
    while (seg < n) {
        const char *nl = memchr(p + seg, '\n', n - seg);
        size_t line = (size_t)(nl - (p + seg)) + 1;
        if (l->size + (long long)(seg + line) > l->max_size && l->size + (long long)seg > 0) {
            write_out(l, p, seg);
            p += seg, n -= seg, seg = 0;
            rotate(l);
            continue;
        }
        seg += line;
    }
    write_out(l, p, seg);
}

/* ---- producers ---------------------------------------------------------------------------- */

static void wake(ag_audit_log_t *l)
{
    uv_mutex_lock(&l->mu);
    atomic_store_explicit(&l->sleeping, 0, memory_order_relaxed);
    uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
}

/* The calling thread's ring, made on its first event (a lock, once per thread and log). */
static ring_t *my_ring(ag_audit_log_t *l)
{
    if (mine.log_id == l->id) {
        if (!mine.ring) /* counted, as every event of a thread without a ring */
            atomic_fetch_add(&l->unregistered, 1);
        return mine.ring;
    }
    ring_t *r = calloc(1, sizeof *r);
    if (r && ag_spsc_init(&r->q, l->ring_bytes) != 0) {
        free(r);
        r = NULL;
    }
    uv_mutex_lock(&l->mu);
    int n = atomic_load_explicit(&l->nrings, memory_order_relaxed);
    if (r && n < MAX_RINGS) {
        l->rings[n] = r;
        atomic_store_explicit(&l->nrings, n + 1, memory_order_release);
    } else if (r) {
        ag_spsc_dispose(&r->q);
        free(r);
        r = NULL;
    }
    uv_mutex_unlock(&l->mu);
    if (!r) {
        atomic_fetch_add(&l->unregistered, 1);
        ag_warn("audit: no queue for this thread (%d in use, or no memory): its events are "
                "dropped and counted",
                n);
    }
    mine.log_id = l->id;
    mine.ring = r;
    return r;
}

static void count(_Atomic uint64_t *c) /* single writer: no locked instruction */
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* Room for a record of <n> bytes in <r>, or NULL (counted). Mode "blocking" waits for the
 * writer while it runs; a record bigger than the ring ever takes is dropped in any mode. */
static void *reserve(ag_audit_log_t *l, ring_t *r, size_t n, bool *waited)
{
    void *p = ag_spsc_reserve(&r->q, n);
    if (p || !l->blocking || n > AG_SPSC_MAX_RECORD(r->q.cap))
        goto out;
    count(&r->blocked);
    *waited = true;
    wake(l);
    while (!(p = ag_spsc_reserve(&r->q, n)) && !atomic_load(&l->stop))
        nanosleep(&(struct timespec){0, BLOCK_WAIT_NS}, NULL);
out:
    if (!p)
        count(&r->dropped);
    return p;
}

/* The next record's lines (the writer read them a lap ago) fetched for writing now, while
 * the request runs, instead of when the record is written: PREFETCHW, a no-op on x86 CPUs
 * without it; nothing elsewhere. */
static void own_next_lines(const ag_spsc_t *q)
{
#if defined(__x86_64__) || defined(__i386__)
    for (size_t k = 0; k < 256; k += 64)
        __asm__ volatile("prefetchw %0" ::"m"(q->buf[(q->pending + k) & (q->cap - 1)]));
#else
    (void)q;
#endif
}

/* Publishes the reserved record; wakes the writer when it sleeps, or when this ring just
 * passed a quarter full (by the producer's possibly stale view of the writer's head, so
 * at most once a lap). */
static void publish(ag_audit_log_t *l, ring_t *r)
{
    size_t quarter = r->q.cap / 4;
    bool below = atomic_load_explicit(&r->q.tail, memory_order_relaxed) - r->q.head_seen < quarter;
    ag_spsc_commit(&r->q);
    own_next_lines(&r->q);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with the writer's, see rest() */
    if (atomic_load_explicit(&l->sleeping, memory_order_relaxed) ||
        (below && r->q.pending - r->q.head_seen >= quarter))
        wake(l);
}

bool ag_audit_log_write(ag_audit_log_t *l, ag_str_t line)
{
    ring_t *r = my_ring(l);
    rec_t *h = NULL;
    bool waited = false;
    if (!r || !(h = reserve(l, r, sizeof *h + line.n, &waited)))
        return false;
    *h = (rec_t){.kind = REC_LINE, .ts = wall_ns()};
    if (line.n) /* an empty line may be {NULL, 0} */
        memcpy(h + 1, line.p, line.n);
    publish(l, r);
    return true;
}

int ag_audit_log_event(ag_audit_log_t *l, const ag_audit_entry_t *e, ag_audit_level level, int code,
                       uint64_t stage_ns, uint64_t audit_seq)
{
    ring_t *r = my_ring(l);
    rec_t *h = NULL;
    bool waited = false;
    if (!r || !(h = reserve(l, r, pack_entry(NULL, sizeof *h, e), &waited)))
        return AG_AUDIT_DROPPED;
    *h = (rec_t){.kind = REC_EVENT,
                 .code = code,
                 .ts = stage_ns,
                 .received_ns = e->received_ns,
                 .level = (uint8_t)level,
                 .decision = (uint8_t)e->decision,
                 .flags =
                     (uint8_t)((e->started ? F_STARTED : 0) | (e->have_attrs ? F_ATTRS : 0) |
                               (e->attrs.resource_request ? F_RESREQ : 0) | (e->user ? F_USER : 0) |
                               (e->impersonated ? F_IMP : 0) | (e->why.n ? F_WHY : 0)),
                 .audit_seq = audit_seq};
    pack_entry((char *)h, sizeof *h, e);
    publish(l, r);
    return waited ? AG_AUDIT_QUEUED_AFTER_WAIT : AG_AUDIT_QUEUED;
}

/* ---- the wall clock ------------------------------------------------------------------- */

static int64_t clock_offset(void)
{
    struct timespec m, w;
    clock_gettime(CLOCK_MONOTONIC, &m);
    clock_gettime(CLOCK_REALTIME, &w);
    return ((int64_t)w.tv_sec - (int64_t)m.tv_sec) * 1000000000ll +
           ((int64_t)w.tv_nsec - (int64_t)m.tv_nsec);
}

/* Writer thread, each pass: stores the offset only when it moved by more than a
 * microsecond (a step of the wall clock), so the workers' copy of the line stays valid. */
static void refresh_offset(ag_audit_log_t *l)
{
    int64_t now = clock_offset(), was = atomic_load_explicit(&l->wall_offset, memory_order_relaxed);
    if (now - was > 1000 || was - now > 1000)
        atomic_store_explicit(&l->wall_offset, now, memory_order_relaxed);
}

uint64_t ag_audit_log_wall_ns(const ag_audit_log_t *l, uint64_t mono_ns)
{
    return mono_ns + (uint64_t)atomic_load_explicit(&l->wall_offset, memory_order_relaxed);
}

/* ---- the writer thread ------------------------------------------------------------------- */

static uint64_t sum(const ag_audit_log_t *l, size_t field)
{
    uint64_t s = 0;
    for (int i = 0, n = atomic_load_explicit(&l->nrings, memory_order_acquire); i < n; i++)
        s += atomic_load_explicit((_Atomic uint64_t *)((char *)l->rings[i] + field),
                                  memory_order_relaxed);
    return s;
}

uint64_t ag_audit_log_dropped(const ag_audit_log_t *l)
{
    return sum(l, offsetof(ring_t, dropped)) + atomic_load(&l->unregistered) +
           atomic_load(&l->lost);
}

uint64_t ag_audit_log_blocked(const ag_audit_log_t *l)
{
    return sum(l, offsetof(ring_t, blocked));
}

size_t ag_audit_log_pending(ag_audit_log_t *l)
{
    size_t s = 0;
    for (int i = 0, n = atomic_load_explicit(&l->nrings, memory_order_acquire); i < n; i++)
        s += ag_spsc_used(&l->rings[i]->q);
    return s;
}

static void report_drops(ag_audit_log_t *l)
{
    uint64_t d = ag_audit_log_dropped(l), now = uv_hrtime();
    if (d == l->reported || now - l->last_report < DROP_LOG_INTERVAL_NS)
        return;
    ag_warn("audit: %llu event(s) dropped (queue full, event too large or not written), %llu "
            "in total",
            (unsigned long long)(d - l->reported), (unsigned long long)d);
    l->reported = d;
    l->last_report = now;
}

/* The ring whose next record is the oldest, or -1 when all are empty. */
static int oldest(ag_audit_log_t *l, const rec_t **rec, size_t *len)
{
    int best = -1;
    for (int i = 0, n = atomic_load_explicit(&l->nrings, memory_order_acquire); i < n; i++) {
        size_t k;
        const rec_t *h = ag_spsc_peek(&l->rings[i]->q, &k);
        if (h && (best < 0 || h->ts < (*rec)->ts))
            best = i, *rec = h, *len = k;
    }
    return best;
}

/* Appends the line of record <h> to <out>; false (and out unchanged) when it cannot. */
static bool emit(const rec_t *h, size_t n, scratch_t *w)
{
    ag_buf_t *out = &w->out;
    size_t mark = out->n;
    ag_audit_entry_t e;
    char id[37];
    ag_err err;
    if (h->kind == REC_LINE)
        err = ag_buf_append(out, h + 1, n - sizeof *h);
    else if (h->kind != REC_EVENT || !unpack_entry(h, n, w, &e))
        err = AG_E_INVAL;
    else {
        ag_gate_audit_id_format(h->audit_seq, id);
        err =
            ag_audit_format(&e, (ag_audit_level)h->level, h->code, h->ts, ag_str_make(id, 36), out);
    }
    if (!err)
        err = ag_buf_append(out, "\n", 1);
    ag_arena_reset(&w->arena);
    if (err)
        out->n = mark;
    return !err;
}

/* Writes out up to PASS_RECORDS records, oldest first across the rings. */
static size_t drain(ag_audit_log_t *l, scratch_t *w)
{
    ag_buf_t *out = &w->out;
    size_t done = 0, len = 0;
    const rec_t *h = NULL;
    int i;
    while (done < PASS_RECORDS && (i = oldest(l, &h, &len)) >= 0) {
        if (!emit(h, len, w))
            count(&l->lost);
        ag_spsc_release(&l->rings[i]->q);
        done++;
        if (out->n >= FLUSH_BYTES) {
            write_lines(l, out->p, out->n);
            ag_buf_clear(out);
        }
    }
    if (out->n)
        write_lines(l, out->p, out->n);
    ag_buf_clear(out);
    return done;
}

/* Between passes: after a busy pass let a batch gather (BATCH_NS; a ring passing a
 * quarter full cuts it short); after an empty one sleep until a producer wakes us. The
 * producer publishes, fences, reads `sleeping`; we set `sleeping`, fence, look at the
 * rings: one of the two sees the other. */
static void rest(ag_audit_log_t *l, bool busy)
{
    uv_mutex_lock(&l->mu);
    if (busy) {
        if (!atomic_load(&l->stop))
            uv_cond_timedwait(&l->cv, &l->mu, BATCH_NS);
    } else {
        atomic_store(&l->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        if (!ag_audit_log_pending(l) && !atomic_load(&l->stop))
            uv_cond_timedwait(&l->cv, &l->mu, IDLE_NS);
        atomic_store(&l->sleeping, 0);
    }
    uv_mutex_unlock(&l->mu);
}

static void writer(void *arg)
{
    ag_audit_log_t *l = arg;
    scratch_t w = {.out = AG_BUF_INIT(SIZE_MAX / 2), .words = AG_BUF_INIT(1 << 20)};
    ag_arena_init(&w.arena, 16 * 1024, 0);
    for (;;) {
        bool stop = atomic_load(&l->stop); /* before draining: whatever came before is seen */
        size_t n = drain(l, &w);
        refresh_offset(l);
        report_drops(l);
        if (l->max_age_s > 0 && time(NULL) - l->last_prune >= 3600)
            prune(l);
        if (stop && n == 0)
            break;
        if (n < PASS_RECORDS)
            rest(l, n > 0);
    }
    ag_buf_dispose(&w.out);
    ag_buf_dispose(&w.words);
    ag_arena_dispose(&w.arena);
}

/* ---- the log ------------------------------------------------------------------------------
 */

ag_err ag_audit_log_create(const ag_audit_config_t *c, int producers, ag_audit_log_t **out,
                           ag_buf_t *errmsg)
{
    ag_audit_log_t *l = calloc(1, sizeof *l);
    if (!l)
        return AG_E_NOMEM;
    l->id = atomic_fetch_add(&log_ids, 1) + 1;
    atomic_init(&l->wall_offset, clock_offset());
    l->ring_bytes = (size_t)c->queue_bytes / (size_t)(producers > 0 ? producers : 1);
    if (l->ring_bytes < MIN_RING)
        l->ring_bytes = MIN_RING;
    l->blocking = c->mode == AG_AUDIT_MODE_BLOCKING;
    l->path = c->file;
    l->max_size = c->max_size;
    l->backups = c->max_backups;
    l->max_age_s = c->max_age_days * 86400;
    prune(l);
    if (open_file(l, false) != 0) {
        if (errmsg)
            ag_buf_printf(errmsg, "audit: cannot open %s: %s", c->file, strerror(errno));
        free(l);
        return AG_E_IO;
    }
    uv_mutex_init(&l->mu);
    uv_cond_init(&l->cv);
    if (uv_thread_create(&l->thread, writer, l) != 0) {
        close(l->fd);
        uv_mutex_destroy(&l->mu);
        uv_cond_destroy(&l->cv);
        free(l);
        return AG_E_NOMEM;
    }
    *out = l;
    return 0;
}

void ag_audit_log_destroy(ag_audit_log_t *l)
{
    if (!l)
        return;
    uv_mutex_lock(&l->mu);
    atomic_store(&l->stop, true);
    uv_cond_signal(&l->cv);
    uv_mutex_unlock(&l->mu);
    uv_thread_join(&l->thread);
    if (l->fd >= 0)
        close(l->fd);
    uv_mutex_destroy(&l->mu);
    uv_cond_destroy(&l->cv);
    for (int i = 0; i < l->nrings; i++) {
        ag_spsc_dispose(&l->rings[i]->q);
        free(l->rings[i]);
    }
    free(l);
}
