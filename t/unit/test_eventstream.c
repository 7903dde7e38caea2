/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The event-stream decoder and encoder: CRC, the golden vector, every way of
 * chunking a stream, each corruption, truncation and the size limits.
 */


#include <stdint.h>

#include "tap.h"
#include "q2api_eventstream.h"


/* a real frame of the upstream: assistantResponseEvent {"content":"Hi"} */
static const unsigned char  golden[] = {
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


static const unsigned char  uuid[16] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};

static const unsigned char  blob[5] = { 0x00, 0xff, 0x01, 0xfe, 0x00 };


/* every type once, values at the edges of their ranges */
static const q2api_es_header_t  all_types[] = {
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

static const q2api_es_header_t  all_types_max[] = {
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


static uint32_t
get32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


static void
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}


static void
append32(q2api_buf_t *b, uint32_t v)
{
    unsigned char  n[4];

    put32(n, v);
    q2api_buf_append(b, n, 4);
}


static void
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
static size_t
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


static void
sink_init(sink_t *s)
{
    q2api_buf_init(&s->digest, 0);
    s->count = 0;
    s->zero_copy = 0;
}


/* decodes one chunk to the end; the last status other than Q2API_OK */
static int
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
static int
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
static int
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
static void
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
    put32(m + 8, q2api_crc32(0, m, 8));
    memcpy(m + 12, h, hlen);
    memcpy(m + 12 + hlen, p, plen);
    put32(m + total - 4, q2api_crc32(0, m, total - 4));

    b->len += total;
}


/* after an edit: both CRCs made right again, so only the edit is wrong */
static void
fix_crcs(unsigned char *m, size_t len)
{
    put32(m + 8, q2api_crc32(0, m, 8));
    put32(m + len - 4, q2api_crc32(0, m, len - 4));
}


static void
prelude(unsigned char *m, uint32_t total, uint32_t hlen)
{
    put32(m, total);
    put32(m + 4, hlen);
    put32(m + 8, q2api_crc32(0, m, 8));
}


/* a corrupt stream must give "want" however it is fed */
static void
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


static void
test_crc32(void)
{
    size_t       i;
    uint32_t     crc;
    const char  *s = "123456789";
    int          chained;

    is_int(q2api_crc32(0, s, 9), 0xcbf43926, "crc32 check value");
    is_int(q2api_crc32(0, "", 0), 0, "crc32 of nothing");
    is_int(q2api_crc32(0, golden, 8), 0x3bddcf78, "crc32 of golden prelude");

    chained = 1;

    for (i = 0; i <= 9; i++) {
        crc = q2api_crc32(q2api_crc32(0, s, i), s + i, 9 - i);
        if (crc != 0xcbf43926) {
            chained = 0;
        }
    }

    ok(chained, "crc32 chains at every split");
}


