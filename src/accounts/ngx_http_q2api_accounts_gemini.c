/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What Gemini accounts learn about themselves after they are stored: the
 * Code Assist project found by discovery, quota and reset times, and the
 * states onboarding can end in.  All of it lives in the account's "other"
 * object, amq2api's place for it, so that it is persisted by every store
 * as it is.
 */


#include "ngx_http_q2api_accounts_zone.h"


ngx_int_t
ngx_http_q2api_accounts_learn_other(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_str_t *other, ngx_str_t *project, ngx_uint_t status,
    const char *reason)
{
    time_t                     now;
    ngx_http_q2api_account_t  *a;

    now = ngx_time();

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL || a->type != NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        ngx_shmtx_unlock(&accounts->shpool->mutex);
        return NGX_DECLINED;
    }

    if (ngx_http_q2api_accounts_set_str(accounts, &a->other, other) != NGX_OK
        || (project != NULL
            && ngx_http_q2api_accounts_set_str(accounts, &a->project,
                                               project) != NGX_OK))
    {
        ngx_shmtx_unlock(&accounts->shpool->mutex);
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "q2api: the accounts zone is full");
        return NGX_ERROR;
    }

    if (status != NGX_HTTP_Q2API_ST_ACTIVE) {
        a->status = status;
        a->status_since = now;
        a->until = 0;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason, reason);

    } else if (a->status == NGX_HTTP_Q2API_ST_NEEDS_VALIDATION
               || a->status == NGX_HTTP_Q2API_ST_INELIGIBLE)
    {
        /* validated, or granted a tier, since */
        a->status = NGX_HTTP_Q2API_ST_ACTIVE;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason, "");
    }

    (void) ngx_http_q2api_accounts_place(accounts, a);
    ngx_http_q2api_accounts_mark(accounts, a);

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_accounts_discover_begin(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, time_t stale)
{
    time_t                     now;
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    now = ngx_time();

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL || a->type != NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        rc = NGX_DECLINED;

    } else if (a->discover_since && now - a->discover_since < stale) {
        /* a worker that died mid-way holds it no longer than stale */
        rc = NGX_BUSY;

    } else {
        a->discover_since = now;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_q2api_accounts_quota_due(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, time_t every)
{
    time_t                     now, jitter;
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    now = ngx_time();
    jitter = (time_t) (ngx_crc32_short(id->data, id->len)
                       % (ngx_uint_t) (every / 5 + 1));

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL || a->type != NGX_HTTP_Q2API_ACCOUNT_GEMINI
        || (a->quota_read_at && now - a->quota_read_at < every + jitter))
    {
        rc = NGX_DECLINED;

    } else {
        a->quota_read_at = now;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_discover_end(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a != NULL) {
        a->discover_since = 0;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}
