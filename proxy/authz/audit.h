/* The audit log: one audit.k8s.io/v1 Event JSON object per line for every request that
 * reached the gate (stage ResponseComplete), with the authenticated user, the
 * impersonated user, verb, objectRef, response code, timestamps and the annotations
 * authorization.k8s.io/decision and /reason as the API server writes them. Levels None
 * and Metadata come from the "audit" section's rules (config/audit_config.h).
 *
 * A worker copies what the event needs into a compact record in its own lock-free ring
 * (audit_log.c, proxy/runtime/spsc.h); a dedicated writer thread merges the rings in time order,
 * formats the JSON, writes the file and rotates it by size. A full ring (audit.mode
 * "batch", the default, as kube-apiserver's batch backend) drops the event: never blocks
 * a worker, never loses one silently (authgate_audit_dropped_total, and a rate-limited
 * log line); mode "blocking" makes the worker wait for the writer instead
 * (authgate_audit_blocked_total).
 * Tokens never appear: nothing from Authorization headers or token claims beyond the
 * identity is read. Lifetimes: the log is process; an entry is request (arena). */
#ifndef AG_AUDIT_H
#define AG_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit_config.h"
#include "authn/identity.h"
#include "authz/authz.h"
#include "base/buf.h"
#include "base/err.h"
#include "config.h"
#include "http/gate.h"

enum { AG_AUDIT_UNDECIDED = 0, AG_AUDIT_ALLOW, AG_AUDIT_FORBID };

/* What ag_authz_reason words an allow from (the decision's fields, copied out of the policy
 * snapshot, which the request does not hold until its event is written) is kept encoded
 * (audit_pack.h) in the request arena, as bytes the record takes as they are: the writer
 * thread, not the worker, words the reason (ag_audit_why_word). */
/* What one request's event records; every slice in the request arena (copied at gate
 * time, because the head's bytes do not outlive forwarding). */
typedef struct {
    uint64_t received_ns;              /* CLOCK_REALTIME, ns */
    const ag_identity_t *user;         /* authenticated (NULL: none) */
    const ag_identity_t *impersonated; /* NULL: no impersonation */
    ag_attrs_t attrs;
    bool have_attrs;
    ag_str_t uri, user_agent, source_ip;
    ag_str_t proxy_ip;    /* after source_ip in sourceIPs, as kube-apiserver lists proxies */
    int decision;         /* AG_AUDIT_* */
    bool started;         /* stage ResponseStarted (long-running request) */
    bool written;         /* the event went out (each request has one) */
    ag_str_t reason;      /* worded (a denial's, or an allow's too long to keep) */
    ag_str_t why;         /* else an allow's, encoded, to be worded by the writer */
    ag_str_t own_message; /* the gateway's own Status answer: its message (else empty) */
} ag_audit_entry_t;

/* The first rule of <c> that matches the request, or NULL. */
const ag_audit_rule_t *ag_audit_rule_for(const ag_audit_config_t *c, const ag_identity_t *user,
                                         const ag_attrs_t *a);
/* The level for a request: the first rule of <c> that matches, else c->level (a Policy:
 * None, as kube-apiserver). */
ag_audit_level ag_audit_level_for(const ag_audit_config_t *c, const ag_identity_t *user,
                                  const ag_attrs_t *a);
/* Appends the Event JSON (no newline) for <e> finished with <code> at <stage_ns>. */
ag_err ag_audit_format(const ag_audit_entry_t *e, ag_audit_level level, int code, uint64_t stage_ns,
                       ag_str_t audit_id, ag_buf_t *out);

/* The writer (audit_log.c). */
typedef struct ag_audit_log ag_audit_log_t;
/* Opens c->file (append) and starts the writer thread; each producer thread gets a ring
 * of c->queue_bytes / <producers> bytes (at least 256 KiB) on its first event. */
ag_err ag_audit_log_create(const ag_audit_config_t *c, int producers, ag_audit_log_t **out,
                           ag_buf_t *errmsg);
