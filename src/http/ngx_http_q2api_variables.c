/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The module's variables: what the internal locations put into the
 * backend call (the account's token, URL, region), and what access logs
 * may show of a request (the account, the attempts).
 */


#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ngx_http_q2api.h"


static ngx_http_q2api_attempt_t *ngx_http_q2api_get_attempt(
    ngx_http_request_t *r);
static ngx_http_q2api_ctx_t *ngx_http_q2api_get_request_ctx(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_variable_authorization(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_upstream_url(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_invocation_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_call(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_region(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_machine_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_gemini_endpoint(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_gemini_user_agent(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_account(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/*
 * The per-attempt variables are read by proxy_set_header in the internal
 * location, with r being the attempt's subrequest: never cacheable, since
 * a subrequest shares its parent's variable cache and every attempt may use
 * another account.
 */
static ngx_http_variable_t  ngx_http_q2api_vars[] = {

    { ngx_string("q2api_authorization"), NULL,
      ngx_http_q2api_variable_authorization, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("q2api_upstream_url"), NULL,
      ngx_http_q2api_variable_upstream_url, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_region"), NULL,
      ngx_http_q2api_variable_region, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_machine_id"), NULL,
      ngx_http_q2api_variable_machine_id, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_gemini_endpoint"), NULL,
      ngx_http_q2api_variable_gemini_endpoint, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_gemini_user_agent"), NULL,
      ngx_http_q2api_variable_gemini_user_agent, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_call_url"), NULL,
      ngx_http_q2api_variable_call, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_call_method"), NULL,
      ngx_http_q2api_variable_call, 1,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_call_authorization"), NULL,
      ngx_http_q2api_variable_call, 2,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("q2api_invocation_id"), NULL,
      ngx_http_q2api_variable_invocation_id, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_NOHASH, 0 },

    { ngx_string("q2api_account"), NULL,
      ngx_http_q2api_variable_account, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_attempts"), NULL,
      ngx_http_q2api_variable_count,
      offsetof(ngx_http_q2api_ctx_t, attempts),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_stream_buffers"), NULL,
      ngx_http_q2api_variable_count,
      offsetof(ngx_http_q2api_ctx_t, stream_buffers),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_q2api_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_q2api_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_http_q2api_attempt_t *
ngx_http_q2api_get_attempt(ngx_http_request_t *r)
{
    ngx_http_q2api_attempt_t  *actx;

    actx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    if (actx == NULL || actx->magic != NGX_HTTP_Q2API_CTX_ATTEMPT) {
        return NULL;
    }

    return actx;
}


static ngx_int_t
ngx_http_q2api_variable_authorization(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  auth;
    ngx_http_q2api_attempt_t  *actx;

    actx = ngx_http_q2api_get_attempt(r);

    if (actx == NULL || actx->account.access_token.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_q2api_bearer(r->pool, &actx->account.access_token, &auth)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v->data = auth.data;
    v->len = auth.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_variable_upstream_url(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                   url;
    ngx_http_q2api_kind_t      *kind;
    ngx_http_q2api_loc_conf_t  *qlcf;
    ngx_http_q2api_attempt_t   *actx;

    actx = ngx_http_q2api_get_attempt(r);

    if (actx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    /* the client location's setting, not the internal location's;
     * evaluated with the attempt (for $q2api_region) */
    qlcf = actx->ctx->conf;

    kind = ngx_http_q2api_kind(actx->account.type);

    if (ngx_http_complex_value(r, qlcf->kinds[kind->type].url, &url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    v->data = url.data;
    v->len = url.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_variable_invocation_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_q2api_attempt_t  *actx;

    actx = ngx_http_q2api_get_attempt(r);

    if (actx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = actx->invocation_id;
    v->len = 36;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The region of the attempt's account: the fourth field of its profileArn
 * (arn:aws:codewhisperer:<region>:<account>:profile/<id>), us-east-1 when
 * it has none; an error when that is not a strict ARN.
 */
static ngx_int_t
ngx_http_q2api_variable_region(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                  region, none;
    ngx_http_q2api_attempt_t  *actx;

    actx = ngx_http_q2api_get_attempt(r);

    ngx_str_null(&none);

    if (ngx_http_q2api_arn_region(actx ? &actx->account.profile_arn : &none,
                                  &region)
        == NGX_ERROR)
    {
        /* the stores and the admin API refuse such an ARN: never a host */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: account \"%V\" has a profileArn that is not "
                      "an ARN; no upstream host is made of it",
                      &actx->account.id);
        return NGX_ERROR;
    }

    v->data = region.data;
    v->len = region.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The Code Assist endpoint of the attempt's Gemini account, without a
 * trailing slash: its other.api_endpoint (held to the known hosts where
 * it entered), else its flavour's.
 */
static ngx_int_t
ngx_http_q2api_variable_gemini_endpoint(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                 *ep;
    ngx_http_q2api_attempt_t  *actx;

    actx = ngx_http_q2api_get_attempt(r);

    if (actx == NULL
        || actx->account.type != NGX_HTTP_Q2API_ACCOUNT_GEMINI
        || actx->account.flavour >= NGX_HTTP_Q2API_GEMINI_FLAVOURS)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    ep = actx->account.endpoint.len
         ? &actx->account.endpoint
         : &ngx_http_q2api_gemini_flavours[actx->account.flavour].endpoint;

    v->data = ep->data;
    v->len = ep->len;

    if (v->len && v->data[v->len - 1] == '/') {
        v->len--;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * The User-Agent of a Gemini account's client: gemini-cli names the model
 * it was started with (gemini.md 2), Antigravity only itself.
 */
static ngx_int_t
ngx_http_q2api_variable_gemini_user_agent(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    size_t                     len;
    ngx_http_q2api_attempt_t  *actx;

    static u_char  antigravity[] = "antigravity/1.15.8 linux/amd64";

    actx = ngx_http_q2api_get_attempt(r);

    if (actx == NULL
        || actx->account.type != NGX_HTTP_Q2API_ACCOUNT_GEMINI)
    {
        v->not_found = 1;
        return NGX_OK;
    }

    if (actx->account.flavour == NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY) {
        v->data = antigravity;
        v->len = sizeof(antigravity) - 1;

    } else {
        len = sizeof("GeminiCLI/0.56.0/ (linux; x64; terminal) "
                     "google-api-nodejs-client/10.9.0") - 1
              + actx->model_id.len;

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        /* the model id is a table entry or a checked gemini-* name */
        v->data = p;
        v->len = ngx_sprintf(p, "GeminiCLI/0.56.0/%*s (linux; x64; "
                             "terminal) google-api-nodejs-client/10.9.0",
                             actx->model_id.len, actx->model_id.data)
                 - p;
    }

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Kiro clients identify themselves with a 64-hex machine id.  One per
 * account, stable across requests and restarts, unrelated between
 * accounts: a hash of the account id.
 */
static ngx_int_t
ngx_http_q2api_variable_machine_id(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p, md[SHA256_DIGEST_LENGTH];
    ngx_str_t                  seed;
    ngx_http_q2api_attempt_t  *actx;

    actx = ngx_http_q2api_get_attempt(r);

    if (actx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    seed.len = sizeof("q2api-machine:") - 1 + actx->account.id.len;
    seed.data = ngx_pnalloc(r->pool, seed.len);
    if (seed.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(seed.data, "q2api-machine:",
                          sizeof("q2api-machine:") - 1),
               actx->account.id.data, actx->account.id.len);

    if (EVP_Digest(seed.data, seed.len, md, NULL, EVP_sha256(), NULL) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "EVP_Digest() failed");
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, 2 * SHA256_DIGEST_LENGTH);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_hex_dump(p, md, SHA256_DIGEST_LENGTH) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_variable_call(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  value;

    if (ngx_http_q2api_call_param(r, data, &value) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = value.data;
    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_http_q2api_ctx_t *
ngx_http_q2api_get_request_ctx(ngx_http_request_t *r)
{
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_q2api_module);

    if (ctx == NULL || ctx->magic != NGX_HTTP_Q2API_CTX_REQUEST) {
        return NULL;
    }

    return ctx;
}


static ngx_int_t
ngx_http_q2api_variable_account(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_q2api_get_request_ctx(r);

    if (ctx == NULL || ctx->attempt == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = ctx->attempt->account.id.data;
    v->len = ctx->attempt->account.id.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* a count the request keeps: data is its offset in the request's ctx */
static ngx_int_t
ngx_http_q2api_variable_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_q2api_get_request_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;
    v->len = ngx_sprintf(p, "%ui", *(ngx_uint_t *) ((u_char *) ctx + data))
             - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
