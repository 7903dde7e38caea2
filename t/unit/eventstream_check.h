/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the event-stream tests share: a real upstream frame, headers of
 * every type, a sink that digests what the decoder delivers, feeding
 * whole and byte by byte, and hand-made frames to corrupt.
 */

#ifndef _EVENTSTREAM_CHECK_H_INCLUDED_
#define _EVENTSTREAM_CHECK_H_INCLUDED_


#include <stdint.h>

#include "tap.h"
#include <zlib.h>

#include "q2api_eventstream.h"


#define ES_CHECK_UNUSED  __attribute__((unused))


/* a real frame of the upstream: assistantResponseEvent {"content":"Hi"} */
static ES_CHECK_UNUSED const unsigned char  golden[] = {
    0x00, 0x00, 0x00, 0x7c, 0x00, 0x00, 0x00, 0x5c,
    0x3b, 0xdd, 0xcf, 0x78,

    0x0b, ':', 'e', 'v', 'e', 'n', 't', '-', 't', 'y', 'p', 'e',
    0x07, 0x00, 0x16,
    'a', 's', 's', 'i', 's', 't', 'a', 'n', 't', 'R', 'e', 's', 'p', 'o',
    'n', 's', 'e', 'E', 'v', 'e', 'n', 't',

    0x0d, ':', 'c', 'o', 'n', 't', 'e', 'n', 't', '-', 't', 'y', 'p', 'e',
    0x07, 0x00, 0x10,
    'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '/', 'j', 's',
    'o', 'n',

    0x0d, ':', 'm', 'e', 's', 's', 'a', 'g', 'e', '-', 't', 'y', 'p', 'e',
    0x07, 0x00, 0x05, 'e', 'v', 'e', 'n', 't',

    '{', '"', 'c', 'o', 'n', 't', 'e', 'n', 't', '"', ':', '"', 'H', 'i',
    '"', '}',

    0xb0, 0x2b, 0xab, 0xdc
};

#define GOLDEN_PAYLOAD  "{\"content\":\"Hi\"}"


static ES_CHECK_UNUSED const unsigned char  uuid[16] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};

static ES_CHECK_UNUSED const unsigned char  blob[5] = {
    0x00, 0xff, 0x01, 0xfe, 0x00
};


/* every type once, values at the edges of their ranges */
static ES_CHECK_UNUSED const q2api_es_header_t  all_types[] = {
    { q2api_str_lit("t-true"), Q2API_ES_TRUE, 1, { NULL, 0 } },
    { q2api_str_lit("t-false"), Q2API_ES_FALSE, 0, { NULL, 0 } },
    { q2api_str_lit("t-byte"), Q2API_ES_BYTE, -128, { NULL, 0 } },
    { q2api_str_lit("t-short"), Q2API_ES_SHORT, -32768, { NULL, 0 } },
    { q2api_str_lit("t-int"), Q2API_ES_INT, INT32_MIN, { NULL, 0 } },
    { q2api_str_lit("t-long"), Q2API_ES_LONG, INT64_MIN, { NULL, 0 } },
    { q2api_str_lit("t-bytes"), Q2API_ES_BYTES, 0,
      { (const char *) blob, sizeof(blob) } },
    { q2api_str_lit("t-string"), Q2API_ES_STRING, 0,
      q2api_str_lit("caf\xc3\xa9") },
    { q2api_str_lit("t-timestamp"), Q2API_ES_TIMESTAMP, 1700000000123LL,
      { NULL, 0 } },
    { q2api_str_lit("t-uuid"), Q2API_ES_UUID, 0,
      { (const char *) uuid, sizeof(uuid) } }
};

static ES_CHECK_UNUSED const q2api_es_header_t  all_types_max[] = {
    { q2api_str_lit("b"), Q2API_ES_BYTE, 127, { NULL, 0 } },
    { q2api_str_lit("s"), Q2API_ES_SHORT, 32767, { NULL, 0 } },
    { q2api_str_lit("i"), Q2API_ES_INT, INT32_MAX, { NULL, 0 } },
    { q2api_str_lit("l"), Q2API_ES_LONG, INT64_MAX, { NULL, 0 } },
    { q2api_str_lit("ts"), Q2API_ES_TIMESTAMP, -1, { NULL, 0 } },
    { q2api_str_lit("neg-byte"), Q2API_ES_BYTE, -1, { NULL, 0 } },
    { q2api_str_lit("empty-str"), Q2API_ES_STRING, 0, { "", 0 } },
    { q2api_str_lit("empty-bytes"), Q2API_ES_BYTES, 0, { NULL, 0 } }
};

#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


typedef struct {
    q2api_buf_t  digest;        /* every message's lengths and bytes */
    size_t       count;
    size_t       zero_copy;     /* messages pointing into the input */
} sink_t;


#define FEED_BAD_AGAIN     -100
#define FEED_NO_PROGRESS   -101


static ES_CHECK_UNUSED uint32_t
get32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


static ES_CHECK_UNUSED void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


static ES_CHECK_UNUSED void
append32(q2api_buf_t *b, uint32_t v)
{
    unsigned char  n[4];

    put32(n, v);
    q2api_buf_append(b, n, 4);
}


