/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_SSE_H_INCLUDED_
#define _Q2API_SSE_H_INCLUDED_


#include "q2api_buf.h"


/*
 * Server-sent events as the SDKs parse them: one "event:" line when the
 * dialect names its events (Anthropic requires it), one "data:" line holding
 * compact JSON (Continue and LiteLLM read line by line), a blank line.
 */

/* "event: <name>\ndata: <data>\n\n"; name may be NULL (OpenAI) */
int q2api_sse_event(q2api_buf_t *out, const char *name, const void *data,
    size_t len);

/* ": <text>\n\n", ignored by every parser; a keep-alive */
int q2api_sse_comment(q2api_buf_t *out, const char *text);


#endif /* _Q2API_SSE_H_INCLUDED_ */
