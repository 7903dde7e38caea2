/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account health policy: what one attempt's outcome does to its
 * account (see the README's "Account health"), the names of the states
 * it leads to, and the return of cooled down accounts to the rotation.
 */


#include "ngx_http_q2api_accounts_zone.h"


#define NGX_HTTP_Q2API_COOLDOWN_BASE   5        /* seconds */
#define NGX_HTTP_Q2API_COOLDOWN_MAX    300


static const char  *ngx_http_q2api_status_names[] = {
    "active", "cooling", "quota", "suspended", "token_rejected",
    "needs_login", "too_many_errors", "needs_validation", "ineligible"
};


const char *
ngx_http_q2api_status_name(ngx_uint_t status)
{
    if (status < sizeof(ngx_http_q2api_status_names) / sizeof(char *)) {
        return ngx_http_q2api_status_names[status];
    }

    return "unknown";
}


ngx_uint_t
ngx_http_q2api_status_from_name(u_char *name, size_t len)
{
    ngx_uint_t  i;

    for (i = 0;
         i < sizeof(ngx_http_q2api_status_names) / sizeof(char *);
         i++)
    {
        if (ngx_strlen(ngx_http_q2api_status_names[i]) == len
            && ngx_strncmp(ngx_http_q2api_status_names[i], name, len) == 0)
        {
            return i;
        }
    }

    return NGX_HTTP_Q2API_ST_ACTIVE;
}


/* accounts whose cooldown or quota reset has come are usable again */
void
ngx_http_q2api_accounts_wake(ngx_http_q2api_accounts_t *accounts, time_t now)
{
    ngx_rbtree_node_t         *node;
    ngx_http_q2api_account_t  *a;

    while (accounts->sh->cool.root != accounts->sh->cool.sentinel) {
        node = ngx_rbtree_min(accounts->sh->cool.root,
                              accounts->sh->cool.sentinel);

        if ((time_t) node->key > now) {
            return;
        }

        a = ngx_rbtree_data(node, ngx_http_q2api_account_t, cool);

        a->status = NGX_HTTP_Q2API_ST_ACTIVE;
        a->until = 0;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason, "");

        if (ngx_http_q2api_accounts_place(accounts, a) != NGX_OK) {
            /* no room to grow the rotation: try again at the next pick */
            return;
        }

        ngx_http_q2api_accounts_mark(accounts, a);
    }
}


/* the first second of the next UTC day or month */
static time_t
ngx_http_q2api_next_reset(time_t now, ngx_uint_t monthly)
{
    struct tm  tm;

    ngx_libc_gmtime(now, &tm);

    tm.tm_sec = 0;
    tm.tm_min = 0;
    tm.tm_hour = 0;

    if (monthly) {
        tm.tm_mday = 1;
        tm.tm_mon++;

    } else {
        tm.tm_mday++;
    }

    return timegm(&tm);
}


/* a backoff that doubles with each strike until the account succeeds */
void
ngx_http_q2api_accounts_cool(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a, time_t now, const char *reason)
{
    time_t  cool;

    cool = NGX_HTTP_Q2API_COOLDOWN_BASE << ngx_min(a->throttle_level, 6);
    cool = ngx_min(cool, NGX_HTTP_Q2API_COOLDOWN_MAX);

    a->throttle_level++;
    a->status = NGX_HTTP_Q2API_ST_COOLING;
    a->until = now + cool;
    a->status_since = now;
    ngx_http_q2api_accounts_set_cstr(accounts, &a->reason, reason);
}


