/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Token refresh, and the interface of src/identity to the rest of the
 * module: what it includes below is what other folders use (in-memory
 * calls and their variables, credential helpers, Kiro credits).
 */

#ifndef _NGX_HTTP_Q2API_TOKEN_H_INCLUDED_
#define _NGX_HTTP_Q2API_TOKEN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_q2api_call.h"
#include "ngx_http_q2api_credentials.h"
#include "ngx_http_q2api_kiro_usage.h"
#include "ngx_http_q2api_gemini_setup.h"


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


#endif /* _NGX_HTTP_Q2API_TOKEN_H_INCLUDED_ */
