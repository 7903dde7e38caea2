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

    /* the flavour is each account's; the endpoint each account's too */
    { ngx_string("gemini"), NGX_HTTP_Q2API_ACCOUNT_GEMINI, "gemini",
      NGX_HTTP_Q2API_GEMINI_CLI,
      ngx_string("/_q2api/gemini"),
      ngx_string("$q2api_gemini_endpoint"
                 "/v1internal:streamGenerateContent?alt=sse") },

    { ngx_null_string, NGX_HTTP_Q2API_ACCOUNT_UNKNOWN, NULL, 0,
      ngx_null_string, ngx_null_string }
};


/* the public installed-app clients (their secrets are public by design) */
ngx_http_q2api_gemini_flavour_t
    ngx_http_q2api_gemini_flavours[NGX_HTTP_Q2API_GEMINI_FLAVOURS] =
{
    { ngx_string("gemini-cli"),
      ngx_string("681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j"
                 ".apps.googleusercontent.com"),
      ngx_string("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"),
      ngx_string("https://cloudcode-pa.googleapis.com"),
      "IDE_UNSPECIFIED" },

    { ngx_string("antigravity"),
      ngx_string("1071006060591-tmhssin2h21lcre235vtolojh4g403ep"
                 ".apps.googleusercontent.com"),
      ngx_string("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"),
      ngx_string("https://daily-cloudcode-pa.sandbox.googleapis.com"),
      "ANTIGRAVITY" }
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


ngx_int_t
ngx_http_q2api_gemini_flavour_named(u_char *name, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_Q2API_GEMINI_FLAVOURS; i++) {
        if (ngx_http_q2api_gemini_flavours[i].name.len == len
            && ngx_strncmp(ngx_http_q2api_gemini_flavours[i].name.data, name,
                           len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


ngx_uint_t
ngx_http_q2api_gemini_flavour(ngx_int_t named, ngx_str_t *client_id,
    ngx_str_t *endpoint)
{
    ngx_uint_t                        i;
    ngx_http_q2api_gemini_flavour_t  *f;

    if (named != NGX_ERROR) {
        return (ngx_uint_t) named;
    }

    for (i = 0; i < NGX_HTTP_Q2API_GEMINI_FLAVOURS; i++) {
        f = &ngx_http_q2api_gemini_flavours[i];

        if (client_id->len == f->client_id.len
            && ngx_strncmp(client_id->data, f->client_id.data,
                           client_id->len) == 0)
        {
            return i;
        }
    }

    f = &ngx_http_q2api_gemini_flavours[NGX_HTTP_Q2API_GEMINI_CLI];

    /* the production host, with or without a slash after it */
    if (endpoint->len == 0
        || (endpoint->len >= f->endpoint.len
            && endpoint->len <= f->endpoint.len + 1
            && ngx_strncmp(endpoint->data, f->endpoint.data,
                           f->endpoint.len) == 0))
    {
        return NGX_HTTP_Q2API_GEMINI_CLI;
    }

    return NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY;
}
