/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * ngx_http_q2api_admin_module: the admin REST API of the account pool,
 * compatible with q2api's routes (/api/login, /v2/accounts...) and with
 * amq2api's extras (refresh-all, stats, the line import format).
 *
 * This file holds the directives and the content handler: it names the
 * route from the URI, checks the method and the credentials, reads the
 * body and hands the request to the file of its route.
 *
 * Every answer is JSON.  Secrets (clientSecret, refreshToken,
 * accessToken) never leave in listings and gets, only in the export,
 * the authenticated backup path.  Changes go into the shared zone as
 * local changes the store persists.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_metrics.h"


static void *ngx_http_q2api_admin_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_q2api_admin_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_q2api_admin_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_q2api_admin(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_q2api_admin_route_e ngx_http_q2api_admin_route(
    ngx_http_request_t *r, ngx_str_t *id);
static ngx_uint_t ngx_http_q2api_admin_methods(
    ngx_http_q2api_admin_route_e route, char **allow);
static void ngx_http_q2api_admin_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_dispatch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);


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

    { ngx_string("q2api_donate"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_q2api_admin_donate_conf,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_q2api_admin_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_q2api_admin_filter_init,      /* postconfiguration */

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
    alcf->donate = NGX_CONF_UNSET_UINT;

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

    /* q2api_donate is a location's own: never inherited */
    if (conf->donate == NGX_CONF_UNSET_UINT) {
        conf->donate = 0;
    }

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

    if (conf->enable && conf->donate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_donate and q2api_admin cannot share a "
                           "location: the donate API is public");
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


ngx_int_t
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
    ctx->accounts = qmcf->accounts;

    ngx_http_set_ctx(r, ctx, ngx_http_q2api_admin_module);

    if (ctx->conf->donate && r->err_status == NGX_HTTP_TOO_MANY_REQUESTS) {
        /* limit_req refused a donate attempt; error_page brought it here */
        if (ngx_http_q2api_admin_donate_route(r)
            == NGX_HTTP_Q2API_ROUTE_DONATE_EXCHANGE)
        {
            ngx_http_q2api_metrics_donation(NGX_HTTP_Q2API_M_DONATION_LIMITED);
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_q2api_admin_detail(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                           "too many attempts from your "
                                           "address: wait a minute and "
                                           "try again");
    }

    ctx->route = ctx->conf->donate ? ngx_http_q2api_admin_donate_route(r)
                                   : ngx_http_q2api_admin_route(r, &ctx->id);

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

        if (ngx_http_q2api_add_header(r, "Allow", (u_char *) allow,
                                      ngx_strlen(allow))
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_ALLOWED,
                                           "Method Not Allowed");
    }

    if (ctx->route != NGX_HTTP_Q2API_ROUTE_LOGIN
        && ctx->route != NGX_HTTP_Q2API_ROUTE_HEALTH
        && !ctx->conf->donate)
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

    if (ctx->accounts == NULL && ctx->route != NGX_HTTP_Q2API_ROUTE_LOGIN) {
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

        if (end - p == 8 && ngx_strncmp(p, "discover", 8) == 0) {
            return NGX_HTTP_Q2API_ROUTE_DISCOVER;
        }

        if (end - p == 5 && ngx_strncmp(p, "quota", 5) == 0) {
            return NGX_HTTP_Q2API_ROUTE_QUOTA;
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

    if (q2api_ends_with("/v2/status")) {
        return NGX_HTTP_Q2API_ROUTE_STATUS;
    }

    if (q2api_ends_with("/v2/gemini/exchange")) {
        return NGX_HTTP_Q2API_ROUTE_GEMINI_EXCHANGE;
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
    case NGX_HTTP_Q2API_ROUTE_STATUS:
    case NGX_HTTP_Q2API_ROUTE_STATS:
    case NGX_HTTP_Q2API_ROUTE_USAGE:
    case NGX_HTTP_Q2API_ROUTE_QUOTA:
    case NGX_HTTP_Q2API_ROUTE_EXPORT:
    case NGX_HTTP_Q2API_ROUTE_AUTH_STATUS:
    case NGX_HTTP_Q2API_ROUTE_DONATE_STATUS:
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

    case NGX_HTTP_Q2API_ROUTE_STATUS:
        return ngx_http_q2api_admin_status(r, ctx);

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

    case NGX_HTTP_Q2API_ROUTE_DISCOVER:
        return ngx_http_q2api_admin_discover(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_QUOTA:
        return ngx_http_q2api_admin_quota(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_GEMINI_EXCHANGE:
        return ngx_http_q2api_admin_gemini_exchange(r, ctx);

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

    case NGX_HTTP_Q2API_ROUTE_DONATE_START:
        return ngx_http_q2api_admin_donate_start(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_DONATE_EXCHANGE:
        return ngx_http_q2api_admin_donate_exchange(r, ctx);

    case NGX_HTTP_Q2API_ROUTE_DONATE_STATUS:
        return ngx_http_q2api_admin_donate_status(r, ctx);

    default: /* refresh, refresh-all, feed, deep health */
        return ngx_http_q2api_admin_job(r, ctx);
    }
}
