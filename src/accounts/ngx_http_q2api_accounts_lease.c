/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Who may do what, one at a time: the store lease (the worker that runs
 * the store loop), the refresh of an account's token (one worker across
 * the node), and the store lease of a refresh (one node across those
 * sharing a database).
 */


#include "ngx_http_q2api_accounts_zone.h"


#define NGX_HTTP_Q2API_REFRESH_STALE  60000


static void ngx_http_q2api_accounts_db_lease_end(
    ngx_http_q2api_accounts_t *accounts, ngx_http_q2api_account_t *a);


ngx_uint_t
ngx_http_q2api_accounts_lease(ngx_http_q2api_accounts_t *accounts,
    ngx_msec_t stale)
{
    ngx_uint_t                     held;
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = accounts->sh;
    held = 0;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    if (sh->lease_pid == ngx_pid
        || sh->lease_pid == 0
        || (ngx_msec_int_t) (ngx_current_msec - sh->lease_beat)
           > (ngx_msec_int_t) stale)
    {
        sh->lease_pid = ngx_pid;
        sh->lease_beat = ngx_current_msec;
        held = 1;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return held;
}


void
ngx_http_q2api_accounts_lease_release(ngx_http_q2api_accounts_t *accounts)
{
    ngx_shmtx_lock(&accounts->shpool->mutex);

    if (accounts->sh->lease_pid == ngx_pid) {
        accounts->sh->lease_pid = 0;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


ngx_int_t
ngx_http_q2api_accounts_refresh_begin(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_pool_t *p, ngx_http_q2api_account_data_t *creds)
{
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL || a->refresh_token.len == 0) {
        rc = NGX_DECLINED;

    } else if (a->refresh_pid
               && (ngx_msec_int_t) (ngx_current_msec - a->refresh_since)
                  < NGX_HTTP_Q2API_REFRESH_STALE)
    {
        rc = NGX_BUSY;

    } else {
        rc = ngx_http_q2api_accounts_export_one(a, p, creds);

        if (rc == NGX_OK) {
            a->refresh_pid = ngx_pid;
            a->refresh_since = ngx_current_msec;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_refresh_end(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_int_t rc, ngx_http_q2api_account_data_t *fresh,
    const char *reason)
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

    a->refresh_pid = 0;

    ngx_http_q2api_accounts_db_lease_end(accounts, a);

    if (rc == NGX_DONE) {
        /* nothing to refresh after all: the leases go, nothing else */
        ngx_shmtx_unlock(&accounts->shpool->mutex);
        return;
    }

    if (rc == NGX_OK) {
        if (ngx_http_q2api_accounts_set_str(accounts, &a->access_token,
                                            &fresh->access_token) != NGX_OK
            || (fresh->refresh_token.len
                && ngx_http_q2api_accounts_set_str(accounts,
                                                   &a->refresh_token,
                                                   &fresh->refresh_token)
                   != NGX_OK)
            || (fresh->profile_arn.len && a->profile_arn.len == 0
                && ngx_http_q2api_accounts_set_str(accounts,
                                                   &a->profile_arn,
                                                   &fresh->profile_arn)
                   != NGX_OK))
        {
            /* the old token stays; the next refresh tries again (and a
             * store lease goes with the next write) */
            ngx_http_q2api_accounts_mark(accounts, a);
            ngx_shmtx_unlock(&accounts->shpool->mutex);
            return;
        }

        a->token_expires = fresh->token_expires;

        if (a->status == NGX_HTTP_Q2API_ST_TOKEN
            || a->status == NGX_HTTP_Q2API_ST_NEEDS_LOGIN)
        {
            a->status = NGX_HTTP_Q2API_ST_ACTIVE;
            a->status_since = now;
            ngx_http_q2api_accounts_set_cstr(accounts, &a->reason, "");
        }

    } else if (rc == NGX_DECLINED) {
        a->status = NGX_HTTP_Q2API_ST_NEEDS_LOGIN;
        a->status_since = now;
        a->until = 0;
        ngx_http_q2api_accounts_set_cstr(accounts, &a->reason,
                                         reason ? reason : "refresh refused");

    } else {
        ngx_http_q2api_accounts_set_cstr(accounts, &a->last_error,
                                         reason ? reason : "refresh failed");

        if (a->token_expires && a->token_expires <= now) {
            /*
             * the token is dead and the identity service is failing: every
             * request would start another refresh against it, so the
             * account rests with the same backoff a throttle gets
             */
            ngx_http_q2api_accounts_cool(accounts, a, now,
                                         "token refresh failing");
        }
    }

    (void) ngx_http_q2api_accounts_place(accounts, a);

    /* a rotated refresh token is worth nothing unless it is stored */
    ngx_http_q2api_accounts_mark(accounts, a);

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


void
ngx_http_q2api_accounts_learn_profile(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_str_t *profile_arn)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    /* an operator's choice, made meanwhile, wins */
    if (a != NULL && a->profile_arn.len == 0
        && ngx_http_q2api_accounts_set_str(accounts, &a->profile_arn,
                                           profile_arn)
           == NGX_OK)
    {
        ngx_http_q2api_accounts_mark(accounts, a);
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_refreshing(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    ngx_uint_t                 busy;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    busy = a != NULL && a->refresh_pid
           && (ngx_msec_int_t) (ngx_current_msec - a->refresh_since)
              < NGX_HTTP_Q2API_REFRESH_STALE;

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return busy;
}


/*
 * The store lease of a refresh, for stores shared by several nodes.  The
 * worker holding the refresh lease above asks (WANTED); the store loop
 * takes the request (ASKED) to the database and answers (GRANTED, or
 * DENIED: another node refreshes).  A granted lease is released by the
 * store in the transaction that writes the account (RELEASE), so that no
 * node can take it and still read the old refresh token.
 */

static void
ngx_http_q2api_accounts_db_lease_end(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a)
{
    switch (a->db_lease) {

    case NGX_HTTP_Q2API_DBLEASE_GRANTED:
        a->db_lease = NGX_HTTP_Q2API_DBLEASE_RELEASE;
        accounts->sh->db_lease_work = 1;
        ngx_http_q2api_accounts_mark(accounts, a);
        break;

    case NGX_HTTP_Q2API_DBLEASE_ASKED:
        /* the answer may still grant it: see db_lease_answer */
    case NGX_HTTP_Q2API_DBLEASE_WANTED:
    case NGX_HTTP_Q2API_DBLEASE_DENIED:
        a->db_lease = NGX_HTTP_Q2API_DBLEASE_NONE;
        break;

    default:
        break;
    }
}


void
ngx_http_q2api_accounts_db_lease_ask(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a != NULL && a->refresh_pid == ngx_pid) {
        /* waiting for another node is part of the refresh: the local
         * lease must not go stale meanwhile */
        a->refresh_since = ngx_current_msec;

        if (a->db_lease != NGX_HTTP_Q2API_DBLEASE_ASKED
            && a->db_lease != NGX_HTTP_Q2API_DBLEASE_RELEASE)
        {
            a->db_lease = NGX_HTTP_Q2API_DBLEASE_WANTED;
            accounts->sh->db_lease_work = 1;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_db_lease_state(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, time_t *token_expires, ngx_pool_t *p,
    ngx_http_q2api_account_data_t *creds)
{
    ngx_uint_t                 state;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL || a->refresh_pid != ngx_pid) {
        state = NGX_HTTP_Q2API_DBLEASE_NONE;

    } else {
        state = a->db_lease;
        *token_expires = a->token_expires;

        if (state == NGX_HTTP_Q2API_DBLEASE_GRANTED
            && ngx_http_q2api_accounts_export_one(a, p, creds) != NGX_OK)
        {
            state = NGX_HTTP_Q2API_DBLEASE_NONE;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return state;
}


void
ngx_http_q2api_accounts_db_lease_drop(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a != NULL) {
        ngx_http_q2api_accounts_db_lease_end(accounts, a);
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_db_lease_work(ngx_http_q2api_accounts_t *accounts)
{
    return *(volatile ngx_uint_t *) &accounts->sh->db_lease_work;
}


void
ngx_http_q2api_accounts_db_lease_up(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t up)
{
    ngx_shmtx_lock(&accounts->shpool->mutex);

    if (up) {
        accounts->sh->db_lease_up = ngx_pid;

    } else if (accounts->sh->db_lease_up == ngx_pid) {
        /* not the store of new workers, after a reload */
        accounts->sh->db_lease_up = 0;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_db_lease_is_up(ngx_http_q2api_accounts_t *accounts)
{
    return *(volatile ngx_pid_t *) &accounts->sh->db_lease_up != 0;
}


ngx_int_t
ngx_http_q2api_accounts_db_lease_take(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *ids, ngx_uint_t *release)
{
    ngx_int_t                  rc;
    ngx_str_t                 *id;
    ngx_uint_t                 i;
    ngx_http_q2api_account_t  *a;

    rc = NGX_OK;
    *release = 0;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    accounts->sh->db_lease_work = 0;

    for (i = 0; i < accounts->sh->nall; i++) {
        a = accounts->sh->all[i];

        if (a->db_lease == NGX_HTTP_Q2API_DBLEASE_RELEASE) {
            *release = 1;
            continue;
        }

        if (a->db_lease != NGX_HTTP_Q2API_DBLEASE_WANTED) {
            continue;
        }

        id = ngx_array_push(ids);
        if (id == NULL
            || (id->data = ngx_pstrdup(p, &a->id.str)) == NULL)
        {
            accounts->sh->db_lease_work = 1;
            rc = NGX_ERROR;
            break;
        }

        id->len = a->id.str.len;
        a->db_lease = NGX_HTTP_Q2API_DBLEASE_ASKED;
    }

    if (*release) {
        /* until the write has taken them */
        accounts->sh->db_lease_work = 1;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_db_lease_answer(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_uint_t granted, ngx_http_q2api_account_data_t *row)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL) {
        /* deleted meanwhile: the lease expires in the database */
        goto done;
    }

    if (a->db_lease != NGX_HTTP_Q2API_DBLEASE_ASKED) {
        /* the refresher gave up waiting */
        if (granted && a->db_lease == NGX_HTTP_Q2API_DBLEASE_NONE) {
            a->db_lease = NGX_HTTP_Q2API_DBLEASE_RELEASE;
            accounts->sh->db_lease_work = 1;
            ngx_http_q2api_accounts_mark(accounts, a);
        }

        goto done;
    }

    if (!granted) {
        a->db_lease = NGX_HTTP_Q2API_DBLEASE_DENIED;
        goto done;
    }

    /*
     * The row as the database has it now, read after the lease was taken:
     * if another node refreshed just before, its rotated refresh token is
     * the one to use (or its access token makes a refresh needless).  A
     * change of this node's own not yet written stays.
     */
    if (row != NULL && !a->queued && row->refresh_token.len
        && (ngx_http_q2api_accounts_set_str(accounts, &a->refresh_token,
                                            &row->refresh_token) != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->access_token,
                                               &row->access_token)
               != NGX_OK))
    {
        /* out of memory: refresh with what the zone had */
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "q2api: no room in the shared zone for the token of "
                      "account \"%V\"", id);

    } else if (row != NULL && !a->queued && row->refresh_token.len) {
        a->token_expires = row->token_expires;
    }

    a->db_lease = NGX_HTTP_Q2API_DBLEASE_GRANTED;

done:

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}
