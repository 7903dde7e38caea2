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


static const uint32_t  q2api_crc32_table[256] = {
    0x00000000, 0x77073096, 0xee0e612c, 0x990951ba,
    0x076dc419, 0x706af48f, 0xe963a535, 0x9e6495a3,
    0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
    0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91,
    0x1db71064, 0x6ab020f2, 0xf3b97148, 0x84be41de,
    0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
    0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec,
    0x14015c4f, 0x63066cd9, 0xfa0f3d63, 0x8d080df5,
    0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
    0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b,
    0x35b5a8fa, 0x42b2986c, 0xdbbbc9d6, 0xacbcf940,
    0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
    0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116,
    0x21b4f4b5, 0x56b3c423, 0xcfba9599, 0xb8bda50f,
    0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
    0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d,
    0x76dc4190, 0x01db7106, 0x98d220bc, 0xefd5102a,
    0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
    0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818,
    0x7f6a0dbb, 0x086d3d2d, 0x91646c97, 0xe6635c01,
    0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
    0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457,
    0x65b0d9c6, 0x12b7e950, 0x8bbeb8ea, 0xfcb9887c,
    0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
    0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2,
    0x4adfa541, 0x3dd895d7, 0xa4d1c46d, 0xd3d6f4fb,
    0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
    0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9,
    0x5005713c, 0x270241aa, 0xbe0b1010, 0xc90c2086,
    0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
    0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4,
    0x59b33d17, 0x2eb40d81, 0xb7bd5c3b, 0xc0ba6cad,
    0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
    0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683,
    0xe3630b12, 0x94643b84, 0x0d6d6a3e, 0x7a6a5aa8,
    0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
    0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe,
    0xf762575d, 0x806567cb, 0x196c3671, 0x6e6b06e7,
    0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
    0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5,
    0xd6d6a3e8, 0xa1d1937e, 0x38d8c2c4, 0x4fdff252,
    0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
    0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60,
    0xdf60efc3, 0xa867df55, 0x316e8eef, 0x4669be79,
    0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
    0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f,
    0xc5ba3bbe, 0xb2bd0b28, 0x2bb45a92, 0x5cb36a04,
    0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
    0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a,
    0x9c0906a9, 0xeb0e363f, 0x72076785, 0x05005713,
    0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
    0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21,
    0x86d3d2d4, 0xf1d4e242, 0x68ddb3f8, 0x1fda836e,
    0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
    0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c,
    0x8f659eff, 0xf862ae69, 0x616bffd3, 0x166ccf45,
    0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
    0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db,
    0xaed16a4a, 0xd9d65adc, 0x40df0b66, 0x37d83bf0,
    0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
    0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6,
    0xbad03605, 0xcdd70693, 0x54de5729, 0x23d967bf,
    0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
    0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};


uint32_t
q2api_crc32(uint32_t crc, const void *p, size_t len)
{
    const unsigned char  *s;

    s = p;
    crc = ~crc;

    while (len--) {
        crc = q2api_crc32_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
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

    if (q2api_crc32(0, p, 8) != q2api_es_get32(p + 8)) {
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

    if (q2api_crc32(0, p, d->total - 4) != q2api_es_get32(p + d->total - 4)) {
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
    p = q2api_es_put32(p, q2api_crc32(0, start, 8));

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

    q2api_es_put32(p, q2api_crc32(0, start, total - 4));

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