static void
test_golden(void)
{
    int                 rc;
    size_t              consumed, pos, n;
    q2api_str_t         v;
    q2api_buf_t         out;
    q2api_es_header_t   h;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    q2api_es_decoder_init(&d);

    rc = q2api_es_decode(&d, golden, sizeof(golden), &consumed, &m);
    is_int(rc, Q2API_OK, "golden decodes");
    is_int(consumed, sizeof(golden), "golden consumed whole");
    is_int(m.total_len, 124, "golden total_len");
    is_int(m.headers_len, 92, "golden headers_len");
    is_mem(m.payload, m.payload_len, GOLDEN_PAYLOAD,
           sizeof(GOLDEN_PAYLOAD) - 1, "golden payload");
    ok(m.headers == golden + 12 && m.payload == golden + 104,
       "golden decoded zero copy");
    is_int(q2api_es_buffered(&d), 0, "nothing buffered");

    rc = q2api_es_header_string(&m, ":event-type", &v);
    is_int(rc, Q2API_OK, ":event-type present");
    is_mem(v.data, v.len, "assistantResponseEvent", 22, ":event-type value");

    rc = q2api_es_header_string(&m, ":content-type", &v);
    is_int(rc, Q2API_OK, ":content-type present");
    is_mem(v.data, v.len, "application/json", 16, ":content-type value");

    rc = q2api_es_header_string(&m, ":message-type", &v);
    is_int(rc, Q2API_OK, ":message-type present");
    is_mem(v.data, v.len, "event", 5, ":message-type value");

    pos = 0;
    n = 0;

    while ((rc = q2api_es_next_header(&m, &pos, &h)) == 1) {
        n++;
        if (h.type != Q2API_ES_STRING) {
            break;
        }
    }

    is_int(rc, 0, "golden header walk ends cleanly");
    is_int(n, 3, "golden has three string headers");
    is_int(pos, 92, "header walk ends at headers_len");

    rc = q2api_es_decode(&d, golden + consumed, 0, &consumed, &m);
    is_int(rc, Q2API_AGAIN, "empty input after a message: again");
    is_int(consumed, 0, "empty input: nothing consumed");
    is_int(q2api_es_finish(&d), Q2API_OK, "finish at a boundary");

    q2api_es_decoder_free(&d);

    q2api_buf_init(&out, 0);
    rc = q2api_es_encode_event(&out, "assistantResponseEvent",
                               GOLDEN_PAYLOAD, sizeof(GOLDEN_PAYLOAD) - 1);
    is_int(rc, Q2API_OK, "encode_event");
    is_int(out.len, sizeof(golden), "encoded golden length");
    ok(out.len == sizeof(golden)
       && memcmp(out.data, golden, sizeof(golden)) == 0,
       "encoder reproduces golden byte for byte");
    q2api_buf_free(&out);
}


static void
test_exception(void)
{
    int                 rc;
    size_t              consumed;
    q2api_str_t         v;
    q2api_buf_t         out;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    q2api_buf_init(&out, 0);
    rc = q2api_es_encode_exception(&out, "ThrottlingException",
                                   "{\"message\":\"slow down\"}", 23);
    is_int(rc, Q2API_OK, "encode_exception");

    q2api_es_decoder_init(&d);
    rc = q2api_es_decode(&d, out.data, out.len, &consumed, &m);
    is_int(rc, Q2API_OK, "exception decodes");

    rc = q2api_es_header_string(&m, ":exception-type", &v);
    ok(rc == Q2API_OK && v.len == 19
       && memcmp(v.data, "ThrottlingException", 19) == 0,
       ":exception-type value");

    rc = q2api_es_header_string(&m, ":message-type", &v);
    ok(rc == Q2API_OK && v.len == 9 && memcmp(v.data, "exception", 9) == 0,
       ":message-type exception");

    rc = q2api_es_header_string(&m, ":content-type", &v);
    ok(rc == Q2API_OK && v.len == 16
       && memcmp(v.data, "application/json", 16) == 0,
       "exception :content-type");

    is_int(q2api_es_header_string(&m, ":event-type", &v), Q2API_ERROR,
           "exception has no :event-type");

    q2api_es_decoder_free(&d);
    q2api_buf_free(&out);
}


static int
same_header(const q2api_es_header_t *a, const q2api_es_header_t *b)
{
    return a->name.len == b->name.len
           && memcmp(a->name.data, b->name.data, a->name.len) == 0
           && a->type == b->type
           && a->integer == b->integer
           && a->bytes.len == b->bytes.len
           && (a->bytes.len == 0
               || memcmp(a->bytes.data, b->bytes.data, a->bytes.len) == 0);
}


static void
round_trip(const q2api_es_header_t *hs, size_t n, const char *name)
{
    int                 rc, same;
    char                what[128];
    size_t              consumed, pos, i;
    q2api_buf_t         out;
    q2api_es_header_t   h;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    q2api_buf_init(&out, 0);
    rc = q2api_es_encode(&out, hs, n, "x", 1);
    snprintf(what, sizeof(what), "%s: encodes", name);
    is_int(rc, Q2API_OK, what);

    q2api_es_decoder_init(&d);
    rc = q2api_es_decode(&d, out.data, out.len, &consumed, &m);
    snprintf(what, sizeof(what), "%s: decodes", name);
    is_int(rc, Q2API_OK, what);

    same = (rc == Q2API_OK);
    pos = 0;

    for (i = 0; same && i < n; i++) {
        rc = q2api_es_next_header(&m, &pos, &h);
        if (rc != 1 || !same_header(&h, &hs[i])) {
            diag("header %u (%.*s) differs", (unsigned) i,
                 (int) hs[i].name.len, hs[i].name.data);
            same = 0;
        }
    }

    snprintf(what, sizeof(what), "%s: every header comes back", name);
    ok(same, what);

    snprintf(what, sizeof(what), "%s: then the end", name);
    is_int(q2api_es_next_header(&m, &pos, &h), 0, what);
    snprintf(what, sizeof(what), "%s: end is sticky", name);
    is_int(q2api_es_next_header(&m, &pos, &h), 0, what);

    q2api_es_decoder_free(&d);
    q2api_buf_free(&out);
}


