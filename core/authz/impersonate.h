/* Client impersonation (reference §7): the Impersonate-* request headers as the API
 * server reads them, the authorization checks they require of the requester (verb
 * `impersonate` on users / serviceaccounts / groups / userextras / uids, §7.2), and the
 * identity the request continues as (§7.3). Pure: headers in, slices and an identity
 * out (values borrow from the headers; decoded extra keys and built groups live in the
 * arena). Never decides by itself: the caller runs each check through its authorizer. */
#ifndef AG_IMPERSONATE_H
#define AG_IMPERSONATE_H

#include <stdbool.h>

#include "authn/identity.h"
#include "authz/authz.h"
#include "base/arena.h"
#include "base/err.h"
#include "http/httpreq.h"

#define AG_IMPERSONATE_MAX 64 /* Impersonate-* values taken from one request; more: 400 */

typedef struct {
    bool has_user, has_uid; /* has_user false: no impersonation requested */
    ag_str_t user, uid;
    ag_str_t groups[AG_IMPERSONATE_MAX];
    int ngroups;
    ag_str_t xkeys[AG_IMPERSONATE_MAX], xvalues[AG_IMPERSONATE_MAX]; /* one per header */
    int nextra;
    int total;
} ag_impersonate_t;

/* Reads the Impersonate-User/-Group/-Uid/-Extra-<key> headers (names case-insensitive;
 * extra keys lower-cased, then percent-decoded, or kept lower-cased when an escape is
 * bad). An empty Impersonate-User counts as absent, as in Go's Header.Get. Returns 0, or
 * AG_E_INVAL for what the API server answers 400 (groups, extra or uid without a user;
 * two users or uids; an empty group or extra key; more than AG_IMPERSONATE_MAX values)
 * with the reason in *why (static), or AG_E_NOMEM. */
ag_err ag_impersonate_parse(const ag_header_t *headers, int nheaders, ag_arena_t *arena,
                            ag_impersonate_t *out, const char **why);

/* The authorization checks for the requester, in the API server's order: the user (as a
 * ServiceAccount when its name is one), each group, each extra value, the uid. */
int ag_impersonate_nchecks(const ag_impersonate_t *im);
void ag_impersonate_check(const ag_impersonate_t *im, int i, ag_attrs_t *out);

/* The identity after impersonation: name, uid, groups as given (a ServiceAccount's two
 * groups when none), plus system:authenticated (system:unauthenticated for
 * system:anonymous) unless present; extra values grouped by key. Nothing carries over
 * from the requester. *out and its arrays in <arena>. */
ag_err ag_impersonate_identity(const ag_impersonate_t *im, ag_arena_t *arena, ag_identity_t **out);

/* "system:serviceaccount:NS:NAME" -> NS and NAME (both non-empty, NAME without ':'). */
bool ag_impersonate_sa_name(ag_str_t user, ag_str_t *ns, ag_str_t *name);

#endif
