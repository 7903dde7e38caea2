/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Kiro usage limits (credits), for the admin API.
 */

#ifndef _NGX_HTTP_Q2API_KIRO_USAGE_H_INCLUDED_
#define _NGX_HTTP_Q2API_KIRO_USAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * A Kiro account's credits (getUsageLimits): done gets status 200 and
 * {"title","limit","used","remaining","next_reset"}, or the service's
 * status and answer.  NGX_DECLINED: no such account, or no token.
 */
typedef void (*ngx_http_q2api_usage_done_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *json);

ngx_int_t ngx_http_q2api_kiro_usage(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_usage_done_pt done, void *data);


#endif /* _NGX_HTTP_Q2API_KIRO_USAGE_H_INCLUDED_ */