static void
test_header_string(void)
{
    int                 rc;
    size_t              consumed;
    q2api_str_t         v;
    q2api_buf_t         out;
    q2api_es_header_t   hs[3];
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    hs[0] = all_types[6];                   /* t-bytes */
    hs[1] = all_types[0];                   /* t-true */
    hs[2] = all_types[7];                   /* t-string */
    hs[2].name.data = "dup";
    hs[2].name.len = 3;

    q2api_buf_init(&out, 0);
    q2api_es_encode(&out, hs, 3, NULL, 0);
    hs[0].name.data = "dup";
    hs[0].name.len = 3;
    q2api_es_encode(&out, hs, 3, NULL, 0);

    q2api_es_decoder_init(&d);

    rc = q2api_es_decode(&d, out.data, out.len, &consumed, &m);
    is_int(rc, Q2API_OK, "first header_string message decodes");
    is_int(m.payload_len, 0, "empty payload");

    is_int(q2api_es_header_string(&m, "absent", &v), Q2API_ERROR,
           "absent header");
    is_int(q2api_es_header_string(&m, "t-bytes", &v), Q2API_ERROR,
           "byte-array header is not a string");
    is_int(q2api_es_header_string(&m, "t-true", &v), Q2API_ERROR,
           "bool header is not a string");
    is_int(q2api_es_header_string(&m, "t-", &v), Q2API_ERROR,
           "a prefix of a name does not match");
    is_int(q2api_es_header_string(&m, "dup", &v), Q2API_OK, "string header");
    is_mem(v.data, v.len, "caf\xc3\xa9", 5, "string header value");

    rc = q2api_es_decode(&d, out.data + consumed, out.len - consumed,
                         &consumed, &m);
    is_int(rc, Q2API_OK, "second header_string message decodes");
    is_int(q2api_es_header_string(&m, "dup", &v), Q2API_ERROR,
           "the first of a name decides");

    q2api_es_decoder_free(&d);
    q2api_buf_free(&out);
}


static void
build_stream(q2api_buf_t *s)
{
    size_t         i;
    unsigned char  big[300];

    for (i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char) (i * 7);
    }

    q2api_buf_append(s, golden, sizeof(golden));
    q2api_es_encode_event(s, "messageMetadataEvent", NULL, 0);
    q2api_es_encode(s, all_types, nelts(all_types), "{\"all\":10}", 10);
    q2api_es_encode(s, NULL, 0, big, sizeof(big));
    q2api_es_encode(s, NULL, 0, NULL, 0);
    q2api_es_encode_exception(s, "ValidationException", "{}", 2);
}


