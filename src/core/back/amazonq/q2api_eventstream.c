/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdlib.h>

#include "q2api_eventstream.h"


/*
 * After a message this large has gone through the carry its buffer is
 * released, so that one big event does not pin up to 16 MiB for the rest of
 * a long stream.
 */
#define Q2API_ES_CARRY_KEEP  (64 * 1024)


static void q2api_es_reset(q2api_es_decoder_t *d);
static int q2api_es_fail(q2api_es_decoder_t *d, int rc);
static int q2api_es_prelude(q2api_es_decoder_t *d, const unsigned char *p);
static int q2api_es_message(q2api_es_decoder_t *d, const unsigned char *p,
    q2api_es_message_t *msg);
static int q2api_es_value_len(const q2api_es_header_t *h, size_t *len);
static void q2api_es_str_header(q2api_es_header_t *h, const char *name,
    const char *value);
static uint32_t q2api_es_get32(const unsigned char *p);
static unsigned char *q2api_es_put32(unsigned char *p, uint32_t v);
static int64_t q2api_es_signed(uint64_t v, unsigned bits);


/*
 * CRC-32 (IEEE 802.3, as zlib's crc32()) by slicing-by-8: eight tables,
 * eight bytes per step.  Every frame is checked twice; zlib's crc32() was
 * the largest user of the worker's CPU on the stream path (74 ns against
 * 156 per 128 bytes measured), its set-up being most of a frame's cost.
 */
static uint32_t  q2api_es_crc_table[8][256];
static unsigned  q2api_es_crc_ready;


static void
q2api_es_crc_init(void)
{
    unsigned  i, k;
    uint32_t  c;

    for (i = 0; i < 256; i++) {
        c = i;

        for (k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0xedb88320 : c >> 1;
        }

        q2api_es_crc_table[0][i] = c;
    }

    for (i = 0; i < 256; i++) {
        c = q2api_es_crc_table[0][i];

        for (k = 1; k < 8; k++) {
            c = (c >> 8) ^ q2api_es_crc_table[0][c & 0xff];
            q2api_es_crc_table[k][i] = c;
        }
    }

    q2api_es_crc_ready = 1;
}


uint32_t
q2api_es_crc32(const unsigned char *p, size_t len)
{
    uint32_t         crc;
    const uint32_t  (*t)[256];
#if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    uint32_t         one, two;
#endif

    if (!q2api_es_crc_ready) {
        q2api_es_crc_init();
    }

    t = (const uint32_t (*)[256]) q2api_es_crc_table;
    crc = 0xffffffff;

#if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)

    while (len >= 8) {
        memcpy(&one, p, 4);
        memcpy(&two, p + 4, 4);
        one ^= crc;

        crc = t[7][one & 0xff] ^ t[6][(one >> 8) & 0xff]
              ^ t[5][(one >> 16) & 0xff] ^ t[4][one >> 24]
              ^ t[3][two & 0xff] ^ t[2][(two >> 8) & 0xff]
              ^ t[1][(two >> 16) & 0xff] ^ t[0][two >> 24];

        p += 8;
        len -= 8;
    }

#endif

    while (len--) {
        crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xff];
    }

    return ~crc;
}


void
q2api_es_decoder_init(q2api_es_decoder_t *d)
{
    q2api_buf_init(&d->carry, Q2API_ES_MAX_MESSAGE);
    d->error = Q2API_OK;
    d->total = 0;
    d->headers_len = 0;
    d->delivered = 0;
}


void
q2api_es_decoder_free(q2api_es_decoder_t *d)
{
    q2api_buf_free(&d->carry);
    d->total = 0;
    d->headers_len = 0;
    d->delivered = 0;
}


static void
q2api_es_reset(q2api_es_decoder_t *d)
{
    if (d->carry.cap > Q2API_ES_CARRY_KEEP) {
        q2api_buf_free(&d->carry);

    } else {
        q2api_buf_reset(&d->carry);
    }

    d->total = 0;
    d->headers_len = 0;
    d->delivered = 0;
}


