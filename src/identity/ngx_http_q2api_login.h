/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * AWS device-code login, compatible with q2api's /v2/auth/start, status
 * and claim.  Sessions live in the shared zone, so a start and its claim
 * may land on different workers (q2api breaks there).
 */

#ifndef _NGX_HTTP_Q2API_LOGIN_H_INCLUDED_
#define _NGX_HTTP_Q2API_LOGIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the answer for the client: an HTTP status and a JSON body (r->pool) */
typedef void (*ngx_http_q2api_login_done_pt)(ngx_http_request_t *r,
    void *data, ngx_uint_t status, ngx_str_t *json);

/*
 * body: {"label"?, "enabled"?, "startUrl"?}.  RegisterClient, then
 * StartDeviceAuthorization; done gets q2api's answer
 * {"authId","verificationUriComplete","userCode","expiresIn","interval"}.
 * The caller keeps r alive until done runs.  NGX_OK: done will be called;
 * otherwise nothing was started.
 */
ngx_int_t ngx_http_q2api_login_start(ngx_http_request_t *r, ngx_str_t *body,
    ngx_http_q2api_login_done_pt done, void *data);

/* {"status","remaining","error","accountId"}, at once */
ngx_int_t ngx_http_q2api_login_status(ngx_http_request_t *r,
    ngx_str_t *auth_id, ngx_uint_t *status, ngx_str_t *json);

/*
 * Polls the token endpoint until the user approved (the account is
 * created), the session expired (at most 5 minutes after start: 408), or
 * the service refused (502); honours authorization_pending and slow_down.
 */
ngx_int_t ngx_http_q2api_login_claim(ngx_http_request_t *r,
    ngx_str_t *auth_id, ngx_http_q2api_login_done_pt done, void *data);


#endif /* _NGX_HTTP_Q2API_LOGIN_H_INCLUDED_ */