static void
test_chunking(void)
{
    int                 rc;
    size_t              split, n, c, fails;
    sink_t              sink;
    uintptr_t           lo, hi;
    q2api_buf_t         s, want;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    q2api_buf_init(&s, 0);
    q2api_buf_init(&want, 0);
    build_stream(&s);
    n = expected_digest(s.data, s.len, &want);
    is_int(n, 6, "stream of six messages");

    sink_init(&sink);
    rc = decode_whole(s.data, s.len, &sink);
    is_int(rc, Q2API_OK, "whole stream: ends at a boundary");
    is_int(sink.count, n, "whole stream: every message once");
    is_int(sink.zero_copy, n, "whole stream: every message zero copy");
    ok(sink.digest.len == want.len
       && memcmp(sink.digest.data, want.data, want.len) == 0,
       "whole stream: identical messages");
    q2api_buf_free(&sink.digest);

    sink_init(&sink);
    rc = decode_bytewise(s.data, s.len, &sink);
    is_int(rc, Q2API_OK, "byte by byte: ends at a boundary");
    is_int(sink.count, n, "byte by byte: every message once");
    is_int(sink.zero_copy, 0, "byte by byte: every message carried");
    ok(sink.digest.len == want.len
       && memcmp(sink.digest.data, want.data, want.len) == 0,
       "byte by byte: identical messages");
    q2api_buf_free(&sink.digest);

    fails = 0;

    for (split = 0; split <= s.len; split++) {
        sink_init(&sink);
        q2api_es_decoder_init(&d);

        rc = feed(&d, s.data, split, &sink);
        if (rc == Q2API_AGAIN) {
            rc = feed(&d, s.data + split, s.len - split, &sink);
        }

        if (rc == Q2API_AGAIN) {
            rc = q2api_es_finish(&d);
        }

        if (rc != Q2API_OK || sink.count != n || sink.digest.len != want.len
            || memcmp(sink.digest.data, want.data, want.len) != 0)
        {
            if (fails++ < 5) {
                diag("split at %u: rc %d, %u messages", (unsigned) split, rc,
                     (unsigned) sink.count);
            }
        }

        q2api_es_decoder_free(&d);
        q2api_buf_free(&sink.digest);
    }

    ok(fails == 0, "two chunks, every split point: identical messages once");

    /* a message cut in two comes from the carry, the next one in place */

    q2api_es_decoder_init(&d);

    rc = q2api_es_decode(&d, s.data, 100, &c, &m);
    ok(rc == Q2API_AGAIN && c == 100, "first 100 bytes: again");
    is_int(q2api_es_buffered(&d), 100, "100 bytes buffered");

    rc = q2api_es_decode(&d, s.data + 100, s.len - 100, &c, &m);
    lo = (uintptr_t) (s.data + 100);
    hi = (uintptr_t) (s.data + s.len);
    ok(rc == Q2API_OK && c == sizeof(golden) - 100
       && ((uintptr_t) m.headers < lo || (uintptr_t) m.headers >= hi),
       "completed message comes from the carry");
    is_mem(m.payload, m.payload_len, GOLDEN_PAYLOAD,
           sizeof(GOLDEN_PAYLOAD) - 1, "carried payload");
    is_int(q2api_es_buffered(&d), 0, "carry empty after a message");

    rc = q2api_es_decode(&d, s.data + sizeof(golden),
                         s.len - sizeof(golden), &c, &m);
    ok(rc == Q2API_OK && m.headers == s.data + sizeof(golden) + 12,
       "next whole message is zero copy again");

    q2api_es_decoder_free(&d);

    q2api_buf_free(&want);
    q2api_buf_free(&s);
}


