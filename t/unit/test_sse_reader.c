/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api_sse_reader: line ends (LF, CRLF, CR), multi-line data, names,
 * ids and comments, each sample stream cut at every byte (and into two
 * pieces at every pair of points), the caps, a handler that stops.
 */


#include <stdint.h>
#include <stdio.h>

#include "tap.h"
#include "q2api_sse_reader.h"


/* what the events said, as "[event|id] data\n" lines */
typedef struct {
    q2api_buf_t  log;
    int          stop_after;     /* stop with -42 after this many; 0: never */
    int          n;
} sink_t;


static int
on_message(void *data, const q2api_sse_message_t *m)
{
    sink_t  *k = data;

    q2api_buf_append_byte(&k->log, '[');
    q2api_buf_append(&k->log, m->event.data, m->event.len);
    q2api_buf_append_byte(&k->log, '|');
    q2api_buf_append(&k->log, m->id.data, m->id.len);
    q2api_buf_append(&k->log, "] ", 2);
    q2api_buf_append(&k->log, m->data.data, m->data.len);
    q2api_buf_append_byte(&k->log, '\n');

    k->n++;

    return (k->stop_after && k->n >= k->stop_after) ? -42 : Q2API_OK;
}


/* feeds s in the pieces cut at a and b (a <= b), then finishes */
static int
run(const char *s, size_t len, size_t a, size_t b, sink_t *k)
{
    int                 rc;
    size_t              cuts[3], off, used, i;
    q2api_sse_reader_t  r;

    q2api_sse_reader_init(&r, 4096, 65536);
    q2api_buf_reset(&k->log);
    k->n = 0;

    cuts[0] = a;
    cuts[1] = b;
    cuts[2] = len;
    off = 0;
    rc = Q2API_OK;

    for (i = 0; i < 3 && rc == Q2API_OK; i++) {
        rc = q2api_sse_reader_feed(&r, (const unsigned char *) s + off,
                                   cuts[i] - off, &used, on_message, k);

        if (rc == Q2API_OK && used != cuts[i] - off) {
            rc = -99;
        }

        off = cuts[i];
    }

    if (rc == Q2API_OK) {
        rc = q2api_sse_reader_finish(&r, on_message, k);
    }

    q2api_sse_reader_free(&r);

    return rc;
}


static void
every_split(const char *name, const char *s, const char *want)
{
    int     bad;
    char    title[256];
    size_t  len, a, b;
    sink_t  k;

    memset(&k, 0, sizeof(k));
    q2api_buf_init(&k.log, 0);

    len = strlen(s);
    bad = 0;

    for (a = 0; a <= len && !bad; a++) {
        for (b = a; b <= len && !bad; b++) {
            if (run(s, len, a, b, &k) != Q2API_OK
                || k.log.len != strlen(want)
                || memcmp(k.log.data, want, k.log.len) != 0)
            {
                diag("cut at %zu and %zu: '%.*s'", a, b, (int) k.log.len,
                     (char *) k.log.data);
                bad = 1;
            }
        }
    }

    snprintf(title, sizeof(title), "%s: same events cut anywhere", name);
    ok(!bad, title);

    q2api_buf_free(&k.log);
}


static void
test_samples(void)
{
    every_split("LF", "data: {\"a\":1}\n\ndata: {\"b\":2}\n\n",
                "[|] {\"a\":1}\n[|] {\"b\":2}\n");

    every_split("CRLF (Code Assist)",
                "data: {\"response\":1}\r\n\r\ndata: {\"response\":2}\r\n\r\n",
                "[|] {\"response\":1}\n[|] {\"response\":2}\n");

    every_split("lone CR", "data: x\r\rdata: y\r\r", "[|] x\n[|] y\n");

    every_split("mixed line ends", "data: a\r\n\ndata: b\n\r\ndata: c\r\r\n",
                "[|] a\n[|] b\n[|] c\n");

    every_split("multi-line data joined by LF",
                "data: one\r\ndata:two\r\ndata:  three\r\n\r\n",
                "[|] one\ntwo\n three\n");

    every_split("event names, ids, comments, unknown fields",
                ": keep-alive\n\nevent: delta\nid: 7\nretry: 10\nfoo: bar\n"
                "data: d1\n\ndata: d2\n\nevent: lone\n\ndata: d3\n\n",
                "[delta|7] d1\n[|7] d2\n[|7] d3\n");

    every_split("a field without colon, empty data",
                "data\n\ndata:\ndata\n\n", "[|] \n[|] \n\n");

    every_split("last event without its blank line",
                "data: a\n\ndata: last", "[|] a\n[|] last\n");

    every_split("blank lines alone deliver nothing", "\n\r\n\r\n\n", "");
}


