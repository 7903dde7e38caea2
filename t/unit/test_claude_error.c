/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Errors in Anthropic's words: the error event in a stream, the error
 * types and envelope, and the calls the glue makes around them.
 */


#include "claude_check.h"


static void
test_error_event(void)
{
    int           rc;
    sse_msg_t     m;
    q2api_buf_t   want, out;

    static const step_t  st[] = {
        TEXT("partial"), ERR(Q2API_ERR_OVERLOADED, "Overloaded"),
        TEXT("ignored"), TOOL("t", "n"), END
    };

    static const step_t  quoted[] = {
        BEGIN, ERR(Q2API_ERR_INVALID_REQUEST, "prompt is too long: \"x\"\n"),
        END
    };

    static const step_t  nomsg[] = { BEGIN, ERR(Q2API_ERR_API, NULL), END };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"partial\"");
    w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
      "\"overloaded_error\",\"message\":\"Overloaded\"}}");

    q2api_buf_init(&out, 0);
    rc = run(st, 1, &out);
    is_int(rc, Q2API_OK, "error after text: ok");
    is_mem(out.data, out.len, want.data, want.len,
           "error after text: exact SSE, nothing after the error");
    ok(sse_parse(out.data, out.len, &m) == 0 && m.error != NULL,
       "error after text: well-formed, ends with the error");
    ok(sse_is_str(cJSON_GetObjectItem(m.error, "error"), "type",
                  "overloaded_error"), "error type from the kind");
    sse_msg_free(&m);

    /* stream: false leaves the error to the caller: nothing written */
    q2api_buf_reset(&out);
    rc = run(st, 0, &out);
    is_int(rc, Q2API_OK, "non-stream error: ok");
    is_int(out.len, 0, "non-stream error: nothing written");

    q2api_buf_reset(&out);
    q2api_buf_reset(&want);
    run(quoted, 1, &out);
    w_head(&want);
    w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
      "\"invalid_request_error\",\"message\":"
      "\"prompt is too long: \\\"x\\\"\\n\"}}");
    is_mem(out.data, out.len, want.data, want.len,
           "error message escaped");

    q2api_buf_reset(&out);
    q2api_buf_reset(&want);
    run(nomsg, 1, &out);
    w_head(&want);
    w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
      "\"api_error\",\"message\":\"upstream error\"}}");
    is_mem(out.data, out.len, want.data, want.len,
           "error without a message");

    q2api_buf_free(&out);
    q2api_buf_free(&want);
}


