/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account pool's shared memory zone: setting it up (or taking it over
 * on a reload), finding an account by id, and keeping an account in the
 * structures its state calls for.  The layout is in
 * ngx_http_q2api_accounts_zone.h.
 */


#include "ngx_http_q2api_accounts_zone.h"
#include "ngx_http_q2api_store.h"


ngx_http_q2api_accounts_t *
ngx_http_q2api_accounts_create(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_accounts_t));
}


ngx_int_t
ngx_http_q2api_accounts_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_q2api_accounts_t  *oaccounts = data;

    size_t                         len;
    ngx_http_q2api_accounts_t     *accounts;
    ngx_http_q2api_accounts_sh_t  *sh;

    accounts = shm_zone->data;
    accounts->shm_zone = shm_zone;

    if (oaccounts) {
        /* reload: accounts, state and counters stay in the zone */
        accounts->sh = oaccounts->sh;
        accounts->shpool = oaccounts->shpool;

        /* old workers may still hold the lease while they finish */
        accounts->sh->lease_pid = 0;

        return ngx_http_q2api_store_load(accounts, 1, shm_zone->shm.log);
    }

    accounts->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        accounts->sh = accounts->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(accounts->shpool,
                         sizeof(ngx_http_q2api_accounts_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    /* a reload keeps the zone and these pointers: nginx's own insert
     * functions do not move when the module is loaded again */
    ngx_rbtree_init(&sh->byid, &sh->byid_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&sh->cool, &sh->cool_sentinel, ngx_rbtree_insert_value);
    ngx_rbtree_init(&sh->aff, &sh->aff_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->aff_lru);
    ngx_queue_init(&sh->dirty);
    ngx_queue_init(&sh->kv_queue);

    accounts->sh = sh;
    accounts->shpool->data = sh;

    /* a full zone is reported once, by whoever failed to add to it */
    accounts->shpool->log_nomem = 0;

    len = sizeof(" in q2api zone \"\"") + shm_zone->shm.name.len;

    accounts->shpool->log_ctx = ngx_slab_alloc(accounts->shpool, len);
    if (accounts->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(accounts->shpool->log_ctx, " in q2api zone \"%V\"%Z",
                &shm_zone->shm.name);

    return ngx_http_q2api_store_load(accounts, 0, shm_zone->shm.log);
}


ngx_http_q2api_account_t *
ngx_http_q2api_accounts_lookup(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id)
{
    return (ngx_http_q2api_account_t *)
           ngx_str_rbtree_lookup(&accounts->sh->byid, id,
                                 ngx_crc32_short(id->data, id->len));
}


/* replaces a slab string, reusing it when the value is unchanged */
ngx_int_t
ngx_http_q2api_accounts_set_str(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *dst, ngx_str_t *src)
{
    u_char  *p;

    if (dst->len == src->len
        && (src->len == 0 || ngx_memcmp(dst->data, src->data, src->len) == 0))
    {
        return NGX_OK;
    }

    p = NULL;

    if (src->len) {
        p = ngx_slab_alloc_locked(accounts->shpool, src->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, src->data, src->len);
    }

    if (dst->data) {
        ngx_slab_free_locked(accounts->shpool, dst->data);
    }

    dst->data = p;
    dst->len = src->len;

    return NGX_OK;
}


void
ngx_http_q2api_accounts_set_cstr(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *dst, const char *s)
{
    ngx_str_t  src;

    src.data = (u_char *) s;
    src.len = ngx_strlen(s);

    /* on failure the old text stays: a stale reason beats no account */
    (void) ngx_http_q2api_accounts_set_str(accounts, dst, &src);
}


/*
 * Puts an account where its state says: in the rotation when usable, in
 * the cooling tree when it comes back at a known time.
 */
ngx_int_t
ngx_http_q2api_accounts_place(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a)
{
    ngx_uint_t                     n, usable, cooling;
    ngx_http_q2api_account_t     **rot;
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = accounts->sh;

    usable = a->enabled && a->status == NGX_HTTP_Q2API_ST_ACTIVE
             && a->access_token.len;

    cooling = a->enabled && a->until
              && (a->status == NGX_HTTP_Q2API_ST_COOLING
                  || a->status == NGX_HTTP_Q2API_ST_QUOTA);

    if (a->cooling && (!cooling || (time_t) a->cool.key != a->until)) {
        ngx_rbtree_delete(&sh->cool, &a->cool);
        a->cooling = 0;
    }

    if (cooling && !a->cooling) {
        a->cool.key = (ngx_rbtree_key_t) a->until;
        ngx_rbtree_insert(&sh->cool, &a->cool);
        a->cooling = 1;
    }

    if (!usable && a->rot >= 0) {
        /* the last one moves into the hole: the array stays dense */
        sh->rot[a->rot] = sh->rot[--sh->nrot];
        sh->rot[a->rot]->rot = a->rot;
        a->rot = -1;
    }

    if (usable && a->rot < 0) {
        if (sh->nrot == sh->rotcap) {
            n = sh->rotcap ? sh->rotcap * 2 : 64;

            rot = ngx_slab_alloc_locked(accounts->shpool, n * sizeof(void *));
            if (rot == NULL) {
                return NGX_ERROR;
            }

            if (sh->rot) {
                ngx_memcpy(rot, sh->rot, sh->nrot * sizeof(void *));
                ngx_slab_free_locked(accounts->shpool, sh->rot);
            }

            sh->rot = rot;
            sh->rotcap = n;
        }

        a->rot = sh->nrot;
        sh->rot[sh->nrot++] = a;
    }

    return NGX_OK;
}


/* a change the store loop is to write */
void
ngx_http_q2api_accounts_mark(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a)
{
    a->updated_at = ngx_time();

    if (!a->queued) {
        ngx_queue_insert_tail(&accounts->sh->dirty, &a->dirty);
        a->queued = 1;
    }
}


/* out of the id tree, the rotation, the cooling tree and the slots */
void
ngx_http_q2api_accounts_unlink(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a)
{
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = accounts->sh;

    a->enabled = 0;
    (void) ngx_http_q2api_accounts_place(accounts, a);

    ngx_rbtree_delete(&sh->byid, &a->id.node);

    sh->all[a->slot] = sh->all[--sh->nall];
    sh->all[a->slot]->slot = a->slot;
}


void
ngx_http_q2api_accounts_free(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_t *a)
{
    ngx_str_t  *s;

    if (a->queued) {
        ngx_queue_remove(&a->dirty);
    }

    if (a->id.str.data) {
        ngx_slab_free_locked(accounts->shpool, a->id.str.data);
    }

    for (s = &a->label; s <= &a->last_error; s++) {
        if (s->data) {
            ngx_slab_free_locked(accounts->shpool, s->data);
        }
    }

    ngx_slab_free_locked(accounts->shpool, a);
}


/* an account's copy in process memory, as stores and the admin API read it */
ngx_int_t
ngx_http_q2api_accounts_export_one(ngx_http_q2api_account_t *a,
    ngx_pool_t *p, ngx_http_q2api_account_data_t *d)
{
    ngx_str_t  *src, *dst;

    ngx_memzero(d, sizeof(ngx_http_q2api_account_data_t));

#define q2api_copy(from, to)                                               \
    src = &a->from;                                                        \
    dst = &d->to;                                                          \
    dst->len = src->len;                                                   \
    if (src->len) {                                                        \
        dst->data = ngx_pstrdup(p, src);                                   \
        if (dst->data == NULL) {                                           \
            return NGX_ERROR;                                              \
        }                                                                  \
    }

    q2api_copy(id.str, id);
    q2api_copy(label, label);
    q2api_copy(client_id, client_id);
    q2api_copy(client_secret, client_secret);
    q2api_copy(refresh_token, refresh_token);
    q2api_copy(access_token, access_token);
    q2api_copy(profile_arn, profile_arn);
    q2api_copy(other, other);
    q2api_copy(project, project);
    q2api_copy(endpoint, api_endpoint);
    q2api_copy(reason, reason);
    q2api_copy(last_error, last_error);

#undef q2api_copy

    d->type = a->type;
    d->flavour = a->flavour;
    d->flavour_named = a->flavour_named;
    d->enabled = a->enabled;
    d->status = a->status;
    d->status_since = a->status_since;
    d->until = a->until;
    d->token_expires = a->token_expires;
    d->successes = a->successes;
    d->errors = a->errors;
    d->consecutive_errors = a->consecutive_errors;
    d->tokens_in = a->tokens_in;
    d->tokens_out = a->tokens_out;
    d->last_used = a->last_used;
    d->created_at = a->created_at;
    d->updated_at = a->updated_at;

    return NGX_OK;
}


ngx_uint_t
ngx_http_q2api_accounts_size(ngx_http_q2api_accounts_t *accounts)
{
    return accounts->sh->nall;
}