static ES_CHECK_UNUSED void
digest_add(q2api_buf_t *b, uint32_t total, const unsigned char *h,
    size_t hlen, const unsigned char *p, size_t plen)
{
    append32(b, total);
    append32(b, (uint32_t) hlen);
    q2api_buf_append(b, h, hlen);
    append32(b, (uint32_t) plen);
    q2api_buf_append(b, p, plen);
}


/* what a correct decoder yields for a well-formed stream */
static ES_CHECK_UNUSED size_t
expected_digest(const unsigned char *s, size_t len, q2api_buf_t *b)
{
    size_t    off, n;
    uint32_t  total, hlen;

    n = 0;

    for (off = 0; off < len; off += total) {
        total = get32(s + off);
        hlen = get32(s + off + 4);
        digest_add(b, total, s + off + 12, hlen, s + off + 12 + hlen,
                   total - hlen - 16);
        n++;
    }

    return n;
}


static ES_CHECK_UNUSED void
sink_init(sink_t *s)
{
    q2api_buf_init(&s->digest, 0);
    s->count = 0;
    s->zero_copy = 0;
}


/* decodes one chunk to the end; the last status other than Q2API_OK */
static ES_CHECK_UNUSED int
feed(q2api_es_decoder_t *d, const unsigned char *in, size_t len, sink_t *s)
{
    int                 rc;
    size_t              consumed;
    uintptr_t           lo, hi;
    q2api_es_message_t  m;

    for ( ;; ) {
        rc = q2api_es_decode(d, in, len, &consumed, &m);

        if (rc == Q2API_AGAIN) {
            return consumed == len ? rc : FEED_BAD_AGAIN;
        }

        if (rc != Q2API_OK) {
            return rc;
        }

        if (consumed == 0 || consumed > len) {
            return FEED_NO_PROGRESS;
        }

        digest_add(&s->digest, m.total_len, m.headers, m.headers_len,
                   m.payload, m.payload_len);
        s->count++;

        lo = (uintptr_t) in;
        hi = lo + len;

        if ((uintptr_t) m.headers >= lo
            && (uintptr_t) (m.payload + m.payload_len) <= hi)
        {
            s->zero_copy++;
        }

        in += consumed;
        len -= consumed;
    }
}


/* the whole of s in one call, its status after q2api_es_finish */
static ES_CHECK_UNUSED int
decode_whole(const unsigned char *s, size_t len, sink_t *sink)
{
    int                 rc;
    q2api_es_decoder_t  d;

    q2api_es_decoder_init(&d);

    rc = feed(&d, s, len, sink);
    if (rc == Q2API_AGAIN) {
        rc = q2api_es_finish(&d);
    }

    q2api_es_decoder_free(&d);

    return rc;
}


/* the same, one byte at a time */
static ES_CHECK_UNUSED int
decode_bytewise(const unsigned char *s, size_t len, sink_t *sink)
{
    int                 rc;
    size_t              i;
    q2api_es_decoder_t  d;

    q2api_es_decoder_init(&d);

    rc = Q2API_AGAIN;

    for (i = 0; i < len; i++) {
        rc = feed(&d, s + i, 1, sink);
        if (rc != Q2API_AGAIN) {
            break;
        }
    }

    if (rc == Q2API_AGAIN) {
        rc = q2api_es_finish(&d);
    }

    q2api_es_decoder_free(&d);

    return rc;
}


/* a message from a raw header section, CRCs correct */
static ES_CHECK_UNUSED void
raw_message(q2api_buf_t *b, const void *h, size_t hlen, const void *p,
    size_t plen)
{
    size_t          start, total;
    unsigned char  *m;

    start = b->len;
    total = 16 + hlen + plen;

    q2api_buf_reserve(b, total);
    m = b->data + start;

    put32(m, (uint32_t) total);
    put32(m + 4, (uint32_t) hlen);
    put32(m + 8, crc32(0, m, 8));
    memcpy(m + 12, h, hlen);
    memcpy(m + 12 + hlen, p, plen);
    put32(m + total - 4, crc32(0, m, total - 4));

    b->len += total;
}


/* after an edit: both CRCs made right again, so only the edit is wrong */
static ES_CHECK_UNUSED void
fix_crcs(unsigned char *m, size_t len)
{
    put32(m + 8, crc32(0, m, 8));
    put32(m + len - 4, crc32(0, m, len - 4));
}


static ES_CHECK_UNUSED void
prelude(unsigned char *m, uint32_t total, uint32_t hlen)
{
    put32(m, total);
    put32(m + 4, hlen);
    put32(m + 8, crc32(0, m, 8));
}


/* a corrupt stream must give "want" however it is fed */
static ES_CHECK_UNUSED void
expect_error(const unsigned char *s, size_t len, int want, const char *name)
{
    int     rc;
    char    what[160];
    sink_t  sink;

    sink_init(&sink);
    rc = decode_whole(s, len, &sink);
    snprintf(what, sizeof(what), "%s: whole", name);
    is_int(rc, want, what);
    snprintf(what, sizeof(what), "%s: no message", name);
    is_int(sink.count, 0, what);
    q2api_buf_free(&sink.digest);

    sink_init(&sink);
    rc = decode_bytewise(s, len, &sink);
    snprintf(what, sizeof(what), "%s: byte by byte", name);
    is_int(rc, want, what);
    q2api_buf_free(&sink.digest);
}


#endif /* _EVENTSTREAM_CHECK_H_INCLUDED_ */
