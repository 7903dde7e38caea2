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


/*
 * Reads the quota of Gemini account "id" now (retrieveUserQuota for
 * gemini-cli accounts, fetchAvailableModels for Antigravity ones) and
 * persists it in other as amq2api does: other.creditsInfo
 * {"models": {id: {remainingFraction, remainingPercent, resetTime, ...}},
 * "summary": {totalModels, averageRemaining}}, other.resetTime (the
 * earliest reset) and other.quotaCheckedAt.  done gets NGX_OK and
 * creditsInfo's JSON text, or NGX_ERROR and why.  NGX_DECLINED: no such
 * Gemini account, no token or no project yet.  With done NULL the read
 * goes on in the background: r's answer does not wait for it (the
 * attempts call it so after Google's 429 about a model's quota).
 */
ngx_int_t ngx_http_q2api_gemini_quota(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_gemini_done_pt done, void *data);


/* what a Google sign-in gives: strings in r->pool, checked */
typedef struct {
    ngx_str_t                  access_token;
    ngx_str_t                  refresh_token;  /* empty: none was given */
    ngx_str_t                  subject;        /* the id token's "sub" */
    ngx_str_t                  email;          /* empty: none */
    time_t                     token_expires;
} ngx_http_q2api_google_login_t;

/*
 * The end of a code exchange: NGX_OK with login; NGX_DECLINED when
 * Google refused the code (message: its error code); NGX_ERROR when it
 * could not be asked (message: why).
 */
typedef void (*ngx_http_q2api_google_login_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_http_q2api_google_login_t *login,
    ngx_str_t *message);

/*
 * Exchanges an authorization code from Google's consent page at its token
 * endpoint with the flavour's OAuth client (the redirect URI the code was
 * asked with; the PKCE verifier when one was used, else empty).  NGX_OK:
 * done will be called.
 */
ngx_int_t ngx_http_q2api_google_exchange(ngx_http_request_t *r,
    ngx_uint_t flavour, ngx_str_t *code, ngx_str_t *verifier,
    ngx_str_t *redirect_uri, ngx_http_q2api_google_login_pt done,
    void *data);


#endif /* _NGX_HTTP_Q2API_GEMINI_SETUP_H_INCLUDED_ */
