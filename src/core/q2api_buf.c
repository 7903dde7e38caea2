/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdlib.h>

#include "q2api_buf.h"


void
q2api_buf_init(q2api_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}


int
q2api_buf_reserve(q2api_buf_t *b, size_t n)
{
    size_t          need, cap;
    unsigned char  *p;

    if (n > SIZE_MAX - b->len) {
        return Q2API_NOMEM;
    }

    need = b->len + n;

    if (need <= b->cap) {
        return Q2API_OK;
    }

    if (b->max && need > b->max) {
        return Q2API_NOMEM;
    }

    cap = b->cap ? b->cap : 256;

    while (cap < need) {
        cap = (cap > SIZE_MAX / 2) ? need : cap * 2;
    }

    if (b->max && cap > b->max) {
        cap = b->max;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        return Q2API_NOMEM;
    }

    b->data = p;
    b->cap = cap;

    return Q2API_OK;
}


int
q2api_buf_append(q2api_buf_t *b, const void *p, size_t n)
{
    if (n == 0) {
        return Q2API_OK;
    }

    if (q2api_buf_reserve(b, n) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    memcpy(b->data + b->len, p, n);
    b->len += n;

    return Q2API_OK;
}


int
q2api_buf_append_str(q2api_buf_t *b, const char *s)
{
    return q2api_buf_append(b, s, strlen(s));
}


int
q2api_buf_append_byte(q2api_buf_t *b, unsigned char c)
{
    return q2api_buf_append(b, &c, 1);
}


void
q2api_buf_consume(q2api_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }

    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}


void
q2api_buf_free(q2api_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
