/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the files of the OpenAI front end share and nothing outside it
 * needs: the parse context, the tool calls a stream: false reply keeps,
 * and the helpers more than one file uses.
 */

#ifndef _Q2API_OPENAI_INTERNAL_H_INCLUDED_
#define _Q2API_OPENAI_INTERNAL_H_INCLUDED_


#include <cjson/cJSON.h>

#include "q2api_openai.h"


struct q2api_openai_call_s {
    char           *id;
    char           *name;
    q2api_buf_t     arguments;    /* the JSON string's fragments */
};


typedef struct {
    q2api_request_t   *req;
    q2api_error_t     *err;

    /*
     * A legacy function_call has no id, and the "function" message that
     * answers it names only the function: the last call's made-up id
     * pairs them.
     */
    q2api_str_t        legacy_id;
} q2api_openai_parse_t;


/* null counts as absent, as the SDKs send it for unset fields */
#define q2api_openai_given(item)  ((item) != NULL && !cJSON_IsNull(item))


/* request parsing: one message of messages[], i its index */
int q2api_openai_parse_message(q2api_openai_parse_t *p, cJSON *msg, int i);

/* tools, functions, tool_choice, function_call, parallel_tool_calls */
int q2api_openai_parse_tools(q2api_openai_parse_t *p, cJSON *root);

/*
 * Shared with the Responses front end, whose function tools, images and
 * reasoning.effort have the same shape: one function {"name",
 * "description","parameters"}; one image part whose "image_url" is a
 * data URL or {"url"}; reasoning_effort or reasoning.effort.
 */
int q2api_openai_parse_tool(q2api_openai_parse_t *p, cJSON *fn,
    const char *path);
int q2api_openai_parse_image(q2api_openai_parse_t *p, q2api_message_t *m,
    cJSON *part, const char *path);
int q2api_openai_parse_reasoning(q2api_openai_parse_t *p, cJSON *root);

/* optional fields: a number in [min, max], a positive integer */
int q2api_openai_number(q2api_openai_parse_t *p, cJSON *root,
    const char *name, double min, double max, double *out);
int q2api_openai_count(q2api_openai_parse_t *p, cJSON *root,
    const char *name, long long *out);

/* a reply format ({"type"}, and a json_schema's name and schema in spec) */
int q2api_openai_format(q2api_openai_parse_t *p, cJSON *item, cJSON *spec,
    const char *path, const char *spec_path);

/* one tool call into m: id (may be NULL) and {"name","arguments"} */
int q2api_openai_parse_call(q2api_openai_parse_t *p, q2api_message_t *m,
    cJSON *id, cJSON *fn, const char *path);

/* does the request use the legacy functions rather than tools? */
int q2api_openai_legacy(const q2api_request_t *req);

/* the reply's token figures from the back end's (or estimates); the
 * Responses front end reports the same */
void q2api_openai_usage_counts(const q2api_usage_t *u,
    long long input_estimate, size_t output_bytes, size_t reasoning_bytes,
    long long *in, long long *out, long long *reasoning);

/* the reply: the usage object (chat.completion and the usage chunk) */
int q2api_openai_write_usage(q2api_openai_stream_t *s, q2api_buf_t *b);
const char *q2api_openai_finish_reason(q2api_openai_stream_t *s);

/* stream: false -- the whole chat.completion into s->out */
int q2api_openai_write_completion(q2api_openai_stream_t *s);


#endif /* _Q2API_OPENAI_INTERNAL_H_INCLUDED_ */
