/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Anthropic Messages front end: client body -> q2api_request_t, and
 * canonical events -> Messages SSE (stream: true) or one message JSON
 * (stream: false).
 */

#ifndef _Q2API_CLAUDE_H_INCLUDED_
#define _Q2API_CLAUDE_H_INCLUDED_


#include "q2api_buf.h"
#include "q2api_canon.h"


/* parses and validates a Messages request body; on failure err says what
 * is wrong in Anthropic's "<field>: <problem>" style */
int q2api_claude_parse(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err);

/*
 * count_tokens without building the request: *tokens is what
 * q2api_request_estimate_tokens() gives for the request q2api_claude_parse()
 * would build.  Q2API_OK, or Q2API_ERROR for a body this pass does not
 * count (one the full parse refuses, or cannot be sure of): parse it then.
 */
int q2api_claude_count(const char *body, size_t len, long long *tokens);

/* {"type":"error","error":{"type":...,"message":...},"request_id":...} */
int q2api_claude_error_body(q2api_buf_t *out, q2api_err_e kind,
    const char *message, const char *request_id);
const char *q2api_claude_error_type(q2api_err_e kind);


typedef struct q2api_claude_block_s  q2api_claude_block_t;

typedef struct {
    q2api_buf_t            *out;        /* the bytes for the client */
    q2api_buf_t             scratch;    /* one event's JSON */

    char                    id[32];     /* msg_<hex> */
    q2api_str_t             model;      /* echoed as the client sent it */
    long long               input_tokens;
    size_t                  output_bytes;
    q2api_usage_t           usage;      /* the backend's figures */
    q2api_stop_e            stop;

    int                     open;       /* type of the open block */
    int                     nblocks;    /* blocks started so far */

    unsigned                stream:1;
    unsigned                started:1;
    unsigned                finished:1;
    unsigned                had_tool:1;

    /* stream: false keeps the blocks until the end */
    q2api_claude_block_t   *blocks;
    int                     nalloc;
} q2api_claude_stream_t;


int q2api_claude_stream_init(q2api_claude_stream_t *s, q2api_buf_t *out,
    const q2api_request_t *req);
void q2api_claude_stream_free(q2api_claude_stream_t *s);

/* the q2api_event_handler_pt of this front end */
int q2api_claude_stream_event(void *data, const q2api_event_t *ev);

/* the normal end: closes the open block, message_delta, message_stop (or,
 * for stream: false, writes the whole message) */
int q2api_claude_stream_finish(q2api_claude_stream_t *s);

/* an error after the response started: "event: error" (the stream then
 * ends); returns Q2API_OK */
int q2api_claude_stream_error(q2api_claude_stream_t *s, q2api_err_e kind,
    const char *message);

/* event: ping */
int q2api_claude_stream_ping(q2api_claude_stream_t *s);


#endif /* _Q2API_CLAUDE_H_INCLUDED_ */
