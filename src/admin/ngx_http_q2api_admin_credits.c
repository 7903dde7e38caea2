/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * GET /v2/accounts/{id}/stats and /usage: an account's numbers, and a
 * Kiro account's credits, asked of getUsageLimits while the request
 * waits.
 */


#include "ngx_http_q2api_admin.h"
#include "q2api_json.h"


static ngx_int_t ngx_http_q2api_admin_stats_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t status, ngx_str_t *json);
static void ngx_http_q2api_admin_stats_done(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *json);
static ngx_int_t ngx_http_q2api_admin_ask_credits(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_usage_done_pt done);
static void ngx_http_q2api_admin_usage_done(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *json);
static ngx_uint_t ngx_http_q2api_admin_credits_ok(ngx_int_t status,
    ngx_str_t *json);
static void ngx_http_q2api_admin_usage_error(ngx_http_request_t *r,
    ngx_str_t *id, ngx_int_t status, ngx_str_t *body, ngx_str_t *reason);


/*
 * GET /v2/accounts/{id}/stats: amq2api's shape where this module has the
 * numbers; its hourly rate limit does not exist here (null).  A Kiro
 * account's stats add its credits, so the answer waits for
 * getUsageLimits; when that fails the stats still answer, with the
 * reason in place of the credits.
 */
ngx_int_t
ngx_http_q2api_admin_stats(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       reason;
    ngx_http_q2api_account_data_t  *d;

    d = ngx_palloc(r->pool, sizeof(ngx_http_q2api_account_data_t));
    if (d == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, d);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->account = d;

    if (d->type != NGX_HTTP_Q2API_ACCOUNT_KIRO) {
        return ngx_http_q2api_admin_stats_answer(r, ctx, NGX_OK, NULL);
    }

    rc = ngx_http_q2api_admin_ask_credits(r, ctx,
                                          ngx_http_q2api_admin_stats_done);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(&reason, "the account has no access token");

    } else {
        ngx_str_set(&reason, "the getUsageLimits call could not start");
    }

    return ngx_http_q2api_admin_stats_answer(r, ctx, NGX_DECLINED, &reason);
}


/*
 * The stats of ctx->account; for a Kiro account with "credits": the
 * object json (rc NGX_OK) or {"error": json} (NGX_DECLINED).
 */
static ngx_int_t
ngx_http_q2api_admin_stats_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t rc, ngx_str_t *json)
{
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t  *d;

    d = ctx->account;

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"account_id\":");
    ngx_http_q2api_admin_string(j, d->id.data, d->id.len);
    ngx_http_q2api_admin_lit(j, ",\"label\":");
    ngx_http_q2api_admin_nstr(j, &d->label);
    ngx_http_q2api_admin_lit(j, ",\"status\":");
    ngx_http_q2api_admin_cstr(j, ngx_http_q2api_status_name(d->status));
    ngx_http_q2api_admin_lit(j, ",\"enabled\":");
    ngx_http_q2api_admin_bool(j, d->enabled);
    ngx_http_q2api_admin_lit(j, ",\"total_calls\":");
    ngx_http_q2api_admin_int(j, d->successes + d->errors);
    ngx_http_q2api_admin_lit(j, ",\"success_count\":");
    ngx_http_q2api_admin_int(j, d->successes);
    ngx_http_q2api_admin_lit(j, ",\"error_count\":");
    ngx_http_q2api_admin_int(j, d->consecutive_errors);
    ngx_http_q2api_admin_lit(j, ",\"total_errors\":");
    ngx_http_q2api_admin_int(j, d->errors);
    ngx_http_q2api_admin_lit(j, ",\"tokens_in\":");
    ngx_http_q2api_admin_int(j, d->tokens_in);
    ngx_http_q2api_admin_lit(j, ",\"tokens_out\":");
    ngx_http_q2api_admin_int(j, d->tokens_out);
    ngx_http_q2api_admin_lit(j, ",\"last_call_time\":");
    ngx_http_q2api_admin_time(j, d->last_used);
    ngx_http_q2api_admin_lit(j, ",\"is_rate_limited\":");
    ngx_http_q2api_admin_bool(j, d->status == NGX_HTTP_Q2API_ST_COOLING
                                 || d->status == NGX_HTTP_Q2API_ST_QUOTA);
    ngx_http_q2api_admin_lit(j, ",\"status_until\":");
    ngx_http_q2api_admin_time(j, d->until);
    ngx_http_q2api_admin_lit(j, ",\"last_error\":");
    ngx_http_q2api_admin_nstr(j, &d->last_error);
    ngx_http_q2api_admin_lit(j, ",\"rate_limit_per_hour\":null,"
                                "\"calls_last_hour\":null,"
                                "\"remaining_calls\":null");

    if (d->type == NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        ngx_http_q2api_admin_gemini_stats(j, d);
    }

    if (d->type == NGX_HTTP_Q2API_ACCOUNT_KIRO) {
        ngx_http_q2api_admin_lit(j, ",\"credits\":");

        if (rc == NGX_OK) {
            /* ngx_http_q2api_kiro_usage()'s own object */
            ngx_http_q2api_admin_raw(j, json->data, json->len);

        } else {
            ngx_http_q2api_admin_lit(j, "{\"error\":");
            ngx_http_q2api_admin_string(j, json->data, json->len);
            ngx_http_q2api_admin_lit(j, "}");
        }
    }

    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


static void
ngx_http_q2api_admin_stats_done(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *json)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_int_t  rc;
    ngx_str_t  reason;

    r->connection->log->action = "serving the admin API";

    if (ngx_http_q2api_admin_credits_ok(status, json)) {
        rc = NGX_OK;

    } else {
        ngx_http_q2api_admin_usage_error(r, &ctx->id, status, json,
                                         &reason);
        json = &reason;
        rc = NGX_DECLINED;
    }

    ngx_http_finalize_request(r,
        ngx_http_q2api_admin_stats_answer(r, ctx, rc, json));
}


