/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for q2api_sse_reader.  Input: a byte giving a chunk
 * size (its low 6 bits; 0: one byte at a time) and a cap selector (bit 6:
 * small caps, so that the caps are reached), then the stream.  The stream
 * read whole and read in chunks must give the same events, or the same
 * error; buffers never pass their caps; every event's data is within the
 * cap.  Reads stay within the input (ASan, each chunk its own allocation).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_sse_reader.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


typedef struct {
    q2api_buf_t  log;
    size_t       max_event;
} sink_t;


static int
on_message(void *data, const q2api_sse_message_t *m)
{
    sink_t   *k = data;
    uint32_t  n;

    check(m->data.len <= k->max_event);
    check(m->event.data != NULL && m->id.data != NULL
          && m->data.data != NULL);

    n = (uint32_t) m->event.len;
    check(q2api_buf_append(&k->log, &n, sizeof(n)) == Q2API_OK);
    check(q2api_buf_append(&k->log, m->event.data, m->event.len) == Q2API_OK);
    n = (uint32_t) m->id.len;
    check(q2api_buf_append(&k->log, &n, sizeof(n)) == Q2API_OK);
    check(q2api_buf_append(&k->log, m->id.data, m->id.len) == Q2API_OK);
    n = (uint32_t) m->data.len;
    check(q2api_buf_append(&k->log, &n, sizeof(n)) == Q2API_OK);
    check(q2api_buf_append(&k->log, m->data.data, m->data.len) == Q2API_OK);

    return Q2API_OK;
}


static int
run(const uint8_t *data, size_t size, size_t chunk, size_t max_line,
    size_t max_event, sink_t *k)
{
    int                  rc;
    size_t               off, n, used;
    unsigned char       *p;
    q2api_sse_reader_t   r;

    q2api_sse_reader_init(&r, max_line, max_event);
    k->max_event = max_event;

    rc = Q2API_OK;

    for (off = 0; off < size && rc == Q2API_OK; off += n) {
        n = (chunk == 0 || size - off < chunk) ? size - off : chunk;

        p = malloc(n);
        check(p != NULL);
        memcpy(p, data + off, n);

        rc = q2api_sse_reader_feed(&r, p, n, &used, on_message, k);
        free(p);

        check(rc != Q2API_OK || used == n);
        check(used <= n);
        check(r.line.cap <= max_line && r.data.cap <= max_event);
    }

    if (rc == Q2API_OK) {
        rc = q2api_sse_reader_finish(&r, on_message, k);
    }

    check(rc == Q2API_OK || q2api_sse_reader_strerror(rc) != NULL);

    q2api_sse_reader_free(&r);

    return rc;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int      rc1, rc2;
    size_t   chunk, max_line, max_event;
    sink_t   whole, pieces;

    if (size < 1) {
        return 0;
    }

    chunk = data[0] & 0x3f;
    chunk = chunk ? chunk : 1;
    max_line = (data[0] & 0x40) ? 16 : 1 << 20;
    max_event = (data[0] & 0x40) ? 40 : 1 << 22;

    data++;
    size--;

    memset(&whole, 0, sizeof(whole));
    memset(&pieces, 0, sizeof(pieces));
    q2api_buf_init(&whole.log, 0);
    q2api_buf_init(&pieces.log, 0);

    rc1 = run(data, size, 0, max_line, max_event, &whole);
    rc2 = run(data, size, chunk, max_line, max_event, &pieces);

    check(rc1 == rc2);
    check(whole.log.len == pieces.log.len
          && (whole.log.len == 0
              || memcmp(whole.log.data, pieces.log.data, whole.log.len)
                 == 0));

    q2api_buf_free(&whole.log);
    q2api_buf_free(&pieces.log);

    return 0;
}
