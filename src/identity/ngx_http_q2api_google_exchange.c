/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Google's authorization-code exchange (gemini.md 1.3), for accounts
 * given through the console or a donate page: the tokens, and who signed
 * in (the id token's subject and e-mail), every value checked before use.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_google.h"
#include "q2api_jwt.h"


typedef struct {
    ngx_http_q2api_google_login_pt   done;
    void                            *data;
} ngx_http_q2api_exchange_t;


static void ngx_http_q2api_exchange_answer(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);
static ngx_int_t ngx_http_q2api_exchange_copy(ngx_http_request_t *r,
    cJSON *o, const char *key, q2api_check_e what, ngx_str_t *to);
static const char *ngx_http_q2api_exchange_refusal(const char *error);


ngx_int_t
ngx_http_q2api_google_exchange(ngx_http_request_t *r, ngx_uint_t flavour,
    ngx_str_t *code, ngx_str_t *verifier, ngx_str_t *redirect_uri,
    ngx_http_q2api_google_login_pt done, void *data)
{
    ngx_str_t                   kv[12], body;
    ngx_http_q2api_exchange_t  *ex;

    ex = ngx_palloc(r->pool, sizeof(ngx_http_q2api_exchange_t));
    if (ex == NULL) {
        return NGX_ERROR;
    }

    ex->done = done;
    ex->data = data;

    /* google-auth-library's order; an empty verifier is left out */
    ngx_str_set(&kv[0], "code");
    kv[1] = *code;
    ngx_str_set(&kv[2], "client_id");
    kv[3] = *ngx_http_q2api_google_client_id(r, flavour);
    ngx_str_set(&kv[4], "redirect_uri");
    kv[5] = *redirect_uri;
    ngx_str_set(&kv[6], "grant_type");
    ngx_str_set(&kv[7], "authorization_code");
    ngx_str_set(&kv[8], "code_verifier");
    kv[9] = *verifier;
    ngx_str_set(&kv[10], "client_secret");
    kv[11] = *ngx_http_q2api_google_client_secret(r, flavour);

    if (ngx_http_q2api_google_form(r, kv, 6, &body) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_google_token_call(r, &body,
                                            ngx_http_q2api_exchange_answer,
                                            ex);
}


static void
ngx_http_q2api_exchange_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_exchange_t  *ex = data;

    cJSON                          *o, *claims;
    int64_t                         life;
    ngx_int_t                       rc;
    ngx_str_t                       message, id_token;
    const char                     *err;
    ngx_http_q2api_google_login_t   login;

    ngx_memzero(&login, sizeof(ngx_http_q2api_google_login_t));

    o = ngx_http_q2api_identity_parse(r->pool, body);
    claims = NULL;

    if (status != NGX_HTTP_OK) {
        rc = NGX_ERROR;
        err = status ? "Google's token endpoint failed"
                     : "Google's token endpoint is unreachable";

        if (status == NGX_HTTP_BAD_REQUEST
            || status == NGX_HTTP_UNAUTHORIZED)
        {
            /* a code is good once, for one client and redirect URI;
             * the name is one of these, never the answer's own text */
            rc = NGX_DECLINED;
            err = ngx_http_q2api_exchange_refusal(
                      ngx_http_q2api_jstr(o, "error"));
        }

        goto done;
    }

    rc = NGX_ERROR;
    err = "Google's answer lacks a usable access token";

    if (ngx_http_q2api_exchange_copy(r, o, "access_token", Q2API_CHECK_TOKEN,
                                     &login.access_token) != NGX_OK
        || ngx_http_q2api_exchange_copy(r, o, "refresh_token",
                                        Q2API_CHECK_TOKEN,
                                        &login.refresh_token)
           == NGX_ERROR)
    {
        goto done;
    }

    err = "Google's answer lacks an id token with a subject (the openid "
          "and email scopes are needed)";

    if (ngx_http_q2api_exchange_copy(r, o, "id_token", Q2API_CHECK_TOKEN,
                                     &id_token) != NGX_OK)
    {
        goto done;
    }

    /* straight from Google over TLS: read, not verified */
    claims = q2api_jwt_claims((const char *) id_token.data, id_token.len);

    if (ngx_http_q2api_exchange_copy(r, claims, "sub", Q2API_CHECK_ID,
                                     &login.subject) != NGX_OK
        || ngx_http_q2api_exchange_copy(r, claims, "email",
                                        Q2API_CHECK_LABEL, &login.email)
           == NGX_ERROR)
    {
        goto done;
    }

    life = (int64_t) ngx_http_q2api_jnum(o, "expires_in", 3599);
    login.token_expires = ngx_time()
                          + (time_t) ((life > 0 && life < 86400) ? life
                                                                 : 3599);
    rc = NGX_OK;
    err = "ok";

done:

    cJSON_Delete(claims);
    cJSON_Delete(o);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api: Google code exchange failed with status %i: "
                      "%s", status, err);
    }

    message.data = (u_char *) err;
    message.len = ngx_strlen(err);

    ex->done(r, ex->data, rc, &login, &message);
}


/*
 * A string member checked as a value of its class, copied: NGX_OK;
 * NGX_DECLINED without one; NGX_ERROR when refused or out of memory.
 */
static ngx_int_t
ngx_http_q2api_exchange_copy(ngx_http_request_t *r, cJSON *o,
    const char *key, q2api_check_e what, ngx_str_t *to)
{
    ngx_int_t    rc;
    const char  *v;

    rc = ngx_http_q2api_jstr_check(r->connection->log, o, key, what,
                                   "Google's token answer", &v);
    if (rc != NGX_OK) {
        return rc;
    }

    to->len = ngx_strlen(v);
    to->data = ngx_pnalloc(r->pool, to->len);
    if (to->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data, v, to->len);

    return NGX_OK;
}


static const char *
ngx_http_q2api_exchange_refusal(const char *error)
{
    static const char  *known[] = {
        "invalid_grant", "redirect_uri_mismatch", "invalid_request",
        "invalid_client", "unauthorized_client", "invalid_scope", NULL
    };

    const char  **k;

    for (k = known; error && *k; k++) {
        if (ngx_strcmp(error, *k) == 0) {
            return *k;
        }
    }

    return "the code was refused";
}
