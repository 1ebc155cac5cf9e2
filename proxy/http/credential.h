/* The gateway's own bearer credential for the upstream ("Authorization: Bearer ..."), read
 * from a token file that rotates under it (a Kubernetes projected service-account token is
 * replaced every hour by a symlink swap). The control thread owns the source: it polls the
 * file, validates a changed one and publishes it as a snapshot (snapshot.h); workers
 * enter the current one per request, copy its bytes and leave. It must never log a token.
 * Lifetimes: the source is process (server.c); a snapshot is snapshot (wiped and freed on
 * the control thread once no worker holds it, or when the source is destroyed). */
#ifndef AG_CREDENTIAL_H
#define AG_CREDENTIAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

/* A token is a few KiB (a service-account JWT is ~1 KiB, an OIDC token with groups a few);
 * the cap keeps the upstream head far below the API server's header limit. */
#define AG_CREDENTIAL_MAX_BYTES (16u * 1024)
#define AG_CREDENTIAL_POLL_MS 2000 /* how soon a rotated file is followed */

typedef struct ag_credential ag_credential_t;

/* Validates the bytes of a token file: trailing spaces, CR and LF are dropped; what is left
 * must be non-empty, visible ASCII only (no space or control byte could ever be a token
 * and would split the header) and at most AG_CREDENTIAL_MAX_BYTES. On success <token> is a
 * slice of <bytes> (borrowed). AG_E_PARSE or AG_E_TOO_BIG otherwise. */
ag_err ag_credential_parse(ag_str_t bytes, ag_str_t *token);

/* Reads and validates <path> (borrowed; copied) now: a start-up failure is reported in
 * <errmsg> ("upstream.token_file PATH: reason") and nothing is created. */
ag_err ag_credential_create(const char *path, ag_credential_t **out, ag_buf_t *errmsg);

/* Registers the reload metrics (start-up only, before workers start) and polls the file
 * every <interval_ms> on <loop> (the control loop; the timer never keeps it alive and is
 * closed by whoever closes every handle of the loop). */
ag_err ag_credential_start(ag_credential_t *c, uv_loop_t *loop, uint64_t interval_ms);

/* Control thread: stats the path (not an open descriptor: a symlink swap replaces the file
 * behind the name) and, when its identity, size or mtime changed or <force> (SIGHUP),
 * re-reads it and publishes a new snapshot if the token differs. An unreadable or invalid
 * file keeps the current token, logs a rate-limited WARN, counts a reload error and returns
 * the error; an unchanged file returns 0. */
ag_err ag_credential_reload(ag_credential_t *c, bool force);

/* Any thread: the current "Bearer <token>", or an empty slice for a NULL source. Valid
 * until ag_credential_leave, which the caller runs in the same callback after copying it
 * (ag_forward_head copies it into the upstream head). Every enter needs one leave. */
ag_str_t ag_credential_enter(const ag_credential_t *c);
void ag_credential_leave(const ag_credential_t *c);

/* Snapshots published since create (the first one counts), for tests and logs. */
uint64_t ag_credential_generation(const ag_credential_t *c);

/* After every worker has stopped and the loop's handles are closed. NULL is fine. */
void ag_credential_destroy(ag_credential_t *c);

#endif
