/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The OpenAI Responses API front end (POST .../responses): a client body
 * -> q2api_request_t, and canonical events -> the response.* event
 * stream (stream: true) or one Response object (stream: false).  Errors
 * are OpenAI's envelope, shared with the Chat Completions front end.
 */

#ifndef _Q2API_RESPONSES_H_INCLUDED_
#define _Q2API_RESPONSES_H_INCLUDED_


#include "q2api_buf.h"
#include "q2api_canon.h"


/* parses and validates a Responses body; err as "<field>: <problem>" */
int q2api_responses_parse(q2api_request_t *req, const char *body,
    size_t len, q2api_error_t *err);

/*
 * previous_response_id: the id the request continues (a zero length if
 * none).  Q2API_ERROR and err if it is not an id this gateway could have
 * made: it is looked up and quoted back.
 */
int q2api_responses_previous(const q2api_request_t *req, q2api_str_t *id,
    q2api_error_t *err);

/*
 * The items a stored reply kept (a JSON array, as record() wrote it)
 * go before the request's own input, as OpenAI's previous_response_id
 * does.
 */
int q2api_responses_history(q2api_request_t *req, const char *items,
    size_t len, q2api_error_t *err);


typedef enum {
    Q2API_RESPONSES_ITEM_NONE = 0,
    Q2API_RESPONSES_ITEM_MESSAGE,
    Q2API_RESPONSES_ITEM_REASONING,
    Q2API_RESPONSES_ITEM_FUNCTION,
    Q2API_RESPONSES_ITEM_CUSTOM
} q2api_responses_item_e;


typedef struct {
    q2api_buf_t              *out;        /* the bytes for the client */
    q2api_buf_t               scratch;    /* one event's JSON */
    q2api_buf_t               items;      /* finished items, ","-joined */
    q2api_buf_t               echo;       /* the request fields a Response
                                             repeats, from ,"instructions" */
    q2api_buf_t               text;       /* the open item's text, summary,
                                             arguments or input */
    q2api_buf_t               signature;  /* the open reasoning's */
    q2api_buf_t               call_id;
    q2api_buf_t               name;

    const q2api_request_t    *req;
    char                      id[32];     /* resp_<hex> */
    char                      item_id[40];
    long long                 created;
    long long                 seq;        /* the next sequence_number */
    int                       index;      /* the open item's output_index */
    q2api_responses_item_e    item;       /* the open item */
    int                       ncalls;

    long long                 input_tokens;
    size_t                    output_bytes;
    size_t                    reasoning_bytes;
    q2api_usage_t             usage;
    q2api_stop_e              stop;

    unsigned                  stream:1;
    unsigned                  encrypted:1; /* include asks for signatures */
    unsigned                  store:1;
    unsigned                  started:1;
    unsigned                  finished:1;
    unsigned                  failed:1;
} q2api_responses_stream_t;


int q2api_responses_stream_init(q2api_responses_stream_t *s,
    q2api_buf_t *out, const q2api_request_t *req);
void q2api_responses_stream_free(q2api_responses_stream_t *s);

/* the q2api_event_handler_pt of this front end */
int q2api_responses_stream_event(void *data, const q2api_event_t *ev);

/* response.completed (or .incomplete, or .failed for a context that
 * overflowed); with stream: false, the whole Response into out */
int q2api_responses_stream_finish(q2api_responses_stream_t *s);

/* an error after the first byte: an "error" event, then response.failed */
int q2api_responses_stream_error(q2api_responses_stream_t *s,
    q2api_err_e kind, const char *message);

/* ": keep-alive", a comment both the SDK and Codex skip */
int q2api_responses_stream_ping(q2api_responses_stream_t *s);

/*
 * After a reply that went well and that the client let be stored: its
 * id, and a JSON array of the request's input items and the reply's
 * output items, which q2api_responses_history() takes back.  A
 * zero-length id when the request said store: false or the reply failed.
 */
int q2api_responses_record(q2api_responses_stream_t *s, q2api_str_t *id,
    q2api_buf_t *items);


#endif /* _Q2API_RESPONSES_H_INCLUDED_ */