static void
test_caps(void)
{
    int                 rc;
    char                big[200];
    size_t              used;
    sink_t              k;
    q2api_sse_reader_t  r;

    memset(&k, 0, sizeof(k));
    q2api_buf_init(&k.log, 0);

    memset(big, 'x', sizeof(big));
    memcpy(big, "data: ", 6);

    /* a line over the cap, given in pieces: an error, not a bigger buffer */
    q2api_sse_reader_init(&r, 64, 1024);
    rc = q2api_sse_reader_feed(&r, (unsigned char *) big, 40, &used,
                               on_message, &k);
    is_int(rc, Q2API_OK, "a line under the cap so far");
    rc = q2api_sse_reader_feed(&r, (unsigned char *) big + 40, 40, &used,
                               on_message, &k);
    is_int(rc, Q2API_SSE_ELINE, "a line over the cap is ELINE");
    ok(r.line.cap <= 64, "the line buffer stayed within the cap");
    ok(q2api_sse_reader_strerror(rc) != NULL, "ELINE is named");
    q2api_sse_reader_free(&r);

    /* a line of exactly the cap passes */
    q2api_sse_reader_init(&r, 64, 1024);
    big[64] = '\n';
    big[65] = '\n';
    rc = q2api_sse_reader_feed(&r, (unsigned char *) big, 66, &used,
                               on_message, &k);
    is_int(rc, Q2API_OK, "a line of the cap's length is read");
    is_int(k.n, 1, "and delivered");
    q2api_sse_reader_free(&r);

    /* many short data lines over the event cap */
    q2api_sse_reader_init(&r, 64, 100);
    k.n = 0;
    rc = Q2API_OK;

    for (used = 0; used < 20 && rc == Q2API_OK; used++) {
        size_t  u;

        rc = q2api_sse_reader_feed(&r, (unsigned char *) "data: 0123456789\n",
                                   17, &u, on_message, &k);
    }

    is_int(rc, Q2API_SSE_EEVENT, "an event over its cap is EEVENT");
    ok(q2api_sse_reader_strerror(Q2API_SSE_EEVENT) != NULL,
       "EEVENT is named");
    is_int(k.n, 0, "nothing delivered from it");
    q2api_sse_reader_free(&r);

    q2api_buf_free(&k.log);
}


static void
test_handler_stops(void)
{
    int                 rc;
    size_t              used;
    sink_t              k;
    q2api_sse_reader_t  r;
    const char         *s = "data: 1\n\ndata: 2\n\ndata: 3\n\n";

    memset(&k, 0, sizeof(k));
    q2api_buf_init(&k.log, 0);
    k.stop_after = 2;

    q2api_sse_reader_init(&r, 64, 1024);
    rc = q2api_sse_reader_feed(&r, (unsigned char *) s, strlen(s), &used,
                               on_message, &k);
    is_int(rc, -42, "the handler's code comes back");
    is_int(k.n, 2, "no event after it");
    is_int(used, 18, "consumed ends after the stopping event");
    q2api_sse_reader_free(&r);

    q2api_buf_free(&k.log);
}


int
main(void)
{
    test_samples();
    test_caps();
    test_handler_stops();

    return done_testing();
}
