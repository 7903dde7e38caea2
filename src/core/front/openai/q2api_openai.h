/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The OpenAI Chat Completions front end: a client body -> q2api_request_t,
 * and canonical events -> chat.completion.chunk SSE (stream: true) or one
 * chat.completion JSON (stream: false).
 */

#ifndef _Q2API_OPENAI_H_INCLUDED_
#define _Q2API_OPENAI_H_INCLUDED_


#include "q2api_buf.h"
#include "q2api_canon.h"
#include "q2api_models.h"


/* parses and validates a Chat Completions body; on failure err says what
 * is wrong as "<field>: <problem>" (the field becomes the error's param) */
int q2api_openai_parse(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err);

/* {"error":{"message","type","param","code"}} */
int q2api_openai_error_body(q2api_buf_t *out, q2api_err_e kind,
    const char *message, const char *request_id);
int q2api_openai_error_status(q2api_err_e kind);

/* one model and the unpaged list, as GET .../models answers OpenAI's SDK
 * (the Responses front end lists models the same way) */
int q2api_openai_model(q2api_buf_t *out, const q2api_model_t *m);
int q2api_openai_model_page(q2api_buf_t *out, const q2api_model_t **list,
    size_t first, size_t last, int more);


typedef struct q2api_openai_call_s  q2api_openai_call_t;

typedef struct {
    q2api_buf_t            *out;        /* the bytes for the client */
    q2api_buf_t             scratch;    /* one chunk's JSON */

    char                    id[40];     /* chatcmpl-<hex> */
    long long               created;    /* the same in every chunk */
    q2api_str_t             model;      /* echoed as the client sent it */
    long long               input_tokens;
    size_t                  output_bytes;
    size_t                  reasoning_bytes;
    q2api_usage_t           usage;      /* the backend's figures */
    q2api_stop_e            stop;

    int                     ncalls;     /* tool calls started */
    size_t                  call_bytes; /* the open call's arguments */

    unsigned                stream:1;
    unsigned                include_usage:1;
    unsigned                legacy:1;   /* functions: one function_call */
    unsigned                started:1;
    unsigned                finished:1;
    unsigned                call_open:1;

    /* stream: false keeps the reply until the end */
    q2api_buf_t             content;
    q2api_buf_t             reasoning;
    q2api_openai_call_t    *calls;
    int                     nalloc;
} q2api_openai_stream_t;


int q2api_openai_stream_init(q2api_openai_stream_t *s, q2api_buf_t *out,
    const q2api_request_t *req);
void q2api_openai_stream_free(q2api_openai_stream_t *s);

/* the q2api_event_handler_pt of this front end */
int q2api_openai_stream_event(void *data, const q2api_event_t *ev);

/* the normal end: the finish_reason chunk, the usage chunk if asked for,
 * "data: [DONE]" (or, for stream: false, the whole chat.completion) */
int q2api_openai_stream_finish(q2api_openai_stream_t *s);

/* an error after the response started: a data: {"error":{...}} chunk,
 * which the SDKs raise as an APIError; the stream then ends */
int q2api_openai_stream_error(q2api_openai_stream_t *s, q2api_err_e kind,
    const char *message);

/* ": keep-alive", a comment every parser skips */
int q2api_openai_stream_ping(q2api_openai_stream_t *s);


#endif /* _Q2API_OPENAI_H_INCLUDED_ */
