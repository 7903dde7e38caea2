/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the Gemini stream: a chunk size byte (its low 7
 * bits; 0: all at once), then Code Assist SSE.  Events go to two Claude
 * encoders, stream: true and stream: false, as the glue does it (an error
 * before anything was sent is an HTTP error; a stream ended without a
 * finishReason or corrupt is an error after the start).  The SSE must be
 * well formed and end properly, and the stream: false body must say the
 * same as the stream unless the upstream's text was not clean UTF-8.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "q2api_back.h"
#include "q2api_gemini.h"
#include "q2api_claude.h"
#include "../unit/sse_check.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


typedef struct {
    q2api_claude_stream_t   sse;
    q2api_claude_stream_t   json;
    q2api_buf_t             sse_out;
    q2api_buf_t             json_out;
    unsigned                failed:1;
    unsigned                error:1;
    unsigned                dirty:1;
} sink_t;


static int
on_event(void *data, const q2api_event_t *ev)
{
    sink_t  *k = data;

    check(ev->text.len == 0 || ev->text.data != NULL);

    if ((ev->text.len && memchr(ev->text.data, '\0', ev->text.len) != NULL)
        || !q2api_utf8_valid(ev->text.data ? ev->text.data : "",
                             ev->text.len)
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
    int                     rc;
    char                    why[128], *t;
    size_t                  chunk, off, n, used;
    cJSON                  *json;
    sink_t                  k;
    sse_msg_t               m;
    unsigned char          *p;
    const char             *end;
    q2api_request_t         req;
    q2api_gemini_stream_t   s;

    if (size < 1) {
        return 0;
    }

    chunk = data[0] & 0x7f;
    data++;
    size--;

    memset(&k, 0, sizeof(k));
    q2api_request_init(&req);
    req.model = (q2api_str_t) q2api_str_lit("gemini-2.5-pro");
    req.thinking = 1;

    q2api_buf_init(&k.sse_out, 0);
    q2api_buf_init(&k.json_out, 0);

    req.stream = 1;
    check(q2api_claude_stream_init(&k.sse, &k.sse_out, &req) == Q2API_OK);
    req.stream = 0;
    check(q2api_claude_stream_init(&k.json, &k.json_out, &req) == Q2API_OK);

    q2api_gemini_stream_init(&s, &req, on_event, &k);

    rc = Q2API_OK;
    off = 0;

    while (off < size) {
        n = (chunk == 0 || size - off < chunk) ? size - off : chunk;

        p = malloc(n);
        check(p != NULL);
        memcpy(p, data + off, n);

        rc = q2api_gemini_stream_feed(&s, p, n, &used);
        free(p);

        if (rc != Q2API_OK) {
            check(rc < 0 && q2api_gemini_strerror(rc) != NULL);
            break;
        }

        check(used == n);
        off += n;
    }

    if (rc == Q2API_OK) {
        rc = q2api_gemini_stream_finish(&s);
        check(rc == Q2API_OK || rc == Q2API_TRUNCATED
              || q2api_gemini_strerror(rc) != NULL);
    }

    if (rc != Q2API_OK && !k.error) {
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
        check(k.sse_out.len == 0);

    } else {
        check(q2api_claude_stream_finish(&k.sse) == Q2API_OK);
        check(sse_parse(k.sse_out.data, k.sse_out.len, &m) == 0);
        check((m.error != NULL) == (k.error != 0));

        if (!k.error) {
            check(q2api_utf8_valid((char *) k.json_out.data,
                                   k.json_out.len));

            t = malloc(k.json_out.len + 1);
            check(t != NULL);
            memcpy(t, k.json_out.data, k.json_out.len);
            t[k.json_out.len] = '\0';
            json = cJSON_ParseWithOpts(t, &end, 1);
            free(t);

            check(cJSON_IsObject(json));

            if (!k.dirty && sse_same_message(&m, json, why, sizeof(why))) {
                fprintf(stderr, "stream and message differ: %s\n", why);
                abort();
            }

            cJSON_Delete(json);
        }

        sse_msg_free(&m);
    }

    q2api_gemini_stream_free(&s);
    q2api_claude_stream_free(&k.sse);
    q2api_claude_stream_free(&k.json);
    q2api_buf_free(&k.sse_out);
    q2api_buf_free(&k.json_out);
    q2api_request_free(&req);

    return 0;
}