static void
test_misc(void)
{
    size_t                  i;
    q2api_buf_t             out, want;
    q2api_request_t         req;
    q2api_claude_stream_t   s;

    static const struct {
        q2api_err_e   kind;
        const char   *type;
    } types[] = {
        { Q2API_ERR_INVALID_REQUEST, "invalid_request_error" },
        { Q2API_ERR_METHOD, "invalid_request_error" },
        { Q2API_ERR_AUTHENTICATION, "authentication_error" },
        { Q2API_ERR_BILLING, "billing_error" },
        { Q2API_ERR_PERMISSION, "permission_error" },
        { Q2API_ERR_NOT_FOUND, "not_found_error" },
        { Q2API_ERR_TOO_LARGE, "request_too_large" },
        { Q2API_ERR_RATE_LIMIT, "rate_limit_error" },
        { Q2API_ERR_API, "api_error" },
        { Q2API_ERR_BAD_GATEWAY, "api_error" },
        { Q2API_ERR_UNAVAILABLE, "api_error" },
        { Q2API_ERR_TIMEOUT, "timeout_error" },
        { Q2API_ERR_OVERLOADED, "overloaded_error" }
    };

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        is_str(q2api_claude_error_type(types[i].kind), types[i].type,
               types[i].type);
    }

    /* the envelope, keys in the order Claude Code matches on */
    q2api_buf_init(&out, 0);
    q2api_claude_error_body(&out, Q2API_ERR_AUTHENTICATION,
                            "invalid x-api-key", "req_123");
    {
        static const char  body[] =
            "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\","
            "\"message\":\"invalid x-api-key\"},\"request_id\":\"req_123\"}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "error body with request_id");
    }

    q2api_buf_reset(&out);
    q2api_claude_error_body(&out, Q2API_ERR_OVERLOADED, "a\"b\xff", NULL);
    {
        static const char  body[] =
            "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
            "\"message\":\"a\\\"b\\ufffd\"}}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "error body without request_id, escaped");
    }

    /* the glue's calls: ping, error after the start, events after it */
    q2api_request_init(&req);
    req.model = (q2api_str_t) q2api_str_lit("claude-test");
    req.stream = 1;

    q2api_buf_reset(&out);
    q2api_claude_stream_init(&s, &out, &req);
    ok(strncmp(s.id, "msg_", 4) == 0 && strlen(s.id) == 28,
       "id is msg_ and 24 hex digits");
    memcpy(s.id, "msg_test", 9);
    s.input_tokens = 10;

    /* nothing may come before message_start: a ping starts the message */
    q2api_buf_init(&want, 0);
    w_head(&want);
    is_int(q2api_claude_stream_ping(&s), Q2API_OK, "ping");
    is_mem(out.data, out.len, want.data, want.len,
           "ping before anything: message_start, then the ping");
    q2api_buf_reset(&out);
    q2api_buf_reset(&want);

    is_int(q2api_claude_stream_ping(&s), Q2API_OK, "ping again");
    is_mem(out.data, out.len, "event: ping\ndata: {\"type\":\"ping\"}\n\n",
           35, "ping after the start: only the ping");
    q2api_buf_reset(&out);

    {
        q2api_event_t  ev;

        memset(&ev, 0, sizeof(ev));
        q2api_usage_init(&ev.usage);
        ev.type = Q2API_EV_TEXT;
        ev.text = (q2api_str_t) q2api_str_lit("x");
        q2api_claude_stream_event(&s, &ev);

        is_int(q2api_claude_stream_error(&s, Q2API_ERR_API, "gone"),
               Q2API_OK, "stream_error");
        is_int(q2api_claude_stream_error(&s, Q2API_ERR_API, "again"),
               Q2API_OK, "second stream_error");
        q2api_claude_stream_event(&s, &ev);
        is_int(q2api_claude_stream_finish(&s), Q2API_OK,
               "finish after the error");

        w_text(&want, 0);
        w_delta(&want, 0, "text_delta", "text", "\"x\"");
        w(&want, "error", "{\"type\":\"error\",\"error\":{\"type\":"
          "\"api_error\",\"message\":\"gone\"}}");
        is_mem(out.data, out.len, want.data, want.len,
               "one error, nothing after it");
        q2api_buf_free(&want);
    }

    q2api_claude_stream_free(&s);

    /* stream: false: ping writes nothing */
    req.stream = 0;
    q2api_buf_reset(&out);
    q2api_claude_stream_init(&s, &out, &req);
    q2api_claude_stream_ping(&s);
    is_int(out.len, 0, "non-stream ping writes nothing");
    q2api_claude_stream_free(&s);

    /* the estimate reaches message_start */
    q2api_request_free(&req);

    if (accepts(&req, BODY("'stream':true,'system':'0123456789abcdef',"
                           "'messages':[{'role':'user','content':'abcd'}]"),
                "estimate body") == Q2API_OK)
    {
        q2api_buf_reset(&out);
        q2api_claude_stream_init(&s, &out, &req);
        q2api_claude_stream_finish(&s);
        q2api_buf_append_byte(&out, '\0');
        ok(strstr((char *) out.data, "\"usage\":{\"input_tokens\":5,") != NULL,
           "message_start carries the request estimate");
        q2api_claude_stream_free(&s);
    }

    q2api_request_free(&req);
    q2api_buf_free(&out);
}


/* many blocks: the stream: false block array grows */


int
main(void)
{
    test_error_event();
    test_misc();

    return done_testing();
}