int
q2api_es_decode(q2api_es_decoder_t *d, const unsigned char *in,
    size_t len, size_t *consumed, q2api_es_message_t *msg)
{
    int     rc;
    size_t  used, need, n;

    *consumed = 0;

    if (d->error) {
        return d->error;
    }

    if (d->delivered) {
        /* the caller has had the previous message; its bytes may go now */
        q2api_es_reset(d);
    }

    if (d->carry.len == 0 && len >= Q2API_ES_PRELUDE_LEN) {
        rc = q2api_es_prelude(d, in);
        if (rc != Q2API_OK) {
            return q2api_es_fail(d, rc);
        }

        if (len >= d->total) {
            rc = q2api_es_message(d, in, msg);
            if (rc != Q2API_OK) {
                return q2api_es_fail(d, rc);
            }

            *consumed = d->total;
            d->total = 0;
            d->headers_len = 0;

            return Q2API_OK;
        }

        /* a partial message: carried below, its prelude already checked */
    }

    used = 0;

    for ( ;; ) {
        /*
         * Take no more than the prelude until it has been checked, then no
         * more than the message: the carry never holds bytes that a corrupt
         * length merely claims, nor any of the next message.
         */

        if (d->carry.len < Q2API_ES_PRELUDE_LEN) {
            need = Q2API_ES_PRELUDE_LEN - d->carry.len;

        } else {
            need = d->total - d->carry.len;
        }

        n = (need < len - used) ? need : len - used;

        if (n) {
            if (q2api_buf_append(&d->carry, in + used, n) != Q2API_OK) {
                return q2api_es_fail(d, Q2API_NOMEM);
            }

            used += n;
        }

        if (d->carry.len >= Q2API_ES_PRELUDE_LEN) {
            if (d->total == 0) {
                rc = q2api_es_prelude(d, d->carry.data);
                if (rc != Q2API_OK) {
                    return q2api_es_fail(d, rc);
                }
            }

            if (d->carry.len == d->total) {
                rc = q2api_es_message(d, d->carry.data, msg);
                if (rc != Q2API_OK) {
                    return q2api_es_fail(d, rc);
                }

                d->delivered = 1;
                *consumed = used;

                return Q2API_OK;
            }
        }

        if (used == len) {
            *consumed = used;
            return Q2API_AGAIN;
        }
    }
}


int
q2api_es_finish(q2api_es_decoder_t *d)
{
    if (d->error) {
        return d->error;
    }

    if (d->delivered || d->carry.len == 0) {
        return Q2API_OK;
    }

    return q2api_es_fail(d, Q2API_ES_ETRUNCATED);
}


size_t
q2api_es_buffered(const q2api_es_decoder_t *d)
{
    return d->delivered ? 0 : d->carry.len;
}


static int
q2api_es_fail(q2api_es_decoder_t *d, int rc)
{
    /* nothing more will be decoded: the partial message is of no use */
    q2api_buf_free(&d->carry);

    d->error = rc;
    d->total = 0;
    d->headers_len = 0;
    d->delivered = 0;

    return rc;
}


static int
q2api_es_prelude(q2api_es_decoder_t *d, const unsigned char *p)
{
    uint32_t  total, headers_len;

    /*
     * The lengths are believed only once their CRC matches: a flipped bit in
     * total_length must not make the decoder wait for, or grow towards,
     * megabytes that will never come.
     */

    if (q2api_es_crc32(p, 8) != q2api_es_get32(p + 8)) {
        return Q2API_ES_EPRELUDE_CRC;
    }

    total = q2api_es_get32(p);
    headers_len = q2api_es_get32(p + 4);

    if (total < Q2API_ES_MIN_MESSAGE) {
        return Q2API_ES_ELENGTH;
    }

    if (total > Q2API_ES_MAX_MESSAGE || headers_len > Q2API_ES_MAX_HEADERS) {
        return Q2API_ES_ETOO_BIG;
    }

    if (headers_len > total - Q2API_ES_MIN_MESSAGE) {
        return Q2API_ES_ELENGTH;
    }

    d->total = total;
    d->headers_len = headers_len;

    return Q2API_OK;
}


static int
q2api_es_message(q2api_es_decoder_t *d, const unsigned char *p,
    q2api_es_message_t *msg)
{
    int                rc;
    size_t             pos;
    q2api_es_header_t  h;

    if (q2api_es_crc32(p, d->total - 4) != q2api_es_get32(p + d->total - 4)) {
        return Q2API_ES_EMESSAGE_CRC;
    }

    msg->headers = p + Q2API_ES_PRELUDE_LEN;
    msg->headers_len = d->headers_len;
    msg->payload = msg->headers + d->headers_len;
    msg->payload_len = d->total - d->headers_len - Q2API_ES_MIN_MESSAGE;
    msg->total_len = d->total;

    /* consumers then walk the headers without checking each step again */

    pos = 0;

    do {
        rc = q2api_es_next_header(msg, &pos, &h);
    } while (rc == 1);

    return rc;
}


