/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * ngx_http_q2api_admin_module: the admin REST API of the account pool,
 * compatible with q2api's routes (/api/login, /v2/accounts...) and with
 * amq2api's extras (refresh-all, stats, the line import format).
 *
 * Every answer is JSON.  Secrets (clientSecret, refreshToken,
 * accessToken) never leave in listings and gets, only in the export,
 * the authenticated backup path.  Changes go into the shared zone as
 * local changes the store persists.  Token refreshes and test requests
 * run one after the other as subrequests of the admin request, which is
 * answered when the last one is done.
 */


#include <cjson/cJSON.h>

#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_login.h"
#include "q2api_json.h"


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
    NGX_HTTP_Q2API_ROUTE_AUTH_CLAIM
} ngx_http_q2api_admin_route_e;


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

#define NGX_HTTP_Q2API_KIND_ID          1
#define NGX_HTTP_Q2API_KIND_TEXT        2
#define NGX_HTTP_Q2API_KIND_TOKEN       3
#define NGX_HTTP_Q2API_KIND_OTHER       4
#define NGX_HTTP_Q2API_KIND_BOOL        5
#define NGX_HTTP_Q2API_KIND_TYPE        6
#define NGX_HTTP_Q2API_KIND_TIME        7

/* the steps of one account in a job */
#define NGX_HTTP_Q2API_STEP_REFRESH     1
#define NGX_HTTP_Q2API_STEP_TEST        2
#define NGX_HTTP_Q2API_STEP_DONE        3


typedef struct {
    const char                *name;
    ngx_uint_t                 bit;
    ngx_uint_t                 kind;
    size_t                     offset;        /* in the account data */
    size_t                     max;
    ngx_uint_t                 import_only;
} ngx_http_q2api_admin_field_t;


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
    ngx_http_q2api_accounts_t            *pool;
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


static ngx_int_t ngx_http_q2api_admin_init(ngx_conf_t *cf);
static void *ngx_http_q2api_admin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_q2api_admin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_q2api_admin_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_q2api_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_http_q2api_admin_handler(ngx_http_request_t *r);
static ngx_http_q2api_admin_route_e ngx_http_q2api_admin_route(
    ngx_http_request_t *r, ngx_str_t *id);
static ngx_uint_t ngx_http_q2api_admin_methods(
    ngx_http_q2api_admin_route_e route, char **allow);
static ngx_int_t ngx_http_q2api_admin_refuse(ngx_http_request_t *r,
    ngx_http_q2api_auth_e auth, time_t retry_after);
static void ngx_http_q2api_admin_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_dispatch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

