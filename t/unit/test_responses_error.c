/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Responses failures: before the first byte, OpenAI's envelope through
 * the front-end table; after it, an "error" event and response.failed
 * whose code Codex acts on, with the items already done kept and the open
 * one dropped; and the table entry itself (name, path, hooks).
 */


#include "responses_check.h"
#include "q2api_front.h"


static void
test_table(void)
{
    cJSON                *j, *e;
    q2api_buf_t           b;
    const q2api_front_t  *f;

    f = q2api_front_find("responses", 9);

    if (!ok(f != NULL, "the table has \"responses\"")) {
        return;
    }

    is_str(f->messages_path, "/responses", "its path");
    ok(f->count_tokens_path == NULL && f->markers == NULL,
       "no count_tokens, no markers");
    ok(f->previous && f->history && f->record,
       "it stores replies: previous, history, record");
    ok(q2api_front_find("openai", 6)->record == NULL
       && q2api_front_find("claude", 6)->record == NULL,
       "the other dialects store nothing");
    is_int(f->stream_size, sizeof(q2api_responses_stream_t), "state size");
    is_int(f->error_status(Q2API_ERR_OVERLOADED), 503, "529 is OpenAI's 503");
    is_int(f->error_status(Q2API_ERR_CONTEXT_EXCEEDED), 400,
           "context exceeded: 400");

    q2api_buf_init(&b, 0);
    f->error_body(&b, Q2API_ERR_INVALID_REQUEST,
                  "previous_response_id: Previous response with id "
                  "'resp_1' not found.", "req_1");
    j = cJSON_ParseWithLength((char *) b.data, b.len);
    e = cJSON_GetObjectItem(j, "error");
    ok(strcmp(rs_str(e, "type"), "invalid_request_error") == 0
       && strcmp(rs_str(e, "param"), "previous_response_id") == 0
       && strcmp(rs_str(j, "request_id"), "req_1") == 0,
       "an unknown id: OpenAI's envelope naming previous_response_id");
    cJSON_Delete(j);
    q2api_buf_free(&b);
}


static void
test_codes(void)
{
    is_str(q2api_responses_error_code(Q2API_ERR_CONTEXT_EXCEEDED),
           "context_length_exceeded", "context: no retry in Codex");
    is_str(q2api_responses_error_code(Q2API_ERR_RATE_LIMIT),
           "rate_limit_exceeded", "rate limit");
    is_str(q2api_responses_error_code(Q2API_ERR_BILLING),
           "insufficient_quota", "quota: no retry in Codex");
    is_str(q2api_responses_error_code(Q2API_ERR_BAD_GATEWAY),
           "server_error", "others: server_error");
}


static void
test_after_first_byte(void)
{
    q2api_buf_t   sse, rec;
    rs_replay_t   r;

    static const step_t  script[] = {
        TEXT("done part"), TOOL("t1", "f"), INPUT("{\"a\":"),
        ERR(Q2API_ERR_UNAVAILABLE, "upstream went away"), END
    };
    static const step_t  early[] = {
        ERR(Q2API_ERR_RATE_LIMIT, "slow down"), END
    };

    q2api_buf_init(&sse, 0);
    q2api_buf_init(&rec, 0);
    rs_run(script, "{'model':'m','stream':true,'input':'hi'}", &sse, &rec);

    if (!ok(rs_replay(&sse, &r) == 0, "a failed stream replays")) {
        diag("%s", r.why);
    }

    ok(r.error != NULL
       && strcmp(rs_str(r.error, "code"), "server_error") == 0
       && strcmp(rs_str(r.error, "message"), "upstream went away") == 0,
       "an error event with code and message");
    ok(strcmp(r.terminal, "response.failed") == 0
       && strcmp(rs_str(cJSON_GetObjectItem(r.response, "error"),
                        "message"), "upstream went away") == 0
       && strcmp(rs_str(r.response, "status"), "failed") == 0,
       "then response.failed with the error");
    is_int(cJSON_GetArraySize(r.output), 1,
           "the finished message is kept, the half call dropped");
    is_int(rec.len, 0, "a failed reply is not stored");
    rs_replay_free(&r);
    q2api_buf_free(&sse);
    q2api_buf_free(&rec);

    /* an error as the first event still opens with response.created */
    q2api_buf_init(&sse, 0);
    rs_run(early, "{'model':'m','stream':true,'input':'hi'}", &sse, NULL);
    ok(rs_replay(&sse, &r) == 0 && r.events == 4
       && strcmp(rs_str(r.error, "code"), "rate_limit_exceeded") == 0,
       "an error first: created, in_progress, error, failed");
    rs_replay_free(&r);
    q2api_buf_free(&sse);

    /* stream: false writes nothing: the glue answers with the envelope */
    q2api_buf_init(&sse, 0);
    rs_run(script, "{'model':'m','input':'hi'}", &sse, NULL);
    is_int(sse.len, 0, "stream false: no bytes of its own");
    q2api_buf_free(&sse);
}


int
main(void)
{
    test_table();
    test_codes();
    test_after_first_byte();

    return done_testing();
}