static void
test_corruption(void)
{
    int            rc;
    size_t         i;
    sink_t         sink;
    q2api_buf_t    b;
    unsigned char  m[sizeof(golden)], p[12];

    /* a flipped bit in the prelude CRC, and one in a length it covers */

    memcpy(m, golden, sizeof(golden));
    m[9] ^= 0x10;
    expect_error(m, sizeof(m), Q2API_ES_EPRELUDE_CRC, "prelude CRC bit");

    memcpy(m, golden, sizeof(golden));
    m[1] ^= 0x01;
    expect_error(m, sizeof(m), Q2API_ES_EPRELUDE_CRC,
                 "total_length bit (not believed)");

    memcpy(m, golden, sizeof(golden));
    m[110] ^= 0x04;
    expect_error(m, sizeof(m), Q2API_ES_EMESSAGE_CRC, "payload bit");

    memcpy(m, golden, sizeof(golden));
    m[sizeof(m) - 1] ^= 0x80;
    expect_error(m, sizeof(m), Q2API_ES_EMESSAGE_CRC, "message CRC bit");

    memcpy(m, golden, sizeof(golden));
    m[30] ^= 0x01;
    expect_error(m, sizeof(m), Q2API_ES_EMESSAGE_CRC, "header bit");

    /* lengths: each prelude is consistent with its CRC */

    prelude(p, 15, 0);
    expect_error(p, 12, Q2API_ES_ELENGTH, "total_length 15");

    prelude(p, 0, 0);
    expect_error(p, 12, Q2API_ES_ELENGTH, "total_length 0");

    memcpy(m, golden, sizeof(golden));
    prelude(m, 124, 109);
    expect_error(m, sizeof(m), Q2API_ES_ELENGTH, "headers_length total-15");

    prelude(p, 16, 1);
    expect_error(p, 12, Q2API_ES_ELENGTH, "headers_length 1 in 16");

    prelude(p, 16, 0xffffffff);
    expect_error(p, 12, Q2API_ES_ETOO_BIG, "headers_length 4 GiB");

    prelude(p, Q2API_ES_MAX_MESSAGE + 1, 0);
    expect_error(p, 12, Q2API_ES_ETOO_BIG, "total 16 MiB + 1");

    prelude(p, 0xffffffff, 0);
    expect_error(p, 12, Q2API_ES_ETOO_BIG, "total 4 GiB");

    prelude(p, 1024 * 1024, Q2API_ES_MAX_HEADERS + 1);
    expect_error(p, 12, Q2API_ES_ETOO_BIG, "headers 128 KiB + 1");

    /* the header section: CRCs right, contents wrong */

    memcpy(m, golden, sizeof(golden));
    m[12 + 1 + 11] = 10;
    fix_crcs(m, sizeof(m));
    expect_error(m, sizeof(m), Q2API_ES_EHEADER, "header type 10");

    memcpy(m, golden, sizeof(golden));
    m[12 + 1 + 11] = 0xff;
    fix_crcs(m, sizeof(m));
    expect_error(m, sizeof(m), Q2API_ES_EHEADER, "header type 255");

    q2api_buf_init(&b, 0);

    raw_message(&b, "\x00\x00", 2, "{}", 2);
    expect_error(b.data, b.len, Q2API_ES_EHEADER, "name_len 0");
    q2api_buf_reset(&b);

    raw_message(&b, "\x01" "a\x04\x00\x00", 5, "{}", 2);
    expect_error(b.data, b.len, Q2API_ES_EHEADER, "int overruns section");
    q2api_buf_reset(&b);

    raw_message(&b, "\x01" "a\x09\x00\x01\x02\x03", 7, "", 0);
    expect_error(b.data, b.len, Q2API_ES_EHEADER, "uuid overruns section");
    q2api_buf_reset(&b);

    raw_message(&b, "\x01" "a\x07\x00\x10" "ab", 7, "{}", 2);
    expect_error(b.data, b.len, Q2API_ES_EHEADER, "string length overruns");
    q2api_buf_reset(&b);

    raw_message(&b, "\x01" "a\x06\x00", 4, "{}", 2);
    expect_error(b.data, b.len, Q2API_ES_EHEADER,
                 "byte-array length field cut");
    q2api_buf_reset(&b);

    raw_message(&b, "\x05" "abc", 4, "{}", 2);
    expect_error(b.data, b.len, Q2API_ES_EHEADER, "name overruns section");
    q2api_buf_reset(&b);

    raw_message(&b, "\x01" "a", 2, "{}", 2);
    expect_error(b.data, b.len, Q2API_ES_EHEADER, "type byte missing");
    q2api_buf_reset(&b);

    /* a bad message after good ones: those still come out, once */

    q2api_buf_append(&b, golden, sizeof(golden));
    q2api_buf_append(&b, golden, sizeof(golden));
    q2api_buf_append(&b, golden, sizeof(golden));
    b.data[2 * sizeof(golden) + 50] ^= 0x01;

    for (i = 0; i < 2; i++) {
        sink_init(&sink);
        rc = i ? decode_bytewise(b.data, b.len, &sink)
               : decode_whole(b.data, b.len, &sink);
        ok(rc == Q2API_ES_EMESSAGE_CRC && sink.count == 2,
           i ? "bad third message, byte by byte: two good first"
             : "bad third message, whole: two good first");
        q2api_buf_free(&sink.digest);
    }

    q2api_buf_free(&b);
}


