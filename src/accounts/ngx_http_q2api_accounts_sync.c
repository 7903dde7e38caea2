/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What stores and the admin API exchange with the zone: rows in (upsert,
 * remove, prune by generation), this node's changes out to be written
 * (take_dirty, and back when the write failed), copies out (get, export).
 */


#include "ngx_http_q2api_accounts_zone.h"
#include "q2api_jwt.h"


/*
 * An account given without an expiry whose access token is a JWT (imported
 * from tools that keep JWTs) expires when the token says; 0: unknown.
 */
static time_t
ngx_http_q2api_accounts_jwt_expiry(ngx_str_t *token)
{
    int64_t  exp;

    if (q2api_jwt_exp((const char *) token->data, token->len, &exp)
        != Q2API_OK)
    {
        return 0;
    }

    return (time_t) exp;
}


ngx_uint_t
ngx_http_q2api_accounts_next_generation(ngx_http_q2api_accounts_t *accounts)
{
    ngx_uint_t  gen;

    ngx_shmtx_lock(&accounts->shpool->mutex);
    gen = ++accounts->sh->generation;
    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return gen;
}


/* a new account: in the id tree and the slots, nothing else yet */
static ngx_http_q2api_account_t *
ngx_http_q2api_accounts_add(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_data_t *d)
{
    ngx_uint_t                     n;
    ngx_http_q2api_account_t      *a, **all;
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = accounts->sh;

    if (sh->nall == sh->allcap) {
        n = sh->allcap ? sh->allcap * 2 : 64;

        all = ngx_slab_alloc_locked(accounts->shpool, n * sizeof(void *));
        if (all == NULL) {
            return NULL;
        }

        if (sh->all) {
            ngx_memcpy(all, sh->all, sh->nall * sizeof(void *));
            ngx_slab_free_locked(accounts->shpool, sh->all);
        }

        sh->all = all;
        sh->allcap = n;
    }

    a = ngx_slab_calloc_locked(accounts->shpool,
                               sizeof(ngx_http_q2api_account_t));
    if (a == NULL) {
        return NULL;
    }

    if (ngx_http_q2api_accounts_set_str(accounts, &a->id.str, &d->id)
        != NGX_OK)
    {
        ngx_slab_free_locked(accounts->shpool, a);
        return NULL;
    }

    a->rot = -1;
    a->id.node.key = ngx_crc32_short(d->id.data, d->id.len);
    ngx_rbtree_insert(&sh->byid, &a->id.node);

    a->slot = sh->nall;
    sh->all[sh->nall++] = a;

    a->created_at = d->created_at ? d->created_at : ngx_time();

    return a;
}