static ngx_int_t ngx_http_q2api_admin_login_route(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_health(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_list(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_get(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_create(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_patch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_delete(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_stats(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_stats_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t status, ngx_str_t *json);
static void ngx_http_q2api_admin_stats_done(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *json);
static ngx_int_t ngx_http_q2api_admin_usage(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static void ngx_http_q2api_admin_usage_done(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *json);
static ngx_int_t ngx_http_q2api_admin_ask_credits(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_usage_done_pt done);
static void ngx_http_q2api_admin_usage_error(ngx_http_request_t *r,
    ngx_str_t *id, ngx_int_t status, ngx_str_t *body, ngx_str_t *reason);
static ngx_uint_t ngx_http_q2api_admin_credits_ok(ngx_int_t status,
    ngx_str_t *json);
static ngx_int_t ngx_http_q2api_admin_import(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_export(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_chat_test(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_device(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static void ngx_http_q2api_admin_device_done(ngx_http_request_t *r,
    void *data, ngx_uint_t status, ngx_str_t *json);

static ngx_int_t ngx_http_q2api_admin_feed(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t *answer);
static ngx_int_t ngx_http_q2api_admin_job(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_run(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static void ngx_http_q2api_admin_continue(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_start_refresh(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it);
static void ngx_http_q2api_admin_refreshed(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);
static ngx_int_t ngx_http_q2api_admin_start_probe(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it);
static ngx_int_t ngx_http_q2api_admin_probe_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_q2api_admin_wake(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_verified(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it);
static ngx_int_t ngx_http_q2api_admin_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);

static ngx_int_t ngx_http_q2api_admin_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);

static ngx_http_q2api_admin_json_t *ngx_http_q2api_admin_json(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_q2api_admin_json_t *j);
static ngx_int_t ngx_http_q2api_admin_send_raw(ngx_http_request_t *r,
    ngx_uint_t status, char *type, u_char *data, size_t len);
static ngx_int_t ngx_http_q2api_admin_detail(ngx_http_request_t *r,
    ngx_uint_t status, const char *fmt, ...);
static ngx_int_t ngx_http_q2api_admin_header(ngx_http_request_t *r,
    char *key, u_char *value, size_t len);
static void ngx_http_q2api_admin_row(ngx_http_q2api_admin_json_t *j,
    ngx_http_q2api_account_data_t *d, ngx_uint_t secrets);

static cJSON *ngx_http_q2api_admin_parse(ngx_http_request_t *r,
    ngx_str_t *text, u_char *err);
static ngx_int_t ngx_http_q2api_admin_input(ngx_http_request_t *r,
    cJSON *obj, ngx_uint_t mode, ngx_http_q2api_admin_input_t *in,
    const char *prefix, u_char *err);
static ngx_int_t ngx_http_q2api_admin_complete(ngx_http_request_t *r,
    ngx_http_q2api_admin_input_t *in, const char *prefix, u_char *err);
static ngx_int_t ngx_http_q2api_admin_other_set(ngx_http_request_t *r,
    ngx_str_t *other, const char *key, const char *value);
static ngx_int_t ngx_http_q2api_admin_arg(ngx_http_request_t *r,
    char *name, ngx_str_t *value);


static ngx_http_q2api_admin_field_t  ngx_http_q2api_admin_fields[] = {

    { "id", NGX_HTTP_Q2API_F_ID, NGX_HTTP_Q2API_KIND_ID,
      offsetof(ngx_http_q2api_account_data_t, id),
      NGX_HTTP_Q2API_ADMIN_ID_MAX, 0 },

    { "label", NGX_HTTP_Q2API_F_LABEL, NGX_HTTP_Q2API_KIND_TEXT,
      offsetof(ngx_http_q2api_account_data_t, label),
      NGX_HTTP_Q2API_ADMIN_LABEL_MAX, 0 },

    { "clientId", NGX_HTTP_Q2API_F_CLIENT_ID, NGX_HTTP_Q2API_KIND_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, client_id),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "clientSecret", NGX_HTTP_Q2API_F_CLIENT_SECRET,
      NGX_HTTP_Q2API_KIND_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, client_secret),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "refreshToken", NGX_HTTP_Q2API_F_REFRESH, NGX_HTTP_Q2API_KIND_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, refresh_token),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "accessToken", NGX_HTTP_Q2API_F_ACCESS, NGX_HTTP_Q2API_KIND_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, access_token),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "profileArn", NGX_HTTP_Q2API_F_ARN, NGX_HTTP_Q2API_KIND_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, profile_arn),
      NGX_HTTP_Q2API_ADMIN_ARN_MAX, 0 },

    { "other", NGX_HTTP_Q2API_F_OTHER, NGX_HTTP_Q2API_KIND_OTHER,
      offsetof(ngx_http_q2api_account_data_t, other),
      NGX_HTTP_Q2API_ADMIN_OTHER_MAX, 0 },

    { "enabled", NGX_HTTP_Q2API_F_ENABLED, NGX_HTTP_Q2API_KIND_BOOL,
      0, 0, 0 },

    { "type", NGX_HTTP_Q2API_F_TYPE, NGX_HTTP_Q2API_KIND_TYPE, 0, 0, 0 },

    { "created_at", NGX_HTTP_Q2API_F_CREATED, NGX_HTTP_Q2API_KIND_TIME,
      offsetof(ngx_http_q2api_account_data_t, created_at), 0, 1 },

    { "expires_at", NGX_HTTP_Q2API_F_EXPIRES, NGX_HTTP_Q2API_KIND_TIME,
      offsetof(ngx_http_q2api_account_data_t, token_expires), 0, 1 },

    { NULL, 0, 0, 0, 0, 0 }
};


/* names under /v2/accounts/ that are routes, not accounts */
static char  *ngx_http_q2api_admin_reserved[] = {
    "feed", "import", "export", "refresh-all", NULL
};


static ngx_str_t  ngx_http_q2api_admin_post = ngx_string("POST");

/* what the deep health check and a fed account's test send */
static char  ngx_http_q2api_admin_probe_body[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":16,\"stream\":false,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}";


static ngx_command_t  ngx_http_q2api_admin_commands[] = {

    { ngx_string("q2api_admin"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_q2api_admin,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_admin_password"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_admin_password,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_admin_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_admin_loc_conf_t, secret),
      NULL },

    { ngx_string("q2api_admin_session_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_admin_loc_conf_t, session_timeout),
      NULL },

    { ngx_string("q2api_admin_login_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_q2api_admin_login_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_admin_test_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_admin_loc_conf_t, test_location),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_q2api_admin_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_q2api_admin_init,             /* postconfiguration */

    ngx_http_q2api_admin_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_q2api_admin_create_loc_conf,  /* create location configuration */
    ngx_http_q2api_admin_merge_loc_conf    /* merge location configuration */
};


ngx_module_t  ngx_http_q2api_admin_module = {
    NGX_MODULE_V1,
    &ngx_http_q2api_admin_module_ctx,      /* module context */
    ngx_http_q2api_admin_commands,         /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* configuration --------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_admin_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_q2api_admin_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_q2api_admin_body_filter;

    return NGX_OK;
}


static void *
ngx_http_q2api_admin_create_main_conf(ngx_conf_t *cf)
{
    /*
     * set by ngx_pcalloc():
     *
     *     amcf->shm_zone = NULL;
     */

    return ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_admin_main_conf_t));
}


static void *
ngx_http_q2api_admin_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_q2api_admin_loc_conf_t  *alcf;

    alcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_admin_loc_conf_t));
    if (alcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     alcf->digest = { 0 };
     *     alcf->secret = { 0, NULL };
     *     alcf->test_location = { 0, NULL };
     */

    alcf->enable = NGX_CONF_UNSET;
    alcf->has_password = NGX_CONF_UNSET;
    alcf->session_timeout = NGX_CONF_UNSET;
    alcf->max_failures = NGX_CONF_UNSET_UINT;
    alcf->lockout = NGX_CONF_UNSET;

    return alcf;
}


static char *
ngx_http_q2api_admin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_q2api_admin_loc_conf_t *prev = parent;
    ngx_http_q2api_admin_loc_conf_t *conf = child;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);

    if (conf->has_password == NGX_CONF_UNSET) {
        conf->has_password = prev->has_password;
        ngx_memcpy(conf->digest, prev->digest,
                   NGX_HTTP_Q2API_ADMIN_DIGEST_LEN);
    }

    if (conf->has_password == NGX_CONF_UNSET) {
        conf->has_password = 0;
    }

    ngx_conf_merge_str_value(conf->secret, prev->secret, "");

    /* q2api's web console promised 30-day sessions */
    ngx_conf_merge_sec_value(conf->session_timeout, prev->session_timeout,
                             30 * 86400);

    if (conf->max_failures == NGX_CONF_UNSET_UINT) {
        conf->max_failures = prev->max_failures;
        conf->lockout = prev->lockout;
    }

    ngx_conf_merge_uint_value(conf->max_failures, prev->max_failures, 5);
    ngx_conf_merge_sec_value(conf->lockout, prev->lockout, 60);

    ngx_conf_merge_str_value(conf->test_location, prev->test_location,
                             "/_q2api/test/v1/messages");

    if (conf->secret.len && conf->secret.len < 16) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_admin_secret must have at least "
                           "16 characters");
        return NGX_CONF_ERROR;
    }

    if (conf->session_timeout <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_admin_session_timeout must be positive");
        return NGX_CONF_ERROR;
    }

    if (conf->test_location.data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_admin_test_location \"%V\" must be a URI",
                           &conf->test_location);
        return NGX_CONF_ERROR;
    }

    if (conf->enable && !conf->has_password) {
        /* an open admin API would hand out every account's secrets */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_admin requires q2api_admin_password");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_q2api_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_admin_loc_conf_t *alcf = conf;

    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_q2api_admin_main_conf_t  *amcf;

    if (alcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    alcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_q2api_admin_handler;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_q2api_admin_module);

    if (ngx_http_q2api_admin_add_zone(cf, amcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the content handler ---------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_admin_handler(ngx_http_request_t *r)
{
    char                        *allow;
    time_t                       retry_after;
    ngx_int_t                    rc;
    ngx_http_q2api_auth_e        auth;
    ngx_http_q2api_admin_ctx_t  *ctx;
    ngx_http_q2api_main_conf_t  *qmcf;

    if (r != r->main) {
        /* the admin API answers clients, never another location */
        return NGX_HTTP_NOT_FOUND;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_admin_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->magic = NGX_HTTP_Q2API_ADMIN_CTX;
    ctx->conf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_admin_module);

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);
    ctx->pool = qmcf->pool;

    ngx_http_set_ctx(r, ctx, ngx_http_q2api_admin_module);

    ctx->route = ngx_http_q2api_admin_route(r, &ctx->id);

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_NONE) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Not Found");
    }

    if (!(r->method & ngx_http_q2api_admin_methods(ctx->route, &allow))) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_q2api_admin_header(r, "Allow", (u_char *) allow,
                                        ngx_strlen(allow))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_ALLOWED,
                                           "Method Not Allowed");
    }

    if (ctx->route != NGX_HTTP_Q2API_ROUTE_LOGIN
        && ctx->route != NGX_HTTP_Q2API_ROUTE_HEALTH)
    {
        r->connection->log->action = "authenticating an admin request";

        auth = ngx_http_q2api_admin_authenticate(r, ctx->conf, &retry_after);

        r->connection->log->action = NULL;

        if (auth != NGX_HTTP_Q2API_AUTH_OK) {
            rc = ngx_http_discard_request_body(r);
            if (rc != NGX_OK) {
                return rc;
            }

            return ngx_http_q2api_admin_refuse(r, auth, retry_after);
        }
    }

    if (ctx->pool == NULL && ctx->route != NGX_HTTP_Q2API_ROUTE_LOGIN) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_q2api_admin_detail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "no account pool: this nginx has "
                                           "no q2api_zone");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_q2api_admin_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * q2api_admin serves a whole tree: the end of the URI names the route, so
 * "location /" and "location /admin/" both work.
 */
static ngx_http_q2api_admin_route_e
ngx_http_q2api_admin_route(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char     *start, *end, *p, *tail, *slash;
    size_t      n;
    ngx_uint_t  i;

    start = r->uri.data;
    end = r->uri.data + r->uri.len;

    while (end > start && end[-1] == '/') {
        end--;
    }

    /* the last "/v2/accounts" segment: ids never contain a slash */
    tail = NULL;
    n = sizeof("/v2/accounts") - 1;

    for (p = start; (size_t) (end - p) >= n; p++) {
        if (ngx_strncmp(p, "/v2/accounts", n) == 0
            && (p + n == end || p[n] == '/'))
        {
            tail = p + n;
        }
    }

    if (tail != NULL) {
        if (tail == end) {
            return NGX_HTTP_Q2API_ROUTE_ACCOUNTS;
        }

        tail++;

#define q2api_tail_is(lit)                                                 \
        ((size_t) (end - tail) == sizeof(lit) - 1                          \
         && ngx_strncmp(tail, lit, sizeof(lit) - 1) == 0)

        if (q2api_tail_is("feed")) {
            return NGX_HTTP_Q2API_ROUTE_FEED;
        }

        if (q2api_tail_is("import")) {
            return NGX_HTTP_Q2API_ROUTE_IMPORT;
        }

        if (q2api_tail_is("export")) {
            return NGX_HTTP_Q2API_ROUTE_EXPORT;
        }

        if (q2api_tail_is("refresh-all")) {
            return NGX_HTTP_Q2API_ROUTE_REFRESH_ALL;
        }

#undef q2api_tail_is

        slash = ngx_strlchr(tail, end, '/');

        id->data = tail;
        id->len = (slash ? slash : end) - tail;

        if (id->len == 0) {
            return NGX_HTTP_Q2API_ROUTE_NONE;
        }

        if (slash == NULL) {
            return NGX_HTTP_Q2API_ROUTE_ACCOUNT;
        }

        p = slash + 1;

        if (end - p == 7 && ngx_strncmp(p, "refresh", 7) == 0) {
            return NGX_HTTP_Q2API_ROUTE_REFRESH;
        }

        if (end - p == 5 && ngx_strncmp(p, "stats", 5) == 0) {
            return NGX_HTTP_Q2API_ROUTE_STATS;
        }

        if (end - p == 5 && ngx_strncmp(p, "usage", 5) == 0) {
            return NGX_HTTP_Q2API_ROUTE_USAGE;
        }

        return NGX_HTTP_Q2API_ROUTE_NONE;
    }

#define q2api_ends_with(lit)                                               \
    ((size_t) (end - start) >= sizeof(lit) - 1                             \
     && ngx_strncmp(end - (sizeof(lit) - 1), lit, sizeof(lit) - 1) == 0)

    if (q2api_ends_with("/api/login")) {
        return NGX_HTTP_Q2API_ROUTE_LOGIN;
    }

    if (q2api_ends_with("/healthz")) {
        return NGX_HTTP_Q2API_ROUTE_HEALTH;
    }

    if (q2api_ends_with("/healthz/deep")) {
        return NGX_HTTP_Q2API_ROUTE_DEEP;
    }

    if (q2api_ends_with("/v2/chat/test")) {
        return NGX_HTTP_Q2API_ROUTE_CHAT_TEST;
    }

    if (q2api_ends_with("/v2/auth/start")) {
        return NGX_HTTP_Q2API_ROUTE_AUTH_START;
    }

#undef q2api_ends_with

    /* /v2/auth/status/{authId}, /v2/auth/claim/{authId} */
    for (p = start, slash = NULL; p < end; p++) {
        if (*p == '/') {
            slash = p;
        }
    }

    if (slash == NULL || end - slash < 2) {
        return NGX_HTTP_Q2API_ROUTE_NONE;
    }

    id->data = slash + 1;
    id->len = end - slash - 1;

    for (i = 0; i < 2; i++) {
        n = i ? sizeof("/v2/auth/claim") - 1 : sizeof("/v2/auth/status") - 1;

        if ((size_t) (slash - start) >= n
            && ngx_strncmp(slash - n, i ? "/v2/auth/claim" : "/v2/auth/status",
                           n) == 0)
        {
            return i ? NGX_HTTP_Q2API_ROUTE_AUTH_CLAIM
                     : NGX_HTTP_Q2API_ROUTE_AUTH_STATUS;
        }
    }

    return NGX_HTTP_Q2API_ROUTE_NONE;
}


static ngx_uint_t
ngx_http_q2api_admin_methods(ngx_http_q2api_admin_route_e route,
    char **allow)
{
    switch (route) {

    case NGX_HTTP_Q2API_ROUTE_HEALTH:
    case NGX_HTTP_Q2API_ROUTE_DEEP:
    case NGX_HTTP_Q2API_ROUTE_STATS:
    case NGX_HTTP_Q2API_ROUTE_USAGE:
    case NGX_HTTP_Q2API_ROUTE_EXPORT:
    case NGX_HTTP_Q2API_ROUTE_AUTH_STATUS:
        *allow = "GET, HEAD";
        return NGX_HTTP_GET|NGX_HTTP_HEAD;

    case NGX_HTTP_Q2API_ROUTE_ACCOUNTS:
        *allow = "GET, HEAD, POST";
        return NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST;

    case NGX_HTTP_Q2API_ROUTE_ACCOUNT:
        *allow = "GET, HEAD, PATCH, DELETE";
        return NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_PATCH|NGX_HTTP_DELETE;

    default:
        *allow = "POST";
        return NGX_HTTP_POST;
    }
}


/* q2api's answers to a request without valid credentials */
static ngx_int_t
ngx_http_q2api_admin_refuse(ngx_http_request_t *r, ngx_http_q2api_auth_e auth,
    time_t retry_after)
{
    u_char                       *p, *last;
    ngx_http_q2api_admin_json_t  *j;

    if (auth == NGX_HTTP_Q2API_AUTH_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (auth == NGX_HTTP_Q2API_AUTH_LOCKED) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        last = ngx_sprintf(p, "%T", retry_after);

        if (ngx_http_q2api_admin_header(r, "Retry-After", p, last - p)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Too many failed attempts, "
                    "retry later\",\"code\":\"TOO_MANY_ATTEMPTS\"}}");

        return ngx_http_q2api_admin_send(r, NGX_HTTP_TOO_MANY_REQUESTS, j);
    }

    if (ngx_http_q2api_admin_header(r, "WWW-Authenticate",
                                    (u_char *) "Bearer", 6)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (auth) {

    case NGX_HTTP_Q2API_AUTH_BAD_PASSWORD:
        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Invalid password\","
                    "\"code\":\"INVALID_PASSWORD\"}}");
        break;

    case NGX_HTTP_Q2API_AUTH_EXPIRED:
        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Session expired\","
                    "\"code\":\"UNAUTHORIZED\"}}");
        break;

    default:
        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Unauthorized access\","
                    "\"code\":\"UNAUTHORIZED\"}}");
    }

    return ngx_http_q2api_admin_send(r, NGX_HTTP_UNAUTHORIZED, j);
}


static void
ngx_http_q2api_admin_body_handler(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_q2api_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    r->connection->log->action = "reading the admin request";

    if (ngx_http_q2api_read_body(r, &ctx->body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->connection->log->action = "serving the admin API";

    rc = ngx_http_q2api_admin_dispatch(r, ctx);

    if (ctx->async && rc == NGX_DONE) {
        /* a job runs: it answers when it is done */
        return;
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_q2api_admin_dispatch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    switch (ctx->route) {

    case NGX_HTTP_Q2API_ROUTE_LOGIN:
        return ngx_http_q2api_admin_login_route(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_HEALTH:
        return ngx_http_q2api_admin_health(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_ACCOUNTS:
        return r->method == NGX_HTTP_POST
               ? ngx_http_q2api_admin_create(r, ctx)
               : ngx_http_q2api_admin_list(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_ACCOUNT:
        if (r->method == NGX_HTTP_PATCH) {
            return ngx_http_q2api_admin_patch(r, ctx);
        }

        if (r->method == NGX_HTTP_DELETE) {
            return ngx_http_q2api_admin_delete(r, ctx);
        }

        return ngx_http_q2api_admin_get(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_STATS:
        return ngx_http_q2api_admin_stats(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_USAGE:
        return ngx_http_q2api_admin_usage(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_IMPORT:
        return ngx_http_q2api_admin_import(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_EXPORT:
        return ngx_http_q2api_admin_export(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_CHAT_TEST:
        return ngx_http_q2api_admin_chat_test(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_AUTH_START:
    case NGX_HTTP_Q2API_ROUTE_AUTH_STATUS:
    case NGX_HTTP_Q2API_ROUTE_AUTH_CLAIM:
        return ngx_http_q2api_admin_device(r, ctx);

    default: /* refresh, refresh-all, feed, deep health */
        return ngx_http_q2api_admin_job(r, ctx);
    }
}


/* answers ---------------------------------------------------------------- */


static void
ngx_http_q2api_admin_json_cleanup(void *data)
{
    ngx_http_q2api_admin_json_t  *j = data;

    q2api_buf_free(&j->b);
}


/* an output buffer that lives (and is freed) with the request */
static ngx_http_q2api_admin_json_t *
ngx_http_q2api_admin_json(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_q2api_admin_json_t  *j;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_q2api_admin_json_t));
    if (cln == NULL) {
        return NULL;
    }

    j = cln->data;
    q2api_buf_init(&j->b, 0);
    j->rc = Q2API_OK;

    cln->handler = ngx_http_q2api_admin_json_cleanup;

    return j;
}


static void
ngx_http_q2api_admin_raw(ngx_http_q2api_admin_json_t *j, const void *p,
    size_t n)
{
    if (j->rc == Q2API_OK) {
        j->rc = q2api_buf_append(&j->b, p, n);
    }
}


/* literals only: "" lit does not compile with anything else */
#define ngx_http_q2api_admin_lit(j, lit)                                   \
    ngx_http_q2api_admin_raw(j, "" lit, sizeof(lit) - 1)


static void
ngx_http_q2api_admin_string(ngx_http_q2api_admin_json_t *j, u_char *p,
    size_t n)
{
    if (j->rc == Q2API_OK) {
        j->rc = q2api_json_append_string(&j->b, (char *) p, n);
    }
}


/* a string, or null when empty */
static void
ngx_http_q2api_admin_nstr(ngx_http_q2api_admin_json_t *j, ngx_str_t *s)
{
    if (s->len == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    ngx_http_q2api_admin_string(j, s->data, s->len);
}


static void
ngx_http_q2api_admin_cstr(ngx_http_q2api_admin_json_t *j, const char *s)
{
    ngx_http_q2api_admin_string(j, (u_char *) s, ngx_strlen(s));
}


static void
ngx_http_q2api_admin_int(ngx_http_q2api_admin_json_t *j, int64_t v)
{
    if (j->rc == Q2API_OK) {
        j->rc = q2api_json_append_int(&j->b, (long long) v);
    }
}


static void
ngx_http_q2api_admin_bool(ngx_http_q2api_admin_json_t *j, ngx_uint_t v)
{
    if (v) {
        ngx_http_q2api_admin_lit(j, "true");

    } else {
        ngx_http_q2api_admin_lit(j, "false");
    }
}


/* q2api's "%Y-%m-%dT%H:%M:%S" (UTC), or null */
static void
ngx_http_q2api_admin_time(ngx_http_q2api_admin_json_t *j, time_t t)
{
    u_char     buf[32], *p;
    struct tm  tm;

    if (t <= 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    ngx_libc_gmtime(t, &tm);

    p = ngx_sprintf(buf, "\"%4d-%02d-%02dT%02d:%02d:%02d\"",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec);

    ngx_http_q2api_admin_raw(j, buf, p - buf);
}


/*
 * A secret as listings show it: its first 4 characters (when it is long
 * enough for that to say nothing) and its length, e.g. "aoaA…(812)".
 */
static void
ngx_http_q2api_admin_secret(ngx_http_q2api_admin_json_t *j, ngx_str_t *s,
    ngx_uint_t clear)
{
    u_char  buf[64], *p;

    if (s->len == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    if (clear) {
        ngx_http_q2api_admin_string(j, s->data, s->len);
        return;
    }

    p = buf;

    if (s->len >= 16) {
        p = ngx_cpymem(p, s->data, 4);
    }

    p = ngx_sprintf(p, "\xe2\x80\xa6(%uz)", s->len);

    ngx_http_q2api_admin_string(j, buf, p - buf);
}


/* "other" is kept as text; it goes out as the object it holds */
static void
ngx_http_q2api_admin_other(ngx_http_q2api_admin_json_t *j, ngx_str_t *other)
{
    char   *printed;
    cJSON  *o;

    if (other->len == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    o = cJSON_ParseWithLength((char *) other->data, other->len);

    if (!cJSON_IsObject(o)) {
        /* not ours: an accounts file may hold any string there */
        cJSON_Delete(o);
        ngx_http_q2api_admin_string(j, other->data, other->len);
        return;
    }

    printed = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (printed == NULL) {
        j->rc = Q2API_NOMEM;
        return;
    }

    if (q2api_utf8_valid(printed, ngx_strlen(printed))) {
        ngx_http_q2api_admin_raw(j, printed, ngx_strlen(printed));

    } else {
        ngx_http_q2api_admin_lit(j, "null");
    }

    cJSON_free(printed);
}


/*
 * One account: q2api's row (secrets masked unless "secrets") and this
 * module's state.  last_refresh_status is derived: "failed" when the
 * account needs a new login, "success" once a token expiry is known,
 * else "never".
 */
static void
ngx_http_q2api_admin_row(ngx_http_q2api_admin_json_t *j,
    ngx_http_q2api_account_data_t *d, ngx_uint_t secrets)
{
    ngx_http_q2api_admin_lit(j, "{\"id\":");
    ngx_http_q2api_admin_string(j, d->id.data, d->id.len);
    ngx_http_q2api_admin_lit(j, ",\"label\":");
    ngx_http_q2api_admin_nstr(j, &d->label);
    ngx_http_q2api_admin_lit(j, ",\"clientId\":");
    ngx_http_q2api_admin_nstr(j, &d->client_id);
    ngx_http_q2api_admin_lit(j, ",\"clientSecret\":");
    ngx_http_q2api_admin_secret(j, &d->client_secret, secrets);
    ngx_http_q2api_admin_lit(j, ",\"refreshToken\":");
    ngx_http_q2api_admin_secret(j, &d->refresh_token, secrets);
    ngx_http_q2api_admin_lit(j, ",\"accessToken\":");
    ngx_http_q2api_admin_secret(j, &d->access_token, secrets);
    ngx_http_q2api_admin_lit(j, ",\"profileArn\":");
    ngx_http_q2api_admin_nstr(j, &d->profile_arn);
    ngx_http_q2api_admin_lit(j, ",\"other\":");
    ngx_http_q2api_admin_other(j, &d->other);
    ngx_http_q2api_admin_lit(j, ",\"enabled\":");
    ngx_http_q2api_admin_bool(j, d->enabled);
    ngx_http_q2api_admin_lit(j, ",\"created_at\":");
    ngx_http_q2api_admin_time(j, d->created_at);
    ngx_http_q2api_admin_lit(j, ",\"updated_at\":");
    ngx_http_q2api_admin_time(j, d->updated_at);
    ngx_http_q2api_admin_lit(j, ",\"last_refresh_time\":null"
                                ",\"last_refresh_status\":");
    ngx_http_q2api_admin_cstr(j,
        d->status == NGX_HTTP_Q2API_ST_NEEDS_LOGIN ? "failed"
        : d->token_expires ? "success" : "never");
    ngx_http_q2api_admin_lit(j, ",\"error_count\":");
    ngx_http_q2api_admin_int(j, d->consecutive_errors);
    ngx_http_q2api_admin_lit(j, ",\"success_count\":");
    ngx_http_q2api_admin_int(j, d->successes);
    ngx_http_q2api_admin_lit(j, ",\"expires_at\":");
    ngx_http_q2api_admin_time(j, d->token_expires);
    ngx_http_q2api_admin_lit(j, ",\"type\":");
    ngx_http_q2api_admin_cstr(j, d->type == NGX_HTTP_Q2API_ACCOUNT_KIRO
                                 ? "kiro" : "amazonq");
    ngx_http_q2api_admin_lit(j, ",\"status\":");
    ngx_http_q2api_admin_cstr(j, ngx_http_q2api_status_name(d->status));
    ngx_http_q2api_admin_lit(j, ",\"status_reason\":");
    ngx_http_q2api_admin_nstr(j, &d->reason);
    ngx_http_q2api_admin_lit(j, ",\"status_since\":");
    ngx_http_q2api_admin_time(j, d->status_since);
    ngx_http_q2api_admin_lit(j, ",\"status_until\":");
    ngx_http_q2api_admin_time(j, d->until);
    ngx_http_q2api_admin_lit(j, ",\"total_errors\":");
    ngx_http_q2api_admin_int(j, d->errors);
    ngx_http_q2api_admin_lit(j, ",\"tokens_in\":");
    ngx_http_q2api_admin_int(j, d->tokens_in);
    ngx_http_q2api_admin_lit(j, ",\"tokens_out\":");
    ngx_http_q2api_admin_int(j, d->tokens_out);
    ngx_http_q2api_admin_lit(j, ",\"last_used\":");
    ngx_http_q2api_admin_time(j, d->last_used);
    ngx_http_q2api_admin_lit(j, ",\"last_error\":");
    ngx_http_q2api_admin_nstr(j, &d->last_error);
    ngx_http_q2api_admin_lit(j, "}");
}


static ngx_int_t
ngx_http_q2api_admin_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = value;
    h->value.len = len;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_q2api_admin_json_t *j)
{
    if (j->rc != Q2API_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: out of memory writing an answer");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_admin_send_raw(r, status, "application/json",
                                         j->b.data, j->b.len);
}


static ngx_int_t
ngx_http_q2api_admin_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *data, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    /* account data, sometimes secrets: never in a cache */
    if (ngx_http_q2api_admin_header(r, "Cache-Control", (u_char *) "no-store",
                                    8)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (len == 0) {
        return ngx_http_send_special(r, NGX_HTTP_LAST);
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->start = b->pos;
    b->end = b->last;
    b->memory = 1;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* FastAPI's {"detail": "..."} */
static ngx_int_t
ngx_http_q2api_admin_detail(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...)
{
    u_char                       msg[512], *p;
    va_list                      args;
    ngx_http_q2api_admin_json_t  *j;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"detail\":");
    ngx_http_q2api_admin_string(j, msg, p - msg);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, status, j);
}


/* input ------------------------------------------------------------------ */


static void
ngx_http_q2api_admin_cjson_cleanup(void *data)
{
    cJSON_Delete(data);
}


/* the body as JSON, freed with the request; NULL and err when it is not */
static cJSON *
ngx_http_q2api_admin_parse(ngx_http_request_t *r, ngx_str_t *text,
    u_char *err)
{
    cJSON               *root;
    const char          *at;
    ngx_pool_cleanup_t  *cln;

    if (text->len == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "body: a JSON body is required%Z");
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN, "out of memory%Z");
        return NULL;
    }

    root = cJSON_ParseWithLength((char *) text->data, text->len);

    if (root == NULL) {
        at = cJSON_GetErrorPtr();
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "body: invalid JSON near byte %uz%Z",
                     (at >= (char *) text->data
                      && at <= (char *) text->data + text->len)
                     ? (size_t) (at - (char *) text->data) : (size_t) 0);
        return NULL;
    }

    cln->handler = ngx_http_q2api_admin_cjson_cleanup;
    cln->data = root;

    return root;
}


static ngx_uint_t
ngx_http_q2api_admin_id_ok(u_char *p, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '.'
              || p[i] == '_' || p[i] == '~' || p[i] == ':' || p[i] == '@'))
        {
            return 0;
        }
    }

    for (i = 0; ngx_http_q2api_admin_reserved[i]; i++) {
        if (len == ngx_strlen(ngx_http_q2api_admin_reserved[i])
            && ngx_strncmp(p, ngx_http_q2api_admin_reserved[i], len) == 0)
        {
            return 0;
        }
    }

    return 1;
}


/* a label: valid UTF-8, no control characters */
static ngx_uint_t
ngx_http_q2api_admin_text_ok(u_char *s, size_t len)
{
    size_t  i;

    if (!q2api_utf8_valid((char *) s, len)) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* epoch seconds, or q2api's "%Y-%m-%dT%H:%M:%S" text (UTC) */
static ngx_int_t
ngx_http_q2api_admin_time_in(cJSON *v, time_t *t)
{
    int        n;
    struct tm  tm;

    if (cJSON_IsNumber(v) && v->valuedouble >= 0
        && v->valuedouble < 253402300800.0)
    {
        *t = (time_t) v->valuedouble;
        return NGX_OK;
    }

    if (!cJSON_IsString(v)) {
        return NGX_ERROR;
    }

    ngx_memzero(&tm, sizeof(struct tm));

    n = sscanf(v->valuestring, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year,
               &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);

    if (n != 6 || tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12) {
        return NGX_ERROR;
    }

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;

    *t = timegm(&tm);

    return *t == (time_t) -1 ? NGX_ERROR : NGX_OK;
}


/*
 * One account from a request body into in->d, naming the first bad field
 * in err ("<prefix><field>: <problem>").  Unknown fields are refused on
 * create and patch (a typo would otherwise silently lose a credential)
 * and ignored on import (an export carries this module's state).  null
 * means "not given", as in q2api.  Strings point into the cJSON tree.
 */
static ngx_int_t
ngx_http_q2api_admin_input(ngx_http_request_t *r, cJSON *obj,
    ngx_uint_t mode, ngx_http_q2api_admin_input_t *in, const char *prefix,
    u_char *err)
{
    char                          *printed;
    size_t                         len;
    cJSON                         *v, *o;
    u_char                        *s;
    ngx_str_t                     *str;
    ngx_http_q2api_admin_field_t  *f;

    ngx_memzero(in, sizeof(ngx_http_q2api_admin_input_t));

    if (!cJSON_IsObject(obj)) {
        /* "accounts[2].": the element itself is wrong */
        len = ngx_strlen(prefix);

        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%*s: expected a JSON object%Z",
                     len ? len - 1 : sizeof("body") - 1,
                     len ? prefix : "body");
        return NGX_DECLINED;
    }

    cJSON_ArrayForEach(v, obj) {

        for (f = ngx_http_q2api_admin_fields; f->name; f++) {
            if (ngx_strcmp(v->string, f->name) == 0) {
                break;
            }
        }

        if (f->name == NULL
            || (f->import_only && mode != NGX_HTTP_Q2API_INPUT_IMPORT))
        {
            if (mode == NGX_HTTP_Q2API_INPUT_IMPORT) {
                continue;
            }

            len = ngx_min(ngx_strlen(v->string), 64);
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%*s: unknown or read-only field%Z", prefix, len,
                         v->string);
            return NGX_DECLINED;
        }

        if (in->set & f->bit) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: given twice%Z", prefix, f->name);
            return NGX_DECLINED;
        }

        if (cJSON_IsNull(v)) {
            continue;
        }

        in->set |= f->bit;
        str = (ngx_str_t *) ((u_char *) &in->d + f->offset);

        switch (f->kind) {

        case NGX_HTTP_Q2API_KIND_BOOL:
            if (cJSON_IsBool(v)) {
                in->d.enabled = cJSON_IsTrue(v) ? 1 : 0;

            } else if (cJSON_IsNumber(v)
                       && (v->valuedouble == 0 || v->valuedouble == 1))
            {
                /* q2api's database keeps 0 and 1 */
                in->d.enabled = v->valuedouble == 1;

            } else {
                goto bool_expected;
            }

            continue;

        case NGX_HTTP_Q2API_KIND_TYPE:
            if (!cJSON_IsString(v)) {
                goto type_expected;
            }

            if (ngx_strcmp(v->valuestring, "amazonq") == 0) {
                in->d.type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;

            } else if (ngx_strcmp(v->valuestring, "kiro") == 0) {
                in->d.type = NGX_HTTP_Q2API_ACCOUNT_KIRO;

            } else {
                goto type_expected;
            }

            continue;

        case NGX_HTTP_Q2API_KIND_TIME:
            if (ngx_http_q2api_admin_time_in(v,
                    (time_t *) ((u_char *) &in->d + f->offset))
                != NGX_OK)
            {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: expected epoch seconds or "
                             "YYYY-MM-DDTHH:MM:SS%Z", prefix, f->name);
                return NGX_DECLINED;
            }

            continue;

        case NGX_HTTP_Q2API_KIND_OTHER:
            if (cJSON_IsString(v) && mode == NGX_HTTP_Q2API_INPUT_IMPORT) {
                /* a q2api database export keeps "other" as text */
                o = cJSON_Parse(v->valuestring);
                printed = cJSON_IsObject(o) ? cJSON_PrintUnformatted(o)
                                            : NULL;
                cJSON_Delete(o);

                if (printed == NULL) {
                    goto object_expected;
                }

            } else if (cJSON_IsObject(v)) {
                printed = cJSON_PrintUnformatted(v);
                if (printed == NULL) {
                    return NGX_ERROR;
                }

            } else {
                goto object_expected;
            }

            len = ngx_strlen(printed);

            if (len > f->max || !q2api_utf8_valid(printed, len)) {
                cJSON_free(printed);
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: must be valid UTF-8 of at most %uz "
                             "bytes%Z", prefix, f->name, f->max);
                return NGX_DECLINED;
            }

            str->data = ngx_pnalloc(r->pool, len);
            if (str->data == NULL) {
                cJSON_free(printed);
                return NGX_ERROR;
            }

            ngx_memcpy(str->data, printed, len);
            str->len = len;
            cJSON_free(printed);

            continue;

        default: /* strings */
            break;
        }

        if (!cJSON_IsString(v)) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: expected a string%Z", prefix, f->name);
            return NGX_DECLINED;
        }

        s = (u_char *) v->valuestring;
        len = ngx_strlen(v->valuestring);

        if (len > f->max) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: longer than %uz bytes%Z", prefix, f->name,
                         f->max);
            return NGX_DECLINED;
        }

        switch (f->kind) {

        case NGX_HTTP_Q2API_KIND_ID:
            if (len == 0 || !ngx_http_q2api_admin_id_ok(s, len)) {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%sid: 1 to %d characters of A-Z a-z 0-9 "
                             "- . _ ~ : @, and not a route name%Z", prefix,
                             NGX_HTTP_Q2API_ADMIN_ID_MAX);
                return NGX_DECLINED;
            }

            break;

        case NGX_HTTP_Q2API_KIND_TEXT:
            if (!ngx_http_q2api_admin_text_ok(s, len)) {
                goto text_expected;
            }

            break;

        default: /* NGX_HTTP_Q2API_KIND_TOKEN */

            /* these go into HTTP headers and request bodies as they are */
            if (!ngx_http_q2api_token_chars(s, len)) {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: %s%Z", prefix, f->name,
                             ngx_strstrn(s, "\xe2\x80\xa6", 3 - 1)
                             ? "a masked value (as listings show it) "
                               "cannot be stored"
                             : "must be printable ASCII without spaces");
                return NGX_DECLINED;
            }
        }

        str->data = s;
        str->len = len;
    }

    return NGX_OK;

