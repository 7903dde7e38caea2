/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Credential providers: the services that turn an account's refresh
 * token into a new access token.  The refresh lifecycle
 * (ngx_http_q2api_refresh.c) owns leases, waiting and what a result does
 * to the account; a provider only knows its service: the request, how to
 * read a new token out of an answer, and whether a refusal is final.
 * Adding one is a file with its ngx_http_q2api_provider_t and a line in
 * the table in ngx_http_q2api_provider.c.  Private to src/identity.
 */

#ifndef _NGX_HTTP_Q2API_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_Q2API_PROVIDER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_call.h"


/* the members of a token answer; NULL: the service has no such member */
typedef struct {
    const char                  *access_token;
    const char                  *refresh_token;
    const char                  *expires_in;
    const char                  *profile_arn;
} ngx_http_q2api_token_names_t;


typedef struct {
    const char                  *name;

    /* whether an account's credentials are refreshed here */
    ngx_uint_t                 (*owns)(ngx_http_q2api_account_data_t *creds);

    /*
     * The refresh call (method, URL, body) in r->pool; region is the one
     * the account was logged in at, empty when it has none on record.
     */
    ngx_int_t                  (*request)(ngx_http_request_t *r,
                                    ngx_http_q2api_account_data_t *creds,
                                    ngx_str_t *region,
                                    ngx_http_q2api_call_req_t *req);

    /*
     * A 200's JSON (o may be NULL) into fresh; NGX_ERROR with err, or
     * NGX_DECLINED when the answer carries a token the checks refuse
     * (the account needs a new login)
     */
    ngx_int_t                  (*answer)(ngx_http_request_t *r, cJSON *o,
                                    ngx_http_q2api_account_data_t *fresh,
                                    const char **err);

    /*
     * Any other answer (status 0: none came): NGX_DECLINED when the
     * credentials are dead and only a new login helps, NGX_ERROR when a
     * later try may succeed; err says which, for the account and logs.
     */
    ngx_int_t                  (*refusal)(ngx_int_t status, cJSON *o,
                                    const char **err);

    /* the answers carry the account's profileArn */
    unsigned                     profile:1;
} ngx_http_q2api_provider_t;


/* the provider that refreshes an account, or NULL */
ngx_http_q2api_provider_t *ngx_http_q2api_provider(
    ngx_http_q2api_account_data_t *creds);


/*
 * For providers: reads a token answer whose members are named by names:
 * the access token (required), a rotated refresh token, the profileArn,
 * and the expiry (expires_in seconds, else the access token's JWT "exp",
 * else an hour).  Copies go to r->pool.  A token the checks refuse:
 * NGX_DECLINED; a refused profileArn is left out.
 */
ngx_int_t ngx_http_q2api_provider_tokens(ngx_http_request_t *r, cJSON *o,
    ngx_http_q2api_token_names_t *names,
    ngx_http_q2api_account_data_t *fresh, const char **err);

/* For providers: OAuth 2.0's error codes (RFC 6749 5.2) */
ngx_int_t ngx_http_q2api_provider_oauth_refusal(ngx_int_t status, cJSON *o,
    const char **err);


extern ngx_http_q2api_provider_t  ngx_http_q2api_provider_google;
extern ngx_http_q2api_provider_t  ngx_http_q2api_provider_aws_oidc;
extern ngx_http_q2api_provider_t  ngx_http_q2api_provider_kiro_social;


#endif /* _NGX_HTTP_Q2API_PROVIDER_H_INCLUDED_ */
