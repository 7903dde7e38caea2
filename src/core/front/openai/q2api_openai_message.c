/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The reply of a stream: false call: one chat.completion holding what the
 * chunks would have carried, so that a client accumulating the stream
 * ends with the same message.
 */


#include "q2api_openai.h"
#include "q2api_openai_internal.h"
#include "q2api_json.h"


#define q2api_openai_put(b, lit)                                           \
    q2api_buf_append(b, "" lit, sizeof(lit) - 1)


static int q2api_openai_write_calls(q2api_openai_stream_t *s);


int
q2api_openai_write_completion(q2api_openai_stream_t *s)
{
    q2api_buf_t  *b;

    b = s->out;

    if (q2api_openai_put(b, "{\"id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->id) != Q2API_OK
        || q2api_openai_put(b, "\",\"object\":\"chat.completion\","
                               "\"created\":") != Q2API_OK
        || q2api_json_append_int(b, s->created) != Q2API_OK
        || q2api_openai_put(b, ",\"model\":") != Q2API_OK
        || q2api_json_append_string(b, s->model.data, s->model.len)
           != Q2API_OK
        || q2api_openai_put(b, ",\"choices\":[{\"index\":0,\"message\":"
                               "{\"role\":\"assistant\",\"content\":")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    /* null, not "", when the answer is only tool calls */
    if ((s->content.len
         ? q2api_json_append_string(b, (char *) s->content.data,
                                    s->content.len)
         : q2api_openai_put(b, "null")) != Q2API_OK
        || q2api_openai_put(b, ",\"refusal\":null") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (s->reasoning.len
        && (q2api_openai_put(b, ",\"reasoning_content\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->reasoning.data,
                                        s->reasoning.len) != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (q2api_openai_write_calls(s) != Q2API_OK
        || q2api_openai_put(b, "},\"logprobs\":null,\"finish_reason\":\"")
           != Q2API_OK
        || q2api_buf_append_str(b, q2api_openai_finish_reason(s)) != Q2API_OK
        || q2api_openai_put(b, "\"}],\"usage\":") != Q2API_OK
        || q2api_openai_write_usage(s, b) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* "tool_calls":[...] or, for legacy functions, "function_call":{...} */
static int
q2api_openai_write_calls(q2api_openai_stream_t *s)
{
    int                   i;
    q2api_buf_t          *b;
    q2api_openai_call_t  *c;

    b = s->out;

    if (s->ncalls == 0) {
        return Q2API_OK;
    }

    if (s->legacy) {
        c = &s->calls[0];

        if (q2api_openai_put(b, ",\"function_call\":{\"name\":") != Q2API_OK
            || q2api_json_append_string(b, c->name, strlen(c->name))
               != Q2API_OK
            || q2api_openai_put(b, ",\"arguments\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) c->arguments.data,
                                        c->arguments.len) != Q2API_OK
            || q2api_buf_append_byte(b, '}') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return Q2API_OK;
    }

    if (q2api_openai_put(b, ",\"tool_calls\":[") != Q2API_OK) {
        return Q2API_NOMEM;
    }

    for (i = 0; i < s->ncalls; i++) {
        c = &s->calls[i];

        if ((i > 0 && q2api_buf_append_byte(b, ',') != Q2API_OK)
            || q2api_openai_put(b, "{\"id\":") != Q2API_OK
            || q2api_json_append_string(b, c->id, strlen(c->id)) != Q2API_OK
            || q2api_openai_put(b, ",\"type\":\"function\",\"function\":"
                                   "{\"name\":") != Q2API_OK
            || q2api_json_append_string(b, c->name, strlen(c->name))
               != Q2API_OK
            || q2api_openai_put(b, ",\"arguments\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) c->arguments.data,
                                        c->arguments.len) != Q2API_OK
            || q2api_openai_put(b, "}}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    return q2api_buf_append_byte(b, ']');
}
