/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Choosing an account for an attempt: the strategies over the rotation
 * array, the accounts a request has tried already, and conversations that
 * keep their account (affinity).
 */


#include <ngx_md5.h>

#include "ngx_http_q2api_accounts_zone.h"


static ngx_int_t
ngx_http_q2api_accounts_copy(ngx_http_q2api_account_t *a, ngx_pool_t *p,
    ngx_http_q2api_pick_t *pick)
{
    pick->id.data = ngx_pstrdup(p, &a->id.str);
    pick->access_token.data = ngx_pstrdup(p, &a->access_token);
    pick->profile_arn.data = a->profile_arn.len
                             ? ngx_pstrdup(p, &a->profile_arn) : NULL;

    if (pick->id.data == NULL || pick->access_token.data == NULL
        || (a->profile_arn.len && pick->profile_arn.data == NULL))
    {
        return NGX_ERROR;
    }

    pick->id.len = a->id.str.len;
    pick->access_token.len = a->access_token.len;
    pick->profile_arn.len = a->profile_arn.len;
    pick->type = a->type;
    pick->token_expires = a->token_expires;
    pick->refreshable = a->refresh_token.len != 0;
    pick->flavour = a->flavour;

    if (a->type != NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        return NGX_OK;
    }

    pick->project.data = a->project.len ? ngx_pstrdup(p, &a->project) : NULL;
    pick->endpoint.data = a->endpoint.len ? ngx_pstrdup(p, &a->endpoint)
                                          : NULL;

    if ((a->project.len && pick->project.data == NULL)
        || (a->endpoint.len && pick->endpoint.data == NULL))
    {
        return NGX_ERROR;
    }

    pick->project.len = a->project.len;
    pick->endpoint.len = a->endpoint.len;
    pick->quota_read_at = a->quota_read_at;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_q2api_accounts_excluded(ngx_http_q2api_select_t *sel,
    ngx_http_q2api_account_t *a)
{
    ngx_uint_t  i;

    for (i = 0; i < sel->nexclude; i++) {
        if (sel->exclude[i].len == a->id.str.len
            && ngx_memcmp(sel->exclude[i].data, a->id.str.data,
                          a->id.str.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Whether an account serves the model asked for: its back end's (or
 * Claude on an Antigravity account), and that model not out on it.  An
 * account out for the model says when it is back in *back_at.
 */
static ngx_uint_t
ngx_http_q2api_accounts_serves(ngx_http_q2api_select_t *sel,
    ngx_http_q2api_account_t *a, time_t now, time_t *back_at)
{
    ngx_str_t                    *model;
    ngx_uint_t                    i;
    ngx_http_q2api_kind_t        *kind;
    ngx_http_q2api_model_cool_t  *c;

    if (sel->back == NULL) {
        return 1;
    }

    kind = ngx_http_q2api_kind(a->type);

    if (ngx_strcmp(kind->back, sel->back) == 0) {
        model = &sel->model;

    } else if (sel->alt_model.len
               && a->type == NGX_HTTP_Q2API_ACCOUNT_GEMINI
               && a->flavour == NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY)
    {
        model = &sel->alt_model;

    } else {
        return 0;
    }

    for (i = 0; i < NGX_HTTP_Q2API_MODEL_COOLS; i++) {
        c = &a->models_out[i];

        if (c->until > now && c->len == model->len
            && ngx_memcmp(c->model, model->data, model->len) == 0)
        {
            if (*back_at == 0 || c->until < *back_at) {
                *back_at = c->until;
            }

            return 0;
        }
    }

    return 1;
}


/*
 * The base strategies: a random start (or the round-robin cursor) and a
 * walk past the accounts this request already tried and those that do
 * not serve its model; least_used takes the less used of two random
 * accounts, which keeps usage within a small constant of even without a
 * heap.  With one back end and no model out the walk is a few steps
 * whatever the pool's size; a pool that mixes back ends walks past the
 * other one's accounts.
 */
static ngx_http_q2api_account_t *
ngx_http_q2api_accounts_choose(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_select_t *sel, time_t now, time_t *back_at)
{
    ngx_uint_t                     i, n, start;
    ngx_http_q2api_account_t      *a, *b, *c;
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = accounts->sh;
    n = sh->nrot;

    if (n == 0) {
        return NULL;
    }

    if (sel->strategy == NGX_HTTP_Q2API_SELECT_ROUND_ROBIN) {
        start = (ngx_uint_t) ngx_atomic_fetch_add(&sh->rr, 1) % n;

    } else {
        start = (ngx_uint_t) ngx_random() % n;
    }

    a = NULL;

    for (i = 0; i < n; i++) {
        c = sh->rot[(start + i) % n];

        /* served first: an account tried and out for the model still
         * says when it is back */
        if (ngx_http_q2api_accounts_serves(sel, c, now, back_at)
            && !ngx_http_q2api_accounts_excluded(sel, c))
        {
            a = c;
            break;
        }
    }

    if (a == NULL || sel->strategy != NGX_HTTP_Q2API_SELECT_LEAST_USED
        || n == 1)
    {
        return a;
    }

    b = sh->rot[(ngx_uint_t) ngx_random() % n];

    if (b != a && !ngx_http_q2api_accounts_excluded(sel, b)
        && ngx_http_q2api_accounts_serves(sel, b, now, back_at)
        && b->successes + b->errors < a->successes + a->errors)
    {
        return b;
    }

    return a;
}


static void
ngx_http_q2api_affinity_free(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_affinity_t *e)
{
    ngx_rbtree_delete(&accounts->sh->aff, &e->key.node);
    ngx_queue_remove(&e->lru);

    if (e->account.data) {
        ngx_slab_free_locked(accounts->shpool, e->account.data);
    }

    ngx_slab_free_locked(accounts->shpool, e);
}


/*
 * A conversation keeps its account while it is usable, so the backend's
 * prompt cache stays warm; it moves only when that account is out.
 * Entries idle longer than the timeout expire from the LRU tail.
 */
static ngx_http_q2api_account_t *
ngx_http_q2api_accounts_affinity(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_select_t *sel, time_t now, time_t *back_at)
{
    u_char                      md5[16];
    uint32_t                    hash;
    ngx_str_t                   key;
    ngx_md5_t                   ctx;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_q2api_account_t   *a;
    ngx_http_q2api_affinity_t  *e;

    ngx_md5_init(&ctx);
    ngx_md5_update(&ctx, sel->affinity.data, sel->affinity.len);
    ngx_md5_final(md5, &ctx);

    key.data = md5;
    key.len = 16;
    hash = ngx_crc32_short(md5, 16);

    /* a little expiry on every visit keeps the table small */
    for (i = 0; i < 2 && !ngx_queue_empty(&accounts->sh->aff_lru); i++) {
        q = ngx_queue_last(&accounts->sh->aff_lru);
        e = ngx_queue_data(q, ngx_http_q2api_affinity_t, lru);

        if (now - e->last < sel->affinity_timeout) {
            break;
        }

        ngx_http_q2api_affinity_free(accounts, e);
    }

    /* the tree's node comes first in an entry */
    e = (ngx_http_q2api_affinity_t *)
        ngx_str_rbtree_lookup(&accounts->sh->aff, &key, hash);

    if (e != NULL) {
        a = ngx_http_q2api_accounts_lookup(accounts, &e->account);

        if (a != NULL && a->rot >= 0
            && !ngx_http_q2api_accounts_excluded(sel, a)
            && ngx_http_q2api_accounts_serves(sel, a, now, back_at))
        {
            e->last = now;
            ngx_queue_remove(&e->lru);
            ngx_queue_insert_head(&accounts->sh->aff_lru, &e->lru);
            return a;
        }
    }

    /* a new conversation, or its account is out: bind to another */
    a = ngx_http_q2api_accounts_choose(accounts, sel, now, back_at);
    if (a == NULL) {
        return NULL;
    }

    if (e == NULL) {
        e = ngx_slab_calloc_locked(accounts->shpool,
                                   sizeof(ngx_http_q2api_affinity_t));

        while (e == NULL && !ngx_queue_empty(&accounts->sh->aff_lru)) {
            /* the zone is full: the oldest bindings make room */
            q = ngx_queue_last(&accounts->sh->aff_lru);
            ngx_http_q2api_affinity_free(accounts,
                ngx_queue_data(q, ngx_http_q2api_affinity_t, lru));

            e = ngx_slab_calloc_locked(accounts->shpool,
                                       sizeof(ngx_http_q2api_affinity_t));
        }

        if (e == NULL) {
            return a;
        }

        ngx_memcpy(e->md5, md5, 16);
        e->key.str.data = e->md5;
        e->key.str.len = 16;
        e->key.node.key = hash;
        ngx_rbtree_insert(&accounts->sh->aff, &e->key.node);
        ngx_queue_insert_head(&accounts->sh->aff_lru, &e->lru);

    } else {
        ngx_queue_remove(&e->lru);
        ngx_queue_insert_head(&accounts->sh->aff_lru, &e->lru);
    }

    e->last = now;

    if (ngx_http_q2api_accounts_set_str(accounts, &e->account, &a->id.str)
        != NGX_OK)
    {
        ngx_http_q2api_affinity_free(accounts, e);
    }

    return a;
}


ngx_int_t
ngx_http_q2api_accounts_pick(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_http_q2api_select_t *sel, ngx_http_q2api_pick_t *pick,
    time_t *retry_after)
{
    time_t                     now, back_at;
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node;
    ngx_http_q2api_account_t  *a;

    *retry_after = 0;
    back_at = 0;
    now = ngx_time();

    ngx_shmtx_lock(&accounts->shpool->mutex);

    ngx_http_q2api_accounts_wake(accounts, now);

    if (sel->want.len) {
        a = ngx_http_q2api_accounts_lookup(accounts, &sel->want);

        if (a == NULL || (a->rot < 0 && !(sel->force && a->access_token.len)))
        {
            ngx_shmtx_unlock(&accounts->shpool->mutex);
            return a ? NGX_BUSY : NGX_DECLINED;
        }

    } else if (sel->affinity.len) {
        a = ngx_http_q2api_accounts_affinity(accounts, sel, now, &back_at);

    } else {
        a = ngx_http_q2api_accounts_choose(accounts, sel, now, &back_at);
    }

    if (a == NULL) {
        if (accounts->sh->cool.root != accounts->sh->cool.sentinel) {
            node = ngx_rbtree_min(accounts->sh->cool.root,
                                  accounts->sh->cool.sentinel);
            *retry_after = (time_t) node->key - now;
        }

        /* or the first account back for this model, if sooner */
        if (back_at && (*retry_after <= 0 || back_at - now < *retry_after))
        {
            *retry_after = back_at - now;
        }

        ngx_shmtx_unlock(&accounts->shpool->mutex);
        return NGX_DECLINED;
    }

    rc = ngx_http_q2api_accounts_copy(a, p, pick);

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_q2api_accounts_pick_id(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_str_t *id, ngx_http_q2api_pick_t *pick)
{
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(accounts, id);

    if (a == NULL || a->rot < 0) {
        rc = NGX_DECLINED;

    } else {
        rc = ngx_http_q2api_accounts_copy(a, p, pick);
    }

    ngx_shmtx_unlock(&accounts->shpool->mutex);

    return rc;
}
