/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include "ngx_http_q2api_credentials.h"


ngx_str_t  ngx_http_q2api_home_region = ngx_string("us-east-1");


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


ngx_int_t
ngx_http_q2api_arn_region(ngx_str_t *arn, ngx_str_t *region)
{
    q2api_arn_t  parsed;

    *region = ngx_http_q2api_home_region;

    if (arn->len == 0) {
        return NGX_DECLINED;
    }

    if (q2api_arn_parse((char *) arn->data, arn->len, &parsed) != Q2API_OK) {
        return NGX_ERROR;
    }

    region->data = (u_char *) parsed.region.data;
    region->len = parsed.region.len;

    return NGX_OK;
}
