/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The public donate API (q2api_donate): what its two files share.
 *   donate          directive, routes, start, exchange
 *   donate_state    sealed states, PKCE verifiers, the flavours' clients
 *   donate_status   GET status: counts, quota per model group, masking
 */

#ifndef _NGX_HTTP_Q2API_ADMIN_DONATE_H_INCLUDED_
#define _NGX_HTTP_Q2API_ADMIN_DONATE_H_INCLUDED_


#include "ngx_http_q2api_admin.h"


#define NGX_HTTP_Q2API_DONATE_NO_FLAVOUR  ((ngx_uint_t) -1)
#define NGX_HTTP_Q2API_DONATE_TTL        900      /* s to paste the URL */
#define NGX_HTTP_Q2API_DONATE_MAC        43       /* base64url of 32 */
/* "<expires>.<flavour>.<nonce>.<mac>" */
#define NGX_HTTP_Q2API_DONATE_STATE_MAX                                    \
    (NGX_TIME_T_LEN + 3 + 32 + 1 + NGX_HTTP_Q2API_DONATE_MAC)


/* what a flavour's Google login is made of */
typedef struct {
    ngx_str_t                  auth_url;
    ngx_str_t                  client_id;
    ngx_str_t                  scope;         /* space-separated */
    ngx_str_t                  redirect_uri;  /* loopback: nothing there */
} ngx_http_q2api_donate_oauth_t;


/* 0 gemini-cli, 1 antigravity; NGX_HTTP_Q2API_DONATE_NO_FLAVOUR */
ngx_uint_t ngx_http_q2api_donate_flavour(ngx_str_t *name);
ngx_str_t *ngx_http_q2api_donate_flavour_name(ngx_uint_t flavour);
ngx_int_t ngx_http_q2api_donate_oauth(ngx_http_request_t *r,
    ngx_uint_t flavour, ngx_http_q2api_donate_oauth_t *oauth);
/* a fresh sealed state for a login in this flavour */
ngx_int_t ngx_http_q2api_donate_seal(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_uint_t flavour,
    ngx_str_t *state);
/* NGX_OK (*flavour), NGX_DECLINED (*why, for the donor), NGX_ERROR */
ngx_int_t ngx_http_q2api_donate_open(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *state,
    ngx_uint_t *flavour, const char **why);
ngx_int_t ngx_http_q2api_donate_verifier(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *state,
    ngx_str_t *verifier);

/* keep_head characters, an ellipsis, keep_tail characters (in p) */
void ngx_http_q2api_donate_mask(ngx_pool_t *p, ngx_str_t *in,
    size_t keep_head, size_t keep_tail, ngx_str_t *out);
/* a donation in this worker: its next status is made afresh */
void ngx_http_q2api_donate_status_stale(void);


#endif /* _NGX_HTTP_Q2API_ADMIN_DONATE_H_INCLUDED_ */