bool_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%senabled: expected a boolean%Z", prefix);
    return NGX_DECLINED;

type_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%stype: expected \"amazonq\" or \"kiro\"%Z", prefix);
    return NGX_DECLINED;

object_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%sother: expected a JSON object%Z", prefix);
    return NGX_DECLINED;

text_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%slabel: must be valid UTF-8 without control "
                 "characters%Z", prefix);
    return NGX_DECLINED;
}


/*
 * A new account's defaults and the checks that span fields: an id (a
 * fresh UUIDv4 when none is given), enabled, a credential to work with.
 */
static ngx_int_t
ngx_http_q2api_admin_complete(ngx_http_request_t *r,
    ngx_http_q2api_admin_input_t *in, const char *prefix, u_char *err)
{
    ngx_http_q2api_account_data_t  *d;

    d = &in->d;

    if (!(in->set & NGX_HTTP_Q2API_F_ID)) {
        d->id.data = ngx_pnalloc(r->pool, 37);
        if (d->id.data == NULL) {
            return NGX_ERROR;
        }

        if (q2api_uuid4((char *) d->id.data) != Q2API_OK) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "q2api admin: RAND_bytes() failed");
            return NGX_ERROR;
        }

        d->id.len = 36;
    }

    if (!(in->set & NGX_HTTP_Q2API_F_ENABLED)) {
        d->enabled = 1;
    }

    if (!(in->set & NGX_HTTP_Q2API_F_TYPE)) {
        d->type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
    }

    if (d->access_token.len == 0 && d->refresh_token.len == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%saccessToken: an account needs an accessToken or a "
                     "refreshToken%Z", prefix);
        return NGX_DECLINED;
    }

    if (d->type == NGX_HTTP_Q2API_ACCOUNT_AMAZONQ && d->refresh_token.len
        && (d->client_id.len == 0 || d->client_secret.len == 0))
    {
        /* an Amazon Q token is refreshed with its OIDC client */
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%s%s: needed with a refreshToken%Z", prefix,
                     d->client_id.len ? "clientSecret" : "clientId");
        return NGX_DECLINED;
    }

    d->status = NGX_HTTP_Q2API_ST_ACTIVE;
    d->updated_at = ngx_time();

    if (d->created_at == 0) {
        d->created_at = d->updated_at;
    }

    return NGX_OK;
}


/* the fields an input gave, over an account's (but never its id) */
static void
ngx_http_q2api_admin_overlay(ngx_http_q2api_account_data_t *d,
    ngx_http_q2api_admin_input_t *in)
{
    ngx_http_q2api_admin_field_t  *f;

    for (f = ngx_http_q2api_admin_fields; f->name; f++) {
        if (!(in->set & f->bit) || f->kind == NGX_HTTP_Q2API_KIND_ID) {
            continue;
        }

        switch (f->kind) {

        case NGX_HTTP_Q2API_KIND_BOOL:
            d->enabled = in->d.enabled;
            break;

        case NGX_HTTP_Q2API_KIND_TYPE:
            d->type = in->d.type;
            break;

        case NGX_HTTP_Q2API_KIND_TIME:
            *(time_t *) ((u_char *) d + f->offset) =
                *(time_t *) ((u_char *) &in->d + f->offset);
            break;

        default:
            *(ngx_str_t *) ((u_char *) d + f->offset) =
                *(ngx_str_t *) ((u_char *) &in->d + f->offset);
        }
    }
}


/* other with key set to value (NULL: removed), as new text in r->pool */
static ngx_int_t
ngx_http_q2api_admin_other_set(ngx_http_request_t *r, ngx_str_t *other,
    const char *key, const char *value)
{
    char    *printed;
    cJSON   *o;
    size_t   len;

    o = other->len ? cJSON_ParseWithLength((char *) other->data, other->len)
                   : NULL;

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
        if (o == NULL) {
            return NGX_ERROR;
        }
    }

    cJSON_DeleteItemFromObjectCaseSensitive(o, key);

    if (value != NULL && cJSON_AddStringToObject(o, key, value) == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    printed = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (printed == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(printed);

    other->data = ngx_pnalloc(r->pool, len);
    if (other->data == NULL) {
        cJSON_free(printed);
        return NGX_ERROR;
    }

    ngx_memcpy(other->data, printed, len);
    other->len = len;
    cJSON_free(printed);

    return NGX_OK;
}


/* an argument, unescaped; NGX_DECLINED when absent */
static ngx_int_t
ngx_http_q2api_admin_arg(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    return NGX_OK;
}


/* routes ----------------------------------------------------------------- */


/*
 * POST /api/login {"password"}: q2api's answer, plus a session token.  A
 * wrong password is q2api's 200 {"success":false}; a client locked out
 * for its failures gets a 429.
 */
static ngx_int_t
ngx_http_q2api_admin_login_route(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                        err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    time_t                        expires, retry_after;
    cJSON                        *root, *v;
    ngx_int_t                     rc;
    ngx_str_t                     password, token;
    ngx_http_q2api_admin_json_t  *j;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "password");

    if (!cJSON_IsString(v)) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "password: expected a string");
    }

    password.data = (u_char *) v->valuestring;
    password.len = ngx_strlen(v->valuestring);

    r->connection->log->action = "logging in to the admin API";

    rc = ngx_http_q2api_admin_login(r, ctx->conf, &password, &token,
                                    &expires, &retry_after);

    if (rc == NGX_BUSY) {
        return ngx_http_q2api_admin_refuse(r, NGX_HTTP_Q2API_AUTH_LOCKED,
                                           retry_after);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_q2api_admin_lit(j, "{\"success\":false,"
                                    "\"message\":\"Invalid password\"}");
        return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
    }

    ngx_http_q2api_admin_lit(j, "{\"success\":true,"
                                "\"message\":\"Login successful\","
                                "\"token\":");
    ngx_http_q2api_admin_string(j, token.data, token.len);
    ngx_http_q2api_admin_lit(j, ",\"expires_at\":");
    ngx_http_q2api_admin_int(j, expires);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


