/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Throughput of the protocol core, without nginx: Amazon Q event stream
 * in, Claude SSE out; and a Claude Code sized request converted to an
 * Amazon Q body.  Not a test: numbers for people, never a gate.
 *
 *   make bench
 */


#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "q2api_amazonq.h"
#include "q2api_claude.h"
#include "q2api_eventstream.h"


static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static int
forward(void *data, const q2api_event_t *ev)
{
    return q2api_claude_stream_event(data, ev);
}


int
main(void)
{
    int                     i, rounds;
    char                    payload[128];
    size_t                  used, off, total_out;
    double                  t0, t;
    q2api_buf_t             stream, out, body;
    q2api_error_t           err;
    q2api_request_t         req;
    q2api_amazonq_opts_t    opts;
    q2api_claude_stream_t   cs;
    q2api_amazonq_stream_t  as;
    static char             big[400000];
    int                     n;

    /* 100,000 text frames of a few words each, as the service sends */
    q2api_buf_init(&stream, 0);

    for (i = 0; i < 100000; i++) {
        n = snprintf(payload, sizeof(payload),
                     "{\"content\":\"word %d and some more text, \"}", i);
        q2api_es_encode_event(&stream, "assistantResponseEvent", payload, n);
    }

    q2api_request_init(&req);
    q2api_claude_parse(&req, "{\"model\":\"m\",\"stream\":true,"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                       71, &err);

    rounds = 5;
    total_out = 0;
    t0 = now();

    for (i = 0; i < rounds; i++) {
        q2api_buf_init(&out, 0);
        q2api_claude_stream_init(&cs, &out, &req);
        q2api_amazonq_stream_init(&as, &req, forward, &cs);

        /* fed in 4 KiB reads, as nginx hands them over */
        for (off = 0; off < stream.len; off += used) {
            used = stream.len - off < 4096 ? stream.len - off : 4096;
            q2api_amazonq_stream_feed(&as, stream.data + off, used, &used);

            total_out += out.len;
            q2api_buf_reset(&out);
        }

        q2api_amazonq_stream_finish(&as);
        q2api_claude_stream_finish(&cs);

        q2api_amazonq_stream_free(&as);
        q2api_claude_stream_free(&cs);
        q2api_buf_free(&out);
    }

    t = now() - t0;

    printf("stream: %.0f frames/s, %.1f MB/s of event stream in, "
           "%.1f MB/s of SSE out\n",
           rounds * 100000 / t, rounds * stream.len / t / 1e6,
           total_out / t / 1e6);

    q2api_request_free(&req);

    /* a Claude Code turn: a long system prompt, tools, a long history */
    n = snprintf(big, sizeof(big), "{\"model\":\"claude-sonnet-4-5\","
                 "\"max_tokens\":32000,\"stream\":true,\"system\":\"");
    for (i = 0; i < 30000; i++) {
        big[n++] = "abcdefghij "[i % 11];
    }
    n += snprintf(big + n, sizeof(big) - n, "\",\"tools\":[");
    for (i = 0; i < 20; i++) {
        n += snprintf(big + n, sizeof(big) - n,
                      "%s{\"name\":\"Tool%d\",\"description\":\"does %d\","
                      "\"input_schema\":{\"type\":\"object\",\"properties\":"
                      "{\"a\":{\"type\":\"string\"}}}}", i ? "," : "", i, i);
    }
    n += snprintf(big + n, sizeof(big) - n, "],\"messages\":[");
    for (i = 0; i < 200; i++) {
        n += snprintf(big + n, sizeof(big) - n,
                      "%s{\"role\":\"user\",\"content\":\"question %d with "
                      "some context around it, a few lines of code\"},"
                      "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
                      "\"text\":\"answer %d\"},{\"type\":\"tool_use\",\"id\":"
                      "\"t%d\",\"name\":\"Tool1\",\"input\":{\"a\":\"x\"}}]},"
                      "{\"role\":\"user\",\"content\":[{\"type\":"
                      "\"tool_result\",\"tool_use_id\":\"t%d\",\"content\":"
                      "\"result %d\"}]}", i ? "," : "", i, i, i, i, i);
    }
    n += snprintf(big + n, sizeof(big) - n,
                  ",{\"role\":\"user\",\"content\":\"go on\"}]}");

    rounds = 200;
    t0 = now();

    for (i = 0; i < rounds; i++) {
        q2api_request_init(&req);
        q2api_buf_init(&body, 0);

        if (q2api_claude_parse(&req, big, n, &err) != Q2API_OK) {
            printf("parse failed: %s\n", err.message);
            return 1;
        }

        memset(&opts, 0, sizeof(opts));
        opts.model_id = (q2api_str_t) q2api_str_lit("claude-sonnet-4.5");
        opts.now = time(NULL);

        q2api_amazonq_build(&req, &opts, &body, &err);

        used = body.len;
        q2api_buf_free(&body);
        q2api_request_free(&req);
    }

    t = now() - t0;

    printf("request: %d-byte Claude body (601 messages, 20 tools) -> "
           "%zu-byte Amazon Q body: %.2f ms each, %.1f MB/s\n",
           n, used, t / rounds * 1000, rounds * (double) n / t / 1e6);

    q2api_buf_free(&stream);

    return 0;
}
