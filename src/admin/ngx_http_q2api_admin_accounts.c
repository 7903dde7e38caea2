/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account routes: GET /healthz, POST /v2/accounts, and GET, PATCH and
 * DELETE /v2/accounts/{id} (the listing is in admin_list).
 */


#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_metrics.h"


static ngx_uint_t
ngx_http_q2api_admin_usable(ngx_http_q2api_account_data_t *d, time_t now)
{
    if (!d->enabled || d->access_token.len == 0) {
        return 0;
    }

    if (d->status == NGX_HTTP_Q2API_ST_ACTIVE) {
        return 1;
    }

    /* cooling down or quota: back by itself at "until" */
    return (d->status == NGX_HTTP_Q2API_ST_COOLING
            || d->status == NGX_HTTP_Q2API_ST_QUOTA)
           && d->until && d->until <= now;
}


/*
 * GET /healthz, unauthenticated and cheap: counts only, computed at most
 * once a second per worker.
 */
ngx_int_t
ngx_http_q2api_admin_health(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    time_t                          now;
    ngx_str_t                       extra;
    ngx_uint_t                      i;
    ngx_pool_t                     *p;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t  *d;

    static time_t                   checked;
    static ngx_uint_t               total, usable;

    now = ngx_time();

    if (now != checked) {
        /* a pool of its own, so the copies go at once */
        p = ngx_create_pool(4096, r->connection->log);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_array_init(&all, p, 64,
                           sizeof(ngx_http_q2api_account_data_t))
            != NGX_OK
            || ngx_http_q2api_accounts_export(ctx->accounts, p, &all) != NGX_OK)
        {
            ngx_destroy_pool(p);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        d = all.elts;
        total = all.nelts;
        usable = 0;

        for (i = 0; i < all.nelts; i++) {
            usable += ngx_http_q2api_admin_usable(&d[i], now);
        }

        ngx_destroy_pool(p);
        checked = now;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"status\":\"ok\",\"accounts\":");
    ngx_http_q2api_admin_int(j, total);
    ngx_http_q2api_admin_lit(j, ",\"usable\":");
    ngx_http_q2api_admin_int(j, usable);

    /* the store's and the zone's health, from src/metrics */
    if (ngx_http_q2api_metrics_health(r, ctx->accounts, &extra) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_raw(j, extra.data, extra.len);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/* one account's row, or q2api's 404 */
ngx_int_t
ngx_http_q2api_admin_send_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *id, ngx_uint_t status)
{
    ngx_int_t                      rc;
    ngx_http_q2api_admin_json_t   *j;
    ngx_http_q2api_account_data_t  d;

    rc = ngx_http_q2api_accounts_get(ctx->accounts, id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_row(j, &d, 0);

    return ngx_http_q2api_admin_send(r, status, j);
}


ngx_int_t
ngx_http_q2api_admin_get(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    return ngx_http_q2api_admin_send_row(r, ctx, &ctx->id, NGX_HTTP_OK);
}


/* a new account into the zone, dirty so that the store writes it */
ngx_int_t
ngx_http_q2api_admin_insert(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_account_data_t *d)
{
    if (ngx_http_q2api_accounts_upsert(ctx->accounts, d,
                                       NGX_HTTP_Q2API_SET_CONFIG
                                       |NGX_HTTP_Q2API_SET_STATE
                                       |NGX_HTTP_Q2API_SET_DIRTY, 0)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d->id);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* POST /v2/accounts: the new account's row */
ngx_int_t
ngx_http_q2api_admin_create(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON                         *root;
    ngx_int_t                      rc;
    ngx_http_q2api_admin_input_t   in;
    ngx_http_q2api_account_data_t  cur;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    rc = ngx_http_q2api_admin_input(r, root, NGX_HTTP_Q2API_INPUT_CREATE,
                                    &in, "", err);

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_complete(r, &in, "", err);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &in.d.id, r->pool, &cur);

    if (rc == NGX_OK) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_CONFLICT,
                                           "id: an account with this id "
                                           "exists");
    }

    if (rc == NGX_ERROR || ngx_http_q2api_admin_insert(r, ctx, &in.d)
                           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: account \"%V\" created", &in.d.id);

    return ngx_http_q2api_admin_send_row(r, ctx, &in.d.id, NGX_HTTP_OK);
}


/*
 * PATCH /v2/accounts/{id}: the fields given replace the account's.  An
 * account out of rotation that is enabled again, or given new tokens,
 * becomes active: the operator says it is fit.  Counters stay.
 */
ngx_int_t
ngx_http_q2api_admin_patch(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON                         *root;
    ngx_int_t                      rc;
    ngx_uint_t                     fields;
    ngx_http_q2api_admin_input_t   in;
    ngx_http_q2api_account_data_t  d;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    rc = ngx_http_q2api_admin_input(r, root, NGX_HTTP_Q2API_INPUT_PATCH,
                                    &in, "", err);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if ((in.set & NGX_HTTP_Q2API_F_ID)
        && (in.d.id.len != ctx->id.len
            || ngx_strncmp(in.d.id.data, ctx->id.data, ctx->id.len) != 0))
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "id: cannot be changed");
    }

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_overlay(&d, &in);

    fields = NGX_HTTP_Q2API_SET_CONFIG|NGX_HTTP_Q2API_SET_DIRTY;

    if (d.enabled && d.status != NGX_HTTP_Q2API_ST_ACTIVE
        && ((in.set & NGX_HTTP_Q2API_F_ENABLED)
            || (in.set & (NGX_HTTP_Q2API_F_ACCESS|NGX_HTTP_Q2API_F_REFRESH))))
    {
        d.status = NGX_HTTP_Q2API_ST_ACTIVE;
        d.status_since = ngx_time();
        d.until = 0;
        ngx_str_null(&d.reason);

        fields |= NGX_HTTP_Q2API_SET_STATE;
    }

    d.updated_at = ngx_time();

    if (ngx_http_q2api_accounts_upsert(ctx->accounts, &d, fields, 0)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d.id);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: account \"%V\" changed", &d.id);

    return ngx_http_q2api_admin_send_row(r, ctx, &ctx->id, NGX_HTTP_OK);
}


ngx_int_t
ngx_http_q2api_admin_delete(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_http_q2api_admin_json_t  *j;

    if (ngx_http_q2api_accounts_delete(ctx->accounts, &ctx->id) != NGX_OK) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: account \"%V\" deleted", &ctx->id);

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"deleted\":");
    ngx_http_q2api_admin_string(j, ctx->id.data, ctx->id.len);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}
