/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_BUF_H_INCLUDED_
#define _Q2API_BUF_H_INCLUDED_


#include "q2api_core.h"


/*
 * A growable byte buffer with a hard ceiling.  The stream path reuses one
 * per response (reset after its bytes are handed on), so memory per stream
 * stays bounded by "max" whatever the length of the response.
 */
typedef struct {
    unsigned char  *data;
    size_t          len;
    size_t          cap;
    size_t          max;        /* 0: no ceiling */
} q2api_buf_t;


void q2api_buf_init(q2api_buf_t *b, size_t max);
int q2api_buf_reserve(q2api_buf_t *b, size_t n);
int q2api_buf_append(q2api_buf_t *b, const void *p, size_t n);
int q2api_buf_append_str(q2api_buf_t *b, const char *s);
int q2api_buf_append_byte(q2api_buf_t *b, unsigned char c);
void q2api_buf_consume(q2api_buf_t *b, size_t n);
void q2api_buf_free(q2api_buf_t *b);

#define q2api_buf_reset(b)  ((b)->len = 0)


#endif /* _Q2API_BUF_H_INCLUDED_ */