ngx_int_t
ngx_http_q2api_accounts_upsert(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_data_t *d, ngx_uint_t fields,
    ngx_uint_t generation)
{
    time_t                     expires;
    ngx_uint_t                 keep;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, &d->id);

    if (a == NULL) {
        a = ngx_http_q2api_accounts_add(accounts, d);
        if (a == NULL) {
            goto nomem;
        }

        fields |= NGX_HTTP_Q2API_SET_CONFIG;
    }

    if (fields & NGX_HTTP_Q2API_SET_CONFIG) {
        expires = d->token_expires;

        if (expires == 0) {
            expires = ngx_http_q2api_accounts_jwt_expiry(&d->access_token);
        }

        /*
         * A token refreshed here and not yet written is newer than the
         * store's copy of the row, which another change to the row (a
         * notification) brings in meanwhile: a rotated refresh token
         * overwritten now would be lost for good.
         */
        keep = !(fields & NGX_HTTP_Q2API_SET_DIRTY) && a->queued
               && a->token_expires > expires;

        if (ngx_http_q2api_accounts_set_str(accounts, &a->label, &d->label)
            != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->client_id,
                                               &d->client_id) != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->client_secret,
                                               &d->client_secret) != NGX_OK
            || (!keep
                && ngx_http_q2api_accounts_set_str(accounts,
                                                   &a->refresh_token,
                                                   &d->refresh_token)
                   != NGX_OK)
            || (!keep
                && ngx_http_q2api_accounts_set_str(accounts,
                                                   &a->access_token,
                                                   &d->access_token)
                   != NGX_OK)
            || ngx_http_q2api_accounts_set_str(accounts, &a->profile_arn,
                                               &d->profile_arn) != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->other,
                                               &d->other) != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->project,
                                               &d->project) != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->endpoint,
                                               &d->api_endpoint) != NGX_OK)
        {
            goto nomem;
        }

        a->type = d->type;
        a->flavour = ngx_http_q2api_gemini_flavour(
                         d->flavour_named ? (ngx_int_t) d->flavour
                                          : NGX_ERROR,
                         &d->client_id, &d->api_endpoint);
        a->flavour_named = d->flavour_named;
        a->enabled = d->enabled;

        if (!keep) {
            a->token_expires = expires;
        }
    }

    if (fields & NGX_HTTP_Q2API_SET_STATE) {
        if (ngx_http_q2api_accounts_set_str(accounts, &a->reason, &d->reason)
            != NGX_OK
            || ngx_http_q2api_accounts_set_str(accounts, &a->last_error,
                                               &d->last_error) != NGX_OK)
        {
            goto nomem;
        }

        a->status = d->status;
        a->status_since = d->status_since;
        a->until = d->until;
        a->last_used = d->last_used;
    }

    if (fields & NGX_HTTP_Q2API_SET_COUNTERS) {
        /* the store's totals plus what this node counted since */
        a->successes = d->successes + a->d_successes;
        a->errors = d->errors + a->d_errors;
        a->tokens_in = d->tokens_in + a->d_tokens_in;
        a->tokens_out = d->tokens_out + a->d_tokens_out;
        a->consecutive_errors = d->consecutive_errors;
    }

    if (d->updated_at) {
        a->updated_at = d->updated_at;
    }

    a->generation = generation;

    if (ngx_http_q2api_accounts_place(accounts, a) != NGX_OK) {
        goto nomem;
    }

    if (fields & NGX_HTTP_Q2API_SET_DIRTY) {
        ngx_http_q2api_accounts_mark(accounts, a);
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_q2api_accounts_remove(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a != NULL) {
        ngx_http_q2api_accounts_unlink(accounts, a);
        ngx_http_q2api_accounts_free(accounts, a);
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return a ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_q2api_accounts_delete(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a != NULL) {
        /* out of every structure but the store's queue: a tombstone */
        ngx_http_q2api_accounts_unlink(accounts, a);
        a->deleted = 1;
        ngx_http_q2api_accounts_mark(accounts, a);
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return a ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_q2api_accounts_get(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_pool_t *p, ngx_http_q2api_account_data_t *d)
{
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    rc = a ? ngx_http_q2api_accounts_export_one(a, p, d) : NGX_DECLINED;

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_prune(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t generation)
{
    ngx_uint_t                 i;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    i = 0;

    while (i < accounts->sh->nall) {
        a = accounts->sh->all[i];

        if (a->generation != generation) {
            ngx_http_q2api_accounts_unlink(accounts, a);
            ngx_http_q2api_accounts_free(accounts, a);
            continue;
        }

        i++;
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


ngx_int_t
ngx_http_q2api_accounts_take_dirty(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *out)
{
    return ngx_http_q2api_accounts_take_dirty_n(accounts, p, out,
                                                NGX_MAX_UINT32_VALUE);
}


ngx_int_t
ngx_http_q2api_accounts_take_dirty_n(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *out, ngx_uint_t max)
{
    ngx_queue_t                    *q;
    ngx_http_q2api_account_t       *a;
    ngx_http_q2api_account_data_t  *d;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    while (!ngx_queue_empty(&accounts->sh->dirty) && out->nelts < max) {
        q = ngx_queue_head(&accounts->sh->dirty);
        a = ngx_queue_data(q, ngx_http_q2api_account_t, dirty);

        d = ngx_array_push(out);
        if (d == NULL
            || ngx_http_q2api_accounts_export_one(a, p, d) != NGX_OK)
        {
            ngx_shmtx_unlock(&accounts->shpool->mutex);
            return NGX_ERROR;
        }

        d->d_successes = a->d_successes;
        d->d_errors = a->d_errors;
        d->d_tokens_in = a->d_tokens_in;
        d->d_tokens_out = a->d_tokens_out;

        a->d_successes = 0;
        a->d_errors = 0;
        a->d_tokens_in = 0;
        a->d_tokens_out = 0;

        ngx_queue_remove(q);
        a->queued = 0;

        if (a->db_lease == NGX_HTTP_Q2API_DBLEASE_RELEASE) {
            /* released in the transaction that writes the new token */
            d->db_lease_release = 1;
            a->db_lease = NGX_HTTP_Q2API_DBLEASE_NONE;
        }

        if (a->deleted) {
            /* the store carries the deletion out; the copy says so */
            d->deleted = 1;
            ngx_http_q2api_accounts_free(accounts, a);
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_OK;
}


void
ngx_http_q2api_accounts_return_dirty(ngx_http_q2api_accounts_t *accounts,
    ngx_array_t *taken)
{
    ngx_uint_t                      i;
    ngx_http_q2api_account_t       *a;
    ngx_http_q2api_account_data_t  *d;

    d = taken->elts;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    for (i = 0; i < taken->nelts; i++) {
        a = ngx_http_q2api_accounts_lookup(accounts, &d[i].id);

        if (a == NULL && d[i].deleted) {
            /* the deletion failed to reach the store: its tombstone
             * goes back to the queue, in no other structure */
            a = ngx_slab_calloc_locked(accounts->shpool,
                                       sizeof(ngx_http_q2api_account_t));
            if (a == NULL) {
                continue;
            }

            if (ngx_http_q2api_accounts_set_str(accounts, &a->id.str,
                                                &d[i].id)
                != NGX_OK)
            {
                ngx_slab_free_locked(accounts->shpool, a);
                continue;
            }

            a->rot = -1;
            a->deleted = 1;
        }

        if (a == NULL) {
            continue;
        }

        if (d[i].db_lease_release
            && a->db_lease == NGX_HTTP_Q2API_DBLEASE_NONE)
        {
            a->db_lease = NGX_HTTP_Q2API_DBLEASE_RELEASE;
            accounts->sh->db_lease_work = 1;
        }

        a->d_successes += d[i].d_successes;
        a->d_errors += d[i].d_errors;
        a->d_tokens_in += d[i].d_tokens_in;
        a->d_tokens_out += d[i].d_tokens_out;

        if (!a->queued) {
            ngx_queue_insert_tail(&accounts->sh->dirty, &a->dirty);
            a->queued = 1;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}


/*
 * Up to n more copies, the lock held for those only.  The slots are walked
 * from the end down: a removal moves the last slot into the hole, so an
 * account present throughout is copied at least once (twice at most;
 * callers drop the second), and one added meanwhile is dirty anyway.
 * *left starts as NGX_HTTP_Q2API_EXPORT_ALL; NGX_DONE when all are copied.
 */
ngx_int_t
ngx_http_q2api_accounts_export_part(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *out, ngx_uint_t *left, ngx_uint_t n)
{
    ngx_uint_t                      i;
    ngx_http_q2api_account_data_t  *d;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    i = ngx_min(*left, accounts->sh->nall);

    while (i && n--) {
        d = ngx_array_push(out);
        if (d == NULL
            || ngx_http_q2api_accounts_export_one(accounts->sh->all[--i], p,
                                                  d)
               != NGX_OK)
        {
            ngx_shmtx_unlock(&accounts->shpool->mutex);
            return NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    *left = i;

    return (i == 0) ? NGX_DONE : NGX_OK;
}


ngx_int_t
ngx_http_q2api_accounts_export(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *out)
{
    ngx_uint_t                      i;
    ngx_http_q2api_account_data_t  *d;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    for (i = 0; i < accounts->sh->nall; i++) {
        d = ngx_array_push(out);
        if (d == NULL
            || ngx_http_q2api_accounts_export_one(accounts->sh->all[i], p, d)
               != NGX_OK)
        {
            ngx_shmtx_unlock(&accounts->shpool->mutex);
            return NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_OK;
}