/*
 * GET /v2/accounts/{id}/usage: a Kiro account's credits, as
 * ngx_http_q2api_kiro_usage() sums them up from getUsageLimits:
 * {"title","limit","used","remaining","next_reset"}.
 */
ngx_int_t
ngx_http_q2api_admin_usage(ngx_http_request_t *r,
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

    if (d.type != NGX_HTTP_Q2API_ACCOUNT_KIRO) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "type: credits are known for "
                                           "Kiro accounts only");
    }

    rc = ngx_http_q2api_admin_ask_credits(r, ctx,
                                          ngx_http_q2api_admin_usage_done);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "accessToken: the account has "
                                           "no access token");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * Starts getUsageLimits for ctx->id; NGX_OK: done will answer the
 * request; NGX_DECLINED: the account has no token; NGX_ERROR: logged.
 */
static ngx_int_t
ngx_http_q2api_admin_ask_credits(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_usage_done_pt done)
{
    ngx_int_t  rc;

    r->connection->log->action = "asking for an account's credits";

    ctx->async = 1;

    rc = ngx_http_q2api_kiro_usage(r, &ctx->id, done, ctx);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    ctx->async = 0;
    r->connection->log->action = "serving the admin API";

    if (rc != NGX_DECLINED) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: ngx_http_q2api_kiro_usage() failed for "
                      "account \"%V\"", &ctx->id);
        return NGX_ERROR;
    }

    return NGX_DECLINED;
}


static void
ngx_http_q2api_admin_usage_done(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *json)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_int_t  rc;
    ngx_str_t  reason;

    r->connection->log->action = "serving the admin API";

    if (ngx_http_q2api_admin_credits_ok(status, json)) {
        rc = ngx_http_q2api_admin_send_raw(r, NGX_HTTP_OK,
                                           "application/json",
                                           json->data, json->len);

    } else {
        ngx_http_q2api_admin_usage_error(r, &ctx->id, status, json,
                                         &reason);

        rc = ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                         "getUsageLimits failed: %V",
                                         &reason);
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * A 200 of ngx_http_q2api_kiro_usage() is its own object, except when the
 * service's 200 was not JSON: then it hands that body on as it came.
 */
static ngx_uint_t
ngx_http_q2api_admin_credits_ok(ngx_int_t status, ngx_str_t *json)
{
    cJSON       *o;
    ngx_uint_t   ok;

    if (status != NGX_HTTP_OK || json->len == 0) {
        return 0;
    }

    o = cJSON_ParseWithLength((char *) json->data, json->len);

    ok = cJSON_IsObject(o)
         && cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "remaining"));

    cJSON_Delete(o);

    return ok;
}


static const char *
ngx_http_q2api_admin_phrase(ngx_int_t status)
{
    static struct {
        ngx_int_t    status;
        const char  *phrase;
    } phrases[] = {
        { 200, "OK, but not a usage answer" },
        { 400, "Bad Request" },
        { 401, "Unauthorized" },
        { 403, "Forbidden" },
        { 404, "Not Found" },
        { 429, "Too Many Requests" },
        { 500, "Internal Server Error" },
        { 502, "Bad Gateway" },
        { 503, "Service Unavailable" },
        { 504, "Gateway Timeout" },
        { 0, NULL }
    };

    ngx_uint_t  i;

    for (i = 0; phrases[i].phrase; i++) {
        if (phrases[i].status == status) {
            return phrases[i].phrase;
        }
    }

    return "Error";
}


/*
 * Why getUsageLimits failed, short: the status, its reason phrase and the
 * service's own message when it sent one, e.g. "403 Forbidden: Your User
 * ID ... is suspended".  AWS error bodies carry no credentials; the
 * message is cut at 200 bytes all the same, and only the status is
 * logged.
 */
static void
ngx_http_q2api_admin_usage_error(ngx_http_request_t *r, ngx_str_t *id,
    ngx_int_t status, ngx_str_t *body, ngx_str_t *reason)
{
    u_char      *p;
    size_t       len;
    cJSON       *o, *m;
    const char  *text;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "q2api admin: getUsageLimits for account \"%V\" failed "
                  "with status %i", id, status);

    o = body->len ? cJSON_ParseWithLength((char *) body->data, body->len)
                  : NULL;

    text = "";

    m = cJSON_GetObjectItemCaseSensitive(o, "message");

    if (!cJSON_IsString(m)) {
        m = cJSON_GetObjectItemCaseSensitive(o, "Message");
    }

    if (cJSON_IsString(m)) {
        text = m->valuestring;

    } else {
        /* "com.amazon.coral.service#AccessDeniedException" */
        m = cJSON_GetObjectItemCaseSensitive(o, "__type");

        if (cJSON_IsString(m)) {
            text = m->valuestring;
            p = (u_char *) ngx_strchr(text, '#');

            if (p != NULL) {
                text = (char *) p + 1;
            }
        }
    }

    len = ngx_strlen(text);

    if (len > 200) {
        len = q2api_utf8_complete_prefix(text, 200);
    }

    reason->data = ngx_pnalloc(r->pool, NGX_INT_T_LEN + 64 + len);

    if (reason->data == NULL) {
        cJSON_Delete(o);
        ngx_str_set(reason, "getUsageLimits failed");
        return;
    }

    p = ngx_sprintf(reason->data, "%i %s", status,
                    ngx_http_q2api_admin_phrase(status));

    if (len) {
        p = ngx_sprintf(p, ": %*s", len, text);
    }

    reason->len = p - reason->data;

    cJSON_Delete(o);
}
