/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Jobs: POST /v2/accounts/{id}/refresh, /v2/accounts/refresh-all,
 * /v2/accounts/feed and GET /healthz/deep.  Token refreshes and test
 * requests run one after the other as subrequests of the admin request,
 * which is answered when the last one is done.
 */


#include "ngx_http_q2api_admin.h"


static ngx_int_t ngx_http_q2api_admin_run(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_start_refresh(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it);
static void ngx_http_q2api_admin_refreshed(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);
static ngx_int_t ngx_http_q2api_admin_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);


ngx_http_q2api_admin_item_t *
ngx_http_q2api_admin_item(ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *id,
    ngx_str_t *label, ngx_uint_t step)
{
    ngx_http_q2api_admin_item_t  *it;

    it = ngx_array_push(&ctx->items);
    if (it == NULL) {
        return NULL;
    }

    ngx_memzero(it, sizeof(ngx_http_q2api_admin_item_t));

    it->id = *id;
    it->label = *label;
    it->step = step;
    it->refresh = NGX_NONE;

    return it;
}


ngx_int_t
ngx_http_q2api_admin_job(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       args;
    ngx_uint_t                      i;
    ngx_array_t                     all;
    ngx_http_q2api_account_data_t  *d, cur;

    if (ngx_array_init(&ctx->items, r->pool, 4,
                       sizeof(ngx_http_q2api_admin_item_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (ctx->route) {

    case NGX_HTTP_Q2API_ROUTE_REFRESH:
        rc = ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool,
                                         &cur);

        if (rc == NGX_DECLINED) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                               "Account not found");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (cur.refresh_token.len == 0) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "refreshToken: the account "
                                               "has no refresh token");
        }

        if (ngx_http_q2api_admin_item(ctx, &cur.id, &cur.label,
                                      NGX_HTTP_Q2API_STEP_REFRESH)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        break;

    case NGX_HTTP_Q2API_ROUTE_REFRESH_ALL:
        if (ngx_array_init(&all, r->pool, 64,
                           sizeof(ngx_http_q2api_account_data_t))
            != NGX_OK
            || ngx_http_q2api_accounts_export(ctx->accounts, r->pool, &all)
               != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        d = all.elts;

        for (i = 0; i < all.nelts; i++) {
            if (ngx_http_q2api_admin_item(ctx, &d[i].id, &d[i].label,
                                          NGX_HTTP_Q2API_STEP_REFRESH)
                == NULL)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }

        break;

    case NGX_HTTP_Q2API_ROUTE_FEED:
        if (ngx_http_q2api_admin_feed(r, ctx, &rc) != NGX_OK) {
            /* refused, and answered */
            return rc;
        }

        break;

    default: /* NGX_HTTP_Q2API_ROUTE_DEEP */
        rc = ngx_http_q2api_admin_account_arg(r, ctx, &args);

        if (rc == NGX_DECLINED) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                               "Account not found");
        }

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (ngx_http_q2api_admin_item(ctx, &ctx->id, &ctx->id,
                                      NGX_HTTP_Q2API_STEP_TEST)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    ctx->async = 1;

    ctx->action = ctx->route == NGX_HTTP_Q2API_ROUTE_FEED
                  ? "verifying fed accounts"
                  : ctx->route == NGX_HTTP_Q2API_ROUTE_DEEP
                    ? "checking the backend" : "refreshing account tokens";

    r->connection->log->action = ctx->action;

    rc = ngx_http_q2api_admin_run(r, ctx);

    if (rc != NGX_DONE) {
        ctx->async = 0;
    }

    return rc;
}


/*
 * Drives a job: one account and one step at a time, so that each token
 * refresh or test subrequest is the active one and nginx wakes this
 * request when it is done.  NGX_DONE: waiting; otherwise the answer's rc.
 */
static ngx_int_t
ngx_http_q2api_admin_run(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                     rc;
    ngx_http_q2api_admin_item_t  *it;

    ctx->running = 1;

    while (ctx->current < ctx->items.nelts) {

        it = (ngx_http_q2api_admin_item_t *) ctx->items.elts + ctx->current;

        switch (it->step) {

        case NGX_HTTP_Q2API_STEP_REFRESH:
            it->step = ctx->route == NGX_HTTP_Q2API_ROUTE_FEED
                       ? NGX_HTTP_Q2API_STEP_TEST : NGX_HTTP_Q2API_STEP_DONE;

            rc = ngx_http_q2api_admin_start_refresh(r, ctx, it);
            break;

        case NGX_HTTP_Q2API_STEP_TEST:
            it->step = NGX_HTTP_Q2API_STEP_DONE;

            if (it->refresh != NGX_NONE && it->refresh != NGX_OK
                && it->refresh != NGX_BUSY)
            {
                /* a fed account whose refresh failed is not tested */
                continue;
            }

            rc = ngx_http_q2api_admin_start_probe(r, ctx, it);
            break;

        default: /* NGX_HTTP_Q2API_STEP_DONE */
            if (ctx->route == NGX_HTTP_Q2API_ROUTE_FEED
                && ngx_http_q2api_admin_verified(r, ctx, it) != NGX_OK)
            {
                ctx->running = 0;
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ctx->current++;
            continue;
        }

        if (rc == NGX_ERROR) {
            ctx->running = 0;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_OK && ctx->waiting) {
            ctx->running = 0;
            return NGX_DONE;
        }

        /* NGX_DECLINED: recorded in the item; or done already */
    }

    ctx->running = 0;

    return ngx_http_q2api_admin_answer(r, ctx);
}


void
ngx_http_q2api_admin_continue(ngx_http_request_t *r)
{
    ngx_int_t                    rc;
    ngx_http_q2api_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    ctx->waiting = 0;

    if (ctx->running) {
        /* called back before the call that started it returned */
        return;
    }

    /* the subrequests shared the connection's log */
    r->connection->log->action = ctx->action;

    rc = ngx_http_q2api_admin_run(r, ctx);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_q2api_admin_start_refresh(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it)
{
    ngx_int_t  rc;

    ctx->waiting = 1;

    rc = ngx_http_q2api_token_refresh(r, &it->id,
                                      ngx_http_q2api_admin_refreshed, it);

    if (rc == NGX_DECLINED) {
        /* gone meanwhile, or nothing to refresh with */
        ctx->waiting = 0;
        it->refresh = NGX_DECLINED;
        ngx_str_set(&it->message, "no refresh token");
        return NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        ctx->waiting = 0;
        it->refresh = NGX_ERROR;
        ngx_str_set(&it->message, "the refresh could not start");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_q2api_admin_refreshed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message)
{
    ngx_http_q2api_admin_item_t  *it = data;

    it->refresh = rc;

    if (message != NULL && message->len) {
        it->message.data = ngx_pstrdup(r->pool, message);
        it->message.len = it->message.data ? message->len : 0;
    }

    ngx_http_q2api_admin_continue(r);
}


static ngx_int_t
ngx_http_q2api_admin_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_uint_t                    i, ok, banned, failed;
    const char                   *status;
    ngx_http_q2api_admin_json_t  *j;
    ngx_http_q2api_admin_item_t  *it;

    it = ctx->items.elts;

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_REFRESH) {
        if (it[0].refresh == NGX_OK || it[0].refresh == NGX_BUSY) {
            return ngx_http_q2api_admin_send_row(r, ctx, &it[0].id,
                                                 NGX_HTTP_OK);
        }

        /* q2api's answer to a failed refresh */
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                           "Token refresh failed: %V",
                                           &it[0].message);
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_DEEP) {
        ngx_http_q2api_admin_lit(j, "{\"status\":");
        ngx_http_q2api_admin_cstr(j, it[0].ok ? "ok" : "error");
        ngx_http_q2api_admin_lit(j, ",\"account\":");
        ngx_http_q2api_admin_nstr(j, &it[0].id);
        ngx_http_q2api_admin_lit(j, ",\"upstream_status\":");
        ngx_http_q2api_admin_int(j, it[0].status);
        ngx_http_q2api_admin_lit(j, ",\"latency_ms\":");
        ngx_http_q2api_admin_int(j, it[0].elapsed);

        if (!it[0].ok) {
            ngx_http_q2api_admin_lit(j, ",\"error\":");
            ngx_http_q2api_admin_nstr(j, &it[0].message);
        }

        ngx_http_q2api_admin_lit(j, "}");

        return ngx_http_q2api_admin_send(r, it[0].ok
                                            ? NGX_HTTP_OK
                                            : NGX_HTTP_SERVICE_UNAVAILABLE,
                                         j);
    }

    ok = 0;
    banned = 0;
    failed = 0;

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_FEED) {
        for (i = 0; i < ctx->items.nelts; i++) {
            ok += it[i].ok;
        }

        ngx_http_q2api_admin_lit(j, "{\"status\":\"done\",\"message\":");

        ngx_http_q2api_admin_raw(j, "\"", 1);
        ngx_http_q2api_admin_int(j, ctx->items.nelts);
        ngx_http_q2api_admin_lit(j, " accounts received and verified: ");
        ngx_http_q2api_admin_int(j, ok);
        ngx_http_q2api_admin_lit(j, " enabled\",\"enabled\":");
        ngx_http_q2api_admin_int(j, ok);
        ngx_http_q2api_admin_lit(j, ",\"failed\":");
        ngx_http_q2api_admin_int(j, ctx->items.nelts - ok);
        ngx_http_q2api_admin_lit(j, ",\"account_ids\":[");

        for (i = 0; i < ctx->items.nelts; i++) {
            if (i) {
                ngx_http_q2api_admin_lit(j, ",");
            }

            ngx_http_q2api_admin_string(j, it[i].id.data, it[i].id.len);
        }

        ngx_http_q2api_admin_lit(j, "],\"results\":[");

        for (i = 0; i < ctx->items.nelts; i++) {
            if (i) {
                ngx_http_q2api_admin_lit(j, ",");
            }

            ngx_http_q2api_admin_lit(j, "{\"id\":");
            ngx_http_q2api_admin_string(j, it[i].id.data, it[i].id.len);
            ngx_http_q2api_admin_lit(j, ",\"label\":");
            ngx_http_q2api_admin_nstr(j, &it[i].label);
            ngx_http_q2api_admin_lit(j, ",\"status\":");
            ngx_http_q2api_admin_cstr(j, it[i].ok ? "enabled" : "failed");
            ngx_http_q2api_admin_lit(j, ",\"refresh\":");
            ngx_http_q2api_admin_cstr(j,
                it[i].refresh == NGX_NONE ? "skipped"
                : (it[i].refresh == NGX_OK || it[i].refresh == NGX_BUSY)
                  ? "success" : "failed");
            ngx_http_q2api_admin_lit(j, ",\"test_status\":");

            if (it[i].status) {
                ngx_http_q2api_admin_int(j, it[i].status);

            } else {
                ngx_http_q2api_admin_lit(j, "null");
            }

            ngx_http_q2api_admin_lit(j, ",\"message\":");
            ngx_http_q2api_admin_nstr(j, &it[i].message);
            ngx_http_q2api_admin_lit(j, "}");
        }

        ngx_http_q2api_admin_lit(j, "]}");

        return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
    }

    /* refresh-all: amq2api's summary */
    ngx_http_q2api_admin_lit(j, "{\"results\":[");

    for (i = 0; i < ctx->items.nelts; i++) {
        switch (it[i].refresh) {

        case NGX_OK:
        case NGX_BUSY:
            status = "success";
            ok++;
            break;

        case NGX_DECLINED:
            if (it[i].message.len == sizeof("no refresh token") - 1
                && ngx_strncmp(it[i].message.data, "no refresh token",
                               it[i].message.len) == 0)
            {
                status = "error";
                failed++;

            } else {
                /* a permanent refusal: the account needs a login */
                status = "banned";
                banned++;
            }

            break;

        default:
            status = "failed";
            failed++;
        }

        if (i) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_lit(j, "{\"id\":");
        ngx_http_q2api_admin_string(j, it[i].id.data, it[i].id.len);
        ngx_http_q2api_admin_lit(j, ",\"label\":");
        ngx_http_q2api_admin_nstr(j, &it[i].label);
        ngx_http_q2api_admin_lit(j, ",\"status\":");
        ngx_http_q2api_admin_cstr(j, status);
        ngx_http_q2api_admin_lit(j, ",\"message\":");
        ngx_http_q2api_admin_nstr(j, &it[i].message);
        ngx_http_q2api_admin_lit(j, "}");
    }

    ngx_http_q2api_admin_lit(j, "],\"success\":true,\"message\":\"");
    ngx_http_q2api_admin_int(j, ok);
    ngx_http_q2api_admin_lit(j, " of ");
    ngx_http_q2api_admin_int(j, ctx->items.nelts);
    ngx_http_q2api_admin_lit(j, " accounts refreshed\",\"total\":");
    ngx_http_q2api_admin_int(j, ctx->items.nelts);
    ngx_http_q2api_admin_lit(j, ",\"success_count\":");
    ngx_http_q2api_admin_int(j, ok);
    ngx_http_q2api_admin_lit(j, ",\"failed_count\":");
    ngx_http_q2api_admin_int(j, failed);
    ngx_http_q2api_admin_lit(j, ",\"banned_count\":");
    ngx_http_q2api_admin_int(j, banned);
    ngx_http_q2api_admin_lit(j, "}");

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: %ui of %ui accounts refreshed, %ui need a "
                  "login", ok, ctx->items.nelts, banned);

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}
