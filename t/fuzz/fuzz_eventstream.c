/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the event-stream decoder.  Input: a chunking mode
 * byte, a parameter byte, then the stream.  The stream is decoded once in a
 * single call and once in the chunks the first two bytes choose; both must
 * yield the same messages and end in the same status.  Every message is
 * walked header by header and re-encoded, which must give back its exact
 * bytes.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_eventstream.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


typedef struct {
    q2api_buf_t  digest;        /* every message's lengths and bytes */
    size_t       count;
    int          status;        /* the error, or finish's verdict */
} run_t;


typedef struct {
    unsigned     mode;
    uint32_t     state;
    unsigned     param;
} chunker_t;


static void
put32(q2api_buf_t *b, uint32_t v)
{
    unsigned char  n[4];

    n[0] = (unsigned char) (v >> 24);
    n[1] = (unsigned char) (v >> 16);
    n[2] = (unsigned char) (v >> 8);
    n[3] = (unsigned char) v;

    check(q2api_buf_append(b, n, 4) == Q2API_OK);
}


/*
 * A message must be walkable to its end without an error, and the encoder
 * must turn what was read back into the very same bytes: there is only one
 * encoding of a header list, so anything else is a decoder or encoder bug.
 */
static void
check_message(const q2api_es_message_t *m, const unsigned char *raw)
{
    int                 rc;
    size_t              pos, n, max;
    q2api_buf_t         out;
    q2api_str_t         v;
    q2api_es_header_t  *hs, h;

    check(m->total_len == m->headers_len + m->payload_len + 16);
    check(m->total_len <= Q2API_ES_MAX_MESSAGE);
    check(m->headers_len <= Q2API_ES_MAX_HEADERS);

    /* the smallest header is 3 bytes: name_len, a 1-byte name, type */
    max = m->headers_len / 3 + 1;
    hs = malloc(max * sizeof(q2api_es_header_t));
    check(hs != NULL);

    pos = 0;
    n = 0;

    while ((rc = q2api_es_next_header(m, &pos, &h)) == 1) {
        check(n < max);
        check(h.name.len >= 1 && h.name.len <= 255);
        check(h.type <= Q2API_ES_UUID);
        check(pos <= m->headers_len);

        if (h.type == Q2API_ES_STRING) {
            rc = q2api_es_header_string(m, "probe", &v);
            check(rc == Q2API_OK || rc == Q2API_ERROR);
        }

        hs[n++] = h;
    }

    check(rc == 0);
    check(pos == m->headers_len);

    rc = q2api_es_header_string(m, ":event-type", &v);
    check(rc == Q2API_OK || rc == Q2API_ERROR);

    if (raw != NULL) {
        q2api_buf_init(&out, 0);

        rc = q2api_es_encode(&out, hs, n, m->payload, m->payload_len);
        check(rc == Q2API_OK);
        check(out.len == m->total_len);
        check(memcmp(out.data, raw, out.len) == 0);

        q2api_buf_free(&out);
    }

    free(hs);
}


static void
record(run_t *r, const q2api_es_message_t *m)
{
    put32(&r->digest, m->total_len);
    put32(&r->digest, (uint32_t) m->headers_len);
    check(q2api_buf_append(&r->digest, m->headers, m->headers_len)
          == Q2API_OK);
    put32(&r->digest, (uint32_t) m->payload_len);
    check(q2api_buf_append(&r->digest, m->payload, m->payload_len)
          == Q2API_OK);
    r->count++;
}


/* the reference: everything in one call */
static void
run_whole(const unsigned char *in, size_t len, run_t *r)
{
    int                 rc;
    size_t              consumed;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    q2api_es_decoder_init(&d);

    for ( ;; ) {
        rc = q2api_es_decode(&d, in, len, &consumed, &m);

        if (rc != Q2API_OK) {
            break;
        }

        /* nothing was carried, so the message must be read in place */
        check(consumed == m.total_len && consumed <= len);
        check(m.headers == in + 12);

        check_message(&m, in);
        record(r, &m);

        in += consumed;
        len -= consumed;
    }

    if (rc == Q2API_AGAIN) {
        check(consumed == len);
        check(q2api_es_buffered(&d) == len);
        rc = q2api_es_finish(&d);
        check(rc == (len ? Q2API_ES_ETRUNCATED : Q2API_OK));

    } else {
        check(rc < 0 && consumed == 0);
        check(q2api_es_finish(&d) == rc);
    }

    r->status = rc;

    q2api_es_decoder_free(&d);
}