static ngx_uint_t
ngx_http_q2api_admin_usable(ngx_http_q2api_account_data_t *d, time_t now)
{
    if (!d->enabled || d->access_token.len == 0) {
        return 0;
    }

    if (d->status == NGX_HTTP_Q2API_ST_ACTIVE) {
        return 1;
    }

    /* cooling down or quota: back by itself at "until" */
    return (d->status == NGX_HTTP_Q2API_ST_COOLING
            || d->status == NGX_HTTP_Q2API_ST_QUOTA)
           && d->until && d->until <= now;
}


/*
 * GET /healthz, unauthenticated and cheap: counts only, computed at most
 * once a second per worker.
 */
static ngx_int_t
ngx_http_q2api_admin_health(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    time_t                          now;
    ngx_uint_t                      i;
    ngx_pool_t                     *p;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t  *d;

    static time_t                   checked;
    static ngx_uint_t               total, usable;

    now = ngx_time();

    if (now != checked) {
        /* a pool of its own, so the copies go at once */
        p = ngx_create_pool(4096, r->connection->log);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_array_init(&all, p, 64,
                           sizeof(ngx_http_q2api_account_data_t))
            != NGX_OK
            || ngx_http_q2api_accounts_export(ctx->pool, p, &all) != NGX_OK)
        {
            ngx_destroy_pool(p);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        d = all.elts;
        total = all.nelts;
        usable = 0;

        for (i = 0; i < all.nelts; i++) {
            usable += ngx_http_q2api_admin_usable(&d[i], now);
        }

        ngx_destroy_pool(p);
        checked = now;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"status\":\"ok\",\"accounts\":");
    ngx_http_q2api_admin_int(j, total);
    ngx_http_q2api_admin_lit(j, ",\"usable\":");
    ngx_http_q2api_admin_int(j, usable);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


typedef struct {
    ngx_http_q2api_account_data_t  *d;
    ngx_uint_t                      key;
} ngx_http_q2api_admin_sort_t;


static int ngx_libc_cdecl
ngx_http_q2api_admin_cmp_num(const void *one, const void *two)
{
    const ngx_http_q2api_admin_sort_t  *a = one;
    const ngx_http_q2api_admin_sort_t  *b = two;

    int       rc;
    uint64_t  x, y;

    switch (a->key) {
    case 1:
        x = a->d->successes;
        y = b->d->successes;
        break;
    case 2:
        x = a->d->last_used;
        y = b->d->last_used;
        break;
    case 3:
        x = 0;
        y = 0;

        if (a->d->label.len || b->d->label.len) {
            rc = ngx_memn2cmp(a->d->label.data, b->d->label.data,
                              a->d->label.len, b->d->label.len);
            if (rc) {
                return rc;
            }
        }

        break;
    default:
        x = a->d->created_at;
        y = b->d->created_at;
    }

    if (x != y) {
        return x < y ? -1 : 1;
    }

    return ngx_memn2cmp(a->d->id.data, b->d->id.data, a->d->id.len,
                        b->d->id.len);
}


/*
 * GET /v2/accounts?enabled=&status=&type=&sort_by=&sort_order=: q2api's
 * {"accounts":[...],"count":n}, newest first by default.
 */
static ngx_int_t
ngx_http_q2api_admin_list(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                       enabled, status, type;
    ngx_str_t                       v;
    ngx_uint_t                      i, n, key, desc;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_admin_sort_t    *s, t;
    ngx_http_q2api_account_data_t  *d;

    static const char  *keys[] = {
        "created_at", "success_count", "last_used", "label", NULL
    };

    enabled = -1;
    status = -1;
    type = -1;
    key = 0;
    desc = 1;

    if (ngx_http_q2api_admin_arg(r, "enabled", &v) == NGX_OK) {
        if (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0) {
            enabled = 1;

        } else if (v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0) {
            enabled = 0;

        } else {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "enabled: expected true or "
                                               "false");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "status", &v) == NGX_OK) {
        for (i = 0; i <= NGX_HTTP_Q2API_ST_ERRORS; i++) {
            if (v.len == ngx_strlen(ngx_http_q2api_status_name(i))
                && ngx_strncmp(v.data, ngx_http_q2api_status_name(i), v.len)
                   == 0)
            {
                status = i;
                break;
            }
        }

        if (status == -1) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                       "status: expected active, cooling, quota, suspended, "
                       "token_rejected, needs_login or too_many_errors");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "type", &v) == NGX_OK) {
        if (v.len == 7 && ngx_strncmp(v.data, "amazonq", 7) == 0) {
            type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;

        } else if (v.len == 4 && ngx_strncmp(v.data, "kiro", 4) == 0) {
            type = NGX_HTTP_Q2API_ACCOUNT_KIRO;

        } else {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "type: expected amazonq or "
                                               "kiro");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "sort_by", &v) == NGX_OK) {
        for (key = 0; keys[key]; key++) {
            if (v.len == ngx_strlen(keys[key])
                && ngx_strncmp(v.data, keys[key], v.len) == 0)
            {
                break;
            }
        }

        if (keys[key] == NULL) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "sort_by: expected "
                                               "created_at, success_count, "
                                               "last_used or label");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "sort_order", &v) == NGX_OK) {
        if (v.len == 3 && ngx_strncmp(v.data, "asc", 3) == 0) {
            desc = 0;

        } else if (!(v.len == 4 && ngx_strncmp(v.data, "desc", 4) == 0)) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "sort_order: expected asc or "
                                               "desc");
        }
    }

    if (ngx_array_init(&all, r->pool, 64,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_http_q2api_accounts_export(ctx->pool, r->pool, &all) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = all.elts;

    s = ngx_palloc(r->pool, (all.nelts + 1)
                            * sizeof(ngx_http_q2api_admin_sort_t));
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;

    for (i = 0; i < all.nelts; i++) {
        if ((enabled != -1 && (ngx_int_t) (d[i].enabled ? 1 : 0) != enabled)
            || (status != -1 && (ngx_int_t) d[i].status != status)
            || (type != -1 && (ngx_int_t) d[i].type != type))
        {
            continue;
        }

        s[n].d = &d[i];
        s[n].key = key;
        n++;
    }

    ngx_qsort(s, n, sizeof(ngx_http_q2api_admin_sort_t),
              ngx_http_q2api_admin_cmp_num);

    if (desc) {
        for (i = 0; i < n / 2; i++) {
            t = s[i];
            s[i] = s[n - 1 - i];
            s[n - 1 - i] = t;
        }
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"accounts\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_row(j, s[i].d, 0);
    }

    ngx_http_q2api_admin_lit(j, "],\"count\":");
    ngx_http_q2api_admin_int(j, n);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/* one account's row, or q2api's 404 */
static ngx_int_t
ngx_http_q2api_admin_send_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *id, ngx_uint_t status)
{
    ngx_int_t                      rc;
    ngx_http_q2api_admin_json_t   *j;
    ngx_http_q2api_account_data_t  d;

    rc = ngx_http_q2api_accounts_get(ctx->pool, id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_row(j, &d, 0);

    return ngx_http_q2api_admin_send(r, status, j);
}


static ngx_int_t
ngx_http_q2api_admin_get(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    return ngx_http_q2api_admin_send_row(r, ctx, &ctx->id, NGX_HTTP_OK);
}


/* a new account into the zone, dirty so that the store writes it */
static ngx_int_t
ngx_http_q2api_admin_insert(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_account_data_t *d)
{
    if (ngx_http_q2api_accounts_upsert(ctx->pool, d,
                                   NGX_HTTP_Q2API_SET_CONFIG
                                   |NGX_HTTP_Q2API_SET_STATE
                                   |NGX_HTTP_Q2API_SET_DIRTY, 0)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d->id);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* POST /v2/accounts: the new account's row */
static ngx_int_t
ngx_http_q2api_admin_create(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON                         *root;
    ngx_int_t                      rc;
    ngx_http_q2api_admin_input_t   in;
    ngx_http_q2api_account_data_t  cur;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    rc = ngx_http_q2api_admin_input(r, root, NGX_HTTP_Q2API_INPUT_CREATE,
                                    &in, "", err);

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_complete(r, &in, "", err);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_q2api_accounts_get(ctx->pool, &in.d.id, r->pool, &cur);

    if (rc == NGX_OK) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_CONFLICT,
                                           "id: an account with this id "
                                           "exists");
    }

    if (rc == NGX_ERROR || ngx_http_q2api_admin_insert(r, ctx, &in.d)
                           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: account \"%V\" created", &in.d.id);

    return ngx_http_q2api_admin_send_row(r, ctx, &in.d.id, NGX_HTTP_OK);
}


/*
 * PATCH /v2/accounts/{id}: the fields given replace the account's.  An
 * account out of rotation that is enabled again, or given new tokens,
 * becomes active: the operator says it is fit.  Counters stay.
 */
static ngx_int_t
ngx_http_q2api_admin_patch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON                         *root;
    ngx_int_t                      rc;
    ngx_uint_t                     fields;
    ngx_http_q2api_admin_input_t   in;
    ngx_http_q2api_account_data_t  d;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    rc = ngx_http_q2api_admin_input(r, root, NGX_HTTP_Q2API_INPUT_PATCH,
                                    &in, "", err);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if ((in.set & NGX_HTTP_Q2API_F_ID)
        && (in.d.id.len != ctx->id.len
            || ngx_strncmp(in.d.id.data, ctx->id.data, ctx->id.len) != 0))
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "id: cannot be changed");
    }

    rc = ngx_http_q2api_accounts_get(ctx->pool, &ctx->id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_overlay(&d, &in);

    fields = NGX_HTTP_Q2API_SET_CONFIG|NGX_HTTP_Q2API_SET_DIRTY;

    if (d.enabled && d.status != NGX_HTTP_Q2API_ST_ACTIVE
        && ((in.set & NGX_HTTP_Q2API_F_ENABLED)
            || (in.set & (NGX_HTTP_Q2API_F_ACCESS|NGX_HTTP_Q2API_F_REFRESH))))
    {
        d.status = NGX_HTTP_Q2API_ST_ACTIVE;
        d.status_since = ngx_time();
        d.until = 0;
        ngx_str_null(&d.reason);

        fields |= NGX_HTTP_Q2API_SET_STATE;
    }

    d.updated_at = ngx_time();

    if (ngx_http_q2api_accounts_upsert(ctx->pool, &d, fields, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d.id);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: account \"%V\" changed", &d.id);

    return ngx_http_q2api_admin_send_row(r, ctx, &ctx->id, NGX_HTTP_OK);
}


static ngx_int_t
ngx_http_q2api_admin_delete(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_http_q2api_admin_json_t  *j;

    if (ngx_http_q2api_accounts_delete(ctx->pool, &ctx->id) != NGX_OK) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: account \"%V\" deleted", &ctx->id);

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"deleted\":");
    ngx_http_q2api_admin_string(j, ctx->id.data, ctx->id.len);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/*
 * GET /v2/accounts/{id}/stats: amq2api's shape where this module has the
 * numbers; its hourly rate limit does not exist here (null).  A Kiro
 * account's stats add its credits, so the answer waits for
 * getUsageLimits; when that fails the stats still answer, with the
 * reason in place of the credits.
 */
static ngx_int_t
ngx_http_q2api_admin_stats(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       reason;
    ngx_http_q2api_account_data_t  *d;

    d = ngx_palloc(r->pool, sizeof(ngx_http_q2api_account_data_t));
    if (d == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_q2api_accounts_get(ctx->pool, &ctx->id, r->pool, d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->account = d;

    if (d->type != NGX_HTTP_Q2API_ACCOUNT_KIRO) {
        return ngx_http_q2api_admin_stats_answer(r, ctx, NGX_OK, NULL);
    }

    rc = ngx_http_q2api_admin_ask_credits(r, ctx,
                                          ngx_http_q2api_admin_stats_done);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&reason, "the account has no access token");

    } else {
        ngx_str_set(&reason, "the getUsageLimits call could not start");
    }

    return ngx_http_q2api_admin_stats_answer(r, ctx, NGX_DECLINED, &reason);
}


/*
 * The stats of ctx->account; for a Kiro account with "credits": the
 * object json (rc NGX_OK) or {"error": json} (NGX_DECLINED).
 */
static ngx_int_t
ngx_http_q2api_admin_stats_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t rc, ngx_str_t *json)
{
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t  *d;

    d = ctx->account;

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"account_id\":");
    ngx_http_q2api_admin_string(j, d->id.data, d->id.len);
    ngx_http_q2api_admin_lit(j, ",\"label\":");
    ngx_http_q2api_admin_nstr(j, &d->label);
    ngx_http_q2api_admin_lit(j, ",\"status\":");
    ngx_http_q2api_admin_cstr(j, ngx_http_q2api_status_name(d->status));
    ngx_http_q2api_admin_lit(j, ",\"enabled\":");
    ngx_http_q2api_admin_bool(j, d->enabled);
    ngx_http_q2api_admin_lit(j, ",\"total_calls\":");
    ngx_http_q2api_admin_int(j, d->successes + d->errors);
    ngx_http_q2api_admin_lit(j, ",\"success_count\":");
    ngx_http_q2api_admin_int(j, d->successes);
    ngx_http_q2api_admin_lit(j, ",\"error_count\":");
    ngx_http_q2api_admin_int(j, d->consecutive_errors);
    ngx_http_q2api_admin_lit(j, ",\"total_errors\":");
    ngx_http_q2api_admin_int(j, d->errors);
    ngx_http_q2api_admin_lit(j, ",\"tokens_in\":");
    ngx_http_q2api_admin_int(j, d->tokens_in);
    ngx_http_q2api_admin_lit(j, ",\"tokens_out\":");
    ngx_http_q2api_admin_int(j, d->tokens_out);
    ngx_http_q2api_admin_lit(j, ",\"last_call_time\":");
    ngx_http_q2api_admin_time(j, d->last_used);
    ngx_http_q2api_admin_lit(j, ",\"is_rate_limited\":");
    ngx_http_q2api_admin_bool(j, d->status == NGX_HTTP_Q2API_ST_COOLING
                                 || d->status == NGX_HTTP_Q2API_ST_QUOTA);
    ngx_http_q2api_admin_lit(j, ",\"status_until\":");
    ngx_http_q2api_admin_time(j, d->until);
    ngx_http_q2api_admin_lit(j, ",\"last_error\":");
    ngx_http_q2api_admin_nstr(j, &d->last_error);
    ngx_http_q2api_admin_lit(j, ",\"rate_limit_per_hour\":null,"
                                "\"calls_last_hour\":null,"
                                "\"remaining_calls\":null");

    if (d->type == NGX_HTTP_Q2API_ACCOUNT_KIRO) {
        ngx_http_q2api_admin_lit(j, ",\"credits\":");

        if (rc == NGX_OK) {
            /* ngx_http_q2api_kiro_usage()'s own object */
            ngx_http_q2api_admin_raw(j, json->data, json->len);

        } else {
            ngx_http_q2api_admin_lit(j, "{\"error\":");
            ngx_http_q2api_admin_string(j, json->data, json->len);
            ngx_http_q2api_admin_lit(j, "}");
        }
    }

    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