int
q2api_es_next_header(const q2api_es_message_t *m, size_t *pos,
    q2api_es_header_t *h)
{
    size_t                left, n, vlen, i;
    uint64_t              v;
    const unsigned char  *p;

    if (*pos >= m->headers_len) {
        return 0;
    }

    p = m->headers + *pos;
    left = m->headers_len - *pos;

    n = p[0];

    if (n == 0 || left < 2 + n) {
        return Q2API_ES_EHEADER;
    }

    h->name.data = (const char *) p + 1;
    h->name.len = n;
    h->type = p[1 + n];
    h->integer = 0;
    h->bytes.data = NULL;
    h->bytes.len = 0;

    p += 2 + n;
    left -= 2 + n;

    switch (h->type) {

    case Q2API_ES_TRUE:
        h->integer = 1;
        vlen = 0;
        break;

    case Q2API_ES_FALSE:
        vlen = 0;
        break;

    case Q2API_ES_BYTE:
        vlen = 1;
        break;

    case Q2API_ES_SHORT:
        vlen = 2;
        break;

    case Q2API_ES_INT:
        vlen = 4;
        break;

    case Q2API_ES_LONG:
    case Q2API_ES_TIMESTAMP:
        vlen = 8;
        break;

    case Q2API_ES_UUID:
        vlen = 16;
        break;

    case Q2API_ES_BYTES:
    case Q2API_ES_STRING:
        if (left < 2) {
            return Q2API_ES_EHEADER;
        }

        vlen = ((size_t) p[0] << 8) | p[1];

        p += 2;
        left -= 2;
        break;

    default:
        return Q2API_ES_EHEADER;
    }

    if (left < vlen) {
        return Q2API_ES_EHEADER;
    }

    switch (h->type) {

    case Q2API_ES_BYTE:
    case Q2API_ES_SHORT:
    case Q2API_ES_INT:
    case Q2API_ES_LONG:
    case Q2API_ES_TIMESTAMP:
        v = 0;

        for (i = 0; i < vlen; i++) {
            v = (v << 8) | p[i];
        }

        h->integer = q2api_es_signed(v, (unsigned) vlen * 8);
        break;

    case Q2API_ES_BYTES:
    case Q2API_ES_STRING:
    case Q2API_ES_UUID:
        h->bytes.data = (const char *) p;
        h->bytes.len = vlen;
        break;

    default:
        break;
    }

    *pos = m->headers_len - (left - vlen);

    return 1;
}


int
q2api_es_header_string(const q2api_es_message_t *m, const char *name,
    q2api_str_t *value)
{
    size_t             pos, len;
    q2api_es_header_t  h;

    len = strlen(name);
    pos = 0;

    while (q2api_es_next_header(m, &pos, &h) == 1) {
        if (h.name.len != len || memcmp(h.name.data, name, len) != 0) {
            continue;
        }

        /* the first of that name decides: a later duplicate is ignored */

        if (h.type != Q2API_ES_STRING) {
            return Q2API_ERROR;
        }

        *value = h.bytes;

        return Q2API_OK;
    }

    return Q2API_ERROR;
}


const char *
q2api_es_strerror(int rc)
{
    switch (rc) {

    case Q2API_OK:
        return "ok";

    case Q2API_ERROR:
        return "error";

    case Q2API_AGAIN:
        return "more input needed";

    case Q2API_NOMEM:
        return "out of memory";

    case Q2API_ES_EPRELUDE_CRC:
        return "bad prelude CRC";

    case Q2API_ES_EMESSAGE_CRC:
        return "bad message CRC";

    case Q2API_ES_ELENGTH:
        return "inconsistent message lengths";

    case Q2API_ES_ETOO_BIG:
        return "message or headers too big";

    case Q2API_ES_EHEADER:
        return "malformed header section";

    case Q2API_ES_ETRUNCATED:
        return "stream ended inside a message";

    default:
        return "unknown error";
    }
}


static int
q2api_es_value_len(const q2api_es_header_t *h, size_t *len)
{
    switch (h->type) {

    case Q2API_ES_TRUE:
    case Q2API_ES_FALSE:
        *len = 0;
        return Q2API_OK;

    case Q2API_ES_BYTE:
        *len = 1;
        return Q2API_OK;

    case Q2API_ES_SHORT:
        *len = 2;
        return Q2API_OK;

    case Q2API_ES_INT:
        *len = 4;
        return Q2API_OK;

    case Q2API_ES_LONG:
    case Q2API_ES_TIMESTAMP:
        *len = 8;
        return Q2API_OK;

    case Q2API_ES_UUID:
        if (h->bytes.len != 16) {
            return Q2API_ES_EHEADER;
        }

        *len = 16;
        return Q2API_OK;

    case Q2API_ES_BYTES:
    case Q2API_ES_STRING:
        if (h->bytes.len > 0xffff) {
            return Q2API_ES_ETOO_BIG;
        }

        *len = 2 + h->bytes.len;
        return Q2API_OK;

    default:
        return Q2API_ES_EHEADER;
    }
}