static void
test_no_prealloc(void)
{
    int                 rc;
    size_t              c;
    unsigned char       m[112];
    q2api_es_message_t  msg;
    q2api_es_decoder_t  d;

    /* a valid prelude claiming the maximum, with little behind it */

    memset(m, 'x', sizeof(m));
    prelude(m, Q2API_ES_MAX_MESSAGE, 0);

    q2api_es_decoder_init(&d);

    rc = q2api_es_decode(&d, m, sizeof(m), &c, &msg);
    ok(rc == Q2API_AGAIN && c == sizeof(m), "16 MiB claim: again");
    is_int(q2api_es_buffered(&d), sizeof(m), "16 MiB claim: bytes held");
    ok(d.carry.cap <= 4096, "16 MiB claim: nothing preallocated");
    is_int(q2api_es_finish(&d), Q2API_ES_ETRUNCATED,
           "16 MiB claim cut short: truncated");

    q2api_es_decoder_free(&d);

    /* the prelude is checked before anything else is waited for */

    prelude(m, Q2API_ES_MAX_MESSAGE + 1, 0);

    q2api_es_decoder_init(&d);

    rc = q2api_es_decode(&d, m, 11, &c, &msg);
    ok(rc == Q2API_AGAIN && c == 11, "11 bytes of a bad prelude: again");
    rc = q2api_es_decode(&d, m + 11, 1, &c, &msg);
    is_int(rc, Q2API_ES_ETOO_BIG, "twelfth byte: too big at once");

    q2api_es_decoder_free(&d);
}


static void
test_truncation(void)
{
    size_t              i, c;
    int                 rc;
    char                what[64];
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    static const size_t  cuts[] = { 1, 5, 11, 12, 30, 103, 110, 120, 123 };

    for (i = 0; i < nelts(cuts); i++) {
        q2api_es_decoder_init(&d);

        rc = q2api_es_decode(&d, golden, cuts[i], &c, &m);
        snprintf(what, sizeof(what), "cut at %u: again",
                 (unsigned) cuts[i]);
        ok(rc == Q2API_AGAIN && c == cuts[i], what);

        snprintf(what, sizeof(what), "cut at %u: buffered",
                 (unsigned) cuts[i]);
        is_int(q2api_es_buffered(&d), cuts[i], what);

        snprintf(what, sizeof(what), "cut at %u: finish says truncated",
                 (unsigned) cuts[i]);
        is_int(q2api_es_finish(&d), Q2API_ES_ETRUNCATED, what);

        q2api_es_decoder_free(&d);
    }

    q2api_es_decoder_init(&d);
    is_int(q2api_es_finish(&d), Q2API_OK, "empty stream finishes");
    rc = q2api_es_decode(&d, NULL, 0, &c, &m);
    ok(rc == Q2API_AGAIN && c == 0, "NULL, 0 on a fresh decoder: again");
    is_int(q2api_es_finish(&d), Q2API_OK, "still at a boundary");
    q2api_es_decoder_free(&d);

    /* a whole message then part of the next */

    q2api_es_decoder_init(&d);
    rc = q2api_es_decode(&d, golden, sizeof(golden), &c, &m);
    is_int(rc, Q2API_OK, "one message");
    rc = q2api_es_decode(&d, golden, 20, &c, &m);
    is_int(rc, Q2API_AGAIN, "part of the next");
    is_int(q2api_es_finish(&d), Q2API_ES_ETRUNCATED,
           "finish inside the second message");
    q2api_es_decoder_free(&d);
}


static void
test_sticky(void)
{
    int                 rc;
    size_t              c;
    unsigned char       m[sizeof(golden)];
    q2api_es_message_t  msg;
    q2api_es_decoder_t  d;

    memcpy(m, golden, sizeof(golden));
    m[8] ^= 0x01;

    q2api_es_decoder_init(&d);

    rc = q2api_es_decode(&d, m, sizeof(m), &c, &msg);
    is_int(rc, Q2API_ES_EPRELUDE_CRC, "corrupt prelude");

    rc = q2api_es_decode(&d, golden, sizeof(golden), &c, &msg);
    is_int(rc, Q2API_ES_EPRELUDE_CRC, "good input after: same error");
    is_int(c, 0, "nothing consumed after an error");

    rc = q2api_es_decode(&d, NULL, 0, &c, &msg);
    is_int(rc, Q2API_ES_EPRELUDE_CRC, "empty input after: same error");
    is_int(q2api_es_finish(&d), Q2API_ES_EPRELUDE_CRC,
           "finish after: same error");
    is_int(q2api_es_buffered(&d), 0, "nothing held after an error");

    q2api_es_decoder_free(&d);

    /* truncation found by finish is sticky too */

    q2api_es_decoder_init(&d);
    q2api_es_decode(&d, golden, 3, &c, &msg);
    is_int(q2api_es_finish(&d), Q2API_ES_ETRUNCATED, "truncated");
    rc = q2api_es_decode(&d, golden + 3, sizeof(golden) - 3, &c, &msg);
    is_int(rc, Q2API_ES_ETRUNCATED, "rest of it after finish: truncated");
    q2api_es_decoder_free(&d);
}


