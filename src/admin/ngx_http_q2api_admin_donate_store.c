/* TEMPORARY, not committed: until gemini-acct's exchange lands */
#include "ngx_http_q2api_admin_donate.h"
ngx_int_t
ngx_http_q2api_donate_store(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_uint_t flavour, ngx_str_t *code,
    ngx_str_t *verifier, ngx_str_t *redirect_uri)
{
    return ngx_http_q2api_admin_detail(r, 501, "code %V verifier %V", code, verifier);
}
