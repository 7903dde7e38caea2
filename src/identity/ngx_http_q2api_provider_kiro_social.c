/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Kiro's auth service (POST {q2api_kiro_auth_url}/refreshToken): Kiro's
 * social logins (GitHub, Google), which hold a bare refresh token.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_provider.h"
#include "ngx_http_q2api_identity.h"


static ngx_uint_t ngx_http_q2api_kiro_social_owns(
    ngx_http_q2api_account_data_t *creds);
static ngx_int_t ngx_http_q2api_kiro_social_request(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *creds, ngx_str_t *region,
    ngx_http_q2api_call_req_t *req);
static ngx_int_t ngx_http_q2api_kiro_social_answer(ngx_http_request_t *r,
    cJSON *o, ngx_http_q2api_account_data_t *fresh, const char **err);
static ngx_int_t ngx_http_q2api_kiro_social_refusal(ngx_int_t status,
    cJSON *o, const char **err);


ngx_http_q2api_provider_t  ngx_http_q2api_provider_kiro_social = {
    "kiro_social",
    ngx_http_q2api_kiro_social_owns,
    ngx_http_q2api_kiro_social_request,
    ngx_http_q2api_kiro_social_answer,
    ngx_http_q2api_kiro_social_refusal,
    1
};


static ngx_http_q2api_token_names_t  ngx_http_q2api_kiro_social_names = {
    "accessToken",
    "refreshToken",
    "expiresIn",
    "profileArn"
};


/*
 * Every account without a client registration, as it always was: the
 * table asks the providers that need more first.
 */
static ngx_uint_t
ngx_http_q2api_kiro_social_owns(ngx_http_q2api_account_data_t *creds)
{
    return creds->client_id.len == 0;
}


static ngx_int_t
ngx_http_q2api_kiro_social_request(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *creds, ngx_str_t *region,
    ngx_http_q2api_call_req_t *req)
{
    u_char                     *p;
    cJSON                      *o;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "refreshToken",
               ngx_http_q2api_cstr(r->pool, &creds->refresh_token)) == NULL)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    if (ngx_http_q2api_json_body(r, o, &req->body) != NGX_OK) {
        return NGX_ERROR;
    }

    req->url.len = qlcf->kiro_auth_url.len + sizeof("/refreshToken") - 1;
    req->url.data = ngx_pnalloc(r->pool, req->url.len);
    if (req->url.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(req->url.data, qlcf->kiro_auth_url.data,
                   qlcf->kiro_auth_url.len);
    ngx_memcpy(p, "/refreshToken", sizeof("/refreshToken") - 1);

    ngx_str_set(&req->method, "POST");

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_kiro_social_answer(ngx_http_request_t *r, cJSON *o,
    ngx_http_q2api_account_data_t *fresh, const char **err)
{
    return ngx_http_q2api_provider_tokens(r, o,
                                          &ngx_http_q2api_kiro_social_names,
                                          fresh, err);
}


static ngx_int_t
ngx_http_q2api_kiro_social_refusal(ngx_int_t status, cJSON *o,
    const char **err)
{
    if (ngx_http_q2api_provider_oauth_refusal(status, o, err)
        == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

    if (status == NGX_HTTP_UNAUTHORIZED) {
        /* Kiro's "Bad credentials": a rotated token used twice */
        *err = "needs login again (refresh token rejected)";
        return NGX_DECLINED;
    }

    return NGX_ERROR;
}
