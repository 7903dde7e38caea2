/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The table of account kinds.
 */


#include "ngx_http_q2api_kind.h"


/*
 * The flavour is the back end's own number for the style of account
 * (Amazon Q's: 0 the Q Developer CLI's, 1 the Kiro IDE's).  The URLs are
 * nginx complex values: the account's region comes from its profileArn.
 */
ngx_http_q2api_kind_t  ngx_http_q2api_kinds[] = {

    { ngx_string("amazonq"), NGX_HTTP_Q2API_ACCOUNT_AMAZONQ, "amazonq", 0,
      ngx_string("/_q2api/amazonq"),
      ngx_string("https://q.$q2api_region.amazonaws.com/") },

    { ngx_string("kiro"), NGX_HTTP_Q2API_ACCOUNT_KIRO, "amazonq", 1,
      ngx_string("/_q2api/kiro"),
      ngx_string("https://q.$q2api_region.amazonaws.com"
                 "/generateAssistantResponse") },

    { ngx_null_string, NGX_HTTP_Q2API_ACCOUNT_UNKNOWN, NULL, 0,
      ngx_null_string, ngx_null_string }
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


ngx_http_q2api_kind_t *
ngx_http_q2api_kind(ngx_uint_t type)
{
    ngx_http_q2api_kind_t  *k;

    for (k = ngx_http_q2api_kinds; k->name.len; k++) {
        if (k->type == type) {
            return k;
        }
    }

    return &ngx_http_q2api_kinds[0];
}
