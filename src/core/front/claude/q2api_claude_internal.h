/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the files of the Claude front end share, and nothing outside it
 * needs: the blocks a stream: false reply keeps, and the helpers that
 * request parsing and reply writing each use from more than one file.
 */

#ifndef _Q2API_CLAUDE_INTERNAL_H_INCLUDED_
#define _Q2API_CLAUDE_INTERNAL_H_INCLUDED_


#include <cjson/cJSON.h>

#include "q2api_claude.h"
#include "q2api_nul.h"


#define Q2API_CLAUDE_BLOCK_NONE      0
#define Q2API_CLAUDE_BLOCK_TEXT      1
#define Q2API_CLAUDE_BLOCK_THINKING  2
#define Q2API_CLAUDE_BLOCK_TOOL      3
#define Q2API_CLAUDE_BLOCK_REDACTED  4


struct q2api_claude_block_s {
    int             type;
    q2api_buf_t     text;         /* text, thinking, or tool input JSON */
    q2api_buf_t     signature;
    char           *id;
    char           *name;
};


/* request parsing */

int q2api_claude_parse_system(q2api_request_t *req, cJSON *system,
    const char *path, q2api_error_t *err);
int q2api_claude_parse_message(q2api_request_t *req, cJSON *msg, int i,
    q2api_error_t *err);


/* the reply */

/* {"input_tokens":...,"output_tokens":...} into s->scratch; full: the
 * final figures rather than message_start's */
int q2api_claude_write_usage(q2api_claude_stream_t *s, int full);
const char *q2api_claude_stop_reason(q2api_claude_stream_t *s);

/* stream: false -- the whole message into s->out */
int q2api_claude_write_message(q2api_claude_stream_t *s);


#endif /* _Q2API_CLAUDE_INTERNAL_H_INCLUDED_ */
