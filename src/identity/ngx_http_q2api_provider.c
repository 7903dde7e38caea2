/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The table of credential providers, and what token answers have in
 * common.
 */


#include "ngx_http_q2api_provider.h"
#include "ngx_http_q2api_identity.h"


/*
 * The first that owns an account refreshes it.  Google's takes Gemini
 * accounts, whatever they hold.  The AWS SSO OIDC one
 * takes every account with a client registration (Amazon Q, Builder ID,
 * Kiro IdC); Kiro's auth service the rest, with a bare refresh token (Kiro
 * social logins).
 */
ngx_http_q2api_provider_t  *ngx_http_q2api_providers[] = {
    &ngx_http_q2api_provider_google,
    &ngx_http_q2api_provider_aws_oidc,
    &ngx_http_q2api_provider_kiro_social,
    NULL
};


static ngx_int_t ngx_http_q2api_provider_copy(ngx_pool_t *pool,
    const char *value, ngx_str_t *s);


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
 * The checks and bounds are the core's (q2api_answer_tokens()); here the
 * copies, and what a refusal means for the account.
 */
ngx_int_t
ngx_http_q2api_provider_tokens(ngx_http_request_t *r, cJSON *o,
    ngx_http_q2api_token_names_t *names,
    ngx_http_q2api_account_data_t *fresh, const char **err)
{
    q2api_token_answer_t  t;

    if (q2api_answer_tokens(o, names, ngx_time(), &t) != Q2API_OK) {
        if (t.refused == NULL) {
            *err = "refresh answer without accessToken";
            return NGX_ERROR;
        }

        ngx_http_q2api_identity_refused(r->connection->log,
                                        "token refresh answer", t.refused,
                                        Q2API_CHECK_TOKEN);
        *err = "needs login again (refresh answer with a refused token)";
        return NGX_DECLINED;
    }

    if (t.refused) {
        ngx_http_q2api_identity_refused(r->connection->log,
                                        "token refresh answer", t.refused,
                                        Q2API_CHECK_ARN);
    }

    if (ngx_http_q2api_provider_copy(r->pool, t.access_token,
                                     &fresh->access_token) != NGX_OK
        || ngx_http_q2api_provider_copy(r->pool, t.refresh_token,
                                        &fresh->refresh_token) != NGX_OK
        || ngx_http_q2api_provider_copy(r->pool, t.profile_arn,
                                        &fresh->profile_arn) != NGX_OK)
    {
        *err = "out of memory";
        return NGX_ERROR;
    }

    fresh->token_expires = (time_t) t.expires;

    return NGX_OK;
}


/* a copy of value in pool; NULL leaves s empty */
static ngx_int_t
ngx_http_q2api_provider_copy(ngx_pool_t *pool, const char *value,
    ngx_str_t *s)
{
    if (value == NULL) {
        s->len = 0;
        return NGX_OK;
    }

    s->len = ngx_strlen(value);
    s->data = ngx_pnalloc(pool, s->len);

    if (s->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(s->data, value, s->len);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_provider_oauth_refusal(ngx_int_t status, cJSON *o,
    const char **err)
{
    switch (q2api_answer_oauth_error(o)) {

    /* the credentials are dead: only a new login helps */
    case Q2API_OAUTH_DEAD_CLIENT:
        *err = "needs login again (client registration expired)";
        return NGX_DECLINED;

    case Q2API_OAUTH_DEAD_GRANT:
        *err = "needs login again (refresh token rejected)";
        return NGX_DECLINED;

    default:
        *err = status ? "identity service error"
                      : "identity service unreachable";
        return NGX_ERROR;
    }
}
