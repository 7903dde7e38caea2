/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * POST /v2/accounts/feed: accounts inserted disabled, then enabled or
 * left disabled with the reason, once the job has refreshed and tested
 * each.
 */


#include "ngx_http_q2api_admin.h"


/*
 * feed: every account inserted disabled, marked as fed, then verified.
 * NGX_OK: the job is set up; NGX_DONE: the request was answered (a bad
 * input) or failed, with *answer the rc to finalize it with.
 */
ngx_int_t
ngx_http_q2api_admin_feed(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_int_t *answer)
{
    u_char                          err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    u_char                          prefix[32];
    cJSON                          *root, *list, *item;
    ngx_int_t                       rc;
    ngx_str_t                       label;
    ngx_uint_t                      i, n;
    ngx_http_q2api_admin_input_t   *in;
    ngx_http_q2api_account_data_t   cur;

    *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        goto bad;
    }

    list = cJSON_GetObjectItemCaseSensitive(root, "accounts");
    n = cJSON_GetArraySize(list);

    if (!cJSON_IsArray(list) || n == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "accounts: expected a non-empty array of accounts%Z");
        goto bad;
    }

    if (n > NGX_HTTP_Q2API_ADMIN_FEED_MAX) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "accounts: at most %d accounts per feed%Z",
                     NGX_HTTP_Q2API_ADMIN_FEED_MAX);
        goto bad;
    }

    in = ngx_pcalloc(r->pool, n * sizeof(ngx_http_q2api_admin_input_t));
    if (in == NULL) {
        return NGX_DONE;
    }

    /* all or nothing: every account is checked before any is inserted */
    i = 0;

    cJSON_ArrayForEach(item, list) {
        ngx_sprintf(prefix, "accounts[%ui].%Z", i);

        rc = ngx_http_q2api_admin_input(r, item, NGX_HTTP_Q2API_INPUT_CREATE,
                                        &in[i], (char *) prefix, err);
        if (rc == NGX_OK) {
            rc = ngx_http_q2api_admin_complete(r, &in[i], (char *) prefix,
                                               err);
        }

        if (rc == NGX_DECLINED) {
            goto bad;
        }

        if (rc != NGX_OK) {
            return NGX_DONE;
        }

        rc = ngx_http_q2api_accounts_get(ctx->accounts, &in[i].d.id,
                                         r->pool, &cur);

        if (rc == NGX_OK) {
            *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_CONFLICT,
                                                  "%sid: an account with "
                                                  "this id exists", prefix);
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_DONE;
        }

        i++;
    }

    for (i = 0; i < n; i++) {
        if (in[i].d.label.len == 0) {
            label.data = ngx_pnalloc(r->pool, sizeof("fed account ")
                                              + NGX_INT_T_LEN);
            if (label.data == NULL) {
                return NGX_DONE;
            }

            label.len = ngx_sprintf(label.data, "fed account %ui", i + 1)
                        - label.data;
            in[i].d.label = label;
        }

        in[i].d.enabled = 0;

        if (ngx_http_q2api_admin_other_set(r, &in[i].d.other, "source",
                                           "feed")
            != NGX_OK
            || ngx_http_q2api_admin_insert(r, ctx, &in[i].d) != NGX_OK
            || ngx_http_q2api_admin_item(ctx, &in[i].d.id, &in[i].d.label,
                   in[i].d.refresh_token.len ? NGX_HTTP_Q2API_STEP_REFRESH
                                             : NGX_HTTP_Q2API_STEP_TEST)
               == NULL)
        {
            return NGX_DONE;
        }

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "q2api admin: account \"%V\" fed, verifying it",
                      &in[i].d.id);
    }

    return NGX_OK;

bad:

    *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s", err);

    return NGX_DONE;
}


/*
 * A fed account after its checks: enabled when the test request
 * succeeded, otherwise kept disabled with other.failedReason (q2api's
 * "AccessDenied" when the backend refused it) and other.failedDetail.
 */
ngx_int_t
ngx_http_q2api_admin_verified(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it)
{
    char                           *reason, *detail;
    ngx_int_t                       rc;
    ngx_uint_t                      fields;
    ngx_http_q2api_account_data_t   d;

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &it->id, r->pool, &d);

    if (rc == NGX_DECLINED) {
        /* deleted meanwhile */
        it->ok = 0;
        ngx_str_set(&it->message, "deleted during the verification");
        return NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    fields = NGX_HTTP_Q2API_SET_CONFIG|NGX_HTTP_Q2API_SET_DIRTY;

    if (it->ok) {
        d.enabled = 1;

        if (d.status != NGX_HTTP_Q2API_ST_ACTIVE) {
            d.status = NGX_HTTP_Q2API_ST_ACTIVE;
            d.status_since = ngx_time();
            d.until = 0;
            ngx_str_null(&d.reason);
            fields |= NGX_HTTP_Q2API_SET_STATE;
        }

        if (ngx_http_q2api_admin_other_set(r, &d.other, "failedReason", NULL)
            != NGX_OK
            || ngx_http_q2api_admin_other_set(r, &d.other, "failedDetail",
                                              NULL)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "q2api admin: fed account \"%V\" verified and enabled",
                      &it->id);

    } else {
        if (it->refresh == NGX_DECLINED && it->message.len
            && ngx_strncmp(it->message.data, "no refresh token", 16) != 0)
        {
            reason = "InvalidGrant";

        } else if (it->refresh != NGX_NONE && it->refresh != NGX_OK
                   && it->refresh != NGX_BUSY)
        {
            reason = "RefreshFailed";

        } else if (it->status == NGX_HTTP_FORBIDDEN
                   || (it->message.len
                       && ngx_strlcasestrn(it->message.data,
                                           it->message.data + it->message.len,
                                           (u_char *) "AccessDenied", 12 - 1)
                          != NULL))
        {
            reason = "AccessDenied";

        } else {
            reason = "TestFailed";
        }

        detail = ngx_pnalloc(r->pool, it->message.len + 1);
        if (detail == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(detail, it->message.data, it->message.len);
        detail[it->message.len] = '\0';

        d.enabled = 0;

        if (ngx_http_q2api_admin_other_set(r, &d.other, "failedReason",
                                           reason)
            != NGX_OK
            || ngx_http_q2api_admin_other_set(r, &d.other, "failedDetail",
                                              detail)
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api admin: fed account \"%V\" failed its checks "
                      "(%s), left disabled", &it->id, reason);
    }

    d.updated_at = ngx_time();

    if (ngx_http_q2api_accounts_upsert(ctx->accounts, &d, fields, 0)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api admin: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d.id);
        return NGX_ERROR;
    }

    return NGX_OK;
}
