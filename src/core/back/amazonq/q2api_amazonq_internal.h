/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the files of the Amazon Q back end share, and nothing outside it
 * needs.
 */

#ifndef _Q2API_AMAZONQ_INTERNAL_H_INCLUDED_
#define _Q2API_AMAZONQ_INTERNAL_H_INCLUDED_


#include "q2api_amazonq.h"


/* string literals only: "" lit does not compile for a pointer */
#define q2api_put(b, lit)  q2api_buf_append(b, "" lit, sizeof(lit) - 1)

/* what stands for a turn that has no text of its own */
#define Q2API_AMAZONQ_CONTINUE    "Continue"


/* tool names and descriptions */

/* the client's name of a tool Amazon Q named "name" */
q2api_str_t q2api_amazonq_client_tool_name(const q2api_request_t *req,
    const char *name, size_t len);
int q2api_amazonq_tool_name_raw(q2api_buf_t *out, const q2api_str_t *name);
int q2api_amazonq_append_tool_name(q2api_buf_t *out,
    const q2api_str_t *name);
int q2api_amazonq_append_description(q2api_buf_t *out,
    const q2api_tool_t *t);


/* the text of a message, and of the current message */

/* text and thinking blocks, joined by "\n" */
int q2api_amazonq_message_text(const q2api_message_t *m, q2api_buf_t *text);
int q2api_amazonq_current_content(const q2api_request_t *req,
    const q2api_message_t *last, const q2api_amazonq_opts_t *opts,
    q2api_buf_t *content);


/*
 * An exception frame of the stream (its :exception-type and the message
 * of its payload): the canonical error, with its message in text.
 * Q2API_ERR_NONE: not a failure, the answer reached the output limit.
 */
q2api_err_e q2api_amazonq_exception_error(const q2api_str_t *type,
    const char *detail, char *text, size_t size);


#endif /* _Q2API_AMAZONQ_INTERNAL_H_INCLUDED_ */
