/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The event-stream decoder against bad input: each corruption, truncation,
 * errors that stick, large messages and the size limits.
 */


#include "eventstream_check.h"


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


int
main(void)
{
    test_corruption();
    test_no_prealloc();
    test_truncation();
    test_sticky();
    test_large();
    test_limits();

    return done_testing();
}
