/* Protocol Buffers wire format: the small part Kubernetes' protobuf encoding needs
 * (varints, length-delimited fields, and skipping the fixed-width ones). Pure: a reader
 * over borrowed bytes that checks every length against the end, and a writer into a
 * capped ag_buf_t. Knows no message schema (core/review/kpb.h has those). Groups (wire types 3
 * and 4, deprecated, never used by Kubernetes) are malformed here. */
#ifndef AG_PB_H
#define AG_PB_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/str.h"

enum { AG_PB_VARINT = 0, AG_PB_I64 = 1, AG_PB_LEN = 2, AG_PB_I32 = 5 };
#define AG_PB_MAX_FIELD ((1u << 29) - 1)

typedef struct {
    const unsigned char *p, *end;
} ag_pb_reader_t;

/* One field as read: <u> holds a varint or fixed value, <bytes> a LEN payload (borrowed). */
typedef struct {
    uint32_t num; /* 0 after the last field */
    int wire;
    uint64_t u;
    ag_str_t bytes;
} ag_pb_field_t;

static inline void ag_pb_reader_init(ag_pb_reader_t *r, ag_str_t msg)
{
    static const unsigned char none[1];
    r->p = msg.p ? (const unsigned char *)msg.p : none; /* an empty message may be {NULL, 0} */
    r->end = r->p + msg.n;
}
/* Reads the next field into <f> (f->num == 0: no more). AG_E_PARSE when the bytes are not
 * a field: truncated or over-long (> 10 bytes) varint, field number 0 or > 2^29-1, wire
 * type 3, 4, 6 or 7, a length or fixed value running past the end. */
ag_err ag_pb_next(ag_pb_reader_t *r, ag_pb_field_t *f);
/* Reads a varint from [*p, end): advances *p. AG_E_PARSE as above. */
ag_err ag_pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *out);

ag_err ag_pb_put_varint(ag_buf_t *b, uint64_t v);
ag_err ag_pb_put_uint(ag_buf_t *b, uint32_t num, uint64_t v);  /* VARINT field */
ag_err ag_pb_put_bytes(ag_buf_t *b, uint32_t num, ag_str_t s); /* LEN field */
/* A nested message: mark = ag_pb_begin(b); write its fields; ag_pb_end(b, num, mark)
 * puts the tag and length in front of what was written since the mark. */
static inline size_t ag_pb_begin(const ag_buf_t *b)
{
    return b->n;
}
ag_err ag_pb_end(ag_buf_t *b, uint32_t num, size_t mark);

#endif