static void
ngx_http_q2api_admin_stats_done(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *json)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_int_t  rc;
    ngx_str_t  reason;

    r->connection->log->action = "serving the admin API";

    if (ngx_http_q2api_admin_credits_ok(status, json)) {
        rc = NGX_OK;

    } else {
        ngx_http_q2api_admin_usage_error(r, &ctx->id, status, json,
                                         &reason);
        json = &reason;
        rc = NGX_DECLINED;
    }

    ngx_http_finalize_request(r,
        ngx_http_q2api_admin_stats_answer(r, ctx, rc, json));
}


/*
 * GET /v2/accounts/{id}/usage: a Kiro account's credits, as
 * ngx_http_q2api_kiro_usage() sums them up from getUsageLimits:
 * {"title","limit","used","remaining","next_reset"}.
 */
static ngx_int_t
ngx_http_q2api_admin_usage(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_q2api_account_data_t  d;

    rc = ngx_http_q2api_accounts_get(ctx->pool, &ctx->id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (d.type != NGX_HTTP_Q2API_ACCOUNT_KIRO) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "type: credits are known for "
                                           "Kiro accounts only");
    }

    rc = ngx_http_q2api_admin_ask_credits(r, ctx,
                                          ngx_http_q2api_admin_usage_done);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "accessToken: the account has "
                                           "no access token");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * Starts getUsageLimits for ctx->id; NGX_OK: done will answer the
 * request; NGX_DECLINED: the account has no token; NGX_ERROR: logged.
 */
static ngx_int_t
ngx_http_q2api_admin_ask_credits(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_usage_done_pt done)
{
    ngx_int_t  rc;

    r->connection->log->action = "asking for an account's credits";

    ctx->async = 1;

    rc = ngx_http_q2api_kiro_usage(r, &ctx->id, done, ctx);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    ctx->async = 0;
    r->connection->log->action = "serving the admin API";

    if (rc != NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: ngx_http_q2api_kiro_usage() failed for "
                      "account \"%V\"", &ctx->id);
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


static void
ngx_http_q2api_admin_usage_done(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *json)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_int_t  rc;
    ngx_str_t  reason;

    r->connection->log->action = "serving the admin API";

    if (ngx_http_q2api_admin_credits_ok(status, json)) {
        rc = ngx_http_q2api_admin_send_raw(r, NGX_HTTP_OK,
                                           "application/json",
                                           json->data, json->len);

    } else {
        ngx_http_q2api_admin_usage_error(r, &ctx->id, status, json,
                                         &reason);

        rc = ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                         "getUsageLimits failed: %V",
                                         &reason);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * A 200 of ngx_http_q2api_kiro_usage() is its own object, except when the
 * service's 200 was not JSON: then it hands that body on as it came.
 */
static ngx_uint_t
ngx_http_q2api_admin_credits_ok(ngx_int_t status, ngx_str_t *json)
{
    cJSON       *o;
    ngx_uint_t   ok;

    if (status != NGX_HTTP_OK || json->len == 0) {
        return 0;
    }

    o = cJSON_ParseWithLength((char *) json->data, json->len);

    ok = cJSON_IsObject(o)
         && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "remaining"));

    cJSON_Delete(o);

    return ok;
}


static const char *
ngx_http_q2api_admin_phrase(ngx_int_t status)
{
    static struct {
        ngx_int_t    status;
        const char  *phrase;
    } phrases[] = {
        { 200, "OK, but not a usage answer" },
        { 400, "Bad Request" },
        { 401, "Unauthorized" },
        { 403, "Forbidden" },
        { 404, "Not Found" },
        { 429, "Too Many Requests" },
        { 500, "Internal Server Error" },
        { 502, "Bad Gateway" },
        { 503, "Service Unavailable" },
        { 504, "Gateway Timeout" },
        { 0, NULL }
    };

    ngx_uint_t  i;

    for (i = 0; phrases[i].phrase; i++) {
        if (phrases[i].status == status) {
            return phrases[i].phrase;
        }
    }

    return "Error";
}


/*
 * Why getUsageLimits failed, short: the status, its reason phrase and the
 * service's own message when it sent one, e.g. "403 Forbidden: Your User
 * ID ... is suspended".  AWS error bodies carry no credentials; the
 * message is cut at 200 bytes all the same, and only the status is
 * logged.
 */
static void
ngx_http_q2api_admin_usage_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_int_t status, ngx_str_t *body, ngx_str_t *reason)
{
    u_char      *p;
    size_t       len;
    cJSON       *o, *m;
    const char  *text;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "q2api admin: getUsageLimits for account \"%V\" failed "
                  "with status %i", id, status);

    o = body->len ? cJSON_ParseWithLength((char *) body->data, body->len)
                  : NULL;

    text = "";

    m = cJSON_GetObjectItemCaseSensitive(o, "message");

    if (!cJSON_IsString(m)) {
        m = cJSON_GetObjectItemCaseSensitive(o, "Message");
    }

    if (cJSON_IsString(m)) {
        text = m->valuestring;

    } else {
        /* "com.amazon.coral.service#AccessDeniedException" */
        m = cJSON_GetObjectItemCaseSensitive(o, "__type");

        if (cJSON_IsString(m)) {
            text = m->valuestring;
            p = (u_char *) ngx_strchr(text, '#');

            if (p != NULL) {
                text = (char *) p + 1;
            }
        }
    }

    len = ngx_strlen(text);

    if (len > 200) {
        len = q2api_utf8_complete_prefix(text, 200);
    }

    reason->data = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 64 + len);

    if (reason->data == NULL) {
        cJSON_Delete(o);
        ngx_str_set(reason, "getUsageLimits failed");
        return;
    }

    p = ngx_sprintf(reason->data, "%i %s", status,
                    ngx_http_q2api_admin_phrase(status));

    if (len) {
        p = ngx_sprintf(p, ": %*s", len, text);
    }

    reason->len = p - reason->data;

    cJSON_Delete(o);
}


/* import ----------------------------------------------------------------- */


typedef struct {
    ngx_uint_t                     total;
    ngx_uint_t                     created;
    ngx_uint_t                     updated;
    ngx_uint_t                     failed;
    ngx_http_q2api_admin_json_t   *errors;
    ngx_http_q2api_admin_json_t   *ids;
} ngx_http_q2api_admin_import_t;


static void
ngx_http_q2api_admin_import_error(ngx_http_q2api_admin_import_t *im,
    const char *what, ngx_uint_t n, u_char *msg)
{
    im->failed++;

    if (im->failed > NGX_HTTP_Q2API_ADMIN_ERRORS_MAX) {
        return;
    }

    if (im->failed > 1) {
        ngx_http_q2api_admin_lit(im->errors, ",");
    }

    ngx_http_q2api_admin_lit(im->errors, "{");
    ngx_http_q2api_admin_cstr(im->errors, what);
    ngx_http_q2api_admin_lit(im->errors, ":");
    ngx_http_q2api_admin_int(im->errors, n);
    ngx_http_q2api_admin_lit(im->errors, ",\"error\":");
    ngx_http_q2api_admin_string(im->errors, msg, ngx_strlen(msg));
    ngx_http_q2api_admin_lit(im->errors, "}");
}


/* one account of an import: created, or its configuration replaced */
static ngx_int_t
ngx_http_q2api_admin_import_one(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_import_t *im,
    ngx_http_q2api_admin_input_t *in, u_char *err)
{
    ngx_int_t                      rc;
    ngx_http_q2api_account_data_t  cur;

    rc = (in->set & NGX_HTTP_Q2API_F_ID)
         ? ngx_http_q2api_accounts_get(ctx->pool, &in->d.id, r->pool, &cur)
         : NGX_DECLINED;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        /*
         * An account known already: the fields given replace its own, as
         * a PATCH would, but its state (out of rotation or not) and
         * counters stay as they are.
         */
        ngx_http_q2api_admin_overlay(&cur, in);
        cur.updated_at = ngx_time();

        if (ngx_http_q2api_accounts_upsert(ctx->pool, &cur,
                                       NGX_HTTP_Q2API_SET_CONFIG
                                       |NGX_HTTP_Q2API_SET_DIRTY, 0)
            != NGX_OK)
        {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "no room in the shared zone%Z");
            return NGX_DECLINED;
        }

        im->updated++;

    } else {
        rc = ngx_http_q2api_admin_complete(r, in, "", err);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_q2api_admin_insert(r, ctx, &in->d) != NGX_OK) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "no room in the shared zone%Z");
            return NGX_DECLINED;
        }

        im->created++;
    }

    if (im->created + im->updated > 1) {
        ngx_http_q2api_admin_lit(im->ids, ",");
    }

    ngx_http_q2api_admin_string(im->ids, in->d.id.data, in->d.id.len);

    return NGX_OK;
}


/*
 * amq2api's lines, "|"-separated and trimmed, "#" lines skipped:
 * type|label|clientId|clientSecret|refreshToken|accessToken[|project|
 * api_endpoint] (type amazonq or kiro), or its "amazonq" form
 * email|password|clientId|clientSecret|refreshToken|accessToken (the
 * e-mail becomes the label, the password is not kept).
 */
static ngx_int_t
ngx_http_q2api_admin_import_line(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_import_t *im,
    u_char *start, u_char *end, u_char *err)
{
    u_char                        *p, *q;
    ngx_str_t                      f[9];
    ngx_uint_t                     n, i, generic;
    ngx_http_q2api_admin_input_t   in;

    n = 0;
    p = start;

    for ( ;; ) {
        q = ngx_strlchr(p, end, '|');

        if (n == 9) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "line: more than 8 fields%Z");
            return NGX_DECLINED;
        }

        f[n].data = p;
        f[n].len = (q ? q : end) - p;

        while (f[n].len && (f[n].data[0] == ' ' || f[n].data[0] == '\t')) {
            f[n].data++;
            f[n].len--;
        }

        while (f[n].len && (f[n].data[f[n].len - 1] == ' '
                            || f[n].data[f[n].len - 1] == '\t'))
        {
            f[n].len--;
        }

        n++;

        if (q == NULL) {
            break;
        }

        p = q + 1;
    }

    generic = n >= 6
              && ((f[0].len == 7 && ngx_strncmp(f[0].data, "amazonq", 7) == 0)
                  || (f[0].len == 4 && ngx_strncmp(f[0].data, "kiro", 4) == 0)
                  || (f[0].len == 6
                      && ngx_strncmp(f[0].data, "gemini", 6) == 0));

    if (generic && f[0].len == 6) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "type: gemini accounts are not served by this "
                     "module%Z");
        return NGX_DECLINED;
    }

    if (!generic && n != 6) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "line: expected type|label|clientId|clientSecret|"
                     "refreshToken|accessToken or email|password|"
                     "clientId|clientSecret|refreshToken|accessToken%Z");
        return NGX_DECLINED;
    }

    ngx_memzero(&in, sizeof(ngx_http_q2api_admin_input_t));

    in.d.type = (generic && f[0].len == 4) ? NGX_HTTP_Q2API_ACCOUNT_KIRO
                                            : NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
    in.set = NGX_HTTP_Q2API_F_TYPE;

    in.d.label = f[generic ? 1 : 0];
    in.d.client_id = f[2];
    in.d.client_secret = f[3];
    in.d.refresh_token = f[4];
    in.d.access_token = f[5];

    if (in.d.label.len > NGX_HTTP_Q2API_ADMIN_LABEL_MAX
        || !ngx_http_q2api_admin_text_ok(in.d.label.data, in.d.label.len))
    {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "label: must be valid UTF-8 without control "
                     "characters, at most %d bytes%Z",
                     NGX_HTTP_Q2API_ADMIN_LABEL_MAX);
        return NGX_DECLINED;
    }

    for (i = 2; i < 6; i++) {
        if (f[i].len > NGX_HTTP_Q2API_ADMIN_TOKEN_MAX
            || !ngx_http_q2api_token_chars(f[i].data, f[i].len))
        {
            goto bad_token;
        }
    }

    return ngx_http_q2api_admin_import_one(r, ctx, im, &in, err);

bad_token:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%s: must be printable ASCII without spaces, at most "
                 "%d bytes%Z",
                 i == 2 ? "clientId" : i == 3 ? "clientSecret"
                 : i == 4 ? "refreshToken" : "accessToken",
                 NGX_HTTP_Q2API_ADMIN_TOKEN_MAX);
    return NGX_DECLINED;
}


/* Kiro IDE credential files ---------------------------------------------- */


#define ngx_http_q2api_admin_has(o, key)                                   \
    (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)


/*
 * The Kiro IDE's kiro-auth-token.json (~/.aws/sso/cache), told from
 * q2api's rows by keys rows never have: authMethod, clientIdHash, the
 * client registration given with it, or a refreshToken with a provider.
 */
static ngx_uint_t
ngx_http_q2api_admin_kiro_shape(cJSON *obj)
{
    return cJSON_IsObject(obj)
           && (ngx_http_q2api_admin_has(obj, "authMethod")
               || ngx_http_q2api_admin_has(obj, "clientIdHash")
               || ngx_http_q2api_admin_has(obj, "clientRegistration")
               || (ngx_http_q2api_admin_has(obj, "refreshToken")
                   && ngx_http_q2api_admin_has(obj, "provider")));
}


/*
 * A Kiro expiresAt: ISO 8601 as the IDE writes it
 * ("2026-05-18T09:41:48.944Z", also with microseconds and an offset such
 * as "+00:00"), or epoch milliseconds (account managers' exports; a
 * number too small for milliseconds is taken as seconds).
 */
static ngx_int_t
ngx_http_q2api_admin_kiro_time(cJSON *v, time_t *t)
{
    u_char     *p;
    size_t      len;
    double      x;
    ngx_int_t   f[6], sign, oh, om;
    struct tm   tm;

    if (cJSON_IsNumber(v)) {
        x = v->valuedouble;

        if (x >= 1e11) {
            x /= 1000;
        }

        if (x <= 0 || x >= 253402300800.0) {
            return NGX_ERROR;
        }

        *t = (time_t) x;
        return NGX_OK;
    }

    if (!cJSON_IsString(v) || ngx_strlen(v->valuestring) < 19) {
        return NGX_ERROR;
    }

    p = (u_char *) v->valuestring;

    if (p[4] != '-' || p[7] != '-' || p[13] != ':' || p[16] != ':'
        || (p[10] != 'T' && p[10] != 't' && p[10] != ' '))
    {
        return NGX_ERROR;
    }

    f[0] = ngx_atoi(p, 4);
    f[1] = ngx_atoi(p + 5, 2);
    f[2] = ngx_atoi(p + 8, 2);
    f[3] = ngx_atoi(p + 11, 2);
    f[4] = ngx_atoi(p + 14, 2);
    f[5] = ngx_atoi(p + 17, 2);

    if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31
        || f[3] < 0 || f[3] > 23 || f[4] < 0 || f[4] > 59
        || f[5] < 0 || f[5] > 60)
    {
        return NGX_ERROR;
    }

    p += 19;

    if (*p == '.') {
        /* the fraction of a second */
        do {
            p++;
        } while (*p >= '0' && *p <= '9');

        if (p[-1] == '.') {
            return NGX_ERROR;
        }
    }

    sign = 0;
    oh = 0;
    om = 0;
    len = ngx_strlen(p);

    if (len == 1 && (*p == 'Z' || *p == 'z')) {
        /* UTC */

    } else if (len && (*p == '+' || *p == '-')) {
        /* +HH, +HHMM, +HH:MM */
        sign = (*p == '-') ? -1 : 1;

        if (len != 3 && len != 5 && !(len == 6 && p[3] == ':')) {
            return NGX_ERROR;
        }

        oh = ngx_atoi(p + 1, 2);
        om = (len == 3) ? 0 : ngx_atoi(p + len - 2, 2);

        if (oh < 0 || oh > 23 || om < 0 || om > 59) {
            return NGX_ERROR;
        }

    } else if (len != 0) {
        return NGX_ERROR;
    }

    ngx_memzero(&tm, sizeof(struct tm));

    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];

    *t = timegm(&tm);

    if (*t == (time_t) -1) {
        return NGX_ERROR;
    }

    *t -= sign * (oh * 3600 + om * 60);

    return *t > 0 ? NGX_OK : NGX_ERROR;
}