static void
test_large(void)
{
    int                 rc, again, mid_ok;
    size_t              i, off, n, c, plen, got;
    unsigned char      *payload;
    q2api_buf_t         s;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    plen = 1024 * 1024;
    payload = malloc(plen);

    for (i = 0; i < plen; i++) {
        payload[i] = (unsigned char) (i ^ (i >> 8));
    }

    q2api_buf_init(&s, 0);
    rc = q2api_es_encode_event(&s, "assistantResponseEvent", payload, plen);
    is_int(rc, Q2API_OK, "1 MiB event encodes");
    q2api_buf_append(&s, golden, sizeof(golden));

    q2api_es_decoder_init(&d);

    again = 0;
    mid_ok = 1;
    got = 0;

    for (off = 0; off < s.len; off += n) {
        n = (s.len - off < 4096) ? s.len - off : 4096;

        rc = q2api_es_decode(&d, s.data + off, n, &c, &m);

        while (rc == Q2API_OK) {
            got++;

            if (got == 1) {
                ok(m.payload_len == plen
                   && memcmp(m.payload, payload, plen) == 0,
                   "1 MiB payload intact");

            } else {
                is_mem(m.payload, m.payload_len, GOLDEN_PAYLOAD,
                       sizeof(GOLDEN_PAYLOAD) - 1, "message after it");
            }

            off += c;
            n -= c;
            rc = q2api_es_decode(&d, s.data + off, n, &c, &m);
        }

        if (rc != Q2API_AGAIN || c != n) {
            mid_ok = 0;
            break;
        }

        again++;
    }

    ok(mid_ok, "4 KiB chunks: again until complete");
    is_int(got, 2, "4 KiB chunks: both messages once");
    ok(again >= 256, "4 KiB chunks: a message spread over many chunks");
    is_int(q2api_es_finish(&d), Q2API_OK, "4 KiB chunks: boundary at end");

    q2api_es_decoder_free(&d);
    q2api_buf_free(&s);
    free(payload);
}


