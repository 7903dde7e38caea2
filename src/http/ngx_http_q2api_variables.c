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
static ngx_int_t ngx_http_q2api_variable_account(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_count(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_q2api_variable_log(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/* what $q2api_* of the access log show (ngx_http_q2api_variable_log) */
#define NGX_HTTP_Q2API_VAR_FRONT           0
#define NGX_HTTP_Q2API_VAR_BACKEND         1
#define NGX_HTTP_Q2API_VAR_MODEL           2
#define NGX_HTTP_Q2API_VAR_UPSTREAM_MODEL  3
#define NGX_HTTP_Q2API_VAR_INPUT           4
#define NGX_HTTP_Q2API_VAR_OUTPUT          5
#define NGX_HTTP_Q2API_VAR_CACHE_READ      6
#define NGX_HTTP_Q2API_VAR_TTFB            7
#define NGX_HTTP_Q2API_VAR_STOP            8
#define NGX_HTTP_Q2API_VAR_ERROR           9
#define NGX_HTTP_Q2API_VAR_KEY_NAME        10


/* the canonical stop reasons and error kinds, by their enums' values */
static const char  *ngx_http_q2api_stop_names[] = {
    NULL, "end_turn", "tool_use", "max_tokens", "context_exceeded"
};

static const char  *ngx_http_q2api_error_names[] = {
    NULL, "invalid_request", "authentication", "billing", "permission",
    "not_found", "method", "too_large", "rate_limit", "api", "bad_gateway",
    "unavailable", "timeout", "overloaded", "context_exceeded"
};


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

    { ngx_string("q2api_front"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_FRONT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_backend"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_BACKEND, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_model"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_upstream_model"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_UPSTREAM_MODEL, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_input_tokens"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_INPUT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_output_tokens"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_OUTPUT, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_cache_read_tokens"), NULL,
      ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_CACHE_READ, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_ttfb"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_TTFB, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_stop_reason"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_STOP, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_error_type"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_ERROR, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("q2api_key_name"), NULL, ngx_http_q2api_variable_log,
      NGX_HTTP_Q2API_VAR_KEY_NAME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

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


/*
 * What the access log tells of a request.  Tokens and the stop reason are
 * those of an answer that went well (the figures the account was charged:
 * the back end's, else estimates); the error type is the one answered.
 */
static ngx_int_t
ngx_http_q2api_variable_log(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                *p;
    long long              n;
    ngx_str_t              s;
    const char            *name;
    ngx_uint_t             answered;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_q2api_get_request_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_str_null(&s);
    name = NULL;
    n = -1;

    /* an answer that went well, with an upstream call behind it */
    answered = ctx->attempt && !ctx->failed
               && ctx->endpoint == NGX_HTTP_Q2API_EP_MESSAGES;

    switch (data) {

    case NGX_HTTP_Q2API_VAR_FRONT:
        name = ctx->front ? ctx->front->name : NULL;
        break;

    case NGX_HTTP_Q2API_VAR_BACKEND:
        name = (ctx->attempt && ctx->back) ? ctx->back->name : NULL;
        break;

    case NGX_HTTP_Q2API_VAR_MODEL:
        s.data = (u_char *) ctx->req.model.data;
        s.len = ctx->req.model.len;
        break;

    case NGX_HTTP_Q2API_VAR_UPSTREAM_MODEL:
        s.data = (u_char *) ctx->model_id.data;
        s.len = ctx->model_id.len;
        break;

    case NGX_HTTP_Q2API_VAR_INPUT:
        if (answered) {
            n = ctx->usage.input_tokens >= 0 ? ctx->usage.input_tokens
                                             : ctx->input_estimate;
        }
        break;

    case NGX_HTTP_Q2API_VAR_OUTPUT:
        if (answered) {
            n = ctx->usage.output_tokens >= 0
                ? ctx->usage.output_tokens
                : q2api_estimate_tokens(ctx->output_bytes);
        }
        break;

    case NGX_HTTP_Q2API_VAR_CACHE_READ:
        if (answered) {
            n = ctx->usage.cache_read_tokens;
        }
        break;

    case NGX_HTTP_Q2API_VAR_TTFB:
        if (ctx->ttfb) {
            p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
            if (p == NULL) {
                return NGX_ERROR;
            }

            s.data = p;
            s.len = ngx_sprintf(p, "%M.%03M", (ctx->ttfb - 1) / 1000,
                                (ctx->ttfb - 1) % 1000) - p;
        }
        break;

    case NGX_HTTP_Q2API_VAR_STOP:
        if (answered) {
            name = (ctx->stop > Q2API_STOP_NONE
                    && ctx->stop <= Q2API_STOP_CONTEXT_EXCEEDED)
                   ? ngx_http_q2api_stop_names[ctx->stop]
                   : ctx->had_tool ? "tool_use" : "end_turn";
        }
        break;

    case NGX_HTTP_Q2API_VAR_ERROR:
        answered = ctx->answered ? ctx->answered
                   : ctx->failed ? ctx->error : Q2API_ERR_NONE;

        if (answered > Q2API_ERR_NONE
            && answered <= Q2API_ERR_CONTEXT_EXCEEDED)
        {
            name = ngx_http_q2api_error_names[answered];
        }
        break;

    default: /* NGX_HTTP_Q2API_VAR_KEY_NAME */
        if (ctx->key) {
            s = ctx->key->name;
        }
    }

    if (name) {
        s.data = (u_char *) name;
        s.len = ngx_strlen(name);
    }

    if (n >= 0) {
        p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%L", (int64_t) n) - p;
    }

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}
