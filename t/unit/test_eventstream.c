/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The event-stream decoder and encoder: CRC, the golden vector, headers of
 * every type both ways, and every way of chunking a stream.
 */


#include "eventstream_check.h"


/* the prelude's CRC is AWS's: zlib's IEEE CRC-32 */
static void
test_crc32(void)
{
    int            off, len, same;
    unsigned char  data[600];

    is_int(crc32(0, golden, 8), 0x3bddcf78, "crc32 of golden prelude");
    is_int(q2api_es_crc32(golden, 8), 0x3bddcf78,
           "q2api_es_crc32 of golden prelude");

    /* slicing-by-8 against zlib at every alignment and tail length */
    for (len = 0; len < (int) sizeof(data); len++) {
        data[len] = (unsigned char) (len * 131 + 7);
    }

    same = 1;

    for (off = 0; off < 8; off++) {
        for (len = 0; len + off <= (int) sizeof(data); len += 1 + len / 16) {
            same &= (q2api_es_crc32(data + off, len)
                     == crc32(0, data + off, len));
        }
    }

    ok(same, "q2api_es_crc32 is zlib's crc32 at every offset and length");
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
    test_strerror();

    return done_testing();
}
