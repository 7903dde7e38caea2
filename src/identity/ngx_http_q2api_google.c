/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Google's endpoints for Gemini accounts: their directives, and the calls
 * the token refresh, project discovery, quota and code exchange make.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_google.h"
#include "ngx_http_q2api_identity.h"
#include "q2api_check.h"


static ngx_str_t  ngx_http_q2api_google_location =
    ngx_string("/_q2api/google");
static ngx_str_t  ngx_http_q2api_code_assist_location =
    ngx_string("/_q2api/code_assist");


/*
 * An http(s) base URL, kept without a trailing slash: paths are added to
 * it.  The checks of credentials apply (no space, no control character),
 * so that nothing but a URL reaches proxy_pass.
 */
char *
ngx_http_q2api_google_url_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char       *rv;
    ngx_str_t  *value, *field;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;
    field = (ngx_str_t *) ((u_char *) conf + cmd->offset);

    if (q2api_check(Q2API_CHECK_TOKEN, (char *) field->data, field->len)
        != Q2API_OK
        || !((field->len > 7
              && ngx_strncmp(field->data, "http://", 7) == 0)
             || (field->len > 8
                 && ngx_strncmp(field->data, "https://", 8) == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must be an http:// or https:// URL",
                           &value[0]);
        return NGX_CONF_ERROR;
    }

    while (field->len && field->data[field->len - 1] == '/') {
        field->len--;
    }

    return NGX_CONF_OK;
}


/* client ids and secrets go into form bodies as they are */
char *
ngx_http_q2api_google_client_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char       *rv;
    ngx_str_t  *value, *field;

    rv = ngx_conf_set_str_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    value = cf->args->elts;
    field = (ngx_str_t *) ((u_char *) conf + cmd->offset);

    if (q2api_check(Q2API_CHECK_TOKEN, (char *) field->data, field->len)
        != Q2API_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" %s", &value[0],
                           q2api_check_rule(Q2API_CHECK_TOKEN));
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


void
ngx_http_q2api_google_merge_conf(void *child, void *parent)
{
    ngx_http_q2api_loc_conf_t *conf = child;
    ngx_http_q2api_loc_conf_t *prev = parent;

    ngx_uint_t                        i;
    ngx_http_q2api_gemini_flavour_t  *f;

    ngx_conf_merge_str_value(conf->google_oauth_url, prev->google_oauth_url,
                             "https://oauth2.googleapis.com");
    ngx_conf_merge_str_value(conf->code_assist_url, prev->code_assist_url,
                             "");

    /* gemini-cli's pace for onboardUser's operation */
    ngx_conf_merge_msec_value(conf->gemini_onboard_poll,
                              prev->gemini_onboard_poll, 5000);

    /* quota moves with use: read it as often as amq2api's page refreshes */
    ngx_conf_merge_sec_value(conf->gemini_quota_interval,
                             prev->gemini_quota_interval, 600);

    for (i = 0; i < NGX_HTTP_Q2API_GEMINI_FLAVOURS; i++) {
        f = &ngx_http_q2api_gemini_flavours[i];

        if (conf->gemini_client_id[i].data == NULL) {
            conf->gemini_client_id[i] = prev->gemini_client_id[i].data
                                        ? prev->gemini_client_id[i]
                                        : f->client_id;
        }

        if (conf->gemini_client_secret[i].data == NULL) {
            conf->gemini_client_secret[i] =
                prev->gemini_client_secret[i].data
                ? prev->gemini_client_secret[i] : f->client_secret;
        }
    }
}


ngx_str_t *
ngx_http_q2api_google_client_id(ngx_http_request_t *r, ngx_uint_t flavour)
{
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    return &qlcf->gemini_client_id[flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS];
}


ngx_str_t *
ngx_http_q2api_google_client_secret(ngx_http_request_t *r,
    ngx_uint_t flavour)
{
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    return &qlcf->gemini_client_secret[
               flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS];
}


ngx_int_t
ngx_http_q2api_google_form(ngx_http_request_t *r, ngx_str_t *kv,
    ngx_uint_t n, ngx_str_t *body)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = 0;

    for (i = 0; i < n; i++) {
        if (kv[2 * i + 1].len) {
            len += kv[2 * i].len + 2 + kv[2 * i + 1].len
                   + 2 * ngx_escape_uri(NULL, kv[2 * i + 1].data,
                                        kv[2 * i + 1].len,
                                        NGX_ESCAPE_URI_COMPONENT);
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for (i = 0; i < n; i++) {
        if (kv[2 * i + 1].len == 0) {
            continue;
        }

        if (p != body->data) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, kv[2 * i].data, kv[2 * i].len);
        *p++ = '=';
        p = (u_char *) ngx_escape_uri(p, kv[2 * i + 1].data,
                                      kv[2 * i + 1].len,
                                      NGX_ESCAPE_URI_COMPONENT);
    }

    body->len = p - body->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_google_token_req(ngx_http_request_t *r,
    ngx_http_q2api_call_req_t *req)
{
    u_char                     *p;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    req->location = ngx_http_q2api_google_location;
    ngx_str_set(&req->method, "POST");

    req->url.len = qlcf->google_oauth_url.len + sizeof("/token") - 1;
    req->url.data = ngx_pnalloc(r->pool, req->url.len);
    if (req->url.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(req->url.data, qlcf->google_oauth_url.data,
                   qlcf->google_oauth_url.len);
    ngx_memcpy(p, "/token", sizeof("/token") - 1);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_google_token_call(ngx_http_request_t *r, ngx_str_t *body,
    ngx_http_q2api_call_done_pt done, void *data)
{
    ngx_http_q2api_call_req_t  req;

    ngx_memzero(&req, sizeof(ngx_http_q2api_call_req_t));

    req.body = *body;

    if (ngx_http_q2api_google_token_req(r, &req) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_call(r, &req, done, data, NULL);
}


ngx_int_t
ngx_http_q2api_code_assist_call(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *d, char *method, ngx_str_t *rpc,
    ngx_str_t *body, ngx_uint_t background, ngx_http_q2api_call_done_pt done,
    void *data)
{
    u_char                     *p;
    ngx_str_t                   base;
    ngx_http_q2api_call_req_t   req;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    if (qlcf->code_assist_url.len) {
        base = qlcf->code_assist_url;

    } else {
        /* checked where it entered: one of Code Assist's hosts */
        base = d->api_endpoint.len
               ? d->api_endpoint
               : ngx_http_q2api_gemini_flavours[
                     d->flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS].endpoint;

        if (base.len && base.data[base.len - 1] == '/') {
            base.len--;
        }
    }

    ngx_memzero(&req, sizeof(ngx_http_q2api_call_req_t));

    req.location = ngx_http_q2api_code_assist_location;
    req.background = background ? 1 : 0;
    req.method.data = (u_char *) method;
    req.method.len = ngx_strlen(method);

    if (body) {
        req.body = *body;
    }

    /* <base>/v1internal:<rpc>, or <base>/v1internal/<operation> */
    req.url.len = base.len + sizeof("/v1internal:") - 1 + rpc->len;
    req.url.data = ngx_pnalloc(r->pool, req.url.len);
    if (req.url.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(req.url.data, base.data, base.len);
    p = ngx_cpymem(p, "/v1internal", sizeof("/v1internal") - 1);
    *p++ = (method[0] == 'G') ? '/' : ':';
    ngx_memcpy(p, rpc->data, rpc->len);

    if (ngx_http_q2api_bearer(r->pool, &d->access_token, &req.authorization)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_q2api_call(r, &req, done, data, NULL);
}
