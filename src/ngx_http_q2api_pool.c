/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account pool in shared memory: every worker reads the same accounts.
 * Accounts live in an rbtree by id (for updates from the store) and in a
 * dense slot array (for selection in constant time whatever the pool
 * size).  Only offsets into the zone's own memory are stored there.
 */


#include "ngx_http_q2api.h"


typedef struct {
    ngx_rbtree_node_t          node;      /* key: crc32 of the id */
    ngx_uint_t                 slot;
    ngx_uint_t                 generation;
    ngx_uint_t                 type;
    ngx_flag_t                 enabled;
    ngx_atomic_t               successes;
    ngx_atomic_t               failures;
    ngx_str_t                  id;        /* slab copies */
    ngx_str_t                  label;
    ngx_str_t                  access_token;
    ngx_str_t                  profile_arn;
} ngx_http_q2api_account_t;


struct ngx_http_q2api_pool_sh_s {
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_http_q2api_account_t **slots;
    ngx_uint_t                 nslots;    /* capacity */
    ngx_uint_t                 naccounts;
    ngx_uint_t                 generation;
};


static void ngx_http_q2api_pool_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_q2api_account_t *ngx_http_q2api_pool_lookup(
    ngx_http_q2api_pool_t *pool, ngx_str_t *id);
static ngx_int_t ngx_http_q2api_pool_set_str(ngx_http_q2api_pool_t *pool,
    ngx_str_t *dst, ngx_str_t *src);
static void ngx_http_q2api_pool_delete(ngx_http_q2api_pool_t *pool,
    ngx_http_q2api_account_t *a);


ngx_http_q2api_pool_t *
ngx_http_q2api_pool_create(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_pool_t));
}


ngx_int_t
ngx_http_q2api_pool_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_q2api_pool_t  *opool = data;

    size_t                     len;
    ngx_http_q2api_pool_t     *pool;
    ngx_http_q2api_pool_sh_t  *sh;

    pool = shm_zone->data;
    pool->shm_zone = shm_zone;

    if (opool) {
        /* reload: the accounts and their counters stay; the store is read
         * again so that edits made to it take effect */
        pool->sh = opool->sh;
        pool->shpool = opool->shpool;

        return ngx_http_q2api_store_file_load(pool, &pool->store_path,
                                              shm_zone->shm.log);
    }

    pool->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        pool->sh = pool->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(pool->shpool, sizeof(ngx_http_q2api_pool_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh, sizeof(ngx_http_q2api_pool_sh_t));

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                    ngx_http_q2api_pool_rbtree_insert);

    pool->sh = sh;
    pool->shpool->data = sh;

    len = sizeof(" in q2api zone \"\"") + shm_zone->shm.name.len;

    pool->shpool->log_ctx = ngx_slab_alloc(pool->shpool, len);
    if (pool->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(pool->shpool->log_ctx, " in q2api zone \"%V\"%Z",
                &shm_zone->shm.name);

    return ngx_http_q2api_store_file_load(pool, &pool->store_path,
                                          shm_zone->shm.log);
}


static void
ngx_http_q2api_pool_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t         **p;
    ngx_http_q2api_account_t   *a, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            a = (ngx_http_q2api_account_t *) node;
            t = (ngx_http_q2api_account_t *) temp;

            p = (ngx_memn2cmp(a->id.data, t->id.data, a->id.len, t->id.len)
                 < 0) ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


