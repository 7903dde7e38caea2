/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the upstream side: the input is a chunk size byte
 * then an Amazon Q event stream.  With the byte's high bit set the stream
 * is given in a text form that the target frames itself, with right CRCs,
 * so that mutations reach the payloads instead of breaking a checksum:
 * one frame per line, "<kind><type> <payload>", kind 'e' an event, 'x' an
 * exception, 'r' an error frame (type: the code, payload: the message);
 * a line of any other kind goes in as raw bytes.  The stream is fed in
 * chunks of the low 7 bits' size (0: all at once) to the Amazon Q decoder,
 * whose events go to two Claude
 * encoders, stream: true and stream: false, the way the module's glue does
 * it (an error before anything was sent is an HTTP error, not an event).
 * The SSE produced must be well formed, event by event, and end properly;
 * the stream: false body must be one valid JSON message saying the same as
 * the stream (unless the upstream sent bytes that are not UTF-8, which the
 * stream replaces piece by piece).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "q2api_amazonq.h"
#include "q2api_claude.h"
#include "../unit/sse_check.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


typedef struct {
    q2api_claude_stream_t   sse;
    q2api_claude_stream_t   json;
    q2api_buf_t             sse_out;
    q2api_buf_t             json_out;
    unsigned                failed:1;      /* an error before any byte */
    unsigned                error:1;       /* any error event */
    unsigned                dirty:1;       /* upstream text not UTF-8 */
} sink_t;


static void
synthesize(const uint8_t *p, size_t n, q2api_buf_t *out)
{
    char                type[256];
    size_t              len, tlen, plen;
    const uint8_t      *eol, *sp, *payload;
    q2api_es_header_t   h[3];

    while (n) {
        eol = memchr(p, '\n', n);
        len = eol ? (size_t) (eol - p) : n;

        sp = (len > 1) ? memchr(p + 1, ' ', len - 1) : NULL;
        tlen = sp ? (size_t) (sp - p - 1) : (len ? len - 1 : 0);
        payload = sp ? sp + 1 : p + len;
        plen = (size_t) (p + len - payload);

        if (tlen >= sizeof(type)) {
            tlen = sizeof(type) - 1;
        }

        if (tlen) {
            memcpy(type, p + 1, tlen);
        }

        type[tlen] = '\0';

        switch (len ? p[0] : 0) {

        case 'e':
            (void) q2api_es_encode_event(out, type, payload, plen);
            break;

        case 'x':
            (void) q2api_es_encode_exception(out, type, payload, plen);
            break;

        case 'r':
            memset(h, 0, sizeof(h));
            h[0].name = (q2api_str_t) q2api_str_lit(":message-type");
            h[0].type = Q2API_ES_STRING;
            h[0].bytes = (q2api_str_t) q2api_str_lit("error");
            h[1].name = (q2api_str_t) q2api_str_lit(":error-code");
            h[1].type = Q2API_ES_STRING;
            h[1].bytes.data = type;
            h[1].bytes.len = strlen(type);
            h[2].name = (q2api_str_t) q2api_str_lit(":error-message");
            h[2].type = Q2API_ES_STRING;
            h[2].bytes.data = (const char *) payload;
            h[2].bytes.len = plen;
            (void) q2api_es_encode(out, h, 3, NULL, 0);
            break;

        default:
            check(q2api_buf_append(out, p, len) == Q2API_OK);
        }

        if (eol == NULL) {
            break;
        }

        n -= len + 1;
        p += len + 1;
    }
}


