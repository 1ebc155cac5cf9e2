/* Kubernetes' protobuf encoding (application/vnd.kubernetes.protobuf) of the review kinds
 * the gateway answers itself: the "k8s\0" magic, a runtime.Unknown envelope {typeMeta
 * {apiVersion, kind}, raw, contentEncoding, contentType}, and in raw the message. The
 * messages are described by small tables (field number, JSON name, type) read from
 * kubernetes/api's generated.proto files, and transcoded both ways: a protobuf request
 * becomes the JSON document the JSON path already validates and judges, and a JSON
 * answer becomes protobuf. Pure: bytes in, bytes out; strict on what it reads (every
 * malformed class is AG_E_PARSE with a message), unknown fields skipped as protobuf does. */
#ifndef AG_KPB_H
#define AG_KPB_H

#include "base/arena.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

#define AG_KPB_MEDIA_TYPE "application/vnd.kubernetes.protobuf"

typedef struct ag_kpb_msg ag_kpb_msg_t;
typedef struct {
    const char *api_version; /* "authorization.k8s.io/v1" */
    const char *kind;        /* "SelfSubjectAccessReview" */
    const ag_kpb_msg_t *msg;
} ag_kpb_kind_t;

/* The kind <kind> of <api_version>, or NULL when it has no table here. Lifetime: process. */
const ag_kpb_kind_t *ag_kpb_find(ag_str_t api_version, ag_str_t kind);

/* Reads a protobuf request <body> (borrowed) of <k> and appends the same object as JSON
 * ({"kind":..,"apiVersion":.., fields in proto order; empty strings left out}) to
 * <json>. The envelope's typeMeta must be <k>'s or empty (as kube-apiserver defaults it
 * from the URL), contentEncoding empty, contentType empty or protobuf. On malformed input
 * returns AG_E_PARSE with *why set (static); AG_E_TOO_BIG when <json> is full. */
ag_err ag_kpb_to_json(ag_str_t body, const ag_kpb_kind_t *k, ag_buf_t *json, const char **why);

/* Appends the protobuf encoding of the JSON object <json> (borrowed; an object of kind <k>
 * as the gateway writes it) to <out>: magic, envelope, message. Members without a table
 * entry and null members are left out; a member of the wrong JSON type is AG_E_INVAL.
 * <arena> holds the parse. */
ag_err ag_kpb_from_json(ag_str_t json, const ag_kpb_kind_t *k, ag_arena_t *arena, ag_buf_t *out);

#endif
