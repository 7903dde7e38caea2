/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The admin routes of Gemini accounts: POST /v2/accounts/{id}/discover
 * (the Code Assist project looked up, or the account onboarded, now).
 */


#include "ngx_http_q2api_admin.h"


static void ngx_http_q2api_admin_discovered(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);
static ngx_int_t ngx_http_q2api_admin_gemini_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);


/*
 * Answers the account as the listing shows it (its state says what came
 * of it: active with other.project, needs_validation with
 * other.validation_url, ineligible with Google's reasons); a 502 when
 * Google could not be asked, a 409 while another lookup runs.
 */
ngx_int_t
ngx_http_q2api_admin_discover(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                      rc;
    ngx_http_q2api_account_data_t  d;

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (d.type != NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "type: projects are looked up "
                                           "for gemini accounts only");
    }

    r->connection->log->action = "looking up a Code Assist project";
    ctx->async = 1;

    rc = ngx_http_q2api_gemini_discover(r, &ctx->id, 0,
                                        ngx_http_q2api_admin_discovered, ctx);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    ctx->async = 0;
    r->connection->log->action = "serving the admin API";

    if (rc == NGX_BUSY) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_CONFLICT,
                                           "a lookup of this account's "
                                           "project runs already");
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "accessToken: the account has "
                                           "no access token");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_q2api_admin_discovered(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    r->connection->log->action = "serving the admin API";

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                        "Project lookup failed: %V",
                                        message));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_q2api_admin_gemini_row(r, ctx));
}


/* the account as it is now, secrets masked */
static ngx_int_t
ngx_http_q2api_admin_gemini_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t   d;

    if (ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d)
        != NGX_OK)
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_row(j, &d, 0);

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}