/*
 * One Kiro IDE login into "in", as the import of a row of type kiro:
 * social (Google, GitHub; refreshed at Kiro's auth service) without a
 * client; IdC (Builder ID, Identity Center; refreshed at the OIDC service)
 * with the client registration the IDE keeps in
 * ~/.aws/sso/cache/<clientIdHash>.json, given as "clientRegistration" (or
 * as clientId and clientSecret beside the token, as kiro.rs keeps them).
 * The strings of "in" point into *tree, which the caller deletes.
 */
static ngx_int_t
ngx_http_q2api_admin_kiro_input(ngx_http_request_t *r, cJSON *file,
    ngx_http_q2api_admin_input_t *in, cJSON **tree, u_char *err)
{
    u_char                        label[80], *p, *hash;
    cJSON                        *row, *other, *reg, *client, *creds, *v;
    size_t                        n;
    time_t                        t;
    ngx_int_t                     rc;
    ngx_uint_t                    idc, i;
    const char                   *prefix;
    ngx_http_q2api_admin_input_t  cin;

    static char  *copied[] = { "id", "label", "enabled", "accessToken",
                               "refreshToken", "profileArn", NULL };
    static char  *noted[] = { "provider", "region", "clientIdHash", "email",
                              "startUrl", NULL };

    *tree = NULL;

    reg = cJSON_GetObjectItemCaseSensitive(file, "clientRegistration");

    if (cJSON_IsNull(reg)) {
        reg = NULL;
    }

    /* an explicit authMethod wins; else a client (or a hash naming one),
     * or an AWS provider, says IdC */
    v = cJSON_GetObjectItemCaseSensitive(file, "authMethod");

    if (cJSON_IsString(v)) {
        p = (u_char *) v->valuestring;

        if (ngx_strcasecmp(p, (u_char *) "social") == 0) {
            idc = 0;

        } else if (ngx_strcasecmp(p, (u_char *) "IdC") == 0
                   || ngx_strcasecmp(p, (u_char *) "builder-id") == 0
                   || ngx_strcasecmp(p, (u_char *) "iam") == 0)
        {
            idc = 1;

        } else if (ngx_strcasecmp(p, (u_char *) "external_idp") == 0) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "authMethod: external_idp logins (Entra ID, "
                         "Okta) are not supported%Z");
            return NGX_DECLINED;

        } else {
            goto method_expected;
        }

    } else if (v != NULL && !cJSON_IsNull(v)) {
        goto method_expected;

    } else {
        v = cJSON_GetObjectItemCaseSensitive(file, "provider");

        idc = reg != NULL
              || ngx_http_q2api_admin_has(file, "clientId")
              || ngx_http_q2api_admin_has(file, "clientIdHash")
              || (cJSON_IsString(v)
                  && (ngx_strcmp(v->valuestring, "BuilderId") == 0
                      || ngx_strcmp(v->valuestring, "Enterprise") == 0
                      || ngx_strcmp(v->valuestring, "Internal") == 0));
    }

    v = cJSON_GetObjectItemCaseSensitive(file, "refreshToken");

    if (v == NULL || cJSON_IsNull(v)
        || (cJSON_IsString(v) && v->valuestring[0] == '\0'))
    {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "refreshToken: required; without it a Kiro login "
                     "stops working when its access token expires%Z");
        return NGX_DECLINED;
    }

    row = cJSON_CreateObject();
    if (row == NULL) {
        return NGX_ERROR;
    }

    *tree = row;

    for (i = 0; copied[i]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(file, copied[i]);

        if (v == NULL || cJSON_IsNull(v)) {
            continue;
        }

        v = cJSON_Duplicate(v, 1);

        if (v == NULL || !cJSON_AddItemToObject(row, copied[i], v)) {
            cJSON_Delete(v);
            return NGX_ERROR;
        }
    }

    if (cJSON_AddStringToObject(row, "type", "kiro") == NULL) {
        return NGX_ERROR;
    }

    v = cJSON_GetObjectItemCaseSensitive(file, "expiresAt");

    if (v != NULL && !cJSON_IsNull(v)) {
        if (ngx_http_q2api_admin_kiro_time(v, &t) != NGX_OK) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "expiresAt: expected an ISO 8601 time such as "
                         "2026-05-18T09:41:48.944Z, or epoch "
                         "milliseconds%Z");
            return NGX_DECLINED;
        }

        if (cJSON_AddNumberToObject(row, "expires_at", (double) t) == NULL) {
            return NGX_ERROR;
        }
    }

    if (!ngx_http_q2api_admin_has(row, "label")) {
        /* "kiro Google", "kiro BuilderId" */
        v = cJSON_GetObjectItemCaseSensitive(file, "provider");

        p = ngx_snprintf(label, sizeof(label) - 1, "kiro %s",
                         (cJSON_IsString(v) && v->valuestring[0])
                         ? v->valuestring : (idc ? "IdC" : "social"));

        n = q2api_utf8_complete_prefix((char *) label, p - label);
        label[n] = '\0';

        if (cJSON_AddStringToObject(row, "label", (char *) label) == NULL) {
            return NGX_ERROR;
        }
    }

    /* where it came from, and what the IDE knew about it */
    other = cJSON_AddObjectToObject(row, "other");

    if (other == NULL
        || cJSON_AddStringToObject(other, "source", "kiro-ide") == NULL
        || cJSON_AddStringToObject(other, "authMethod",
                                   idc ? "IdC" : "social") == NULL)
    {
        return NGX_ERROR;
    }

    for (i = 0; noted[i]; i++) {
        v = cJSON_GetObjectItemCaseSensitive(file, noted[i]);

        if (cJSON_IsString(v) && ngx_strlen(v->valuestring) <= 256
            && cJSON_AddStringToObject(other, noted[i], v->valuestring)
               == NULL)
        {
            return NGX_ERROR;
        }
    }

    rc = ngx_http_q2api_admin_input(r, row, NGX_HTTP_Q2API_INPUT_IMPORT, in,
                                    "", err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!idc) {
        /* Kiro's auth service refreshes it: no client, even over an
         * account that had one, or the refresh would go to OIDC */
        ngx_str_null(&in->d.client_id);
        ngx_str_null(&in->d.client_secret);
        in->set |= NGX_HTTP_Q2API_F_CLIENT_ID|NGX_HTTP_Q2API_F_CLIENT_SECRET;

        return NGX_OK;
    }

    if (reg != NULL) {
        if (!cJSON_IsObject(reg)) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "clientRegistration: expected the JSON object of "
                         "the client registration file%Z");
            return NGX_DECLINED;
        }

        client = reg;
        prefix = "clientRegistration.";

    } else if (ngx_http_q2api_admin_has(file, "clientId")
               || ngx_http_q2api_admin_has(file, "clientSecret"))
    {
        client = file;
        prefix = "";

    } else {
        /* the file's name, when the hash looks like one */
        v = cJSON_GetObjectItemCaseSensitive(file, "clientIdHash");
        hash = (u_char *) "<clientIdHash>";

        if (cJSON_IsString(v) && ngx_strlen(v->valuestring) <= 64
            && ngx_strlen(v->valuestring) > 0)
        {
            hash = (u_char *) v->valuestring;

            for (p = hash; *p; p++) {
                if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')
                      || (*p >= 'A' && *p <= 'F')))
                {
                    hash = (u_char *) "<clientIdHash>";
                    break;
                }
            }
        }

        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "clientRegistration: missing; an IdC login is "
                     "refreshed with its client registration, "
                     "~/.aws/sso/cache/%s.json: give it as "
                     "\"clientRegistration\": {\"clientId\","
                     "\"clientSecret\",\"expiresAt\"}%Z", hash);
        return NGX_DECLINED;
    }

    /* the client's fields through the row checks, named as given */
    creds = cJSON_CreateObject();

    if (creds == NULL || !cJSON_AddItemToObject(row, "client", creds)) {
        cJSON_Delete(creds);
        return NGX_ERROR;
    }

    for (i = 0; i < 2; i++) {
        v = cJSON_GetObjectItemCaseSensitive(client,
                                             i ? "clientSecret" : "clientId");

        if (v == NULL) {
            continue;
        }

        v = cJSON_Duplicate(v, 1);

        if (v == NULL
            || !cJSON_AddItemToObject(creds, i ? "clientSecret" : "clientId",
                                      v))
        {
            cJSON_Delete(v);
            return NGX_ERROR;
        }
    }

    rc = ngx_http_q2api_admin_input(r, creds, NGX_HTTP_Q2API_INPUT_IMPORT,
                                    &cin, prefix, err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (cin.d.client_id.len == 0 || cin.d.client_secret.len == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%s%s: required for an IdC login%Z", prefix,
                     cin.d.client_id.len ? "clientSecret" : "clientId");
        return NGX_DECLINED;
    }

    /* the token file's own expiresAt is the token's, not the client's */
    v = (client == reg) ? cJSON_GetObjectItemCaseSensitive(reg, "expiresAt")
                        : NULL;

    if (v != NULL && !cJSON_IsNull(v)) {
        if (ngx_http_q2api_admin_kiro_time(v, &t) != NGX_OK) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "clientRegistration.expiresAt: expected an "
                         "ISO 8601 time%Z");
            return NGX_DECLINED;
        }

        if (t <= ngx_time()) {
            /* the service would answer invalid_client at once */
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "clientRegistration.expiresAt: the client "
                         "registration has expired; sign in to Kiro "
                         "again and import the new files%Z");
            return NGX_DECLINED;
        }
    }

    in->d.client_id = cin.d.client_id;
    in->d.client_secret = cin.d.client_secret;
    in->set |= NGX_HTTP_Q2API_F_CLIENT_ID|NGX_HTTP_Q2API_F_CLIENT_SECRET;

    return NGX_OK;

method_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "authMethod: expected \"social\" or \"IdC\"%Z");
    return NGX_DECLINED;
}


/* one element of a JSON import: a q2api row or a Kiro IDE login */
static ngx_int_t
ngx_http_q2api_admin_import_item(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_import_t *im,
    cJSON *item, u_char *err)
{
    cJSON                         *tree;
    ngx_int_t                      rc;
    ngx_http_q2api_admin_input_t   in;

    if (!ngx_http_q2api_admin_kiro_shape(item)) {
        rc = ngx_http_q2api_admin_input(r, item, NGX_HTTP_Q2API_INPUT_IMPORT,
                                        &in, "", err);
        if (rc == NGX_OK) {
            rc = ngx_http_q2api_admin_import_one(r, ctx, im, &in, err);
        }

        return rc;
    }

    rc = ngx_http_q2api_admin_kiro_input(r, item, &in, &tree, err);

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_import_one(r, ctx, im, &in, err);

        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "q2api admin: Kiro IDE %s login imported as "
                          "account \"%V\"",
                          in.d.client_id.len ? "IdC" : "social", &in.d.id);
        }
    }

    /* "in" pointed into it; the zone has copies now */
    cJSON_Delete(tree);

    return rc;
}


/*
 * POST /v2/accounts/import: a JSON array of rows (or {"accounts":[...]},
 * e.g. an export), or amq2api's lines.  A row with a known id changes the
 * fields it gives of that account.  The Kiro IDE's token file (with its
 * client registration) may stand for a row, in an array or alone; alone,
 * a bad one is a 400.  Answers the counts and each failure.
 */
static ngx_int_t
ngx_http_q2api_admin_import(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    u_char                        *p, *end, *eol, *s;
    cJSON                         *root, *list, *item;
    ngx_int_t                      rc;
    ngx_uint_t                     line;
    ngx_http_q2api_admin_json_t   *j;
    ngx_http_q2api_admin_import_t  im;

    ngx_memzero(&im, sizeof(ngx_http_q2api_admin_import_t));

    im.errors = ngx_http_q2api_admin_json(r);
    im.ids = ngx_http_q2api_admin_json(r);
    j = ngx_http_q2api_admin_json(r);

    if (im.errors == NULL || im.ids == NULL || j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ctx->body.data;
    end = p + ctx->body.len;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    if (p == end) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "body: nothing to import");
    }

    r->connection->log->action = "importing accounts";

    if (*p == '[' || *p == '{') {
        root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

        if (root == NULL) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                               err);
        }

        if (ngx_http_q2api_admin_kiro_shape(root)) {
            /* one Kiro IDE login: all or nothing */
            rc = ngx_http_q2api_admin_import_item(r, ctx, &im, root, err);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                                   "%s", err);
            }

            im.total = 1;
            goto done;
        }

        list = cJSON_IsArray(root)
               ? root : cJSON_GetObjectItemCaseSensitive(root, "accounts");

        if (!cJSON_IsArray(list)) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "body: expected an array of "
                                               "accounts or "
                                               "{\"accounts\":[...]}");
        }

        if (cJSON_GetArraySize(list) > NGX_HTTP_Q2API_ADMIN_IMPORT_MAX) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "body: at most %d accounts "
                                               "per import",
                                               NGX_HTTP_Q2API_ADMIN_IMPORT_MAX);
        }

        cJSON_ArrayForEach(item, list) {
            rc = ngx_http_q2api_admin_import_item(r, ctx, &im, item, err);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                ngx_http_q2api_admin_import_error(&im, "index", im.total,
                                                  err);
            }

            im.total++;
        }

    } else {
        line = 0;

        while (p < end) {
            eol = ngx_strlchr(p, end, '\n');
            s = p;
            p = eol ? eol + 1 : end;
            line++;

            if (eol == NULL) {
                eol = end;
            }

            if (eol > s && eol[-1] == '\r') {
                eol--;
            }

            while (s < eol && (*s == ' ' || *s == '\t')) {
                s++;
            }

            if (s == eol || *s == '#') {
                continue;
            }

            if (im.total == NGX_HTTP_Q2API_ADMIN_IMPORT_MAX) {
                return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                                   "body: at most %d "
                                                   "accounts per import",
                                            NGX_HTTP_Q2API_ADMIN_IMPORT_MAX);
            }

            rc = ngx_http_q2api_admin_import_line(r, ctx, &im, s, eol, err);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                ngx_http_q2api_admin_import_error(&im, "line", line, err);
            }

            im.total++;
        }
    }

done:

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: import of %ui accounts: %ui created, "
                  "%ui updated, %ui failed", im.total, im.created,
                  im.updated, im.failed);

    if (im.errors->rc != Q2API_OK || im.ids->rc != Q2API_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"success\":");
    ngx_http_q2api_admin_bool(j, im.failed == 0);
    ngx_http_q2api_admin_lit(j, ",\"total\":");
    ngx_http_q2api_admin_int(j, im.total);
    ngx_http_q2api_admin_lit(j, ",\"created\":");
    ngx_http_q2api_admin_int(j, im.created);
    ngx_http_q2api_admin_lit(j, ",\"updated\":");
    ngx_http_q2api_admin_int(j, im.updated);
    ngx_http_q2api_admin_lit(j, ",\"failed\":");
    ngx_http_q2api_admin_int(j, im.failed);
    ngx_http_q2api_admin_lit(j, ",\"errors\":[");
    ngx_http_q2api_admin_raw(j, im.errors->b.data, im.errors->b.len);
    ngx_http_q2api_admin_lit(j, "],\"account_ids\":[");
    ngx_http_q2api_admin_raw(j, im.ids->b.data, im.ids->b.len);
    ngx_http_q2api_admin_lit(j, "]}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/* export ----------------------------------------------------------------- */


/* a field of a line: "|" and line breaks would end it */
static void
ngx_http_q2api_admin_field(ngx_http_q2api_admin_json_t *j, ngx_str_t *s,
    ngx_uint_t *changed)
{
    size_t   i;
    u_char   c;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c == '|' || c == '\r' || c == '\n') {
            c = ' ';
            *changed = 1;
        }

        ngx_http_q2api_admin_raw(j, &c, 1);
    }
}


