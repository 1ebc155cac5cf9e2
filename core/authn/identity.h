/* The authenticated identity every request carries from authentication to
 * authorization and forwarding: {username, uid, groups, extra} exactly as the
 * Kubernetes API server's user.Info. Strings live in the request arena (or in a
 * token-cache entry, lifetime: entry); the struct itself is plain data. */
#ifndef AG_IDENTITY_H
#define AG_IDENTITY_H

#include "base/str.h"

enum {
    AG_ID_AZURE_AD = 1u << 0,  /* authenticated by an issuer marked Azure AD */
    AG_ID_ANONYMOUS = 1u << 1, /* system:anonymous */
    AG_ID_CLIENT_CERT = 1u << 2,
    AG_ID_SERVICE_ACCOUNT = 1u << 3,
    AG_ID_GROUP_OVERAGE = 1u << 4, /* Azure AD groups left out of the token */
};

typedef struct {
    ag_str_t key;
    const ag_str_t *values;
    int nvalues;
} ag_extra_t;

typedef struct {
    ag_str_t username;
    ag_str_t uid;
    const ag_str_t *groups;
    int ngroups;
    const ag_extra_t *extra;
    int nextra;
    unsigned flags;
    ag_str_t oid; /* Azure AD object id (also in extra["oid"]) */
    ag_str_t tid; /* Azure AD tenant id */
} ag_identity_t;

#endif
