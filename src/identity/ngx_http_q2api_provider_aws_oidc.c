/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * AWS SSO OIDC (CreateToken with grantType refresh_token): Amazon Q,
 * Builder ID and Identity Center logins, Kiro's among them, each at the
 * region it was logged in at.
 */


#include "ngx_http_q2api_provider.h"
#include "ngx_http_q2api_identity.h"


static ngx_uint_t ngx_http_q2api_aws_oidc_owns(
    ngx_http_q2api_account_data_t *creds);
static ngx_int_t ngx_http_q2api_aws_oidc_request(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *creds, ngx_str_t *region,
    ngx_http_q2api_call_req_t *req);
static ngx_int_t ngx_http_q2api_aws_oidc_answer(ngx_http_request_t *r,
    cJSON *o, ngx_http_q2api_account_data_t *fresh, const char **err);


ngx_http_q2api_provider_t  ngx_http_q2api_provider_aws_oidc = {
    "aws_oidc",
    ngx_http_q2api_aws_oidc_owns,
    ngx_http_q2api_aws_oidc_request,
    ngx_http_q2api_aws_oidc_answer,
    ngx_http_q2api_provider_oauth_refusal,
    0
};


static ngx_http_q2api_token_names_t  ngx_http_q2api_aws_oidc_names = {
    "accessToken",
    "refreshToken",
    "expiresIn",
    "profileArn"
};


/* the refresh token is bound to the client registration it came with */
static ngx_uint_t
ngx_http_q2api_aws_oidc_owns(ngx_http_q2api_account_data_t *creds)
{
    return creds->client_id.len != 0;
}


static ngx_int_t
ngx_http_q2api_aws_oidc_request(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *creds, ngx_str_t *region,
    ngx_http_q2api_call_req_t *req)
{
    cJSON  *o;

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "grantType", "refresh_token") == NULL
        || cJSON_AddStringToObject(o, "clientId",
               ngx_http_q2api_cstr(r->pool, &creds->client_id)) == NULL
        || cJSON_AddStringToObject(o, "clientSecret",
               ngx_http_q2api_cstr(r->pool, &creds->client_secret)) == NULL
        || cJSON_AddStringToObject(o, "refreshToken",
               ngx_http_q2api_cstr(r->pool, &creds->refresh_token)) == NULL)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    if (ngx_http_q2api_json_body(r, o, &req->body) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_str_set(&req->method, "POST");

    return ngx_http_q2api_oidc_url(r, "token", region->len ? region : NULL,
                                   &req->url);
}


static ngx_int_t
ngx_http_q2api_aws_oidc_answer(ngx_http_request_t *r, cJSON *o,
    ngx_http_q2api_account_data_t *fresh, const char **err)
{
    return ngx_http_q2api_provider_tokens(r, o,
                                          &ngx_http_q2api_aws_oidc_names,
                                          fresh, err);
}
