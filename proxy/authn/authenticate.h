/* The authentication step of the request pipeline (pipeline.h): from a request's
 * credentials to the identity the later steps (authorization) and forwarding use. Order
 * as the API server's union authenticator: a verified client certificate, else
 * `Authorization: Bearer`, else anonymous (when enabled) or 401. A bearer token goes
 * through the token cache first (single flight: concurrent first uses verify once), then
 * ag_authn_verify against the key manager's snapshots; an unknown kid parks the request on
 * ONE rate-limited key refresh (bounded wait) and verifies again. Azure AD group overage
 * is the next pipeline step's (ag_authenticator_groups_gate): it parks the request on the
 * Graph resolver (proxy/authn/graph.h). Parked requests resume on their own worker loop.
 *
 * Also serves the TokenReview webhook's verification (ag_authn_review), which shares
 * the cache, keys and Graph path. Never logs a token: iss, kid, sub and the result name.
 * The section in force (issuers, keys) is a snapshot (snapshot.h) a SIGHUP replaces
 * (ag_authenticator_follow). Lifetime: process (created at start-up on the control
 * thread); the section: snapshot. */
#ifndef AG_AUTHENTICATE_H
#define AG_AUTHENTICATE_H

#include <stdbool.h>
#include <uv.h>

#include "authn/authn.h"
#include "authn/graph.h"
#include "authn/keys.h"
#include "authn/sa_lookup.h"
#include "authn/tokencache.h"
#include "authn_config.h"
#include "base/buf.h"
#include "base/err.h"
#include "http/gate.h"
#include "net/fetch.h"
#include "runtime/admin.h"

typedef struct ag_authenticator ag_authenticator_t;

/* Creates the fetch engine, key manager and token cache for <conf> on <control> (the
 * control loop; call on its thread before workers run) and starts the first key
 * fetches. <conf> is borrowed and must outlive the authenticator. */
ag_err ag_authenticator_create(uv_loop_t *control, const ag_authn_config_t *conf,
                               ag_authenticator_t **out, ag_buf_t *errmsg);
/* Control thread; only while its loop can still run close callbacks. NULL ignored. */
void ag_authenticator_destroy(ag_authenticator_t *a);
/* Releases what the authenticator keeps on worker <worker>'s loop (its reply mailbox):
 * on that worker's thread before its loop closes, or once no thread runs that loop and
 * nothing posts to it any more (the stop hook ag_authenticator_follow registers does so
 * for every worker after the drain). */
void ag_authenticator_release_worker(ag_authenticator_t *a, int worker);
ag_keys_t *ag_authenticator_keys(ag_authenticator_t *a);
ag_tokencache_t *ag_authenticator_cache(ag_authenticator_t *a);
/* Its fetch engine (on the control loop), for the Graph resolver `serve` creates. */
ag_fetch_t *ag_authenticator_fetch(ag_authenticator_t *a);
/* The collaborators `authgate serve` constructs (start-up, control thread): the Graph
 * resolver for group overage (borrowed, must outlive the authenticator; NULL: an overage
 * token is refused 403) and the service-account token checker (owned from here; NULL:
 * none, an issuer that asks for lookups is answered 503). */
void ag_authenticator_attach(ag_authenticator_t *a, ag_graph_t *graph, ag_sa_lookup_t *lookup);
/* Reload of the "authentication" section (start-up, control thread): registers the SIGHUP
 * hook that re-reads <file> (borrowed; the config the gateway started with), the stop hook
 * that releases the workers' mailboxes and the metrics authgate_authn_reloads_total{result}
 * and authgate_authn_generation. */
ag_err ag_authenticator_follow(ag_authenticator_t *a, const char *file);
/* Control thread: re-reads the file now. A valid section (issuers, audiences, claim
 * mappings, keys, anonymous, key refresh settings) is published for new verifications:
 * token-cache entries of earlier sections are not used again (the generation is in the
 * key), issuers it keeps keep their keys and refresh schedule, removed ones leave /readyz
 * and /metrics once no request is in the old section. On error (the file's
 * "FILE:LINE:COL: ..." or why in <why>) the section in force stays. The token cache, the
 * key fetch settings (ca_file, fetch timeout, max bytes), the TokenReview route and
 * service-account lookups keep their start-up settings until a restart. */
ag_err ag_authenticator_reload(ag_authenticator_t *a, ag_buf_t *why);
/* The readiness source (ag_ready_register_list, ud = the authenticator): one check per
 * issuer of the section in force, named "issuer <URL>". */
void ag_authenticator_report(void *ud, ag_ready_report_t *r);

/* The pipeline step (ud = the authenticator). ALLOW sets g->identity, which may still
 * carry AG_ID_GROUP_OVERAGE for the next step; may park (token cache, unknown kid,
 * service-account confirmation). */
ag_gate_result ag_authenticator_gate(ag_gate_t *g, void *ud);
/* The step after it (ud = the authenticator): an identity with AG_ID_GROUP_OVERAGE gets
 * its groups from the attached Graph resolver (parks), others pass at once. DENY 403
 * (too many groups, no resolver, no such user) or 503 (Graph unavailable). */
ag_gate_result ag_authenticator_groups_gate(ag_gate_t *g, void *ud);

/* One verification for the TokenReview webhook: <token> checked against <audiences>
 * (none: the issuers' own). Runs on a worker loop (<loop>, metrics slot <worker>);
 * <done> runs on that loop, possibly before this returns, exactly once, with the
 * result, the identity (arena) and the audiences satisfied. Storage for the parked
 * state comes from <arena>, which must live until <done> has run. */
typedef void (*ag_review_cb)(void *arg, ag_authn_result r, const ag_identity_t *id,
                             const ag_str_t *audiences, int naudiences, int http_status);
ag_err ag_authn_review(ag_authenticator_t *a, uv_loop_t *loop, int worker, ag_str_t token,
                       const ag_str_t *audiences, int naudiences, ag_arena_t *arena,
                       ag_review_cb done, void *arg);

#endif
