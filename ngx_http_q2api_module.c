/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * ngx_http_q2api_module: nginx as an Anthropic Messages endpoint served by
 * a pool of Amazon Q / Kiro accounts.  This file holds the directives and
 * the configuration; src/http has the request path and the variables,
 * src/core the protocols.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_seal.h"
#include "ngx_http_q2api_metrics.h"
#include "q2api_check.h"
#include "ngx_http_q2api_google.h"


static ngx_int_t ngx_http_q2api_init_process(ngx_cycle_t *cycle);
static void ngx_http_q2api_exit_process(ngx_cycle_t *cycle);
static char *ngx_http_q2api_select(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_q2api_init(ngx_conf_t *cf);
static void *ngx_http_q2api_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_q2api_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_q2api_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_q2api_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);

static char *ngx_http_q2api_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static void ngx_http_q2api_body_defaults(ngx_conf_t *cf);
static ngx_int_t ngx_http_q2api_merge_kind(ngx_conf_t *cf,
    ngx_http_q2api_kind_t *k, ngx_http_q2api_kind_conf_t *conf,
    ngx_http_q2api_kind_conf_t *prev);
static char *ngx_http_q2api_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_q2api_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_q2api_api_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_q2api_add_zone(ngx_conf_t *cf,
    ngx_http_q2api_main_conf_t *qmcf, ngx_str_t *name, ssize_t size);



#define NGX_HTTP_Q2API_DEFAULT_ZONE_SIZE  (16 * 1024 * 1024)

/* client bodies in q2api_pass locations that keep nginx's defaults */
#define NGX_HTTP_Q2API_BODY_MAX           (32 * 1024 * 1024)
#define NGX_HTTP_Q2API_BODY_BUFFER        (8 * 1024 * 1024)


