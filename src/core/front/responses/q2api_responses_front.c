/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The OpenAI Responses API as an entry of the front-end table.  Errors
 * and the model list are the Chat Completions front end's: the same
 * SDK reads both.
 */


#include "q2api_front.h"
#include "q2api_responses.h"
#include "q2api_openai.h"


static int
q2api_responses_front_init(void *state, q2api_buf_t *out,
    const q2api_request_t *req)
{
    return q2api_responses_stream_init(state, out, req);
}


static int
q2api_responses_front_finish(void *state)
{
    return q2api_responses_stream_finish(state);
}


static int
q2api_responses_front_error(void *state, q2api_err_e kind,
    const char *message)
{
    return q2api_responses_stream_error(state, kind, message);
}


static int
q2api_responses_front_ping(void *state)
{
    return q2api_responses_stream_ping(state);
}


static void
q2api_responses_front_free(void *state)
{
    q2api_responses_stream_free(state);
}


static int
q2api_responses_front_record(void *state, q2api_str_t *id,
    q2api_buf_t *items)
{
    return q2api_responses_record(state, id, items);
}


const q2api_front_t  q2api_responses_front = {
    "responses",
    "req_",
    "x-request-id",
    sizeof(q2api_responses_stream_t),
    q2api_responses_parse,
    q2api_responses_front_init,
    q2api_responses_stream_event,
    q2api_responses_front_finish,
    q2api_responses_front_error,
    q2api_responses_front_ping,
    q2api_responses_front_free,
    q2api_openai_error_status,
    q2api_openai_error_body,
    q2api_openai_model,
    q2api_openai_model_page,
    "/responses",
    NULL,
    NULL,
    NULL,
    0,
    NULL,
    q2api_responses_previous,
    q2api_responses_history,
    q2api_responses_front_record
};
