/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What Gemini accounts need before and besides generation, for the other
 * folders: their Code Assist project (found, or onboarded), their quota,
 * and new accounts from a Google sign-in.  All of it runs as in-memory
 * subrequests of the request given, never blocking.
 */

#ifndef _NGX_HTTP_Q2API_GEMINI_SETUP_H_INCLUDED_
#define _NGX_HTTP_Q2API_GEMINI_SETUP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The end of a lookup: NGX_OK (done; message: the project, or "ok"),
 * NGX_DECLINED (the account is out of rotation now: needs_validation or
 * ineligible, message the reason), NGX_ERROR (transient: try later).
 */
typedef void (*ngx_http_q2api_gemini_done_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);


/* the project the account has was refused (a 403 about it): look up a
 * new one without it */
#define NGX_HTTP_Q2API_GEMINI_REDISCOVER  0x01


/*
 * Finds the Code Assist project of Gemini account "id" (loadCodeAssist;
 * onboardUser with the default tier when the account has none, its
 * operation polled to the end), and persists it in other.project.  A 401
 * refreshes the token once.  NGX_OK: done will be called; NGX_BUSY:
 * another request runs the lookup of this account now (use another
 * account); NGX_DECLINED: no such Gemini account, or no access token.
 */
ngx_int_t ngx_http_q2api_gemini_discover(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t flags, ngx_http_q2api_gemini_done_pt done,
    void *data);


#endif /* _NGX_HTTP_Q2API_GEMINI_SETUP_H_INCLUDED_ */
