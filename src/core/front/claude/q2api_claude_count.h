/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * count_tokens in one pass (q2api_claude_count.c, and its content blocks
 * in q2api_claude_count_block.c): what the two files share.
 */

#ifndef _Q2API_CLAUDE_COUNT_H_INCLUDED_
#define _Q2API_CLAUDE_COUNT_H_INCLUDED_


#include "q2api_claude.h"
#include "q2api_json_scan.h"


/* text joined as q2api_request_append_text() joins the system prompt */
typedef struct {
    size_t                 len;
    size_t                 pieces;
    size_t                 seps;      /* pieces after a non-empty one */
    unsigned               nonempty:1;
} q2api_claude_text_t;


/* a content block, read before its message's role may be known */
typedef struct {
    size_t                 bytes;     /* its estimate as a message block */
    size_t                 sys_len;   /* its text as a system block */
    unsigned               ok:1;      /* the full parse takes it as one */
    unsigned               sys:1;     /* ... and as a system text block */
} q2api_claude_piece_t;


/* a message's content array, read the same way */
typedef struct {
    size_t                 bytes;
    q2api_claude_text_t    system;
    unsigned               ok:1;
    unsigned               sys:1;
} q2api_claude_content_t;


typedef struct {
    q2api_json_scan_t      s;
    size_t                 bytes;     /* all but the system prompt */
    q2api_claude_text_t    system;    /* "system" */
    q2api_claude_text_t    later;     /* messages with the role "system" */
    unsigned               nmessages;
    unsigned               ntools;
    unsigned               nserver_tools;
} q2api_claude_count_t;


void q2api_claude_text_add(q2api_claude_text_t *t, size_t len);

/* the scanned string is lit, byte for byte */
int q2api_claude_is(const q2api_json_field_t *f, const char *lit);

/* a string's length decoded, 0 for anything else */
size_t q2api_claude_len(const q2api_json_field_t *f);

/* absent or null, as the full parse treats both */
int q2api_claude_absent(const q2api_json_field_t *f);

int q2api_claude_count_key(q2api_json_scan_t *s, const char *const *names,
    unsigned *seen, int *which);
int q2api_claude_count_fields(q2api_json_scan_t *s, const char *const *names,
    q2api_json_field_t *f, int wanted, size_t *printed);

/* a content array: each block read as a message's and as a system one */
int q2api_claude_count_content(q2api_claude_count_t *c,
    q2api_claude_content_t *content);


#endif /* _Q2API_CLAUDE_COUNT_H_INCLUDED_ */
