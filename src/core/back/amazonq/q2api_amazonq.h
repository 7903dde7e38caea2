/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Amazon Q / Kiro back end (GenerateAssistantResponse): canonical
 * request -> AWS JSON 1.0 body, and AWS event stream -> canonical events.
 */

#ifndef _Q2API_AMAZONQ_H_INCLUDED_
#define _Q2API_AMAZONQ_H_INCLUDED_


#include <time.h>

#include "q2api_buf.h"
#include "q2api_canon.h"
#include "q2api_eventstream.h"
#include "q2api_thinking.h"


/* Amazon Q's own limits on tools */
#define Q2API_AMAZONQ_TOOL_NAME_MAX   64
#define Q2API_AMAZONQ_TOOL_DESC_MAX   10240


/* the styles of account this back end serves (q2api_back_opts_t) */
#define Q2API_AMAZONQ_FLAVOUR_Q      0   /* Amazon Q Developer, KIRO_CLI */
#define Q2API_AMAZONQ_FLAVOUR_KIRO   1   /* the Kiro IDE's AI_EDITOR */


typedef struct {
    q2api_str_t              model_id;      /* the upstream modelId */
    q2api_str_t              profile_arn;   /* IdC / Kiro accounts */
    const char              *origin;        /* NULL: "KIRO_CLI" */
    time_t                   now;           /* for the context entry */
} q2api_amazonq_opts_t;


int q2api_amazonq_build(const q2api_request_t *req,
    const q2api_amazonq_opts_t *opts, q2api_buf_t *out, q2api_error_t *err);


typedef struct {
    q2api_es_decoder_t       es;
    q2api_event_handler_pt   handler;
    void                    *data;
    const q2api_request_t   *req;           /* for tool names */
    q2api_thinking_t         thinking;

    long long                context_window;  /* tokens, for the % event */

    q2api_buf_t              tool_id;       /* the open tool, if any */
    q2api_buf_t              seen_tools;    /* ids that ended, "\0"-joined */
    q2api_buf_t              scratch;       /* a string with escapes */
    size_t                   frames;

    unsigned                 begun:1;
    unsigned                 tool_open:1;
    unsigned                 tool_has_input:1;
    unsigned                 ended:1;       /* an error event was sent */
    unsigned                 parse_thinking:1;
} q2api_amazonq_stream_t;


/* req may be NULL (no tool names to restore, no thinking tags to parse) */
void q2api_amazonq_stream_init(q2api_amazonq_stream_t *s,
    const q2api_request_t *req, q2api_event_handler_pt handler, void *data);

/*
 * The name Amazon Q is given for a client tool name: it accepts
 * ^[a-zA-Z][a-zA-Z0-9_]*$ up to 64 characters, while MCP tools are named
 * "mcp__server__do-thing" and may be longer.  A changed name gets a hash of
 * the original so that two tools never collide; replies are mapped back.
 * out must hold Q2API_AMAZONQ_TOOL_NAME_MAX + 1 bytes; returns the length.
 */
size_t q2api_amazonq_tool_name(const char *name, size_t len, char *out);
void q2api_amazonq_stream_free(q2api_amazonq_stream_t *s);

/*
 * Decodes every complete message in "in" and delivers its events.  Returns
 * Q2API_OK when all input was used, a Q2API_ES_E* error for a corrupt
 * stream, or the handler's error.  *consumed says how much input was used
 * (all of it unless an error stopped the decoding).
 */
int q2api_amazonq_stream_feed(q2api_amazonq_stream_t *s,
    const unsigned char *in, size_t len, size_t *consumed);

/* end of the upstream body: Q2API_OK, or Q2API_ES_ETRUNCATED when it ended
 * inside a message */
int q2api_amazonq_stream_finish(q2api_amazonq_stream_t *s);


/* an upstream error response (HTTP status + JSON body), for the client
 * and for account health */
void q2api_amazonq_classify(int status, const char *body, size_t len,
    q2api_upstream_error_t *ue);


#endif /* _Q2API_AMAZONQ_H_INCLUDED_ */
