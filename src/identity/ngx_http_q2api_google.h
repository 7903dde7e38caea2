/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Google's side of Gemini accounts: the OAuth client each flavour logs in
 * with, the token endpoint, and Code Assist's control calls (project
 * discovery and onboarding, quota), all made as in-memory calls through
 * the internal locations /_q2api/google (form-encoded OAuth) and
 * /_q2api/code_assist (JSON RPCs) of conf/q2api_upstream.conf.
 */

#ifndef _NGX_HTTP_Q2API_GOOGLE_H_INCLUDED_
#define _NGX_HTTP_Q2API_GOOGLE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_call.h"


/* configuration (ngx_http_q2api_google.c) */
char *ngx_http_q2api_google_url_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_q2api_google_client_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_q2api_google_merge_conf(void *conf, void *prev);

/* the OAuth client of a flavour, as configured (the public one else) */
ngx_str_t *ngx_http_q2api_google_client_id(ngx_http_request_t *r,
    ngx_uint_t flavour);
ngx_str_t *ngx_http_q2api_google_client_secret(ngx_http_request_t *r,
    ngx_uint_t flavour);

/* req's location, method and URL for Google's token endpoint */
ngx_int_t ngx_http_q2api_google_token_req(ngx_http_request_t *r,
    ngx_http_q2api_call_req_t *req);

/*
 * The form-encoded POST to Google's token endpoint; body is
 * "key=value&..." with the values already encoded.
 */
ngx_int_t ngx_http_q2api_google_token_call(ngx_http_request_t *r,
    ngx_str_t *body, ngx_http_q2api_call_done_pt done, void *data);

/*
 * A Code Assist RPC ("loadCodeAssist", "onboardUser", ...) or, with
 * method "GET", a long-running operation's name ("operations/..."): at
 * q2api_code_assist_url when set, else at the account's endpoint (or its
 * flavour's), with the account's access token.
 */
ngx_int_t ngx_http_q2api_code_assist_call(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *d, char *method, ngx_str_t *rpc,
    ngx_str_t *body, ngx_http_q2api_call_done_pt done, void *data);

/*
 * A form body (application/x-www-form-urlencoded) of n pairs in r->pool:
 * kv[2i] the name, kv[2i+1] the value, encoded as a URI component; a pair
 * whose value is empty is left out.
 */
ngx_int_t ngx_http_q2api_google_form(ngx_http_request_t *r, ngx_str_t *kv,
    ngx_uint_t n, ngx_str_t *body);


#endif /* _NGX_HTTP_Q2API_GOOGLE_H_INCLUDED_ */
