/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The table of credential providers, and what token answers have in
 * common.
 */


#include "ngx_http_q2api_provider.h"
#include "ngx_http_q2api_identity.h"
#include "q2api_jwt.h"


/* a year: longer is no lifetime but a mistake */
#define NGX_HTTP_Q2API_TOKEN_LIFE_MAX  (86400 * 365)


/*
 * The first that owns an account refreshes it.  Google's takes Gemini
 * accounts, whatever they hold.  The AWS SSO OIDC one
 * takes every account with a client registration (Amazon Q, Builder ID,
 * Kiro IdC); Kiro's auth service the rest, with a bare refresh token (Kiro
 * social logins).
 */
static ngx_http_q2api_provider_t  *ngx_http_q2api_providers[] = {
    &ngx_http_q2api_provider_google,
    &ngx_http_q2api_provider_aws_oidc,
    &ngx_http_q2api_provider_kiro_social,
    NULL
};


static ngx_int_t ngx_http_q2api_provider_copy(ngx_http_request_t *r,
    cJSON *o, const char *name, q2api_check_e what, ngx_str_t *value);


ngx_http_q2api_provider_t *
ngx_http_q2api_provider(ngx_http_q2api_account_data_t *creds)
{
    ngx_http_q2api_provider_t  **p;

    for (p = ngx_http_q2api_providers; *p; p++) {
        if ((*p)->owns(creds)) {
            return *p;
        }
    }

    return NULL;
}


/*
 * The tokens go into Authorization headers and the profileArn chooses a
 * host: a value the checks refuse is not taken.  A refused token leaves
 * the account in needs_login (NGX_DECLINED): the old refresh token may
 * already be dead, rotated by this very answer.
 */
ngx_int_t
ngx_http_q2api_provider_tokens(ngx_http_request_t *r, cJSON *o,
    ngx_http_q2api_token_names_t *names,
    ngx_http_q2api_account_data_t *fresh, const char **err)
{
    cJSON      *item;
    int64_t     exp;
    ngx_int_t   rc;

    rc = ngx_http_q2api_provider_copy(r, o, names->access_token,
                                      Q2API_CHECK_TOKEN,
                                      &fresh->access_token);

    if (rc == NGX_DECLINED) {
        *err = "refresh answer without accessToken";
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        /* rotated: the old refresh token is dead from now on */
        rc = ngx_http_q2api_provider_copy(r, o, names->refresh_token,
                                          Q2API_CHECK_TOKEN,
                                          &fresh->refresh_token);
    }

    if (rc == NGX_ABORT) {
        *err = "needs login again (refresh answer with a refused token)";
        return NGX_DECLINED;
    }

    if (rc == NGX_ERROR) {
        *err = "out of memory";
        return NGX_ERROR;
    }

    /* without one (or with one refused) the account keeps its own */
    if (ngx_http_q2api_provider_copy(r, o, names->profile_arn,
                                     Q2API_CHECK_ARN, &fresh->profile_arn)
        != NGX_OK)
    {
        fresh->profile_arn.len = 0;
    }

    item = names->expires_in
           ? cJSON_GetObjectItemCaseSensitive(o, names->expires_in) : NULL;

    if (cJSON_IsNumber(item) && item->valuedouble > 0
        && item->valuedouble < NGX_HTTP_Q2API_TOKEN_LIFE_MAX)
    {
        fresh->token_expires = ngx_time() + (time_t) item->valuedouble;

    } else if (q2api_jwt_exp((const char *) fresh->access_token.data,
                             fresh->access_token.len, &exp)
               == Q2API_OK)
    {
        fresh->token_expires = (time_t) exp;

    } else {
        /* the documented lifetime of an OIDC access token */
        fresh->token_expires = ngx_time() + 3600;
    }

    return NGX_OK;
}


/*
 * A non-empty string member that passes its check, copied: NGX_OK;
 * NGX_DECLINED without one (value stays empty), NGX_ABORT when refused,
 * NGX_ERROR when out of memory.
 */
static ngx_int_t
ngx_http_q2api_provider_copy(ngx_http_request_t *r, cJSON *o,
    const char *name, q2api_check_e what, ngx_str_t *value)
{
    ngx_int_t    rc;
    const char  *v;

    if (name == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_q2api_jstr_check(r->connection->log, o, name, what,
                                   "token refresh answer", &v);
    if (rc != NGX_OK) {
        return (rc == NGX_ERROR) ? NGX_ABORT : NGX_DECLINED;
    }

    value->len = ngx_strlen(v);
    value->data = ngx_pnalloc(r->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, v, value->len);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_provider_oauth_refusal(ngx_int_t status, cJSON *o,
    const char **err)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, "error");

    if (cJSON_IsString(item)
        && (ngx_strcmp(item->valuestring, "invalid_grant") == 0
            || ngx_strcmp(item->valuestring, "invalid_client") == 0
            || ngx_strcmp(item->valuestring, "unauthorized_client") == 0))
    {
        /* the credentials are dead: only a new login helps */
        *err = ngx_strcmp(item->valuestring, "invalid_client") == 0
               ? "needs login again (client registration expired)"
               : "needs login again (refresh token rejected)";

        return NGX_DECLINED;
    }

    *err = status ? "identity service error" : "identity service unreachable";

    return NGX_ERROR;
}
