/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include "ngx_http_q2api_credentials.h"


ngx_str_t  ngx_http_q2api_home_region = ngx_string("us-east-1");


ngx_uint_t
ngx_http_q2api_token_chars(u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_q2api_bearer(ngx_pool_t *pool, ngx_str_t *token, ngx_str_t *out)
{
    out->len = sizeof("Bearer ") - 1 + token->len;
    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(out->data, "Bearer ", sizeof("Bearer ") - 1),
               token->data, token->len);

    return NGX_OK;
}


void
ngx_http_q2api_arn_region(ngx_str_t *arn, ngx_str_t *region)
{
    u_char      *p, *start, *end;
    ngx_uint_t   field;

    *region = ngx_http_q2api_home_region;

    start = arn->data;
    end = start + arn->len;
    field = 0;

    for (p = start; p < end; p++) {
        if (*p != ':') {
            continue;
        }

        if (++field == 4 && p > start) {
            region->data = start;
            region->len = p - start;
            return;
        }

        start = p + 1;
    }
}