/*
 * GET /v2/accounts/export?format=json|lines: every account WITH its
 * secrets, the backup path.  json is {"accounts":[rows]}, a valid
 * accounts file for "q2api_store file" and a valid import; lines is
 * amq2api's generic form (no ids, no state).
 */
static ngx_int_t
ngx_http_q2api_admin_export(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         *p, *name;
    size_t                          len;
    ngx_str_t                       format;
    ngx_uint_t                      i, lines, changed;
    struct tm                       tm;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t  *d;

    lines = 0;

    if (ngx_http_q2api_admin_arg(r, "format", &format) == NGX_OK) {
        if (format.len == 5 && ngx_strncmp(format.data, "lines", 5) == 0) {
            lines = 1;

        } else if (!(format.len == 4
                     && ngx_strncmp(format.data, "json", 4) == 0))
        {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "format: expected json or "
                                               "lines");
        }
    }

    if (ngx_array_init(&all, r->pool, 64,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_http_q2api_accounts_export(ctx->pool, r->pool, &all) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = all.elts;

    if (lines) {
        ngx_http_q2api_admin_lit(j, "# q2api accounts: type|label|clientId|"
                                    "clientSecret|refreshToken|accessToken|"
                                    "project|api_endpoint\n");

        for (i = 0; i < all.nelts; i++) {
            changed = 0;

            ngx_http_q2api_admin_raw(j, d[i].type == NGX_HTTP_Q2API_ACCOUNT_KIRO
                                        ? "kiro|" : "amazonq|",
                                     d[i].type == NGX_HTTP_Q2API_ACCOUNT_KIRO
                                     ? 5 : 8);
            ngx_http_q2api_admin_field(j, &d[i].label, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].client_id, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].client_secret, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].refresh_token, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].access_token, &changed);
            ngx_http_q2api_admin_lit(j, "||\n");

            if (changed) {
                ngx_http_q2api_admin_lit(j, "# the line above had \"|\" or "
                                            "a line break in a field, "
                                            "replaced by a space: account ");
                ngx_http_q2api_admin_field(j, &d[i].id, &changed);
                ngx_http_q2api_admin_lit(j, "\n");
            }
        }

    } else {
        ngx_http_q2api_admin_lit(j, "{\"accounts\":[");

        for (i = 0; i < all.nelts; i++) {
            if (i) {
                ngx_http_q2api_admin_lit(j, ",\n");
            }

            ngx_http_q2api_admin_row(j, &d[i], 1);
        }

        ngx_http_q2api_admin_lit(j, "]}\n");
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: %ui accounts exported with their secrets",
                  all.nelts);

    if (j->rc != Q2API_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = sizeof("attachment; filename=\"q2api-accounts-YYYY-MM-DD.json\"");

    name = ngx_pnalloc(r->pool, len);
    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_libc_gmtime(ngx_time(), &tm);

    p = ngx_sprintf(name, "attachment; filename=\"q2api-accounts-"
                          "%4d-%02d-%02d.%s\"",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    lines ? "txt" : "json");

    if (ngx_http_q2api_admin_header(r, "Content-Disposition", name, p - name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_admin_send_raw(r, NGX_HTTP_OK,
                                         lines ? "text/plain; charset=utf-8"
                                               : "application/json",
                                         j->b.data, j->b.len);
}


/* chat test -------------------------------------------------------------- */


/*
 * The account_id argument and the test location's arguments naming it:
 * NGX_OK (none given, or a known account), NGX_DECLINED (unknown),
 * NGX_ERROR.
 */
static ngx_int_t
ngx_http_q2api_admin_account_arg(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *args)
{
    u_char                         *p;
    uintptr_t                       escape;
    ngx_int_t                       rc;
    ngx_str_t                       id;
    ngx_http_q2api_account_data_t   d;

    ngx_str_null(args);

    rc = ngx_http_q2api_admin_arg(r, "account_id", &id);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED || id.len == 0) {
        return NGX_OK;
    }

    rc = ngx_http_q2api_accounts_get(ctx->pool, &id, r->pool, &d);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->id = id;

    escape = ngx_escape_uri(NULL, id.data, id.len, NGX_ESCAPE_ARGS);

    args->len = sizeof("q2api_account=") - 1 + id.len + 2 * escape;
    args->data = ngx_pnalloc(r->pool, args->len);
    if (args->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(args->data, "q2api_account=",
                   sizeof("q2api_account=") - 1);
    (void) ngx_escape_uri(p, id.data, id.len, NGX_ESCAPE_ARGS);

    return NGX_OK;
}


/*
 * POST /v2/chat/test?account_id=: the body (a Claude Messages request)
 * goes to the internal test location on that account, or on one the
 * pool chooses; the client gets that location's answer as it is.
 */
static ngx_int_t
ngx_http_q2api_admin_chat_test(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  args;

    rc = ngx_http_q2api_admin_account_arg(r, ctx, &args);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->body.len == 0) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "body: a Claude Messages request "
                                           "is required");
    }

    /* the admin credentials are not the gateway's client key */
    r->headers_in.authorization = NULL;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api admin: chat test on %s\"%V\"",
                  ctx->id.len ? "account " : "any account", &ctx->id);

    return ngx_http_internal_redirect(r, &ctx->conf->test_location, &args);
}


/* device login ----------------------------------------------------------- */


/*
 * q2api's /v2/auth/start, /v2/auth/status/{authId} and
 * /v2/auth/claim/{authId}, served by the device-code login.
 */
static ngx_int_t
ngx_http_q2api_admin_device(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_str_t   json;
    ngx_uint_t  status;

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_AUTH_STATUS) {
        rc = ngx_http_q2api_login_status(r, &ctx->id, &status, &json);

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_q2api_admin_send_raw(r, status, "application/json",
                                             json.data, json.len);
    }

    r->connection->log->action = "logging an account in";

    ctx->async = 1;

    rc = ctx->route == NGX_HTTP_Q2API_ROUTE_AUTH_START
         ? ngx_http_q2api_login_start(r, &ctx->body,
                                      ngx_http_q2api_admin_device_done, ctx)
         : ngx_http_q2api_login_claim(r, &ctx->id,
                                      ngx_http_q2api_admin_device_done, ctx);

    if (rc == NGX_DECLINED) {
        ctx->async = 0;
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "body: expected a JSON object");
    }

    if (rc != NGX_OK) {
        ctx->async = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_q2api_admin_device_done(ngx_http_request_t *r, void *data,
    ngx_uint_t status, ngx_str_t *json)
{
    ngx_http_finalize_request(r,
        ngx_http_q2api_admin_send_raw(r, status, "application/json",
                                      json->data, json->len));
}


/* jobs: refresh, refresh-all, feed, deep health -------------------------- */


static ngx_http_q2api_admin_item_t *
ngx_http_q2api_admin_item(ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *id,
    ngx_str_t *label, ngx_uint_t step)
{
    ngx_http_q2api_admin_item_t  *it;

    it = ngx_array_push(&ctx->items);
    if (it == NULL) {
        return NULL;
    }

    ngx_memzero(it, sizeof(ngx_http_q2api_admin_item_t));

    it->id = *id;
    it->label = *label;
    it->step = step;
    it->refresh = NGX_NONE;

    return it;
}


/*
 * feed: every account inserted disabled, marked as fed, then verified.
 * NGX_OK: the job is set up; NGX_DONE: the request was answered (a bad
 * input) or failed, with *answer the rc to finalize it with.
 */
static ngx_int_t
ngx_http_q2api_admin_feed(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t *answer)
{
    u_char                          err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    u_char                          prefix[32];
    cJSON                          *root, *list, *item;
    ngx_int_t                       rc;
    ngx_str_t                       label;
    ngx_uint_t                      i, n;
    ngx_http_q2api_admin_input_t   *in;
    ngx_http_q2api_account_data_t   cur;

    *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        goto bad;
    }

    list = cJSON_GetObjectItemCaseSensitive(root, "accounts");
    n = cJSON_GetArraySize(list);

    if (!cJSON_IsArray(list) || n == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "accounts: expected a non-empty array of accounts%Z");
        goto bad;
    }

    if (n > NGX_HTTP_Q2API_ADMIN_FEED_MAX) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "accounts: at most %d accounts per feed%Z",
                     NGX_HTTP_Q2API_ADMIN_FEED_MAX);
        goto bad;
    }

    in = ngx_pcalloc(r->pool, n * sizeof(ngx_http_q2api_admin_input_t));
    if (in == NULL) {
        return NGX_DONE;
    }

    /* all or nothing: every account is checked before any is inserted */
    i = 0;

    cJSON_ArrayForEach(item, list) {
        ngx_sprintf(prefix, "accounts[%ui].%Z", i);

        rc = ngx_http_q2api_admin_input(r, item, NGX_HTTP_Q2API_INPUT_CREATE,
                                        &in[i], (char *) prefix, err);
        if (rc == NGX_OK) {
            rc = ngx_http_q2api_admin_complete(r, &in[i], (char *) prefix,
                                               err);
        }

        if (rc == NGX_DECLINED) {
            goto bad;
        }

        if (rc != NGX_OK) {
            return NGX_DONE;
        }

        rc = ngx_http_q2api_accounts_get(ctx->pool, &in[i].d.id, r->pool, &cur);

        if (rc == NGX_OK) {
            *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_CONFLICT,
                                                  "%sid: an account with "
                                                  "this id exists", prefix);
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_DONE;
        }

        i++;
    }

    for (i = 0; i < n; i++) {
        if (in[i].d.label.len == 0) {
            label.data = ngx_pnalloc(r->pool, sizeof("fed account ")
                                              + NGX_INT_T_LEN);
            if (label.data == NULL) {
                return NGX_DONE;
            }

            label.len = ngx_sprintf(label.data, "fed account %ui", i + 1)
                        - label.data;
            in[i].d.label = label;
        }

        in[i].d.enabled = 0;

        if (ngx_http_q2api_admin_other_set(r, &in[i].d.other, "source",
                                           "feed")
            != NGX_OK
            || ngx_http_q2api_admin_insert(r, ctx, &in[i].d) != NGX_OK
            || ngx_http_q2api_admin_item(ctx, &in[i].d.id, &in[i].d.label,
                   in[i].d.refresh_token.len ? NGX_HTTP_Q2API_STEP_REFRESH
                                             : NGX_HTTP_Q2API_STEP_TEST)
               == NULL)
        {
            return NGX_DONE;
        }

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "q2api admin: account \"%V\" fed, verifying it",
                      &in[i].d.id);
    }

    return NGX_OK;

bad:

    *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s", err);

    return NGX_DONE;
}