static int
on_event(void *data, const q2api_event_t *ev)
{
    sink_t  *k = data;

    check(ev->text.len == 0 || ev->text.data != NULL);

    /* text with a NUL in it (a \u0000 the backend sent, kept) is compared
     * through cJSON below, which cuts strings there */
    if (ev->text.len && memchr(ev->text.data, '\0', ev->text.len) != NULL) {
        k->dirty = 1;
    }

    if (!q2api_utf8_valid(ev->text.data ? ev->text.data : "", ev->text.len)
        || !q2api_utf8_valid(ev->id.data ? ev->id.data : "", ev->id.len)
        || !q2api_utf8_valid(ev->name.data ? ev->name.data : "",
                             ev->name.len))
    {
        k->dirty = 1;
    }

    if (ev->type == Q2API_EV_ERROR) {
        check(ev->text.data != NULL
              && strlen(ev->text.data) == ev->text.len);
        k->error = 1;

        if (k->sse_out.len == 0) {
            k->failed = 1;
        }
    }

    check(q2api_claude_stream_event(&k->json, ev) == Q2API_OK);

    if (!k->failed) {
        check(q2api_claude_stream_event(&k->sse, ev) == Q2API_OK);
    }

    return Q2API_OK;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                      rc;
    char                     why[128];
    size_t                   chunk, off, n, used;
    cJSON                   *json;
    sink_t                   k;
    sse_msg_t                m;
    q2api_buf_t              framed;
    unsigned char           *p;
    q2api_request_t          req;
    q2api_amazonq_stream_t   s;

    if (size < 1) {
        return 0;
    }

    chunk = data[0] & 0x7f;
    q2api_buf_init(&framed, 0);

    if (data[0] & 0x80) {
        synthesize(data + 1, size - 1, &framed);
        data = framed.data ? framed.data : (const uint8_t *) "";
        size = framed.len;

    } else {
        data++;
        size--;
    }

    memset(&k, 0, sizeof(k));
    q2api_request_init(&req);
    req.model = (q2api_str_t) q2api_str_lit("claude-sonnet-4-5");

    q2api_buf_init(&k.sse_out, 0);
    q2api_buf_init(&k.json_out, 0);

    req.stream = 1;
    check(q2api_claude_stream_init(&k.sse, &k.sse_out, &req) == Q2API_OK);
    req.stream = 0;
    check(q2api_claude_stream_init(&k.json, &k.json_out, &req) == Q2API_OK);

    q2api_amazonq_stream_init(&s, NULL, on_event, &k);

    rc = Q2API_OK;
    off = 0;

    do {
        n = (chunk == 0) ? size - off : size - off < chunk ? size - off
                                                           : chunk;

        /* each chunk in an allocation of its own: reads past it show */
        p = malloc(n ? n : 1);
        check(p != NULL);
        memcpy(p, data + off, n);

        rc = q2api_amazonq_stream_feed(&s, p, n, &used);
        free(p);

        if (rc != Q2API_OK) {
            check(rc < 0);
            break;
        }

        check(used == n);
        off += n;

    } while (off < size);

    if (rc == Q2API_OK) {
        rc = q2api_amazonq_stream_finish(&s);
        check(rc == Q2API_OK || rc == Q2API_ES_ETRUNCATED);
    }

    if (rc != Q2API_OK) {
        /* the glue: a broken upstream stream is an error */
        k.error = 1;

        if (k.sse_out.len == 0) {
            k.failed = 1;

        } else {
            check(q2api_claude_stream_error(&k.sse, Q2API_ERR_API,
                                            "the backend stream ended "
                                            "unexpectedly") == Q2API_OK);
        }

        check(q2api_claude_stream_error(&k.json, Q2API_ERR_API,
                                        "the backend stream ended "
                                        "unexpectedly") == Q2API_OK);
    }

    check(q2api_claude_stream_finish(&k.json) == Q2API_OK);

    if (k.failed) {
        /* an error before the start: an HTTP error answer, no SSE */
        check(k.sse_out.len == 0);

    } else {
        check(q2api_claude_stream_finish(&k.sse) == Q2API_OK);

        check(sse_parse(k.sse_out.data, k.sse_out.len, &m) == 0);
        check((m.error != NULL) == (k.error != 0));

        if (k.error) {
            check(k.json_out.len == 0);

        } else {
            json = NULL;

            check(q2api_utf8_valid((char *) k.json_out.data,
                                   k.json_out.len));

            {
                char        *t;
                const char  *end;

                t = malloc(k.json_out.len + 1);
                check(t != NULL);
                memcpy(t, k.json_out.data, k.json_out.len);
                t[k.json_out.len] = '\0';
                check(memchr(t, '\0', k.json_out.len) == NULL);
                json = cJSON_ParseWithOpts(t, &end, 1);
                free(t);
            }

            check(cJSON_IsObject(json));

            if (!k.dirty && sse_same_message(&m, json, why, sizeof(why))) {
                fprintf(stderr, "stream and message differ: %s\n", why);
                abort();
            }

            cJSON_Delete(json);
        }

        sse_msg_free(&m);
    }

    q2api_amazonq_stream_free(&s);
    q2api_claude_stream_free(&k.sse);
    q2api_claude_stream_free(&k.json);
    q2api_buf_free(&k.sse_out);
    q2api_buf_free(&k.json_out);
    q2api_buf_free(&framed);
    q2api_request_free(&req);

    return 0;
}