static ngx_http_q2api_account_t *
ngx_http_q2api_pool_lookup(ngx_http_q2api_pool_t *pool, ngx_str_t *id)
{
    ngx_int_t                  rc;
    ngx_uint_t                 hash;
    ngx_rbtree_node_t         *node, *sentinel;
    ngx_http_q2api_account_t  *a;

    hash = ngx_crc32_short(id->data, id->len);

    node = pool->sh->rbtree.root;
    sentinel = pool->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        a = (ngx_http_q2api_account_t *) node;

        rc = ngx_memn2cmp(id->data, a->id.data, id->len, a->id.len);

        if (rc == 0) {
            return a;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


ngx_uint_t
ngx_http_q2api_pool_next_generation(ngx_http_q2api_pool_t *pool)
{
    ngx_uint_t  gen;

    ngx_shmtx_lock(&pool->shpool->mutex);
    gen = ++pool->sh->generation;
    ngx_shmtx_unlock(&pool->shpool->mutex);

    return gen;
}


/* replaces a slab string, reusing its memory when the value is unchanged */
static ngx_int_t
ngx_http_q2api_pool_set_str(ngx_http_q2api_pool_t *pool, ngx_str_t *dst,
    ngx_str_t *src)
{
    u_char  *p;

    if (dst->len == src->len
        && (src->len == 0 || ngx_memcmp(dst->data, src->data, src->len) == 0))
    {
        return NGX_OK;
    }

    p = NULL;

    if (src->len) {
        p = ngx_slab_alloc_locked(pool->shpool, src->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, src->data, src->len);
    }

    if (dst->data) {
        ngx_slab_free_locked(pool->shpool, dst->data);
    }

    dst->data = p;
    dst->len = src->len;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_pool_upsert(ngx_http_q2api_pool_t *pool,
    ngx_http_q2api_pick_t *acc, ngx_str_t *label, ngx_flag_t enabled,
    ngx_uint_t generation)
{
    ngx_uint_t                  n;
    ngx_http_q2api_pool_sh_t   *sh;
    ngx_http_q2api_account_t   *a, **slots;

    sh = pool->sh;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_pool_lookup(pool, &acc->id);

    if (a == NULL) {

        if (sh->naccounts == sh->nslots) {
            n = sh->nslots ? sh->nslots * 2 : 64;

            slots = ngx_slab_alloc_locked(pool->shpool,
                                      n * sizeof(ngx_http_q2api_account_t *));
            if (slots == NULL) {
                goto nomem;
            }

            if (sh->slots) {
                ngx_memcpy(slots, sh->slots,
                           sh->naccounts * sizeof(ngx_http_q2api_account_t *));
                ngx_slab_free_locked(pool->shpool, sh->slots);
            }

            sh->slots = slots;
            sh->nslots = n;
        }

        a = ngx_slab_calloc_locked(pool->shpool,
                                   sizeof(ngx_http_q2api_account_t));
        if (a == NULL) {
            goto nomem;
        }

        if (ngx_http_q2api_pool_set_str(pool, &a->id, &acc->id) != NGX_OK) {
            ngx_slab_free_locked(pool->shpool, a);
            goto nomem;
        }

        a->node.key = ngx_crc32_short(acc->id.data, acc->id.len);
        ngx_rbtree_insert(&sh->rbtree, &a->node);

        a->slot = sh->naccounts;
        sh->slots[sh->naccounts++] = a;
    }

    if (ngx_http_q2api_pool_set_str(pool, &a->label, label) != NGX_OK
        || ngx_http_q2api_pool_set_str(pool, &a->access_token,
                                       &acc->access_token) != NGX_OK
        || ngx_http_q2api_pool_set_str(pool, &a->profile_arn,
                                       &acc->profile_arn) != NGX_OK)
    {
        goto nomem;
    }

    a->type = acc->type;
    a->enabled = enabled;
    a->generation = generation;

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_ERROR;
}


/* drops the accounts the store no longer has */
void
ngx_http_q2api_pool_prune(ngx_http_q2api_pool_t *pool, ngx_uint_t generation)
{
    ngx_uint_t                 i;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    i = 0;

    while (i < pool->sh->naccounts) {
        a = pool->sh->slots[i];

        if (a->generation != generation) {
            ngx_http_q2api_pool_delete(pool, a);
            continue;
        }

        i++;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


static void
ngx_http_q2api_pool_delete(ngx_http_q2api_pool_t *pool,
    ngx_http_q2api_account_t *a)
{
    ngx_http_q2api_pool_sh_t  *sh;

    sh = pool->sh;

    ngx_rbtree_delete(&sh->rbtree, &a->node);

    /* the last slot moves into the hole: the array stays dense */
    sh->slots[a->slot] = sh->slots[--sh->naccounts];
    sh->slots[a->slot]->slot = a->slot;

    if (a->id.data) {
        ngx_slab_free_locked(pool->shpool, a->id.data);
    }

    if (a->label.data) {
        ngx_slab_free_locked(pool->shpool, a->label.data);
    }

    if (a->access_token.data) {
        ngx_slab_free_locked(pool->shpool, a->access_token.data);
    }

    if (a->profile_arn.data) {
        ngx_slab_free_locked(pool->shpool, a->profile_arn.data);
    }

    ngx_slab_free_locked(pool->shpool, a);
}


/*
 * Random choice among usable accounts: a random slot, then the next usable
 * one.  The copy goes to the request's pool, so that nothing of the zone
 * is used outside the lock.
 */
ngx_int_t
ngx_http_q2api_pool_pick(ngx_http_q2api_pool_t *pool, ngx_pool_t *p,
    ngx_http_q2api_pick_t *pick)
{
    ngx_uint_t                  i, n, start;
    ngx_http_q2api_account_t   *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    n = pool->sh->naccounts;
    start = n ? (ngx_uint_t) ngx_random() % n : 0;

    for (i = 0; i < n; i++) {
        a = pool->sh->slots[(start + i) % n];

        if (!a->enabled || a->access_token.len == 0) {
            continue;
        }

        pick->id.data = ngx_pstrdup(p, &a->id);
        pick->access_token.data = ngx_pstrdup(p, &a->access_token);
        pick->profile_arn.data = a->profile_arn.len
                                 ? ngx_pstrdup(p, &a->profile_arn) : NULL;

        if (pick->id.data == NULL || pick->access_token.data == NULL
            || (a->profile_arn.len && pick->profile_arn.data == NULL))
        {
            ngx_shmtx_unlock(&pool->shpool->mutex);
            return NGX_ERROR;
        }

        pick->id.len = a->id.len;
        pick->access_token.len = a->access_token.len;
        pick->profile_arn.len = a->profile_arn.len;
        pick->type = a->type;

        ngx_shmtx_unlock(&pool->shpool->mutex);

        return NGX_OK;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_DECLINED;
}


void
ngx_http_q2api_pool_report(ngx_http_q2api_pool_t *pool, ngx_str_t *id,
    ngx_uint_t success)
{
    ngx_http_q2api_account_t  *a;

    if (pool == NULL) {
        return;
    }

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_pool_lookup(pool, id);

    if (a != NULL) {
        if (success) {
            a->successes++;

        } else {
            a->failures++;
        }
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}