/* Any thread: queues <line> (written as is, plus a newline); false (and counted) when it
 * could not. */
bool ag_audit_log_write(ag_audit_log_t *l, ag_str_t line);
enum { AG_AUDIT_DROPPED = 0, AG_AUDIT_QUEUED, AG_AUDIT_QUEUED_AFTER_WAIT };
/* Any thread: queues the event of <e> (the strings copied, nothing formatted) finished
 * with <code> at <stage_ns>, its auditID ag_gate_audit_id_format(<audit_seq>);
 * AG_AUDIT_DROPPED (counted) when its ring is full (mode "batch") or it is bigger than a
 * quarter of the ring. */
int ag_audit_log_event(ag_audit_log_t *l, const ag_audit_entry_t *e, ag_audit_level level, int code,
                       uint64_t stage_ns, uint64_t audit_seq);
/* Any thread: CLOCK_REALTIME ns at CLOCK_MONOTONIC <mono_ns> (uv_hrtime), by the offset
 * between the two clocks that the writer thread keeps current (a step of the wall clock
 * shows within one of its passes: 20 ms busy, 1 s idle). One clock reading, not two, per
 * request: the authorization step's own start time is the event's received time. */
uint64_t ag_audit_log_wall_ns(const ag_audit_log_t *l, uint64_t mono_ns);
/* Writes out everything queued, stops the thread, closes the file. NULL ignored. Every
 * producer must have stopped. */
void ag_audit_log_destroy(ag_audit_log_t *l);
/* Events dropped so far (ring full, too large, no ring, not written). */
uint64_t ag_audit_log_dropped(const ag_audit_log_t *l);
/* Events a producer waited for room for (mode "blocking"). */
uint64_t ag_audit_log_blocked(const ag_audit_log_t *l);
/* Bytes queued in all rings (a snapshot). */
size_t ag_audit_log_pending(ag_audit_log_t *l);

/* The request path. A request the gate refused before the authorization step (a failed
 * authentication) is audited too, with "user": {}. ag_audit_begin allocates the entry in g->arena,
 * stores it in g->audit and returns it (NULL when auditing is off or memory ran out); the gate
 * steps fill in identity, attributes and decision. ag_audit_finish is the gate's finish hook. */
ag_audit_entry_t *ag_audit_begin(ag_gate_t *g);
/* The same, received at g->received_at (the driver's head-read time), else at
 * CLOCK_MONOTONIC <mono_ns> (uv_hrtime) rather than now. The stage time is g->finished_at
 * when the driver set it (ag_audit_finish), else the clock's. */
ag_audit_entry_t *ag_audit_begin_at(ag_gate_t *g, uint64_t mono_ns);
/* Keeps <a> in <e>: slices of <target> (the head's, which does not outlive forwarding)
 * point into the entry's copy of it instead; the others (arena, static) stay. */
void ag_audit_set_attrs(ag_audit_entry_t *e, ag_arena_t *arena, const ag_attrs_t *a,
                        ag_str_t target);
/* Records an allow decided by <d> (its reason worded later, by the writer thread). */
void ag_audit_set_allow(ag_audit_entry_t *e, ag_arena_t *arena, const ag_authz_decision_t *d);
/* Words the reason kept in <why> (ag_audit_set_allow's encoding) as ag_authz_reason would
 * have (writer thread); AG_E_INVAL when the bytes are not such an encoding. */
ag_err ag_audit_why_word(ag_str_t why, ag_buf_t *out);
void ag_audit_finish(ag_gate_t *g, int code, bool complete);

/* `authgate serve` wiring: with an "audit" section opens the log, registers metrics and
 * installs the finish hook. */
ag_err ag_audit_setup(const ag_config_t *conf, ag_buf_t *errmsg);
/* Flushes and stops the writer (after the workers stopped). */
void ag_audit_shutdown(void);
/* The log ag_audit_setup opened (NULL: auditing off); for benchmarks and tests. */
ag_audit_log_t *ag_audit_current(void);

#endif
