/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * ngx_http_q2api_admin_module: the admin REST API (q2api's and amq2api's
 * routes) over the account pool, and its authentication.  What the files
 * of src/admin share; nothing outside src/admin includes it.
 *
 * Where a route lives:
 *   module     directives, the content handler, routing
 *   auth       POST /api/login, credentials (session, lockout: helpers)
 *   accounts   /healthz, POST /v2/accounts, /v2/accounts/{id}
 *   list       GET /v2/accounts: filters, search, sorting, paging
 *   credits    /v2/accounts/{id}/stats, /v2/accounts/{id}/usage
 *   import     /v2/accounts/import (kiro: Kiro IDE files)
 *   export     /v2/accounts/export
 *   jobs       /v2/accounts/{id}/refresh, refresh-all, /healthz/deep
 *   feed       /v2/accounts/feed (a job)
 *   test       /v2/chat/test, the test subrequests of jobs
 *   device     /v2/auth/start, /v2/auth/status, /v2/auth/claim
 *   json, input: writing answers, reading account input
 */

#ifndef _NGX_HTTP_Q2API_ADMIN_H_INCLUDED_
#define _NGX_HTTP_Q2API_ADMIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "q2api_buf.h"

#include "ngx_http_q2api_util.h"
#include "ngx_http_q2api_kind.h"
#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_token.h"


#define NGX_HTTP_Q2API_ADMIN_DIGEST_LEN   32      /* SHA-256 */

#define NGX_HTTP_Q2API_ADMIN_CTX          0x71326164
#define NGX_HTTP_Q2API_ADMIN_PROBE        0x71327072

#define NGX_HTTP_Q2API_ADMIN_ID_MAX       128
#define NGX_HTTP_Q2API_ADMIN_LABEL_MAX    256
#define NGX_HTTP_Q2API_ADMIN_TOKEN_MAX    16384
#define NGX_HTTP_Q2API_ADMIN_ARN_MAX      2048
#define NGX_HTTP_Q2API_ADMIN_OTHER_MAX    65536
#define NGX_HTTP_Q2API_ADMIN_FEED_MAX     100
#define NGX_HTTP_Q2API_ADMIN_IMPORT_MAX   10000
#define NGX_HTTP_Q2API_ADMIN_ERRORS_MAX   100
#define NGX_HTTP_Q2API_ADMIN_PROBE_BODY   4096
#define NGX_HTTP_Q2API_ADMIN_ERR_LEN      256


/* the writable fields of an account, as the admin API names them */
#define NGX_HTTP_Q2API_F_ID             0x0001
#define NGX_HTTP_Q2API_F_LABEL          0x0002
#define NGX_HTTP_Q2API_F_CLIENT_ID      0x0004
#define NGX_HTTP_Q2API_F_CLIENT_SECRET  0x0008
#define NGX_HTTP_Q2API_F_REFRESH        0x0010
#define NGX_HTTP_Q2API_F_ACCESS         0x0020
#define NGX_HTTP_Q2API_F_ARN            0x0040
#define NGX_HTTP_Q2API_F_OTHER          0x0080
#define NGX_HTTP_Q2API_F_ENABLED        0x0100
#define NGX_HTTP_Q2API_F_TYPE           0x0200
#define NGX_HTTP_Q2API_F_CREATED        0x0400  /* import only */
#define NGX_HTTP_Q2API_F_EXPIRES        0x0800  /* import only */

#define NGX_HTTP_Q2API_INPUT_CREATE     0
#define NGX_HTTP_Q2API_INPUT_PATCH      1
#define NGX_HTTP_Q2API_INPUT_IMPORT     2

/* the steps of one account in a job */
#define NGX_HTTP_Q2API_STEP_REFRESH     1
#define NGX_HTTP_Q2API_STEP_TEST        2
#define NGX_HTTP_Q2API_STEP_DONE        3


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