void
ngx_http_q2api_accounts_report(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_http_q2api_outcome_e outcome, const char *detail,
    uint64_t tokens_in, uint64_t tokens_out)
{
    time_t                     now;
    ngx_http_q2api_account_t  *a;

    now = ngx_time();

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL) {
        ngx_shmtx_unlock(&accounts->shpool->mutex);
        return;
    }

    a->last_used = now;

    switch (outcome) {

    case NGX_HTTP_Q2API_OUT_SUCCESS:
        a->successes++;
        a->d_successes++;
        a->tokens_in += tokens_in;
        a->d_tokens_in += tokens_in;
        a->tokens_out += tokens_out;
        a->d_tokens_out += tokens_out;
        a->consecutive_errors = 0;
        a->throttle_level = 0;
        break;

    case NGX_HTTP_Q2API_OUT_CLIENT:
    case NGX_HTTP_Q2API_OUT_CAPACITY:
        /* not the account's fault */
        break;

    case NGX_HTTP_Q2API_OUT_THROTTLED:
        /*
         * A cooling account is handed out to no new request, so a 429
         * that finds it cooling comes from a request launched before
         * the cooldown began: the same burst, not a repeat.  Counting it
         * would double the cooldown once for each request in flight.
         */
        if (a->status != NGX_HTTP_Q2API_ST_COOLING || a->until <= now) {
            ngx_http_q2api_accounts_cool(accounts, a, now, "throttled");
        }

        break;

    case NGX_HTTP_Q2API_OUT_QUOTA:
        a->status = NGX_HTTP_Q2API_ST_QUOTA;
        a->until = ngx_http_q2api_next_reset(now,
                       detail == NULL || ngx_strstr(detail, "DAILY") == NULL);
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason,
                                         detail ? detail : "quota");
        break;

    case NGX_HTTP_Q2API_OUT_SUSPENDED:
        a->status = NGX_HTTP_Q2API_ST_SUSPENDED;
        a->until = 0;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason,
                                         detail ? detail : "suspended");
        break;

    case NGX_HTTP_Q2API_OUT_AUTH:
        a->status = NGX_HTTP_Q2API_ST_TOKEN;
        a->until = 0;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason,
                                         detail ? detail : "token rejected");
        break;

    default: /* NGX_HTTP_Q2API_OUT_ERROR */
        break;
    }

    if (outcome != NGX_HTTP_Q2API_OUT_SUCCESS
        && outcome != NGX_HTTP_Q2API_OUT_CLIENT
        && outcome != NGX_HTTP_Q2API_OUT_CAPACITY)
    {
        a->errors++;
        a->d_errors++;
        a->consecutive_errors++;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->last_error,
                                         detail ? detail : "error");

        /* q2api's MAX_ERROR_COUNT: an account that only fails is out */
        if (accounts->max_errors
            && a->consecutive_errors >= accounts->max_errors
            && a->status == NGX_HTTP_Q2API_ST_ACTIVE)
        {
            a->status = NGX_HTTP_Q2API_ST_ERRORS;
            a->status_since = now;
            ngx_http_q2api_accounts_set_cstr(accounts, &a->reason,
                                             "too many consecutive errors");
        }
    }

    (void) ngx_http_q2api_accounts_place(accounts, a);
    ngx_http_q2api_accounts_mark(accounts, a);

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


void
ngx_http_q2api_accounts_model_out(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_str_t *model, time_t until, const char *reason)
{
    ngx_uint_t                    i;
    ngx_http_q2api_account_t     *a;
    ngx_http_q2api_model_cool_t  *c, *slot;

    if (model->len == 0 || model->len > NGX_HTTP_Q2API_MODEL_LEN) {
        return;
    }

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL) {
        ngx_shmtx_unlock(&accounts->shpool->mutex);
        return;
    }

    slot = &a->models_out[0];

    for (i = 0; i < NGX_HTTP_Q2API_MODEL_COOLS; i++) {
        c = &a->models_out[i];

        if (c->len == model->len
            && ngx_memcmp(c->model, model->data, model->len) == 0)
        {
            slot = c;
            break;
        }

        /* else the one back soonest (a free one is back already) */
        if (c->until < slot->until) {
            slot = c;
        }
    }

    slot->until = until;
    slot->len = model->len;
    ngx_memcpy(slot->model, model->data, model->len);

    a->last_used = ngx_time();
    ngx_http_q2api_accounts_set_cstr(accounts, &a->last_error, reason);
    ngx_http_q2api_accounts_mark(accounts, a);

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}
