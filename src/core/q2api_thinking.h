/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_THINKING_H_INCLUDED_
#define _Q2API_THINKING_H_INCLUDED_


#include "q2api_core.h"


/*
 * Amazon Q answers a thinking prompt with "<thinking>...</thinking>" inline
 * in its text.  This splits a text stream into text and thinking pieces as
 * chunks arrive.  A chunk may end inside a tag ("<", "<thi", "</thinkin");
 * those bytes are held back until the next chunk (or the end) decides what
 * they are, and are never dropped.
 */
typedef int (*q2api_thinking_emit_pt)(void *data, int thinking,
    const char *p, size_t len);

typedef struct {
    char       held[16];        /* a possible partial tag */
    size_t     nheld;
    unsigned   in_thinking:1;
} q2api_thinking_t;


void q2api_thinking_init(q2api_thinking_t *t);
int q2api_thinking_feed(q2api_thinking_t *t, const char *s, size_t len,
    q2api_thinking_emit_pt emit, void *data);
int q2api_thinking_finish(q2api_thinking_t *t, q2api_thinking_emit_pt emit,
    void *data);


#endif /* _Q2API_THINKING_H_INCLUDED_ */
