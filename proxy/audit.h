/* The audit log: one audit.k8s.io/v1 Event JSON object per line for every request that
 * reached the gate (stage ResponseComplete), with the authenticated user, the
 * impersonated user, verb, objectRef, response code, timestamps and the annotations
 * authorization.k8s.io/decision and /reason as the API server writes them. Levels None
 * and Metadata come from the "audit" section's rules (config/audit_config.h).
 *
 * Workers format the line in the request arena and copy it into a bounded byte queue
 * under a mutex held only for that memcpy; a dedicated writer thread drains the queue to
 * the file and rotates it by size. A full queue drops the event: never blocks a worker,
 * never loses one silently (authgate_audit_dropped_total, and a rate-limited log line).
 * Tokens never appear: nothing from Authorization headers or token claims beyond the
 * identity is read. Lifetimes: the log is process; an entry is request (arena). */
#ifndef AG_AUDIT_H
#define AG_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "audit_config.h"
#include "authz.h"
#include "buf.h"
#include "config.h"
#include "err.h"
#include "gate.h"
#include "identity.h"

enum { AG_AUDIT_UNDECIDED = 0, AG_AUDIT_ALLOW, AG_AUDIT_FORBID };

/* What one request's event records; every slice in the request arena (copied at gate
 * time, because the head's bytes do not outlive forwarding). */
typedef struct {
    uint64_t received_ns;              /* CLOCK_REALTIME */
    const ag_identity_t *user;         /* authenticated (NULL: none) */
    const ag_identity_t *impersonated; /* NULL: no impersonation */
    ag_attrs_t attrs;
    bool have_attrs;
    ag_str_t uri, user_agent, source_ip;
    ag_str_t proxy_ip; /* after source_ip in sourceIPs, as kube-apiserver lists proxies */
    int decision; /* AG_AUDIT_* */
    bool started; /* stage ResponseStarted (long-running request) */
    bool written; /* the event went out (each request has one) */
    ag_str_t reason;
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

/* The writer. */
typedef struct ag_audit_log ag_audit_log_t;
/* Opens c->file (append) and starts the writer thread. */
ag_err ag_audit_log_create(const ag_audit_config_t *c, ag_audit_log_t **out, ag_buf_t *errmsg);
/* Any thread: queues <line> plus a newline; false (and counted) when the queue is full. */
bool ag_audit_log_write(ag_audit_log_t *l, ag_str_t line);
/* Writes out everything queued, stops the thread, closes the file. NULL ignored. */
void ag_audit_log_destroy(ag_audit_log_t *l);
/* Events dropped so far. */
uint64_t ag_audit_log_dropped(const ag_audit_log_t *l);

/* The request path. A request the gate refused before the authorization step (a failed
 * authentication) is audited too, with "user": {}. ag_audit_begin allocates the entry in g->arena,
 * stores it in g->audit and returns it (NULL when auditing is off or memory ran out); the gate
 * steps fill in identity, attributes and decision. ag_audit_finish is the gate's finish hook. */
ag_audit_entry_t *ag_audit_begin(ag_gate_t *g);
/* Keeps arena copies of <a> in <e> (attribute slices borrow from the head, which does
 * not outlive forwarding). */
void ag_audit_set_attrs(ag_audit_entry_t *e, ag_arena_t *arena, const ag_attrs_t *a);
void ag_audit_finish(ag_gate_t *g, int code, bool complete);

/* `authgate serve` wiring: with an "audit" section opens the log, registers metrics and
 * installs the finish hook. */
ag_err ag_audit_setup(const ag_config_t *conf, ag_buf_t *errmsg);
/* Flushes and stops the writer (after the workers stopped). */
void ag_audit_shutdown(void);

#endif
