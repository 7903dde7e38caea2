/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account routes: GET /healthz, GET and POST /v2/accounts, and GET,
 * PATCH and DELETE /v2/accounts/{id}.
 */


#include "ngx_http_q2api_admin.h"


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
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


typedef struct {
    ngx_http_q2api_account_data_t  *d;
    ngx_uint_t                      key;
} ngx_http_q2api_admin_sort_t;


static int ngx_libc_cdecl
ngx_http_q2api_admin_cmp_num(const void *one, const void *two)
{
    const ngx_http_q2api_admin_sort_t  *a = one;
    const ngx_http_q2api_admin_sort_t  *b = two;

    int       rc;
    uint64_t  x, y;

    switch (a->key) {
    case 1:
        x = a->d->successes;
        y = b->d->successes;
        break;
    case 2:
        x = a->d->last_used;
        y = b->d->last_used;
        break;
    case 3:
        x = 0;
        y = 0;

        if (a->d->label.len || b->d->label.len) {
            rc = ngx_memn2cmp(a->d->label.data, b->d->label.data,
                              a->d->label.len, b->d->label.len);
            if (rc) {
                return rc;
            }
        }

        break;
    default:
        x = a->d->created_at;
        y = b->d->created_at;
    }

    if (x != y) {
        return x < y ? -1 : 1;
    }

    return ngx_memn2cmp(a->d->id.data, b->d->id.data, a->d->id.len,
                        b->d->id.len);
}


/*
 * GET /v2/accounts?enabled=&status=&type=&sort_by=&sort_order=: q2api's
 * {"accounts":[...],"count":n}, newest first by default.
 */
ngx_int_t
ngx_http_q2api_admin_list(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t                       enabled, status, type;
    ngx_str_t                       v;
    ngx_uint_t                      i, n, key, desc;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_admin_sort_t    *s, t;
    ngx_http_q2api_account_data_t  *d;

    static const char  *keys[] = {
        "created_at", "success_count", "last_used", "label", NULL
    };

    enabled = -1;
    status = -1;
    type = -1;
    key = 0;
    desc = 1;

    if (ngx_http_q2api_admin_arg(r, "enabled", &v) == NGX_OK) {
        if (v.len == 4 && ngx_strncmp(v.data, "true", 4) == 0) {
            enabled = 1;

        } else if (v.len == 5 && ngx_strncmp(v.data, "false", 5) == 0) {
            enabled = 0;

        } else {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "enabled: expected true or "
                                               "false");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "status", &v) == NGX_OK) {
        for (i = 0; i <= NGX_HTTP_Q2API_ST_ERRORS; i++) {
            if (v.len == ngx_strlen(ngx_http_q2api_status_name(i))
                && ngx_strncmp(v.data, ngx_http_q2api_status_name(i), v.len)
                   == 0)
            {
                status = i;
                break;
            }
        }

        if (status == -1) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                       "status: expected active, cooling, quota, suspended, "
                       "token_rejected, needs_login or too_many_errors");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "type", &v) == NGX_OK) {
        type = ngx_http_q2api_kind_type(v.data, v.len);

        if (type == NGX_HTTP_Q2API_ACCOUNT_UNKNOWN) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "type: expected amazonq or "
                                               "kiro");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "sort_by", &v) == NGX_OK) {
        for (key = 0; keys[key]; key++) {
            if (v.len == ngx_strlen(keys[key])
                && ngx_strncmp(v.data, keys[key], v.len) == 0)
            {
                break;
            }
        }

        if (keys[key] == NULL) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "sort_by: expected "
                                               "created_at, success_count, "
                                               "last_used or label");
        }
    }

    if (ngx_http_q2api_admin_arg(r, "sort_order", &v) == NGX_OK) {
        if (v.len == 3 && ngx_strncmp(v.data, "asc", 3) == 0) {
            desc = 0;

        } else if (!(v.len == 4 && ngx_strncmp(v.data, "desc", 4) == 0)) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "sort_order: expected asc or "
                                               "desc");
        }
    }

    if (ngx_array_init(&all, r->pool, 64,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_http_q2api_accounts_export(ctx->accounts, r->pool, &all)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = all.elts;

    s = ngx_palloc(r->pool, (all.nelts + 1)
                            * sizeof(ngx_http_q2api_admin_sort_t));
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;

    for (i = 0; i < all.nelts; i++) {
        if ((enabled != -1 && (ngx_int_t) (d[i].enabled ? 1 : 0) != enabled)
            || (status != -1 && (ngx_int_t) d[i].status != status)
            || (type != -1 && (ngx_int_t) d[i].type != type))
        {
            continue;
        }

        s[n].d = &d[i];
        s[n].key = key;
        n++;
    }

    ngx_qsort(s, n, sizeof(ngx_http_q2api_admin_sort_t),
              ngx_http_q2api_admin_cmp_num);

    if (desc) {
        for (i = 0; i < n / 2; i++) {
            t = s[i];
            s[i] = s[n - 1 - i];
            s[n - 1 - i] = t;
        }
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"accounts\":[");

    for (i = 0; i < n; i++) {
        if (i) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_row(j, s[i].d, 0);
    }

    ngx_http_q2api_admin_lit(j, "],\"count\":");
    ngx_http_q2api_admin_int(j, n);
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
