/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * ngx_http_q2api_admin_module: the admin REST API (q2api's and amq2api's
 * routes) over the account pool, and its authentication.
 */

#ifndef _NGX_HTTP_Q2API_ADMIN_H_INCLUDED_
#define _NGX_HTTP_Q2API_ADMIN_H_INCLUDED_


#include "ngx_http_q2api.h"


#define NGX_HTTP_Q2API_ADMIN_DIGEST_LEN   32      /* SHA-256 */


typedef struct {
    ngx_shm_zone_t            *shm_zone;      /* session key, failures */
} ngx_http_q2api_admin_main_conf_t;


typedef struct {
    ngx_flag_t                 enable;        /* q2api_admin */
    ngx_flag_t                 has_password;
    u_char                     digest[NGX_HTTP_Q2API_ADMIN_DIGEST_LEN];
    ngx_str_t                  secret;        /* q2api_admin_secret */
    time_t                     session_timeout;
    ngx_uint_t                 max_failures;  /* q2api_admin_login_limit */
    time_t                     lockout;
    ngx_str_t                  test_location;
} ngx_http_q2api_admin_loc_conf_t;


/* what the credentials of a request are worth */
typedef enum {
    NGX_HTTP_Q2API_AUTH_OK = 0,
    NGX_HTTP_Q2API_AUTH_MISSING,      /* no Authorization / X-Admin-Key */
    NGX_HTTP_Q2API_AUTH_BAD_TOKEN,    /* forged or damaged session token */
    NGX_HTTP_Q2API_AUTH_EXPIRED,      /* a genuine token past its time */
    NGX_HTTP_Q2API_AUTH_BAD_PASSWORD,
    NGX_HTTP_Q2API_AUTH_LOCKED,       /* too many failures: slowed down */
    NGX_HTTP_Q2API_AUTH_ERROR         /* ours (logged) */
} ngx_http_q2api_auth_e;


extern ngx_module_t  ngx_http_q2api_admin_module;


/* ngx_http_q2api_admin_auth.c */
char *ngx_http_q2api_admin_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_q2api_admin_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_q2api_admin_add_zone(ngx_conf_t *cf,
    ngx_http_q2api_admin_main_conf_t *amcf);

/* the credentials of r (Bearer session token or password, X-Admin-Key) */
ngx_http_q2api_auth_e ngx_http_q2api_admin_authenticate(
    ngx_http_request_t *r, ngx_http_q2api_admin_loc_conf_t *alcf,
    time_t *retry_after);

/*
 * POST /api/login: NGX_OK and a fresh token, NGX_DECLINED (wrong
 * password), NGX_BUSY (locked out: *retry_after), NGX_ERROR.
 */
ngx_int_t ngx_http_q2api_admin_login(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *password,
    ngx_str_t *token, time_t *expires, time_t *retry_after);


#endif /* _NGX_HTTP_Q2API_ADMIN_H_INCLUDED_ */
