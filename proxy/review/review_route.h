/* Local routes for the Kubernetes review kinds kubectl asks about itself (`auth can-i`,
 * `can-i --list`, `auth whoami`): the content negotiation kube-apiserver does around a
 * handler that speaks JSON. The request's Content-Type decides the decoding (JSON as is,
 * application/vnd.kubernetes.protobuf transcoded to the same JSON by core/review/kpb.h, anything
 * else 415); Accept decides the answer's encoding (protobuf when it is the most preferred
 * acceptable type, else JSON; nothing acceptable: 406). Errors are JSON Status objects,
 * which client-go decodes by the response's Content-Type. Nothing here is ever
 * forwarded. Lifetime: process. */
#ifndef AG_REVIEW_ROUTE_H
#define AG_REVIEW_ROUTE_H

#include <stdbool.h>

#include "base/err.h"
#include "base/json.h"
#include "http/routes.h"
#include "review/kpb.h"

/* A review handler: answers <r> synchronously (r->status, r->response as JSON); <ud> is
 * the route's const ag_kpb_kind_t *. */
typedef void (*ag_review_fn)(ag_local_req_t *r, void *ud);
/* Registers POST <path> in <t> (AG_ROUTE_TYPED; a '*' segment as routes.h) for objects of
 * <kind> in <api_version> (both literals with a table in core/review/kpb.c); <fn> sees a JSON
 * body whatever the request's encoding. Start-up only. */
ag_err ag_review_route(ag_routes_t *t, const char *path, const char *api_version, const char *kind,
                       ag_review_fn fn);

/* For a handler: parses r->body (JSON) into <doc> (arena) and checks that its kind and
 * apiVersion, when given, are <k>'s (kube-apiserver defaults them from the URL). Returns 0,
 * or 400 with *why set. */
int ag_review_body(ag_local_req_t *r, const ag_kpb_kind_t *k, ag_json_t *doc, const char **why);
/* Answers <code> with a JSON Status carrying <msg>. */
void ag_review_fail(ag_local_req_t *r, int code, const char *msg);
/* 0, or 400 with *why when the object's metadata is not an object or its namespace not a
 * string (kube-apiserver's decoder refuses both). */
int ag_review_metadata(const ag_json_t *doc, ag_json_ref root, const char **why);

typedef enum { AG_MEDIA_NONE = 0, AG_MEDIA_JSON, AG_MEDIA_PROTOBUF } ag_media_t;
/* The response encoding for Accept header <accept> (empty: JSON): the acceptable range
 * with the highest q, the first listed among equals; q=0 excludes. */
ag_media_t ag_review_accept(ag_str_t accept);

#endif
