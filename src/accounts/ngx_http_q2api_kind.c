/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The table of account kinds.
 */


#include "ngx_http_q2api_kind.h"


typedef struct {
    ngx_str_t    name;
    ngx_uint_t   type;
} ngx_http_q2api_kind_t;


static ngx_http_q2api_kind_t  ngx_http_q2api_kinds[] = {
    { ngx_string("amazonq"), NGX_HTTP_Q2API_ACCOUNT_AMAZONQ },
    { ngx_string("kiro"), NGX_HTTP_Q2API_ACCOUNT_KIRO },
    { ngx_null_string, NGX_HTTP_Q2API_ACCOUNT_UNKNOWN }
};


ngx_uint_t
ngx_http_q2api_kind_type(u_char *name, size_t len)
{
    ngx_http_q2api_kind_t  *k;

    for (k = ngx_http_q2api_kinds; k->name.len; k++) {
        if (k->name.len == len && ngx_strncmp(k->name.data, name, len) == 0) {
            return k->type;
        }
    }

    return NGX_HTTP_Q2API_ACCOUNT_UNKNOWN;
}


ngx_str_t *
ngx_http_q2api_kind_name(ngx_uint_t type)
{
    ngx_http_q2api_kind_t  *k;

    for (k = ngx_http_q2api_kinds; k->name.len; k++) {
        if (k->type == type) {
            return &k->name;
        }
    }

    return &ngx_http_q2api_kinds[0].name;
}