static ngx_int_t
ngx_http_q2api_admin_job(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       args;
    ngx_uint_t                      i;
    ngx_array_t                     all;
    ngx_http_q2api_account_data_t  *d, cur;

    if (ngx_array_init(&ctx->items, r->pool, 4,
                       sizeof(ngx_http_q2api_admin_item_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->route) {

    case NGX_HTTP_Q2API_ROUTE_REFRESH:
        rc = ngx_http_q2api_accounts_get(ctx->pool, &ctx->id, r->pool, &cur);

        if (rc == NGX_DECLINED) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                               "Account not found");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (cur.refresh_token.len == 0) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "refreshToken: the account "
                                               "has no refresh token");
        }

        if (ngx_http_q2api_admin_item(ctx, &cur.id, &cur.label,
                                      NGX_HTTP_Q2API_STEP_REFRESH)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    case NGX_HTTP_Q2API_ROUTE_REFRESH_ALL:
        if (ngx_array_init(&all, r->pool, 64,
                           sizeof(ngx_http_q2api_account_data_t))
            != NGX_OK
            || ngx_http_q2api_accounts_export(ctx->pool, r->pool, &all) != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        d = all.elts;

        for (i = 0; i < all.nelts; i++) {
            if (ngx_http_q2api_admin_item(ctx, &d[i].id, &d[i].label,
                                          NGX_HTTP_Q2API_STEP_REFRESH)
                == NULL)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        break;

    case NGX_HTTP_Q2API_ROUTE_FEED:
        if (ngx_http_q2api_admin_feed(r, ctx, &rc) != NGX_OK) {
            /* refused, and answered */
            return rc;
        }

        break;

    default: /* NGX_HTTP_Q2API_ROUTE_DEEP */
        rc = ngx_http_q2api_admin_account_arg(r, ctx, &args);

        if (rc == NGX_DECLINED) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                               "Account not found");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_q2api_admin_item(ctx, &ctx->id, &ctx->id,
                                      NGX_HTTP_Q2API_STEP_TEST)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->async = 1;

    ctx->action = ctx->route == NGX_HTTP_Q2API_ROUTE_FEED
                  ? "verifying fed accounts"
                  : ctx->route == NGX_HTTP_Q2API_ROUTE_DEEP
                    ? "checking the backend" : "refreshing account tokens";

    r->connection->log->action = ctx->action;

    rc = ngx_http_q2api_admin_run(r, ctx);

    if (rc != NGX_DONE) {
        ctx->async = 0;
    }

    return rc;
}


/*
 * Drives a job: one account and one step at a time, so that each token
 * refresh or test subrequest is the active one and nginx wakes this
 * request when it is done.  NGX_DONE: waiting; otherwise the answer's rc.
 */
static ngx_int_t
ngx_http_q2api_admin_run(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_http_q2api_admin_item_t  *it;

    ctx->running = 1;

    while (ctx->current < ctx->items.nelts) {

        it = (ngx_http_q2api_admin_item_t *) ctx->items.elts + ctx->current;

        switch (it->step) {

        case NGX_HTTP_Q2API_STEP_REFRESH:
            it->step = ctx->route == NGX_HTTP_Q2API_ROUTE_FEED
                       ? NGX_HTTP_Q2API_STEP_TEST : NGX_HTTP_Q2API_STEP_DONE;

            rc = ngx_http_q2api_admin_start_refresh(r, ctx, it);
            break;

        case NGX_HTTP_Q2API_STEP_TEST:
            it->step = NGX_HTTP_Q2API_STEP_DONE;

            if (it->refresh != NGX_NONE && it->refresh != NGX_OK
                && it->refresh != NGX_BUSY)
            {
                /* a fed account whose refresh failed is not tested */
                continue;
            }

            rc = ngx_http_q2api_admin_start_probe(r, ctx, it);
            break;

        default: /* NGX_HTTP_Q2API_STEP_DONE */
            if (ctx->route == NGX_HTTP_Q2API_ROUTE_FEED
                && ngx_http_q2api_admin_verified(r, ctx, it) != NGX_OK)
            {
                ctx->running = 0;
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->current++;
            continue;
        }

        if (rc == NGX_ERROR) {
            ctx->running = 0;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_OK && ctx->waiting) {
            ctx->running = 0;
            return NGX_DONE;
        }

        /* NGX_DECLINED: recorded in the item; or done already */
    }

    ctx->running = 0;

    return ngx_http_q2api_admin_answer(r, ctx);
}


static void
ngx_http_q2api_admin_continue(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_q2api_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    ctx->waiting = 0;

    if (ctx->running) {
        /* called back before the call that started it returned */
        return;
    }

    /* the subrequests shared the connection's log */
    r->connection->log->action = ctx->action;

    rc = ngx_http_q2api_admin_run(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_q2api_admin_start_refresh(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it)
{
    ngx_int_t  rc;

    ctx->waiting = 1;

    rc = ngx_http_q2api_token_refresh(r, &it->id,
                                      ngx_http_q2api_admin_refreshed, it);

    if (rc == NGX_DECLINED) {
        /* gone meanwhile, or nothing to refresh with */
        ctx->waiting = 0;
        it->refresh = NGX_DECLINED;
        ngx_str_set(&it->message, "no refresh token");
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ctx->waiting = 0;
        it->refresh = NGX_ERROR;
        ngx_str_set(&it->message, "the refresh could not start");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_q2api_admin_refreshed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message)
{
    ngx_http_q2api_admin_item_t  *it = data;

    it->refresh = rc;

    if (message != NULL && message->len) {
        it->message.data = ngx_pstrdup(r->pool, message);
        it->message.len = it->message.data ? message->len : 0;
    }

    ngx_http_q2api_admin_continue(r);
}


/*
 * A Claude request to the test location (q2api_pass claude), on the
 * item's account when it names one; its answer is swallowed by the
 * filters below and only its status and first bytes are kept.
 */
static ngx_int_t
ngx_http_q2api_admin_start_probe(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it)
{
    u_char                        *p;
    uintptr_t                      escape;
    ngx_str_t                      args;
    ngx_http_request_t            *sr;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_q2api_admin_probe_t  *probe;

    probe = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_admin_probe_t));
    if (probe == NULL) {
        return NGX_ERROR;
    }

    probe->magic = NGX_HTTP_Q2API_ADMIN_PROBE;
    probe->start = ngx_current_msec;

    probe->body = ngx_pnalloc(r->pool, NGX_HTTP_Q2API_ADMIN_PROBE_BODY);
    if (probe->body == NULL) {
        return NGX_ERROR;
    }

    ngx_str_null(&args);

    if (it->id.len) {
        escape = ngx_escape_uri(NULL, it->id.data, it->id.len,
                                NGX_ESCAPE_ARGS);

        args.len = sizeof("q2api_account=") - 1 + it->id.len + 2 * escape;
        args.data = ngx_pnalloc(r->pool, args.len);
        if (args.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(args.data, "q2api_account=",
                       sizeof("q2api_account=") - 1);
        (void) ngx_escape_uri(p, it->id.data, it->id.len, NGX_ESCAPE_ARGS);
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_q2api_admin_probe_done;
    ps->data = probe;

    if (ngx_http_subrequest(r, &ctx->conf->test_location,
                            args.len ? &args : NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(sr, probe, ngx_http_q2api_admin_module);
    probe->request = sr;

    if (ngx_http_q2api_subrequest_body(r, sr,
            (u_char *) ngx_http_q2api_admin_probe_body,
            sizeof(ngx_http_q2api_admin_probe_body) - 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->method = NGX_HTTP_POST;
    sr->method_name = ngx_http_q2api_admin_post;

    /* the admin credentials are not the gateway's client key */
    sr->headers_in.authorization = NULL;

    ctx->probe = probe;
    ctx->waiting = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_probe_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_q2api_admin_probe_t  *probe = data;

    if (probe->finalized) {
        return NGX_OK;
    }

    probe->finalized = 1;
    probe->elapsed = ngx_current_msec - probe->start;

    if (probe->status == 0) {
        probe->status = sr->headers_out.status
                        ? sr->headers_out.status
                        : (rc >= NGX_HTTP_SPECIAL_RESPONSE
                           ? (ngx_uint_t) rc : NGX_HTTP_BAD_GATEWAY);
    }

    /* whoever waited on it before, the admin request goes on now */
    sr->parent->write_event_handler = ngx_http_q2api_admin_wake;

    /* NGX_OK: no error page of nginx's into this request */
    return NGX_OK;
}


static void
ngx_http_q2api_admin_wake(ngx_http_request_t *r)
{
    cJSON                         *o, *e, *m;
    ngx_http_q2api_admin_ctx_t    *ctx;
    ngx_http_q2api_admin_item_t   *it;
    ngx_http_q2api_admin_probe_t  *probe;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    probe = ctx->probe;

    if (probe == NULL || !probe->finalized) {
        return;
    }

    ctx->probe = NULL;

    it = (ngx_http_q2api_admin_item_t *) ctx->items.elts + ctx->current;

    it->status = probe->status;
    it->elapsed = probe->elapsed;
    it->ok = probe->status == NGX_HTTP_OK;

    if (!it->ok) {
        /* the gateway's error envelope says why */
        o = cJSON_ParseWithLength((char *) probe->body, probe->len);
        e = cJSON_GetObjectItemCaseSensitive(o, "error");
        m = cJSON_GetObjectItemCaseSensitive(e, "message");

        if (cJSON_IsString(m)) {
            it->message.len = ngx_min(ngx_strlen(m->valuestring), 512);
            it->message.data = ngx_pnalloc(r->pool, it->message.len);

            if (it->message.data) {
                ngx_memcpy(it->message.data, m->valuestring,
                           it->message.len);

            } else {
                it->message.len = 0;
            }

        } else {
            it->message.data = ngx_pnalloc(r->pool, 64);

            if (it->message.data) {
                it->message.len = ngx_sprintf(it->message.data,
                                              "the test request failed with "
                                              "status %ui", probe->status)
                                  - it->message.data;
            }
        }

        cJSON_Delete(o);
    }

    ngx_http_q2api_admin_continue(r);
}


/*
 * A fed account after its checks: enabled when the test request
 * succeeded, otherwise kept disabled with other.failedReason (q2api's
 * "AccessDenied" when the backend refused it) and other.failedDetail.
 */
static ngx_int_t
ngx_http_q2api_admin_verified(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it)
{
    char                           *reason, *detail;
    ngx_int_t                       rc;
    ngx_uint_t                      fields;
    ngx_http_q2api_account_data_t   d;

    rc = ngx_http_q2api_accounts_get(ctx->pool, &it->id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        /* deleted meanwhile */
        it->ok = 0;
        ngx_str_set(&it->message, "deleted during the verification");
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    fields = NGX_HTTP_Q2API_SET_CONFIG|NGX_HTTP_Q2API_SET_DIRTY;

    if (it->ok) {
        d.enabled = 1;

        if (d.status != NGX_HTTP_Q2API_ST_ACTIVE) {
            d.status = NGX_HTTP_Q2API_ST_ACTIVE;
            d.status_since = ngx_time();
            d.until = 0;
            ngx_str_null(&d.reason);
            fields |= NGX_HTTP_Q2API_SET_STATE;
        }

        if (ngx_http_q2api_admin_other_set(r, &d.other, "failedReason", NULL)
            != NGX_OK
            || ngx_http_q2api_admin_other_set(r, &d.other, "failedDetail",
                                              NULL)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "q2api admin: fed account \"%V\" verified and enabled",
                      &it->id);

    } else {
        if (it->refresh == NGX_DECLINED && it->message.len
            && ngx_strncmp(it->message.data, "no refresh token", 16) != 0)
        {
            reason = "InvalidGrant";

        } else if (it->refresh != NGX_NONE && it->refresh != NGX_OK
                   && it->refresh != NGX_BUSY)
        {
            reason = "RefreshFailed";

        } else if (it->status == NGX_HTTP_FORBIDDEN
                   || (it->message.len
                       && ngx_strlcasestrn(it->message.data,
                                           it->message.data + it->message.len,
                                           (u_char *) "AccessDenied", 12 - 1)
                          != NULL))
        {
            reason = "AccessDenied";

        } else {
            reason = "TestFailed";
        }

        detail = ngx_pnalloc(r->pool, it->message.len + 1);
        if (detail == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(detail, it->message.data, it->message.len);
        detail[it->message.len] = '\0';

        d.enabled = 0;

        if (ngx_http_q2api_admin_other_set(r, &d.other, "failedReason",
                                           reason)
            != NGX_OK
            || ngx_http_q2api_admin_other_set(r, &d.other, "failedDetail",
                                              detail)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api admin: fed account \"%V\" failed its checks "
                      "(%s), left disabled", &it->id, reason);
    }

    d.updated_at = ngx_time();

    if (ngx_http_q2api_accounts_upsert(ctx->pool, &d, fields, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d.id);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_uint_t                    i, ok, banned, failed;
    const char                   *status;
    ngx_http_q2api_admin_json_t  *j;
    ngx_http_q2api_admin_item_t  *it;

    it = ctx->items.elts;

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_REFRESH) {
        if (it[0].refresh == NGX_OK || it[0].refresh == NGX_BUSY) {
            return ngx_http_q2api_admin_send_row(r, ctx, &it[0].id,
                                                 NGX_HTTP_OK);
        }

        /* q2api's answer to a failed refresh */
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                           "Token refresh failed: %V",
                                           &it[0].message);
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_DEEP) {
        ngx_http_q2api_admin_lit(j, "{\"status\":");
        ngx_http_q2api_admin_cstr(j, it[0].ok ? "ok" : "error");
        ngx_http_q2api_admin_lit(j, ",\"account\":");
        ngx_http_q2api_admin_nstr(j, &it[0].id);
        ngx_http_q2api_admin_lit(j, ",\"upstream_status\":");
        ngx_http_q2api_admin_int(j, it[0].status);
        ngx_http_q2api_admin_lit(j, ",\"latency_ms\":");
        ngx_http_q2api_admin_int(j, it[0].elapsed);

        if (!it[0].ok) {
            ngx_http_q2api_admin_lit(j, ",\"error\":");
            ngx_http_q2api_admin_nstr(j, &it[0].message);
        }

        ngx_http_q2api_admin_lit(j, "}");

        return ngx_http_q2api_admin_send(r, it[0].ok
                                            ? NGX_HTTP_OK
                                            : NGX_HTTP_SERVICE_UNAVAILABLE,
                                         j);
    }

    ok = 0;
    banned = 0;
    failed = 0;

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_FEED) {
        for (i = 0; i < ctx->items.nelts; i++) {
            ok += it[i].ok;
        }

        ngx_http_q2api_admin_lit(j, "{\"status\":\"done\",\"message\":");

        ngx_http_q2api_admin_raw(j, "\"", 1);
        ngx_http_q2api_admin_int(j, ctx->items.nelts);
        ngx_http_q2api_admin_lit(j, " accounts received and verified: ");
        ngx_http_q2api_admin_int(j, ok);
        ngx_http_q2api_admin_lit(j, " enabled\",\"enabled\":");
        ngx_http_q2api_admin_int(j, ok);
        ngx_http_q2api_admin_lit(j, ",\"failed\":");
        ngx_http_q2api_admin_int(j, ctx->items.nelts - ok);
        ngx_http_q2api_admin_lit(j, ",\"account_ids\":[");

        for (i = 0; i < ctx->items.nelts; i++) {
            if (i) {
                ngx_http_q2api_admin_lit(j, ",");
            }

            ngx_http_q2api_admin_string(j, it[i].id.data, it[i].id.len);
        }

        ngx_http_q2api_admin_lit(j, "],\"results\":[");

        for (i = 0; i < ctx->items.nelts; i++) {
            if (i) {
                ngx_http_q2api_admin_lit(j, ",");
            }

            ngx_http_q2api_admin_lit(j, "{\"id\":");
            ngx_http_q2api_admin_string(j, it[i].id.data, it[i].id.len);
            ngx_http_q2api_admin_lit(j, ",\"label\":");
            ngx_http_q2api_admin_nstr(j, &it[i].label);
            ngx_http_q2api_admin_lit(j, ",\"status\":");
            ngx_http_q2api_admin_cstr(j, it[i].ok ? "enabled" : "failed");
            ngx_http_q2api_admin_lit(j, ",\"refresh\":");
            ngx_http_q2api_admin_cstr(j,
                it[i].refresh == NGX_NONE ? "skipped"
                : (it[i].refresh == NGX_OK || it[i].refresh == NGX_BUSY)
                  ? "success" : "failed");
            ngx_http_q2api_admin_lit(j, ",\"test_status\":");

            if (it[i].status) {
                ngx_http_q2api_admin_int(j, it[i].status);

            } else {
                ngx_http_q2api_admin_lit(j, "null");
            }

            ngx_http_q2api_admin_lit(j, ",\"message\":");
            ngx_http_q2api_admin_nstr(j, &it[i].message);
            ngx_http_q2api_admin_lit(j, "}");
        }

        ngx_http_q2api_admin_lit(j, "]}");

        return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
    }

    /* refresh-all: amq2api's summary */
    ngx_http_q2api_admin_lit(j, "{\"results\":[");

    for (i = 0; i < ctx->items.nelts; i++) {
        switch (it[i].refresh) {

        case NGX_OK:
        case NGX_BUSY:
            status = "success";
            ok++;
            break;

        case NGX_DECLINED:
            if (it[i].message.len == sizeof("no refresh token") - 1
                && ngx_strncmp(it[i].message.data, "no refresh token",
                               it[i].message.len) == 0)
            {
                status = "error";
                failed++;

            } else {
                /* a permanent refusal: the account needs a login */
                status = "banned";
                banned++;
            }

            break;

        default:
            status = "failed";
            failed++;
        }

        if (i) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_lit(j, "{\"id\":");
        ngx_http_q2api_admin_string(j, it[i].id.data, it[i].id.len);
        ngx_http_q2api_admin_lit(j, ",\"label\":");
        ngx_http_q2api_admin_nstr(j, &it[i].label);
        ngx_http_q2api_admin_lit(j, ",\"status\":");
        ngx_http_q2api_admin_cstr(j, status);
        ngx_http_q2api_admin_lit(j, ",\"message\":");
        ngx_http_q2api_admin_nstr(j, &it[i].message);
        ngx_http_q2api_admin_lit(j, "}");
    }

    ngx_http_q2api_admin_lit(j, "],\"success\":true,\"message\":\"");
    ngx_http_q2api_admin_int(j, ok);
    ngx_http_q2api_admin_lit(j, " of ");
    ngx_http_q2api_admin_int(j, ctx->items.nelts);
    ngx_http_q2api_admin_lit(j, " accounts refreshed\",\"total\":");
    ngx_http_q2api_admin_int(j, ctx->items.nelts);
    ngx_http_q2api_admin_lit(j, ",\"success_count\":");
    ngx_http_q2api_admin_int(j, ok);
    ngx_http_q2api_admin_lit(j, ",\"failed_count\":");
    ngx_http_q2api_admin_int(j, failed);
    ngx_http_q2api_admin_lit(j, ",\"banned_count\":");
    ngx_http_q2api_admin_int(j, banned);
    ngx_http_q2api_admin_lit(j, "}");

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: %ui of %ui accounts refreshed, %ui need a "
                  "login", ok, ctx->items.nelts, banned);

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/* the test subrequests' output: kept for the verdict, never sent -------- */


static ngx_http_q2api_admin_probe_t *
ngx_http_q2api_admin_get_probe(ngx_http_request_t *r)
{
    ngx_http_q2api_admin_probe_t  *probe;

    if (r == r->main) {
        return NULL;
    }

    probe = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    if (probe == NULL || probe->magic != NGX_HTTP_Q2API_ADMIN_PROBE) {
        return NULL;
    }

    return probe;
}


static ngx_int_t
ngx_http_q2api_admin_header_filter(ngx_http_request_t *r)
{
    ngx_http_q2api_admin_probe_t  *probe;

    probe = ngx_http_q2api_admin_get_probe(r);
    if (probe == NULL) {
        return ngx_http_next_header_filter(r);
    }

    probe->status = r->headers_out.status;

    /* like lua's capture filter: this is no response of the client's */
    r->header_sent = 1;
    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                         n;
    ngx_chain_t                   *cl;
    ngx_http_q2api_admin_probe_t  *probe;

    probe = ngx_http_q2api_admin_get_probe(r);
    if (probe == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        if (ngx_buf_in_memory(cl->buf)) {
            n = ngx_min((size_t) (cl->buf->last - cl->buf->pos),
                        NGX_HTTP_Q2API_ADMIN_PROBE_BODY - probe->len);

            ngx_memcpy(probe->body + probe->len, cl->buf->pos, n);
            probe->len += n;

            cl->buf->pos = cl->buf->last;
        }

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }
    }

    return NGX_OK;
}