static ngx_command_t  ngx_http_q2api_commands[] = {

    { ngx_string("q2api_pass"),
      NGX_HTTP_LOC_CONF|NGX_HTTP_LIF_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_q2api_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_q2api_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_responses_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_q2api_responses_store_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_q2api_main_conf_t, responses),
      NULL },

    { ngx_string("q2api_store_interval"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_q2api_main_conf_t, store_interval),
      NULL },

    { ngx_string("q2api_store_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_q2api_seal_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_q2api_main_conf_t, store_key),
      NULL },

    { ngx_string("q2api_max_errors"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_q2api_main_conf_t, max_errors),
      NULL },

    { ngx_string("q2api_select"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_q2api_select,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_affinity_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, affinity_timeout),
      NULL },

    { ngx_string("q2api_max_attempts"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, max_attempts),
      NULL },

    { ngx_string("q2api_account_header_keys"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_q2api_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, account_header_keys),
      NULL },

    { ngx_string("q2api_kiro_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               kinds[NGX_HTTP_Q2API_ACCOUNT_KIRO].url),
      NULL },

    { ngx_string("q2api_kiro_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               kinds[NGX_HTTP_Q2API_ACCOUNT_KIRO].location),
      NULL },

    { ngx_string("q2api_amazonq_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               kinds[NGX_HTTP_Q2API_ACCOUNT_AMAZONQ].location),
      NULL },

    { ngx_string("q2api_gemini_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               kinds[NGX_HTTP_Q2API_ACCOUNT_GEMINI].url),
      NULL },

    { ngx_string("q2api_gemini_location"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               kinds[NGX_HTTP_Q2API_ACCOUNT_GEMINI].location),
      NULL },

    { ngx_string("q2api_google_oauth_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_google_url_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, google_oauth_url),
      NULL },

    { ngx_string("q2api_code_assist_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_google_url_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, code_assist_url),
      NULL },

    { ngx_string("q2api_gemini_onboard_poll"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, gemini_onboard_poll),
      NULL },

    { ngx_string("q2api_gemini_quota_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, gemini_quota_interval),
      NULL },

    { ngx_string("q2api_gemini_client_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_google_client_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               gemini_client_id[NGX_HTTP_Q2API_GEMINI_CLI]),
      NULL },

    { ngx_string("q2api_gemini_client_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_google_client_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               gemini_client_secret[NGX_HTTP_Q2API_GEMINI_CLI]),
      NULL },

    { ngx_string("q2api_antigravity_client_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_google_client_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               gemini_client_id[NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY]),
      NULL },

    { ngx_string("q2api_antigravity_client_secret"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_q2api_google_client_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               gemini_client_secret[NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY]),
      NULL },

    { ngx_string("q2api_oidc_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, oidc_url),
      NULL },

    { ngx_string("q2api_kiro_usage_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, kiro_usage_url),
      NULL },

    { ngx_string("q2api_kiro_profiles_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, kiro_profiles_url),
      NULL },

    { ngx_string("q2api_kiro_auth_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, kiro_auth_url),
      NULL },

    { ngx_string("q2api_amazonq_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t,
               kinds[NGX_HTTP_Q2API_ACCOUNT_AMAZONQ].url),
      NULL },

    { ngx_string("q2api_api_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_q2api_api_key,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, api_keys),
      NULL },

    { ngx_string("q2api_model"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_q2api_model_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("q2api_default_model"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, default_model),
      NULL },

    { ngx_string("q2api_ping_interval"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, ping_interval),
      NULL },

    { ngx_string("q2api_stream_buffer_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_q2api_loc_conf_t, stream_buffer),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_q2api_module_ctx = {
    ngx_http_q2api_add_variables,          /* preconfiguration */
    ngx_http_q2api_init,                   /* postconfiguration */

    ngx_http_q2api_create_main_conf,       /* create main configuration */
    ngx_http_q2api_init_main_conf,         /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_q2api_create_loc_conf,        /* create location configuration */
    ngx_http_q2api_merge_loc_conf          /* merge location configuration */
};


ngx_module_t  ngx_http_q2api_module = {
    NGX_MODULE_V1,
    &ngx_http_q2api_module_ctx,            /* module context */
    ngx_http_q2api_commands,               /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_q2api_init_process,           /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_q2api_exit_process,           /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_q2api_init(ngx_conf_t *cf)
{
    return ngx_http_q2api_filter_init(cf);
}


static void *
ngx_http_q2api_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_main_conf_t));
    if (qmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     qmcf->accounts = NULL;
     *     qmcf->shm_zone = NULL;
     *     qmcf->store = NULL;
     */

    qmcf->zone_implicit = NGX_CONF_UNSET;
    qmcf->store_interval = NGX_CONF_UNSET_MSEC;
    qmcf->store_key = NGX_CONF_UNSET_PTR;
    qmcf->max_errors = NGX_CONF_UNSET_UINT;

    return qmcf;
}


static char *
ngx_http_q2api_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_q2api_main_conf_t *qmcf = conf;

    ngx_str_t                name = ngx_string("q2api");
    ngx_http_q2api_store_t  *st;

    ngx_conf_init_msec_value(qmcf->store_interval, 1000);

    /* q2api's MAX_ERROR_COUNT */
    ngx_conf_init_uint_value(qmcf->max_errors, 100);

    if (qmcf->store == NULL) {
        /* the embedded default: a JSON file under the prefix */
        st = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_store_t));
        if (st == NULL) {
            return NGX_CONF_ERROR;
        }

        st->ops = &ngx_http_q2api_store_file_ops;
        ngx_str_set(&st->target, "q2api/accounts.json");

        if (ngx_conf_full_name(cf->cycle, &st->target, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        qmcf->store = st;
    }

    qmcf->store->interval = qmcf->store_interval;

    ngx_conf_init_ptr_value(qmcf->store_key, NULL);
    qmcf->store->seal = qmcf->store_key;

    if (ngx_http_q2api_store_conf(cf, qmcf->store) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * A location with q2api_pass but no q2api_zone gets a default zone, so
     * that the smallest configuration is one line.
     */
    if (qmcf->shm_zone == NULL && qmcf->zone_implicit == 1) {
        if (ngx_http_q2api_add_zone(cf, qmcf, &name,
                                    NGX_HTTP_Q2API_DEFAULT_ZONE_SIZE)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_q2api_responses_store_conf(cf, &qmcf->responses,
                                  qmcf->zone_implicit != NGX_CONF_UNSET)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (qmcf->accounts != NULL) {
        qmcf->accounts->store = qmcf->store;
        qmcf->accounts->max_errors = qmcf->max_errors;
        qmcf->store->accounts = qmcf->accounts;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_q2api_init_process(ngx_cycle_t *cycle)
{
    ngx_http_q2api_main_conf_t  *qmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    qmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_q2api_module);

    if (qmcf == NULL || qmcf->accounts == NULL) {
        return NGX_OK;
    }

    return ngx_http_q2api_store_init_process(cycle, qmcf->store);
}


static void
ngx_http_q2api_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_q2api_module);

    if (qmcf == NULL || qmcf->accounts == NULL) {
        return;
    }

    ngx_http_q2api_store_exit_process(qmcf->store);
}


static void *
ngx_http_q2api_create_loc_conf(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_loc_conf_t));
    if (qlcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     qlcf->front = NULL;
     *     qlcf->kinds[].location = { 0, NULL };
     *     qlcf->default_model = { 0, NULL };
     *     qlcf->oidc_url = { 0, NULL };
     *     qlcf->kiro_auth_url = { 0, NULL };
     *     qlcf->kiro_usage_url = { 0, NULL };
     *     qlcf->kiro_profiles_url = { 0, NULL };
     *     qlcf->google_oauth_url = { 0, NULL };
     *     qlcf->code_assist_url = { 0, NULL };
     *     qlcf->gemini_client_id[] = { 0, NULL };
     *     qlcf->gemini_client_secret[] = { 0, NULL };
     */

    for (i = 0; i < NGX_HTTP_Q2API_KINDS; i++) {
        qlcf->kinds[i].url = NGX_CONF_UNSET_PTR;
    }

    qlcf->stream_buffer = NGX_CONF_UNSET_SIZE;
    qlcf->api_keys = NGX_CONF_UNSET_PTR;
    qlcf->models = NGX_CONF_UNSET_PTR;
    qlcf->ping_interval = NGX_CONF_UNSET_MSEC;
    qlcf->strategy = NGX_CONF_UNSET_UINT;
    qlcf->affinity = NGX_CONF_UNSET;
    qlcf->affinity_timeout = NGX_CONF_UNSET;
    qlcf->max_attempts = NGX_CONF_UNSET_UINT;
    qlcf->account_header_keys = NGX_CONF_UNSET_PTR;
    qlcf->gemini_onboard_poll = NGX_CONF_UNSET_MSEC;
    qlcf->gemini_quota_interval = NGX_CONF_UNSET;

    return qlcf;
}


static char *
ngx_http_q2api_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_q2api_loc_conf_t *prev = parent;
    ngx_http_q2api_loc_conf_t *conf = child;

    ngx_http_q2api_kind_t  *k;

    ngx_conf_merge_str_value(conf->oidc_url, prev->oidc_url,
                             "https://oidc.{region}.amazonaws.com");
    ngx_conf_merge_str_value(conf->kiro_auth_url, prev->kiro_auth_url,
                             "https://prod.us-east-1.auth.desktop.kiro.dev");
    ngx_conf_merge_str_value(conf->kiro_usage_url, prev->kiro_usage_url,
                             "https://q.{region}.amazonaws.com"
                             "/getUsageLimits");
    ngx_conf_merge_str_value(conf->kiro_profiles_url, prev->kiro_profiles_url,
                             "https://q.{region}.amazonaws.com"
                             "/ListAvailableProfiles");

    ngx_http_q2api_google_merge_conf(conf, prev);

    for (k = ngx_http_q2api_kinds; k->name.len; k++) {
        if (ngx_http_q2api_merge_kind(cf, k, &conf->kinds[k->type],
                                      &prev->kinds[k->type])
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    /* a slow client may hold this much decoded output before the module
     * stops reading the upstream */
    ngx_conf_merge_size_value(conf->stream_buffer, prev->stream_buffer,
                              256 * 1024);

    ngx_conf_merge_ptr_value(conf->api_keys, prev->api_keys, NULL);
    ngx_conf_merge_ptr_value(conf->models, prev->models, NULL);
    ngx_conf_merge_str_value(conf->default_model, prev->default_model, "");

    /* Anthropic's own API pings while the model thinks; proxies in front
     * of this one cut idle connections after 60-100 s */
    ngx_conf_merge_msec_value(conf->ping_interval, prev->ping_interval,
                              10000);

    ngx_conf_merge_uint_value(conf->strategy, prev->strategy,
                              NGX_HTTP_Q2API_SELECT_RANDOM);
    ngx_conf_merge_value(conf->affinity, prev->affinity, 0);
    ngx_conf_merge_sec_value(conf->affinity_timeout, prev->affinity_timeout,
                             1800);
    ngx_conf_merge_uint_value(conf->max_attempts, prev->max_attempts, 3);
    ngx_conf_merge_ptr_value(conf->account_header_keys,
                             prev->account_header_keys, NULL);

    if (conf->max_attempts == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_max_attempts must be at least 1");
        return NGX_CONF_ERROR;
    }

    if (conf->front != NULL) {
        ngx_http_q2api_body_defaults(cf);
    }

    return NGX_CONF_OK;
}


/*
 * A client body is a whole conversation: Claude Code sends 100 KB to
 * several MB a turn.  nginx's defaults (a 1m limit, an 8k or 16k buffer)
 * would refuse most with 413 and write the rest to a temporary file, with
 * a warning each time.  Where a q2api_pass location keeps nginx's built-in
 * values, it gets ones made for such bodies instead; any value the
 * operator sets, here or above, stays.  The core module's conf is merged
 * before this one, so what is seen here is final.
 */
static void
ngx_http_q2api_body_defaults(ngx_conf_t *cf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->client_max_body_size == 1 * 1024 * 1024) {
        clcf->client_max_body_size = NGX_HTTP_Q2API_BODY_MAX;
    }

    if (clcf->client_body_buffer_size == (size_t) 2 * ngx_pagesize) {
        clcf->client_body_buffer_size = NGX_HTTP_Q2API_BODY_BUFFER;
    }
}


/* q2api_<kind>_location and q2api_<kind>_url, with the kind's defaults */
static ngx_int_t
ngx_http_q2api_merge_kind(ngx_conf_t *cf, ngx_http_q2api_kind_t *k,
    ngx_http_q2api_kind_conf_t *conf, ngx_http_q2api_kind_conf_t *prev)
{
    ngx_http_compile_complex_value_t  ccv;

    if (conf->location.data == NULL) {
        conf->location = prev->location.data ? prev->location : k->location;
    }

    if (conf->location.len == 0 || conf->location.data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api_%V_location \"%V\" must be a URI",
                           &k->name, &conf->location);
        return NGX_ERROR;
    }

    ngx_conf_merge_ptr_value(conf->url, prev->url, NULL);

    if (conf->url != NULL) {
        return NGX_OK;
    }

    conf->url = ngx_pcalloc(cf->pool, sizeof(ngx_http_complex_value_t));
    if (conf->url == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));
    ccv.cf = cf;
    ccv.value = &k->url;
    ccv.complex_value = conf->url;

    return ngx_http_compile_complex_value(&ccv);
}


static char *
ngx_http_q2api_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_loc_conf_t *qlcf = conf;

    ngx_str_t                   *value;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_q2api_main_conf_t  *qmcf;

    if (qlcf->front) {
        return "is duplicate";
    }

    value = cf->args->elts;

    qlcf->front = q2api_front_find((char *) value[1].data, value[1].len);

    if (qlcf->front == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid q2api_pass front end \"%V\", "
                           "it must be \"claude\", \"openai\" or "
                           "\"responses\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_q2api_handler;

    qmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_q2api_module);

    if (qmcf->zone_implicit == NGX_CONF_UNSET) {
        qmcf->zone_implicit = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_q2api_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_main_conf_t *qmcf = conf;

    ssize_t     size;
    ngx_str_t  *value;

    if (qmcf->shm_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (64 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small, at least %uz bytes",
                           &value[1], 64 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_q2api_add_zone(cf, qmcf, &value[1], size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    qmcf->zone_implicit = 0;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_q2api_add_zone(ngx_conf_t *cf, ngx_http_q2api_main_conf_t *qmcf,
    ngx_str_t *name, ssize_t size)
{
    qmcf->accounts = ngx_http_q2api_accounts_create(cf);
    if (qmcf->accounts == NULL) {
        return NGX_ERROR;
    }

    qmcf->shm_zone = ngx_shared_memory_add(cf, name, size,
                                           &ngx_http_q2api_module);
    if (qmcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (qmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "q2api zone \"%V\" is already used", name);
        return NGX_ERROR;
    }

    qmcf->shm_zone->init = ngx_http_q2api_accounts_init_zone;
    qmcf->shm_zone->data = qmcf->accounts;

    return NGX_OK;
}


static char *
ngx_http_q2api_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_main_conf_t *qmcf = conf;

    ngx_str_t               *value;
    ngx_http_q2api_store_t  *st;

    if (qmcf->store) {
        return "is duplicate";
    }

    value = cf->args->elts;

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_store_t));
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    st->target = value[2];

    if (ngx_strcmp(value[1].data, "file") == 0) {
        st->ops = &ngx_http_q2api_store_file_ops;

        if (ngx_conf_full_name(cf->cycle, &st->target, 0) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

    } else if (ngx_strcmp(value[1].data, "postgres") == 0) {
        st->ops = &ngx_http_q2api_store_pg_ops;

        if (ngx_http_q2api_store_pg_conf(cf, st) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid q2api_store type \"%V\", "
                           "it must be \"file\" or \"postgres\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    qmcf->store = st;

    return NGX_CONF_OK;
}


static char *
ngx_http_q2api_select(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_loc_conf_t *qlcf = conf;

    ngx_str_t   *value;
    ngx_uint_t   i;

    if (qlcf->strategy != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    qlcf->strategy = NGX_HTTP_Q2API_SELECT_RANDOM;
    qlcf->affinity = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "random") == 0) {
            qlcf->strategy = NGX_HTTP_Q2API_SELECT_RANDOM;

        } else if (ngx_strcmp(value[i].data, "round_robin") == 0) {
            qlcf->strategy = NGX_HTTP_Q2API_SELECT_ROUND_ROBIN;

        } else if (ngx_strcmp(value[i].data, "least_used") == 0) {
            qlcf->strategy = NGX_HTTP_Q2API_SELECT_LEAST_USED;

        } else if (ngx_strcmp(value[i].data, "affinity") == 0) {
            qlcf->affinity = 1;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid q2api_select \"%V\", it must be "
                               "\"random\", \"round_robin\", "
                               "\"least_used\" or \"affinity\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * q2api_api_key (and q2api_account_header_keys) [name=NAME] KEY ...: a
 * name goes with the key after it, and is what logs, metrics and the admin
 * status show of that key.
 */
static char *
ngx_http_q2api_api_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                  *value, name;
    ngx_uint_t                  i;
    ngx_array_t               **keys;
    ngx_http_q2api_api_key_t   *key;

    keys = (ngx_array_t **) ((char *) conf + cmd->offset);

    if (*keys == NGX_CONF_UNSET_PTR) {
        *keys = ngx_array_create(cf->pool, 4,
                                 sizeof(ngx_http_q2api_api_key_t));
        if (*keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;
    ngx_str_null(&name);

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len > 5 && ngx_strncmp(value[i].data, "name=", 5) == 0) {
            name.data = value[i].data + 5;
            name.len = value[i].len - 5;

            /* it ends up in labels, log lines and JSON as it is */
            if (q2api_check(Q2API_CHECK_ID, (char *) name.data, name.len)
                != Q2API_OK
                || i + 1 == cf->args->nelts)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\": invalid \"%V\": a name is %s, "
                                   "and a key follows it", &cmd->name,
                                   &value[i],
                                   q2api_check_rule(Q2API_CHECK_ID));
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (value[i].len < 8) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": a key must have at least "
                               "8 characters", &cmd->name);
            return NGX_CONF_ERROR;
        }

        key = ngx_array_push(*keys);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        key->key = value[i];
        key->name = name;
        key->slot = NGX_CONF_UNSET_UINT;

        if (name.len
            && ngx_http_q2api_metrics_add_key(cf, &name, &key->slot)
               != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        ngx_str_null(&name);
    }

    return NGX_CONF_OK;
}


/* variables --------------------------------------------------------------- */
