/* Protocol Buffers wire format (pb.h): bounds-checked reading, capped writing. */
#include "review/pb.h"

#include <string.h>

ag_err ag_pb_varint(const unsigned char **p, const unsigned char *end, uint64_t *out)
{
    uint64_t v = 0;
    const unsigned char *q = *p;
    for (int i = 0; i < 10; i++) {
        if (q >= end)
            return AG_E_PARSE; /* truncated */
        unsigned char c = *q++;
        if (i == 9 && c > 1)
            return AG_E_PARSE; /* more than 64 bits */
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80)) {
            *p = q;
            *out = v;
            return 0;
        }
    }
    return AG_E_PARSE; /* an eleventh byte would follow */
}

/* Takes <n> bytes from the reader into f->bytes. */
static ag_err take(ag_pb_reader_t *r, uint64_t n, ag_pb_field_t *f)
{
    if (n > (uint64_t)(r->end - r->p))
        return AG_E_PARSE;
    f->bytes = ag_str_make((const char *)r->p, (size_t)n);
    r->p += n;
    return 0;
}

static uint64_t fixed(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

ag_err ag_pb_next(ag_pb_reader_t *r, ag_pb_field_t *f)
{
    uint64_t key;
    ag_err err;
    *f = (ag_pb_field_t){0};
    if (r->p >= r->end)
        return 0;
    if ((err = ag_pb_varint(&r->p, r->end, &key)))
        return err;
    if (key >> 3 == 0 || key >> 3 > AG_PB_MAX_FIELD)
        return AG_E_PARSE;
    f->wire = (int)(key & 7);
    switch (f->wire) {
    case AG_PB_VARINT:
        err = ag_pb_varint(&r->p, r->end, &f->u);
        break;
    case AG_PB_LEN:
        if (!(err = ag_pb_varint(&r->p, r->end, &f->u)))
            err = take(r, f->u, f);
        break;
    case AG_PB_I64:
    case AG_PB_I32:
        if (!(err = take(r, f->wire == AG_PB_I64 ? 8 : 4, f)))
            f->u = fixed((const unsigned char *)f->bytes.p, (int)f->bytes.n);
        break;
    default:
        return AG_E_PARSE; /* groups (3, 4) and the undefined 6, 7 */
    }
    if (err)
        return err;
    f->num = (uint32_t)(key >> 3);
    return 0;
}

/* Encodes <v> into tmp (10 bytes); returns the length. */
static size_t encode_varint(unsigned char *tmp, uint64_t v)
{
    size_t n = 0;
    do {
        tmp[n] = (unsigned char)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    return n;
}

ag_err ag_pb_put_varint(ag_buf_t *b, uint64_t v)
{
    unsigned char tmp[10];
    return ag_buf_append(b, tmp, encode_varint(tmp, v));
}

ag_err ag_pb_put_uint(ag_buf_t *b, uint32_t num, uint64_t v)
{
    ag_err err = ag_pb_put_varint(b, (uint64_t)num << 3 | AG_PB_VARINT);
    return err ? err : ag_pb_put_varint(b, v);
}

ag_err ag_pb_put_bytes(ag_buf_t *b, uint32_t num, ag_str_t s)
{
    ag_err err;
    if ((err = ag_pb_put_varint(b, (uint64_t)num << 3 | AG_PB_LEN)) ||
        (err = ag_pb_put_varint(b, s.n)))
        return err;
    return ag_buf_append(b, s.p, s.n);
}

ag_err ag_pb_end(ag_buf_t *b, uint32_t num, size_t mark)
{
    unsigned char head[20];
    size_t len = b->n - mark;
    size_t h = encode_varint(head, (uint64_t)num << 3 | AG_PB_LEN);
    h += encode_varint(head + h, len);
    ag_err err = ag_buf_reserve(b, h);
    if (err)
        return err;
    memmove(b->p + mark + h, b->p + mark, len);
    memcpy(b->p + mark, head, h);
    b->n += h;
    b->p[b->n] = '\0';
    return 0;
}
