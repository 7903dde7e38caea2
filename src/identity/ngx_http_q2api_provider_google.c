/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Google's OAuth token endpoint (refresh_token grant): Gemini accounts,
 * with their own OAuth client or their flavour's public one.  The form is
 * what Google's installed-app clients send; the answer is snake_case and
 * rarely carries a new refresh token.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_provider.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_google.h"


static ngx_uint_t ngx_http_q2api_google_owns(
    ngx_http_q2api_account_data_t *creds);
static ngx_int_t ngx_http_q2api_google_request(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *creds, ngx_str_t *region,
    ngx_http_q2api_call_req_t *req);
static ngx_int_t ngx_http_q2api_google_answer(ngx_http_request_t *r,
    cJSON *o, ngx_http_q2api_account_data_t *fresh, const char **err);
static ngx_int_t ngx_http_q2api_google_refusal(ngx_int_t status, cJSON *o,
    const char **err);


ngx_http_q2api_provider_t  ngx_http_q2api_provider_google = {
    "google",
    ngx_http_q2api_google_owns,
    ngx_http_q2api_google_request,
    ngx_http_q2api_google_answer,
    ngx_http_q2api_google_refusal,
    0
};


static ngx_http_q2api_token_names_t  ngx_http_q2api_google_names = {
    "access_token",
    "refresh_token",
    "expires_in",
    NULL
};


static ngx_uint_t
ngx_http_q2api_google_owns(ngx_http_q2api_account_data_t *creds)
{
    return creds->type == NGX_HTTP_Q2API_ACCOUNT_GEMINI;
}


static ngx_int_t
ngx_http_q2api_google_request(ngx_http_request_t *r,
    ngx_http_q2api_account_data_t *creds, ngx_str_t *region,
    ngx_http_q2api_call_req_t *req)
{
    u_char      *p, *src;
    ngx_str_t    kv[8], refresh;
    ngx_uint_t   flavour;

    flavour = ngx_http_q2api_gemini_flavour(
                  creds->flavour_named ? (ngx_int_t) creds->flavour
                                       : NGX_ERROR,
                  &creds->client_id, &creds->api_endpoint);

    refresh = creds->refresh_token;

    if (ngx_strlchr(refresh.data, refresh.data + refresh.len, '%')) {
        /*
         * pasted URL-encoded (as amq2api's users do): Google's tokens
         * hold no '%', so decoding loses nothing; the result is checked
         * again, as it goes into the body
         */
        p = ngx_pnalloc(r->pool, refresh.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        refresh.data = p;
        src = creds->refresh_token.data;
        ngx_unescape_uri(&p, &src, refresh.len, 0);
        refresh.len = p - refresh.data;

        if (q2api_check(Q2API_CHECK_TOKEN, (char *) refresh.data,
                        refresh.len)
            != Q2API_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_str_set(&kv[0], "refresh_token");
    kv[1] = refresh;
    ngx_str_set(&kv[2], "client_id");
    kv[3] = creds->client_id.len
            ? creds->client_id
            : *ngx_http_q2api_google_client_id(r, flavour);
    ngx_str_set(&kv[4], "client_secret");
    kv[5] = creds->client_id.len
            ? creds->client_secret
            : *ngx_http_q2api_google_client_secret(r, flavour);
    ngx_str_set(&kv[6], "grant_type");
    ngx_str_set(&kv[7], "refresh_token");

    if (ngx_http_q2api_google_form(r, kv, 4, &req->body) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_google_token_req(r, req);
}


static ngx_int_t
ngx_http_q2api_google_answer(ngx_http_request_t *r, cJSON *o,
    ngx_http_q2api_account_data_t *fresh, const char **err)
{
    return ngx_http_q2api_provider_tokens(r, o, &ngx_http_q2api_google_names,
                                          fresh, err);
}


/*
 * invalid_grant: revoked, expired, the password changed or the account
 * closed; invalid_rapt (or a description that asks for "ReAuth"): the
 * Workspace admin wants the user to sign in again.  Either way only a new
 * login helps.
 */
static ngx_int_t
ngx_http_q2api_google_refusal(ngx_int_t status, cJSON *o, const char **err)
{
    const char  *code, *desc;

    code = ngx_http_q2api_jstr(o, "error");
    desc = ngx_http_q2api_jstr(o, "error_description");

    if ((code && ngx_strcmp(code, "invalid_rapt") == 0)
        || (desc && ngx_strstr(desc, "ReAuth") != NULL))
    {
        *err = "needs login again (Google asks to sign in again: "
               "invalid_rapt)";
        return NGX_DECLINED;
    }

    if (ngx_http_q2api_provider_oauth_refusal(status, o, err)
        == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }

    return NGX_ERROR;
}