static void
test_limits(void)
{
    int                 rc;
    size_t              c, hl;
    char               *big;
    q2api_buf_t         out;
    q2api_es_header_t   h, hs[2];
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    big = calloc(1, Q2API_ES_MAX_MESSAGE);

    q2api_buf_init(&out, 0);
    q2api_buf_append(&out, "keep", 4);

    h = all_types[7];
    hl = 2 + h.name.len + 2 + h.bytes.len;

    rc = q2api_es_encode(&out, &h, 1, big, Q2API_ES_MAX_MESSAGE - 16 - hl + 1);
    is_int(rc, Q2API_ES_ETOO_BIG, "encode: message 16 MiB + 1");
    ok(out.len == 4 && memcmp(out.data, "keep", 4) == 0,
       "encode failure leaves out unchanged");

    rc = q2api_es_encode(&out, &h, 1, big, Q2API_ES_MAX_MESSAGE - 16 - hl);
    is_int(rc, Q2API_OK, "encode: message of exactly 16 MiB");

    q2api_es_decoder_init(&d);
    rc = q2api_es_decode(&d, out.data + 4, out.len - 4, &c, &m);
    ok(rc == Q2API_OK && m.total_len == Q2API_ES_MAX_MESSAGE
       && c == Q2API_ES_MAX_MESSAGE, "decode: message of exactly 16 MiB");
    q2api_es_decoder_free(&d);

    q2api_buf_free(&out);
    q2api_buf_init(&out, 0);

    h.type = Q2API_ES_BYTES;
    h.bytes.data = big;
    h.bytes.len = 0xffff;
    is_int(q2api_es_encode(&out, &h, 1, NULL, 0), Q2API_OK,
           "encode: value of 65535 bytes");
    h.bytes.len = 0x10000;
    is_int(q2api_es_encode(&out, &h, 1, NULL, 0), Q2API_ES_ETOO_BIG,
           "encode: value of 65536 bytes");

    h.type = Q2API_ES_STRING;
    h.bytes.len = 3;
    h.name.data = big;
    h.name.len = 256;
    is_int(q2api_es_encode(&out, &h, 1, NULL, 0), Q2API_ES_ETOO_BIG,
           "encode: name of 256 bytes");
    h.name.len = 0;
    is_int(q2api_es_encode(&out, &h, 1, NULL, 0), Q2API_ES_EHEADER,
           "encode: empty name");

    h.name.data = "n";
    h.name.len = 1;
    h.type = 10;
    is_int(q2api_es_encode(&out, &h, 1, NULL, 0), Q2API_ES_EHEADER,
           "encode: type 10");
    h.type = Q2API_ES_UUID;
    h.bytes.len = 15;
    is_int(q2api_es_encode(&out, &h, 1, NULL, 0), Q2API_ES_EHEADER,
           "encode: uuid of 15 bytes");

    q2api_buf_free(&out);
    q2api_buf_init(&out, 0);

    /* a header section of exactly 128 KiB, and one byte more */

    hs[0].name.data = "a";
    hs[0].name.len = 1;
    hs[0].type = Q2API_ES_BYTES;
    hs[0].integer = 0;
    hs[0].bytes.data = big;
    hs[0].bytes.len = 0xffff;
    hs[1] = hs[0];
    hs[1].bytes.len = Q2API_ES_MAX_HEADERS - 2 * (1 + 1 + 1 + 2) - 0xffff;

    rc = q2api_es_encode(&out, hs, 2, "p", 1);
    is_int(rc, Q2API_OK, "encode: headers of exactly 128 KiB");

    q2api_es_decoder_init(&d);
    rc = q2api_es_decode(&d, out.data, out.len, &c, &m);
    ok(rc == Q2API_OK && m.headers_len == Q2API_ES_MAX_HEADERS,
       "decode: headers of exactly 128 KiB");
    q2api_es_decoder_free(&d);

    hs[1].bytes.len++;
    is_int(q2api_es_encode(&out, hs, 2, "p", 1), Q2API_ES_ETOO_BIG,
           "encode: headers of 128 KiB + 1");

    q2api_buf_free(&out);
    free(big);
}


static void
test_strerror(void)
{
    static const int  codes[] = {
        Q2API_ES_EPRELUDE_CRC, Q2API_ES_EMESSAGE_CRC, Q2API_ES_ELENGTH,
        Q2API_ES_ETOO_BIG, Q2API_ES_EHEADER, Q2API_ES_ETRUNCATED,
        Q2API_NOMEM
    };

    size_t  i, j;
    int     distinct;

    is_str(q2api_es_strerror(Q2API_ES_EPRELUDE_CRC), "bad prelude CRC",
           "strerror prelude CRC");
    is_str(q2api_es_strerror(Q2API_ES_ETRUNCATED),
           "stream ended inside a message", "strerror truncated");

    distinct = 1;

    for (i = 0; i < nelts(codes); i++) {
        for (j = i + 1; j < nelts(codes); j++) {
            if (strcmp(q2api_es_strerror(codes[i]),
                       q2api_es_strerror(codes[j])) == 0)
            {
                distinct = 0;
            }
        }
    }

    ok(distinct, "strerror: a distinct text per error");
    is_str(q2api_es_strerror(-99), "unknown error", "strerror unknown");
}


int
main(void)
{
    test_crc32();
    test_golden();
    test_exception();
    round_trip(all_types, nelts(all_types), "all ten types");
    round_trip(all_types_max, nelts(all_types_max), "other extremes");
    test_header_string();
    test_chunking();
    test_corruption();
    test_no_prealloc();
    test_truncation();
    test_sticky();
    test_large();
    test_limits();
    test_strerror();

    return done_testing();
}