static size_t
next_chunk(chunker_t *c, size_t left)
{
    size_t  n;

    c->state ^= c->state << 13;
    c->state ^= c->state >> 17;
    c->state ^= c->state << 5;

    switch (c->mode) {

    case 0:
        n = 1;
        break;

    case 1:
        n = c->param + 1;
        break;

    case 2:
        n = 1 + c->state % (4 * c->param + 4);
        break;

    default:
        /* empty chunks too: the decoder must take len == 0 anywhere */
        n = c->state % (c->param + 2);
        break;
    }

    return n < left ? n : left;
}


/*
 * The same stream in chunks, each copied into an allocation of its exact
 * size so that a read past a chunk's end is caught by the sanitizer.
 */
static void
run_chunked(const unsigned char *in, size_t len, chunker_t *c, run_t *r)
{
    int                 rc;
    size_t              off, n, k, consumed, boundary;
    unsigned char      *chunk, *p;
    q2api_es_message_t  m;
    q2api_es_decoder_t  d;

    q2api_es_decoder_init(&d);

    rc = Q2API_AGAIN;
    boundary = 0;
    off = 0;

    while (rc == Q2API_AGAIN && (off < len || c->mode == 3)) {
        n = next_chunk(c, len - off);

        chunk = malloc(n ? n : 1);
        check(chunk != NULL);
        memcpy(chunk, in + off, n);

        p = chunk;
        k = n;

        for ( ;; ) {
            rc = q2api_es_decode(&d, p, k, &consumed, &m);

            if (rc != Q2API_OK) {
                break;
            }

            check(consumed > 0 && consumed <= k);

            check_message(&m, in + boundary);
            record(r, &m);

            boundary += m.total_len;
            check(boundary == off + (size_t) (p - chunk) + consumed);

            p += consumed;
            k -= consumed;
        }

        free(chunk);

        if (rc == Q2API_AGAIN) {
            check(consumed == k);
            off += n;
            check(q2api_es_buffered(&d) == off - boundary);

        } else {
            check(rc < 0 && consumed == 0);
        }

        if (c->mode == 3 && off == len) {
            break;
        }
    }

    if (rc == Q2API_AGAIN) {
        rc = q2api_es_finish(&d);
        check(rc == (off > boundary ? Q2API_ES_ETRUNCATED : Q2API_OK));
    }

    /* sticky, whatever comes after */
    if (rc != Q2API_OK) {
        check(q2api_es_decode(&d, in, len, &consumed, &m) == rc);
        check(consumed == 0);
        check(q2api_es_finish(&d) == rc);
        check(q2api_es_strerror(rc) != NULL);
    }

    r->status = rc;

    q2api_es_decoder_free(&d);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run_t      whole, chunked;
    chunker_t  c;

    if (size < 2) {
        return 0;
    }

    c.mode = data[0] & 3;
    c.param = data[1];
    c.state = 0x9e3779b9u ^ ((uint32_t) data[0] << 8) ^ data[1];

    q2api_buf_init(&whole.digest, 0);
    whole.count = 0;
    q2api_buf_init(&chunked.digest, 0);
    chunked.count = 0;

    run_whole(data + 2, size - 2, &whole);
    run_chunked(data + 2, size - 2, &c, &chunked);

    check(whole.status == chunked.status);
    check(whole.count == chunked.count);
    check(whole.digest.len == chunked.digest.len);
    check(whole.digest.len == 0
          || memcmp(whole.digest.data, chunked.digest.data,
                    whole.digest.len) == 0);

    q2api_buf_free(&whole.digest);
    q2api_buf_free(&chunked.digest);

    return 0;
}
