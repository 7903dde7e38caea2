/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the files of the Responses front end share: the parse context is
 * the Chat Completions one (its helpers for tools, images and reasoning
 * are reused), the input items, and the writers of output items and of
 * the Response object.
 */

#ifndef _Q2API_RESPONSES_INTERNAL_H_INCLUDED_
#define _Q2API_RESPONSES_INTERNAL_H_INCLUDED_


#include <cjson/cJSON.h>

#include "q2api_responses.h"
#include "q2api_openai_internal.h"


/*
 * A freeform ("custom") tool reaches the back ends as a function taking
 * one string, and its call comes back unwrapped from it.
 */
#define Q2API_RESPONSES_CUSTOM_SCHEMA                                      \
    "{\"type\":\"object\",\"properties\":{\"input\":{\"type\":\"string\","  \
    "\"description\":\"The tool's whole input as plain text, not JSON\"}}," \
    "\"required\":[\"input\"]}"


/* input: a string (one user message) or an array of items; path names
 * it in errors ("input", or "previous_response_id" for stored ones) */
int q2api_responses_parse_input(q2api_openai_parse_t *p, cJSON *input,
    const char *path);

/* tools, tool_choice, parallel_tool_calls */
int q2api_responses_parse_tools(q2api_openai_parse_t *p, cJSON *root);

/* is name one of the request's custom (freeform) tools? */
int q2api_responses_custom(const q2api_request_t *req, const char *name,
    size_t len);

/* the request fields every Response repeats, into s->echo */
int q2api_responses_echo(q2api_responses_stream_t *s);

/* the Response object with status and the finished items as its output;
 * usage only when final; error {code, message} when failed */
int q2api_responses_write_response(q2api_responses_stream_t *s,
    q2api_buf_t *b, const char *status, int final, const char *code,
    const char *message);

/* the error code a failure carries in response.failed */
const char *q2api_responses_error_code(q2api_err_e kind);


#endif /* _Q2API_RESPONSES_INTERNAL_H_INCLUDED_ */