int
q2api_es_encode(q2api_buf_t *out, const q2api_es_header_t *headers,
    size_t nheaders, const void *payload, size_t payload_len)
{
    int                       rc;
    size_t                    i, j, vlen, headers_len, total;
    uint64_t                  v;
    unsigned char            *start, *p;
    const q2api_es_header_t  *h;

    /* sizes first, so that "out" is untouched by a message that cannot be */

    headers_len = 0;

    for (i = 0; i < nheaders; i++) {
        h = &headers[i];

        if (h->name.len == 0) {
            return Q2API_ES_EHEADER;
        }

        if (h->name.len > 0xff) {
            return Q2API_ES_ETOO_BIG;
        }

        rc = q2api_es_value_len(h, &vlen);
        if (rc != Q2API_OK) {
            return rc;
        }

        headers_len += 2 + h->name.len + vlen;

        if (headers_len > Q2API_ES_MAX_HEADERS) {
            return Q2API_ES_ETOO_BIG;
        }
    }

    if (payload_len > Q2API_ES_MAX_MESSAGE - Q2API_ES_MIN_MESSAGE - headers_len)
    {
        return Q2API_ES_ETOO_BIG;
    }

    total = Q2API_ES_MIN_MESSAGE + headers_len + payload_len;

    if (q2api_buf_reserve(out, total) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    start = out->data + out->len;

    p = q2api_es_put32(start, (uint32_t) total);
    p = q2api_es_put32(p, (uint32_t) headers_len);
    p = q2api_es_put32(p, q2api_es_crc32(start, 8));

    for (i = 0; i < nheaders; i++) {
        h = &headers[i];

        *p++ = (unsigned char) h->name.len;
        memcpy(p, h->name.data, h->name.len);
        p += h->name.len;
        *p++ = h->type;

        (void) q2api_es_value_len(h, &vlen);

        switch (h->type) {

        case Q2API_ES_BYTE:
        case Q2API_ES_SHORT:
        case Q2API_ES_INT:
        case Q2API_ES_LONG:
        case Q2API_ES_TIMESTAMP:
            v = (uint64_t) h->integer;

            for (j = vlen; j > 0; j--) {
                *p++ = (unsigned char) (v >> ((j - 1) * 8));
            }

            break;

        case Q2API_ES_BYTES:
        case Q2API_ES_STRING:
            *p++ = (unsigned char) (h->bytes.len >> 8);
            *p++ = (unsigned char) h->bytes.len;

            /* fall through */

        case Q2API_ES_UUID:
            if (h->bytes.len) {
                memcpy(p, h->bytes.data, h->bytes.len);
                p += h->bytes.len;
            }

            break;

        default:
            break;
        }
    }

    if (payload_len) {
        memcpy(p, payload, payload_len);
        p += payload_len;
    }

    q2api_es_put32(p, q2api_es_crc32(start, total - 4));

    out->len += total;

    return Q2API_OK;
}


int
q2api_es_encode_event(q2api_buf_t *out, const char *event_type,
    const void *payload, size_t payload_len)
{
    q2api_es_header_t  h[3];

    q2api_es_str_header(&h[0], ":event-type", event_type);
    q2api_es_str_header(&h[1], ":content-type", "application/json");
    q2api_es_str_header(&h[2], ":message-type", "event");

    return q2api_es_encode(out, h, 3, payload, payload_len);
}


int
q2api_es_encode_exception(q2api_buf_t *out, const char *exception_type,
    const void *payload, size_t payload_len)
{
    q2api_es_header_t  h[3];

    q2api_es_str_header(&h[0], ":exception-type", exception_type);
    q2api_es_str_header(&h[1], ":content-type", "application/json");
    q2api_es_str_header(&h[2], ":message-type", "exception");

    return q2api_es_encode(out, h, 3, payload, payload_len);
}


static void
q2api_es_str_header(q2api_es_header_t *h, const char *name,
    const char *value)
{
    h->name.data = name;
    h->name.len = strlen(name);
    h->type = Q2API_ES_STRING;
    h->integer = 0;
    h->bytes.data = value;
    h->bytes.len = strlen(value);
}


static uint32_t
q2api_es_get32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


static unsigned char *
q2api_es_put32(unsigned char *p, uint32_t v)
{
    *p++ = (unsigned char) (v >> 24);
    *p++ = (unsigned char) (v >> 16);
    *p++ = (unsigned char) (v >> 8);
    *p++ = (unsigned char) v;

    return p;
}


static int64_t
q2api_es_signed(uint64_t v, unsigned bits)
{
    uint64_t  mask;

    /*
     * Sign-extends the low "bits" bits without the implementation-defined
     * conversion of an out-of-range unsigned value to a signed type.
     */

    mask = (bits == 64) ? ~(uint64_t) 0 : ((uint64_t) 1 << bits) - 1;

    if (v & ((uint64_t) 1 << (bits - 1))) {
        return -(int64_t) (~v & mask) - 1;
    }

    return (int64_t) v;
}
