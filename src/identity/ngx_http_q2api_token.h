/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Calls to the identity services (AWS SSO OIDC, Kiro's auth service) and
 * the token lifecycle built on them.  Every call is an in-memory
 * subrequest of a client request to an internal proxy_pass location
 * (conf/q2api_upstream.conf), so nothing blocks and nginx does TLS,
 * resolving and keepalive.
 */

#ifndef _NGX_HTTP_Q2API_TOKEN_H_INCLUDED_
#define _NGX_HTTP_Q2API_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The answer of one call: status 0 when no answer came (connection
 * failure); body is the response body (JSON), in r->pool.  Called from
 * r's write event handler, never from inside nginx's subrequest
 * finalization, so it may start another call or finalize r.
 */
typedef void (*ngx_http_q2api_call_done_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);

/*
 * POST body (JSON) to the OIDC service's "op" ("token",
 * "client/register", "device_authorization") as a subrequest of r, in the
 * region given ("{region}" in q2api_oidc_url; NULL: us-east-1, where
 * Builder ID lives).  r must have been told it is waiting (its count is
 * taken here).  NGX_OK: done will be called.
 */
ngx_int_t ngx_http_q2api_oidc_call(ngx_http_request_t *r, const char *op,
    ngx_str_t *region, ngx_str_t *body, ngx_http_q2api_call_done_pt done,
    void *data);


/*
 * The end of a refresh: NGX_OK (the zone has the new token), NGX_DECLINED
 * (a permanent refusal such as invalid_grant: the account is marked
 * needs_login with the reason in message), NGX_ERROR (transient; try
 * later), NGX_BUSY (another worker refreshed it meanwhile: the zone has a
 * fresh token).
 */
typedef void (*ngx_http_q2api_refresh_done_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);

/*
 * Refreshes account "id" now.  Single flight: one refresh per account at a
 * time across all workers; a caller that finds one running waits for it
 * and gets NGX_BUSY.  Returns NGX_OK when done will be called,
 * NGX_DECLINED when the account does not exist or has no refresh token.
 */
ngx_int_t ngx_http_q2api_token_refresh(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_refresh_done_pt done, void *data);


/*
 * A Kiro account's credits (getUsageLimits): done gets status 200 and
 * {"title","limit","used","remaining","next_reset"}, or the service's
 * status and answer.  NGX_DECLINED: no such account, or no token.
 */
typedef void (*ngx_http_q2api_usage_done_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *json);

ngx_int_t ngx_http_q2api_kiro_usage(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_usage_done_pt done, void *data);


/* for the variables of the call location: 0 url, 1 method, 2 auth */
ngx_int_t ngx_http_q2api_call_param(ngx_http_request_t *r, ngx_uint_t what,
    ngx_str_t *value);


/*
 * Printable ASCII without spaces: what may go as it is into an HTTP
 * header, a JSON body and a query string (tokens, secrets, ARNs).
 */
ngx_uint_t ngx_http_q2api_token_chars(u_char *s, size_t len);


/* "Bearer <token>" in pool */
ngx_int_t ngx_http_q2api_bearer(ngx_pool_t *pool, ngx_str_t *token,
    ngx_str_t *out);

/*
 * The region of a profileArn, its fourth field
 * (arn:aws:codewhisperer:<region>:<account>:profile/<id>); us-east-1 when
 * there is none.  region points into arn.
 */
void ngx_http_q2api_arn_region(ngx_str_t *arn, ngx_str_t *region);


#endif /* _NGX_HTTP_Q2API_TOKEN_H_INCLUDED_ */