typedef enum {
    NGX_HTTP_Q2API_ROUTE_NONE = 0,
    NGX_HTTP_Q2API_ROUTE_LOGIN,
    NGX_HTTP_Q2API_ROUTE_HEALTH,
    NGX_HTTP_Q2API_ROUTE_DEEP,
    NGX_HTTP_Q2API_ROUTE_ACCOUNTS,        /* GET list, POST create */
    NGX_HTTP_Q2API_ROUTE_ACCOUNT,         /* GET, PATCH, DELETE */
    NGX_HTTP_Q2API_ROUTE_REFRESH,
    NGX_HTTP_Q2API_ROUTE_STATS,
    NGX_HTTP_Q2API_ROUTE_USAGE,           /* a Kiro account's credits */
    NGX_HTTP_Q2API_ROUTE_REFRESH_ALL,
    NGX_HTTP_Q2API_ROUTE_FEED,
    NGX_HTTP_Q2API_ROUTE_IMPORT,
    NGX_HTTP_Q2API_ROUTE_EXPORT,
    NGX_HTTP_Q2API_ROUTE_CHAT_TEST,
    NGX_HTTP_Q2API_ROUTE_AUTH_START,
    NGX_HTTP_Q2API_ROUTE_AUTH_STATUS,
    NGX_HTTP_Q2API_ROUTE_AUTH_CLAIM,
    NGX_HTTP_Q2API_ROUTE_DISCOVER,        /* a Gemini account's project */
    NGX_HTTP_Q2API_ROUTE_QUOTA,           /* a Gemini account's quota */
    NGX_HTTP_Q2API_ROUTE_GEMINI_EXCHANGE  /* a Google sign-in's code */
} ngx_http_q2api_admin_route_e;


/* an account from a request body, with the fields it gave */
typedef struct {
    ngx_http_q2api_account_data_t  d;
    ngx_uint_t                     set;
} ngx_http_q2api_admin_input_t;


/* one subrequest to the test location, its status and first bytes */
typedef struct {
    uint32_t                   magic;
    ngx_http_request_t        *request;       /* the subrequest */
    ngx_uint_t                 status;
    u_char                    *body;
    size_t                     len;
    ngx_msec_t                 start;
    ngx_msec_t                 elapsed;
    unsigned                   finalized:1;
} ngx_http_q2api_admin_probe_t;


/* one account of a job (refresh, refresh-all, feed, deep health) */
typedef struct {
    ngx_str_t                  id;
    ngx_str_t                  label;
    ngx_uint_t                 step;
    ngx_int_t                  refresh;       /* NGX_NONE: not tried */
    ngx_str_t                  message;
    ngx_uint_t                 status;        /* of the test request */
    ngx_msec_t                 elapsed;
    ngx_uint_t                 ok;
} ngx_http_q2api_admin_item_t;


typedef struct {
    q2api_buf_t                b;
    int                        rc;            /* Q2API_OK until a failure */
} ngx_http_q2api_admin_json_t;


typedef struct {
    uint32_t                          magic;
    ngx_http_q2api_admin_loc_conf_t  *conf;
    ngx_http_q2api_accounts_t        *accounts;
    ngx_http_q2api_admin_route_e      route;
    ngx_str_t                         id;      /* from the URI */
    ngx_str_t                         body;

    ngx_array_t                       items;   /* a job's accounts */
    ngx_uint_t                        current;
    ngx_http_q2api_admin_probe_t     *probe;
    char                             *action;  /* the job's, for logs */

    /* stats of a Kiro account, waiting for its credits */
    ngx_http_q2api_account_data_t    *account;

    unsigned                          async:1; /* the job answers */
    unsigned                          running:1;
    unsigned                          waiting:1;
} ngx_http_q2api_admin_ctx_t;


extern ngx_module_t  ngx_http_q2api_admin_module;


