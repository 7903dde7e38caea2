/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Small expiring records in the accounts zone, seen by every worker: the
 * device login sessions, which a later request in any worker completes.
 */


#include "ngx_http_q2api_accounts_zone.h"


/* login sessions are few and short-lived: a list does */
static ngx_http_q2api_kv_t *
ngx_http_q2api_kv_lookup(ngx_http_q2api_accounts_t *accounts, ngx_str_t *key)
{
    ngx_queue_t          *q;
    ngx_http_q2api_kv_t  *kv;

    for (q = ngx_queue_head(&accounts->sh->kv_queue);
         q != ngx_queue_sentinel(&accounts->sh->kv_queue);
         q = ngx_queue_next(q))
    {
        kv = ngx_queue_data(q, ngx_http_q2api_kv_t, queue);

        if (kv->key.len == key->len
            && ngx_memcmp(kv->key.data, key->data, key->len) == 0)
        {
            return kv;
        }
    }

    return NULL;
}


static void
ngx_http_q2api_kv_free(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_kv_t *kv)
{
    ngx_queue_remove(&kv->queue);

    if (kv->key.data) {
        ngx_slab_free_locked(accounts->shpool, kv->key.data);
    }

    if (kv->value.data) {
        ngx_slab_free_locked(accounts->shpool, kv->value.data);
    }

    ngx_slab_free_locked(accounts->shpool, kv);
}


/* drops expired records: the queue is oldest first */
static void
ngx_http_q2api_kv_expire(ngx_http_q2api_accounts_t *accounts, time_t now)
{
    ngx_queue_t          *q, *next;
    ngx_http_q2api_kv_t  *kv;

    for (q = ngx_queue_head(&accounts->sh->kv_queue);
         q != ngx_queue_sentinel(&accounts->sh->kv_queue);
         q = next)
    {
        next = ngx_queue_next(q);
        kv = ngx_queue_data(q, ngx_http_q2api_kv_t, queue);

        if (kv->expires <= now) {
            ngx_http_q2api_kv_free(accounts, kv);
        }
    }
}


ngx_int_t
ngx_http_q2api_accounts_kv_set(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *key, ngx_str_t *value, time_t expires)
{
    ngx_http_q2api_kv_t  *kv;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    ngx_http_q2api_kv_expire(accounts, ngx_time());

    kv = ngx_http_q2api_kv_lookup(accounts, key);

    if (kv == NULL) {
        kv = ngx_slab_calloc_locked(accounts->shpool,
                                    sizeof(ngx_http_q2api_kv_t));
        if (kv == NULL) {
            goto nomem;
        }

        if (ngx_http_q2api_accounts_set_str(accounts, &kv->key, key)
            != NGX_OK)
        {
            ngx_slab_free_locked(accounts->shpool, kv);
            goto nomem;
        }

        ngx_queue_insert_tail(&accounts->sh->kv_queue, &kv->queue);
    }

    if (ngx_http_q2api_accounts_set_str(accounts, &kv->value, value)
        != NGX_OK)
    {
        goto nomem;
    }

    kv->expires = expires;

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_q2api_accounts_kv_get(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *key, ngx_pool_t *p, ngx_str_t *value)
{
    ngx_int_t             rc;
    ngx_http_q2api_kv_t  *kv;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    kv = ngx_http_q2api_kv_lookup(accounts, key);

    if (kv == NULL || kv->expires <= ngx_time()) {
        rc = NGX_DECLINED;

    } else {
        value->len = kv->value.len;
        value->data = ngx_pnalloc(p, kv->value.len + 1);

        if (value->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(value->data, kv->value.data, kv->value.len);
            value->data[value->len] = '\0';
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}
