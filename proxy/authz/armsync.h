/* The Azure role assignment poller: reads role definitions, role assignments and deny
 * assignments for the cluster's scope from Azure Resource Manager (core/authz/azure/azrbac_arm.h:
 * the URLs and the page shape, api-version 2022-04-01) on the control loop, builds an Azure RBAC
 * snapshot from them off the loop (libuv threadpool), together with any files the "azure"
 * section names, and hands it to the policy holder (policy.c), which publishes it.
 *
 * One poll: for each kind, GET the list, then every nextLink (on the configured origin
 * only, at most AG_ARMSYNC_MAX_PAGES), with the app token of apptoken.h (secret,
 * certificate or workload identity). 429: wait Retry-After (default 10 s), then ask again,
 * up to AG_ARMSYNC_MAX_THROTTLED times a request; 5xx, timeouts and connection errors:
 * back off (Retry-After, else 1 s, 2 s, 4 s) up to 3 retries; 401: a new app token, once.
 * A first page that carried an ETag is asked again with If-None-Match, and a 304 reuses
 * the pages of the last good poll, which are kept for that kind only (ARM's
 * Microsoft.Authorization lists do not document ETags; when none comes, every poll is a
 * full read and only a hash of the pages is kept). A poll whose pages hash as the last
 * good one's (and no file is configured) publishes nothing new.
 *
 * Fails closed and keeps serving: a failed or garbled poll (an error status after the
 * retries, a page that is not the documented shape, an item the loader refuses) never
 * replaces the last good set and never empties it; it is counted by reason and warned
 * about (at most once per 10 s). Until the first complete poll nothing is published
 * (Azure AD identities are denied) and readiness "azure-rbac-sync" is false.
 *
 * Lifetime: process (serve), or one call (ag_armsync_once for `authgate check`). */
#ifndef AG_PROXY_ARMSYNC_H
#define AG_PROXY_ARMSYNC_H

#include <stdbool.h>
#include <uv.h>

#include "authz/azure/azrbac.h"
#include "azure_config.h"
#include "base/buf.h"
#include "base/err.h"

#define AG_ARMSYNC_MAX_PAGES 1000 /* per kind and poll */
/* Bytes of one kind's pages in one poll: 100k role assignments in ARM's REST shape are
 * about 70 MB. */
#define AG_ARMSYNC_MAX_KIND_BYTES (256u << 20)
#define AG_ARMSYNC_MAX_THROTTLED 5    /* 429 answers to one request before the poll fails */
#define AG_ARMSYNC_MAX_RETRIES 3      /* 5xx / network retries of one request */
#define AG_ARMSYNC_MAX_WAIT_MS 600000 /* a longer Retry-After is cut to this */
/* Until the first complete poll, a failed one is followed by the next after at most this
 * (instead of poll_interval): the gateway is not ready meanwhile. */
#define AG_ARMSYNC_FIRST_RETRY_MS 10000

typedef struct ag_armsync ag_armsync_t;

/* Control thread: a new snapshot (the callee takes over its reference). */
typedef void (*ag_armsync_publish_fn)(void *ud, ag_azrbac_t *az);

/* Starts polling <c>'s "arm" section on <loop> (its thread; <c> outlives the poller) and
 * registers the authgate_arm_* metrics. The first poll starts at once. */
ag_err ag_armsync_create(uv_loop_t *loop, const ag_azure_config_t *c, ag_armsync_publish_fn fn,
                         void *ud, ag_armsync_t **out);
/* Stops polling; memory goes once running requests and builds are done (run the loop).
 * NULL ignored. */
void ag_armsync_destroy(ag_armsync_t *s);

/* One complete poll on a private loop, with the same retries, for a command-line tool:
 * the snapshot in *out, or the reason in <errmsg>. */
ag_err ag_armsync_once(const ag_azure_config_t *c, ag_azrbac_t **out, ag_buf_t *errmsg);

#endif