/* Gemini accounts (ngx_http_q2api_admin_gemini.c) */
ngx_int_t ngx_http_q2api_admin_discover(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

/* auth */
char *ngx_http_q2api_admin_password(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_q2api_admin_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* the credentials of r (Bearer session token or password, X-Admin-Key) */
ngx_http_q2api_auth_e ngx_http_q2api_admin_authenticate(
    ngx_http_request_t *r, ngx_http_q2api_admin_loc_conf_t *alcf,
    time_t *retry_after);
ngx_int_t ngx_http_q2api_admin_login_route(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_refuse(ngx_http_request_t *r,
    ngx_http_q2api_auth_e auth, time_t retry_after);

/* session */
/*
 * NGX_OK: a genuine live token; NGX_DECLINED: not shaped like a token
 * (maybe a password); NGX_ABORT: forged or damaged; NGX_AGAIN: genuine
 * but expired; NGX_ERROR.
 */
ngx_int_t ngx_http_q2api_admin_session_verify(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *token);
/* a fresh token in r->pool, valid until *expires */
ngx_int_t ngx_http_q2api_admin_session_new(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *token,
    time_t *expires);

/* lockout: the admin zone */
ngx_int_t ngx_http_q2api_admin_add_zone(ngx_conf_t *cf,
    ngx_http_q2api_admin_main_conf_t *amcf);
/* the random master secret of session tokens, drawn with the zone */
u_char *ngx_http_q2api_admin_zone_key(ngx_http_request_t *r, size_t *len);
/* 0, or the seconds until this client may try a password again */
time_t ngx_http_q2api_admin_locked(ngx_http_request_t *r);
time_t ngx_http_q2api_admin_failed(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf);
void ngx_http_q2api_admin_succeeded(ngx_http_request_t *r);

/* json */
ngx_http_q2api_admin_json_t *ngx_http_q2api_admin_json(
    ngx_http_request_t *r);
void ngx_http_q2api_admin_raw(ngx_http_q2api_admin_json_t *j, const void *p,
    size_t n);
/* literals only: "" lit does not compile with anything else */
#define ngx_http_q2api_admin_lit(j, lit)                                   \
    ngx_http_q2api_admin_raw(j, "" lit, sizeof(lit) - 1)
void ngx_http_q2api_admin_string(ngx_http_q2api_admin_json_t *j, u_char *p,
    size_t n);
void ngx_http_q2api_admin_nstr(ngx_http_q2api_admin_json_t *j, ngx_str_t *s);
void ngx_http_q2api_admin_cstr(ngx_http_q2api_admin_json_t *j,
    const char *s);
void ngx_http_q2api_admin_int(ngx_http_q2api_admin_json_t *j, int64_t v);
void ngx_http_q2api_admin_bool(ngx_http_q2api_admin_json_t *j,
    ngx_uint_t v);
void ngx_http_q2api_admin_time(ngx_http_q2api_admin_json_t *j, time_t t);
void ngx_http_q2api_admin_row(ngx_http_q2api_admin_json_t *j,
    ngx_http_q2api_account_data_t *d, ngx_uint_t secrets);
ngx_int_t ngx_http_q2api_admin_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_q2api_admin_json_t *j);
ngx_int_t ngx_http_q2api_admin_send_raw(ngx_http_request_t *r,
    ngx_uint_t status, char *type, u_char *data, size_t len);
ngx_int_t ngx_http_q2api_admin_detail(ngx_http_request_t *r,
    ngx_uint_t status, const char *fmt, ...);

/* input */
cJSON *ngx_http_q2api_admin_parse(ngx_http_request_t *r, ngx_str_t *text,
    u_char *err);
ngx_int_t ngx_http_q2api_admin_input(ngx_http_request_t *r, cJSON *obj,
    ngx_uint_t mode, ngx_http_q2api_admin_input_t *in, const char *prefix,
    u_char *err);
ngx_int_t ngx_http_q2api_admin_complete(ngx_http_request_t *r,
    ngx_http_q2api_admin_input_t *in, const char *prefix, u_char *err);
void ngx_http_q2api_admin_overlay(ngx_http_q2api_account_data_t *d,
    ngx_http_q2api_admin_input_t *in);
ngx_int_t ngx_http_q2api_admin_other_set(ngx_http_request_t *r,
    ngx_str_t *other, const char *key, const char *value);
ngx_int_t ngx_http_q2api_admin_arg(ngx_http_request_t *r, char *name,
    ngx_str_t *value);

/* accounts */
ngx_int_t ngx_http_q2api_admin_health(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_send_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *id, ngx_uint_t status);
ngx_int_t ngx_http_q2api_admin_get(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_insert(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_account_data_t *d);
ngx_int_t ngx_http_q2api_admin_create(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_patch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_delete(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

/* list */
ngx_int_t ngx_http_q2api_admin_list(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

/* credits */
ngx_int_t ngx_http_q2api_admin_stats(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_usage(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

/* import, kiro, export */
ngx_int_t ngx_http_q2api_admin_import(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_uint_t ngx_http_q2api_admin_kiro_shape(cJSON *obj);
ngx_int_t ngx_http_q2api_admin_kiro_input(ngx_http_request_t *r,
    cJSON *file, ngx_http_q2api_admin_input_t *in, cJSON **tree,
    u_char *err);
ngx_int_t ngx_http_q2api_admin_export(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

/* test */
ngx_int_t ngx_http_q2api_admin_filter_init(ngx_conf_t *cf);
ngx_int_t ngx_http_q2api_admin_account_arg(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *args);
ngx_int_t ngx_http_q2api_admin_chat_test(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
ngx_int_t ngx_http_q2api_admin_start_probe(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it);

/* device */
ngx_int_t ngx_http_q2api_admin_device(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

/* jobs, feed */
ngx_http_q2api_admin_item_t *ngx_http_q2api_admin_item(
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *id, ngx_str_t *label,
    ngx_uint_t step);
ngx_int_t ngx_http_q2api_admin_job(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
void ngx_http_q2api_admin_continue(ngx_http_request_t *r);
ngx_int_t ngx_http_q2api_admin_feed(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t *answer);
ngx_int_t ngx_http_q2api_admin_verified(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it);


#endif /* _NGX_HTTP_Q2API_ADMIN_H_INCLUDED_ */
