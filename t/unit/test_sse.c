/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api_sse: the framing of events and comments, and the buffer ceiling.
 */


#include <stdint.h>

#include "tap.h"
#include "q2api_sse.h"


static void
test_sse(void)
{
    q2api_buf_t  b;

    q2api_buf_init(&b, 0);

    is_int(q2api_sse_event(&b, "message_stop", "{\"type\":\"message_stop\"}",
                           23), Q2API_OK, "sse event ok");
    is_mem(b.data, b.len,
           "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
           51, "sse event framing");

    q2api_buf_reset(&b);
    q2api_sse_event(&b, NULL, "{\"a\":1}", 7);
    is_mem(b.data, b.len, "data: {\"a\":1}\n\n", 15, "sse without a name");

    q2api_buf_reset(&b);
    q2api_sse_event(&b, "ping", "", 0);
    is_mem(b.data, b.len, "event: ping\ndata: \n\n", 20, "sse empty data");

    q2api_buf_reset(&b);
    q2api_sse_event(&b, "a", "1", 1);
    q2api_sse_event(&b, "b", "2", 1);
    is_mem(b.data, b.len, "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n", 36,
           "sse events follow each other");

    q2api_buf_reset(&b);
    is_int(q2api_sse_comment(&b, "keep-alive"), Q2API_OK, "comment ok");
    is_mem(b.data, b.len, ": keep-alive\n\n", 14, "sse comment framing");

    q2api_buf_free(&b);

    /* a full buffer: NOMEM, never a partial frame beyond the ceiling */
    q2api_buf_init(&b, 16);
    is_int(q2api_sse_event(&b, "message_stop", "{}", 2), Q2API_NOMEM,
           "sse over the ceiling");
    ok(b.len <= 16, "sse over the ceiling: bounded");
    q2api_buf_free(&b);
}


/* what a named event carries is passed through untouched */
static void
test_sse_bytes(void)
{
    q2api_buf_t  b;

    static const char  data[] = "{\"t\":\"\xc3\xa9\\n\"}";

    q2api_buf_init(&b, 0);

    q2api_sse_event(&b, "content_block_delta", data, sizeof(data) - 1);
    is_mem(b.data, b.len,
           "event: content_block_delta\ndata: {\"t\":\"\xc3\xa9\\n\"}\n\n",
           sizeof("event: content_block_delta\ndata: "
                  "{\"t\":\"\xc3\xa9\\n\"}\n\n") - 1,
           "data bytes as given");

    q2api_buf_free(&b);

    /* the ceiling exactly fits one frame */
    q2api_buf_init(&b, 20);
    is_int(q2api_sse_event(&b, "ping", "", 0), Q2API_OK,
           "a frame of exactly the ceiling");
    is_int(q2api_sse_comment(&b, "x"), Q2API_NOMEM,
           "a comment past the ceiling");
    ok(b.len <= 20, "comment past the ceiling: bounded");
    q2api_buf_free(&b);
}


int
main(void)
{
    test_sse();
    test_sse_bytes();

    return done_testing();
}
