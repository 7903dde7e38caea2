/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account pool in shared memory, read and changed by every worker.
 *
 * Accounts live in an rbtree by id (for the store and the admin API).
 * Those usable now are also in a dense rotation array, so that choosing
 * one costs the same for ten accounts or ten thousand; those cooling down
 * or waiting for a quota reset sit in a second rbtree ordered by the time
 * they come back, and return to the rotation when a pick finds them due.
 * Changed accounts queue up for the store loop.  Conversations bound to an
 * account (affinity) are a third rbtree with an LRU queue.  Only pointers
 * into the zone itself are stored.
 */


#include <ngx_md5.h>

#include "ngx_http_q2api.h"
#include "q2api_jwt.h"


/* what the id and affinity trees hold: a node, then its key */
typedef struct {
    ngx_rbtree_node_t          node;          /* key: crc32 of key */
    ngx_str_t                  key;
} ngx_http_q2api_keyed_t;


typedef struct {
    ngx_rbtree_node_t          node;          /* ngx_http_q2api_keyed_t */
    ngx_str_t                  id;
    ngx_rbtree_node_t          cool;          /* key: until */
    ngx_queue_t                dirty;
    ngx_int_t                  rot;           /* -1: not in rotation */
    ngx_uint_t                 slot;
    ngx_uint_t                 generation;
    ngx_uint_t                 throttle_level;
    unsigned                   cooling:1;
    unsigned                   queued:1;
    unsigned                   deleted:1;     /* a tombstone for the store */

    ngx_pid_t                  refresh_pid;   /* refreshing its token */
    ngx_msec_t                 refresh_since;
    ngx_uint_t                 db_lease;      /* NGX_HTTP_Q2API_DBLEASE_* */

    ngx_uint_t                 type;
    ngx_flag_t                 enabled;
    ngx_uint_t                 status;
    time_t                     status_since;
    time_t                     until;
    time_t                     token_expires;
    time_t                     last_used;
    time_t                     created_at;
    time_t                     updated_at;

    uint64_t                   successes;
    uint64_t                   errors;
    uint64_t                   consecutive_errors;
    uint64_t                   tokens_in;
    uint64_t                   tokens_out;
    uint64_t                   d_successes;
    uint64_t                   d_errors;
    uint64_t                   d_tokens_in;
    uint64_t                   d_tokens_out;

    ngx_str_t                  label;         /* slab copies, like id */
    ngx_str_t                  client_id;
    ngx_str_t                  client_secret;
    ngx_str_t                  refresh_token;
    ngx_str_t                  access_token;
    ngx_str_t                  profile_arn;
    ngx_str_t                  other;
    ngx_str_t                  reason;
    ngx_str_t                  last_error;
} ngx_http_q2api_account_t;


typedef struct {
    ngx_rbtree_node_t          node;          /* ngx_http_q2api_keyed_t */
    ngx_str_t                  key;           /* md5 below */
    ngx_queue_t                lru;
    u_char                     md5[16];
    time_t                     last;
    ngx_str_t                  account;       /* slab copy of the id */
} ngx_http_q2api_affinity_t;


typedef struct {
    ngx_queue_t                queue;
    time_t                     expires;
    ngx_str_t                  key;           /* slab copies */
    ngx_str_t                  value;
} ngx_http_q2api_kv_t;


struct ngx_http_q2api_accounts_sh_s {
    ngx_rbtree_t               byid;
    ngx_rbtree_node_t          byid_sentinel;
    ngx_rbtree_t               cool;
    ngx_rbtree_node_t          cool_sentinel;
    ngx_rbtree_t               aff;
    ngx_rbtree_node_t          aff_sentinel;
    ngx_queue_t                aff_lru;
    ngx_queue_t                dirty;

    ngx_http_q2api_account_t **all;
    ngx_uint_t                 nall;
    ngx_uint_t                 allcap;
    ngx_http_q2api_account_t **rot;
    ngx_uint_t                 nrot;
    ngx_uint_t                 rotcap;

    ngx_atomic_t               rr;
    ngx_uint_t                 generation;

    ngx_pid_t                  lease_pid;
    ngx_msec_t                 lease_beat;

    /* a hint for the store loop: some refresh lease is wanted, or is to
     * be released; read without the lock */
    ngx_uint_t                 db_lease_work;
    ngx_pid_t                  db_lease_up;   /* the store that can answer */

    ngx_queue_t                kv_queue;
};


#define NGX_HTTP_Q2API_COOLDOWN_BASE   5        /* seconds */
#define NGX_HTTP_Q2API_COOLDOWN_MAX    300


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


static void ngx_http_q2api_keyed_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_q2api_account_t *ngx_http_q2api_accounts_lookup(
    ngx_http_q2api_accounts_t *pool, ngx_str_t *id);
static void ngx_http_q2api_accounts_db_lease_end(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a);
static ngx_int_t ngx_http_q2api_accounts_set_str(ngx_http_q2api_accounts_t *pool,
    ngx_str_t *dst, ngx_str_t *src);
static void ngx_http_q2api_accounts_free(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a);
static void ngx_http_q2api_accounts_unlink(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a);
static ngx_int_t ngx_http_q2api_accounts_place(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a);
static void ngx_http_q2api_accounts_mark(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a);
static void ngx_http_q2api_accounts_wake(ngx_http_q2api_accounts_t *pool,
    time_t now);
static ngx_int_t ngx_http_q2api_accounts_copy(ngx_http_q2api_account_t *a,
    ngx_pool_t *p, ngx_http_q2api_pick_t *pick);
static ngx_http_q2api_account_t *ngx_http_q2api_accounts_choose(
    ngx_http_q2api_accounts_t *pool, ngx_http_q2api_select_t *sel);
static ngx_http_q2api_account_t *ngx_http_q2api_accounts_affinity(
    ngx_http_q2api_accounts_t *pool, ngx_http_q2api_select_t *sel, time_t now);
static ngx_int_t ngx_http_q2api_accounts_export_one(ngx_http_q2api_account_t *a,
    ngx_pool_t *p, ngx_http_q2api_account_data_t *d);


static const char  *ngx_http_q2api_status_names[] = {
    "active", "cooling", "quota", "suspended", "token_rejected",
    "needs_login", "too_many_errors"
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


ngx_http_q2api_accounts_t *
ngx_http_q2api_accounts_create(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_accounts_t));
}


ngx_int_t
ngx_http_q2api_accounts_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_q2api_accounts_t  *opool = data;

    size_t                     len;
    ngx_http_q2api_accounts_t     *pool;
    ngx_http_q2api_accounts_sh_t  *sh;

    pool = shm_zone->data;
    pool->shm_zone = shm_zone;

    if (opool) {
        /* reload: accounts, state and counters stay in the zone */
        pool->sh = opool->sh;
        pool->shpool = opool->shpool;

        /* old workers may still hold the lease while they finish */
        pool->sh->lease_pid = 0;

        return ngx_http_q2api_store_load(pool, 1, shm_zone->shm.log);
    }

    pool->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        pool->sh = pool->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(pool->shpool, sizeof(ngx_http_q2api_accounts_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->byid, &sh->byid_sentinel,
                    ngx_http_q2api_keyed_insert);
    ngx_rbtree_init(&sh->cool, &sh->cool_sentinel, ngx_rbtree_insert_value);
    ngx_rbtree_init(&sh->aff, &sh->aff_sentinel,
                    ngx_http_q2api_keyed_insert);
    ngx_queue_init(&sh->aff_lru);
    ngx_queue_init(&sh->dirty);
    ngx_queue_init(&sh->kv_queue);

    pool->sh = sh;
    pool->shpool->data = sh;

    /* a full zone is reported once, by whoever failed to add to it */
    pool->shpool->log_nomem = 0;

    len = sizeof(" in q2api zone \"\"") + shm_zone->shm.name.len;

    pool->shpool->log_ctx = ngx_slab_alloc(pool->shpool, len);
    if (pool->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(pool->shpool->log_ctx, " in q2api zone \"%V\"%Z",
                &shm_zone->shm.name);

    return ngx_http_q2api_store_load(pool, 0, shm_zone->shm.log);
}


/* equal hashes are told apart by the keys themselves */
static void
ngx_http_q2api_keyed_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t       **p;
    ngx_http_q2api_keyed_t   *a, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            a = (ngx_http_q2api_keyed_t *) node;
            t = (ngx_http_q2api_keyed_t *) temp;

            p = (ngx_memn2cmp(a->key.data, t->key.data, a->key.len,
                              t->key.len) < 0) ? &temp->left : &temp->right;
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


static ngx_http_q2api_keyed_t *
ngx_http_q2api_keyed_lookup(ngx_rbtree_t *tree, u_char *key, size_t len)
{
    ngx_int_t                rc;
    ngx_uint_t               hash;
    ngx_rbtree_node_t       *node, *sentinel;
    ngx_http_q2api_keyed_t  *k;

    hash = ngx_crc32_short(key, len);

    node = tree->root;
    sentinel = tree->sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        k = (ngx_http_q2api_keyed_t *) node;

        rc = ngx_memn2cmp(key, k->key.data, len, k->key.len);

        if (rc == 0) {
            return k;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static ngx_http_q2api_account_t *
ngx_http_q2api_accounts_lookup(ngx_http_q2api_accounts_t *pool, ngx_str_t *id)
{
    return (ngx_http_q2api_account_t *)
           ngx_http_q2api_keyed_lookup(&pool->sh->byid, id->data, id->len);
}


/* replaces a slab string, reusing it when the value is unchanged */
static ngx_int_t
ngx_http_q2api_accounts_set_str(ngx_http_q2api_accounts_t *pool, ngx_str_t *dst,
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


static void
ngx_http_q2api_accounts_set_cstr(ngx_http_q2api_accounts_t *pool, ngx_str_t *dst,
    const char *s)
{
    ngx_str_t  src;

    src.data = (u_char *) s;
    src.len = ngx_strlen(s);

    /* on failure the old text stays: a stale reason beats no account */
    (void) ngx_http_q2api_accounts_set_str(pool, dst, &src);
}


/*
 * Puts an account where its state says: in the rotation when usable, in
 * the cooling tree when it comes back at a known time.
 */
static ngx_int_t
ngx_http_q2api_accounts_place(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a)
{
    ngx_uint_t                  n, usable, cooling;
    ngx_http_q2api_accounts_sh_t   *sh;
    ngx_http_q2api_account_t  **rot;

    sh = pool->sh;

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

            rot = ngx_slab_alloc_locked(pool->shpool, n * sizeof(void *));
            if (rot == NULL) {
                return NGX_ERROR;
            }

            if (sh->rot) {
                ngx_memcpy(rot, sh->rot, sh->nrot * sizeof(void *));
                ngx_slab_free_locked(pool->shpool, sh->rot);
            }

            sh->rot = rot;
            sh->rotcap = n;
        }

        a->rot = sh->nrot;
        sh->rot[sh->nrot++] = a;
    }

    return NGX_OK;
}


static void
ngx_http_q2api_accounts_mark(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a)
{
    a->updated_at = ngx_time();

    if (!a->queued) {
        ngx_queue_insert_tail(&pool->sh->dirty, &a->dirty);
        a->queued = 1;
    }
}


/* accounts whose cooldown or quota reset has come are usable again */
static void
ngx_http_q2api_accounts_wake(ngx_http_q2api_accounts_t *pool, time_t now)
{
    ngx_rbtree_node_t         *node;
    ngx_http_q2api_account_t  *a;

    while (pool->sh->cool.root != pool->sh->cool.sentinel) {
        node = ngx_rbtree_min(pool->sh->cool.root, pool->sh->cool.sentinel);

        if ((time_t) node->key > now) {
            return;
        }

        a = (ngx_http_q2api_account_t *)
            ((u_char *) node - offsetof(ngx_http_q2api_account_t, cool));

        a->status = NGX_HTTP_Q2API_ST_ACTIVE;
        a->until = 0;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(pool, &a->reason, "");

        if (ngx_http_q2api_accounts_place(pool, a) != NGX_OK) {
            /* no room to grow the rotation: try again at the next pick */
            return;
        }

        ngx_http_q2api_accounts_mark(pool, a);
    }
}


ngx_uint_t
ngx_http_q2api_accounts_next_generation(ngx_http_q2api_accounts_t *pool)
{
    ngx_uint_t  gen;

    ngx_shmtx_lock(&pool->shpool->mutex);
    gen = ++pool->sh->generation;
    ngx_shmtx_unlock(&pool->shpool->mutex);

    return gen;
}


ngx_int_t
ngx_http_q2api_accounts_upsert(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_data_t *d, ngx_uint_t fields,
    ngx_uint_t generation)
{
    time_t                      expires;
    ngx_uint_t                  n, keep;
    ngx_http_q2api_accounts_sh_t   *sh;
    ngx_http_q2api_account_t   *a, **all;

    sh = pool->sh;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, &d->id);

    if (a == NULL) {

        if (sh->nall == sh->allcap) {
            n = sh->allcap ? sh->allcap * 2 : 64;

            all = ngx_slab_alloc_locked(pool->shpool, n * sizeof(void *));
            if (all == NULL) {
                goto nomem;
            }

            if (sh->all) {
                ngx_memcpy(all, sh->all, sh->nall * sizeof(void *));
                ngx_slab_free_locked(pool->shpool, sh->all);
            }

            sh->all = all;
            sh->allcap = n;
        }

        a = ngx_slab_calloc_locked(pool->shpool,
                                   sizeof(ngx_http_q2api_account_t));
        if (a == NULL) {
            goto nomem;
        }

        if (ngx_http_q2api_accounts_set_str(pool, &a->id, &d->id) != NGX_OK) {
            ngx_slab_free_locked(pool->shpool, a);
            goto nomem;
        }

        a->rot = -1;
        a->node.key = ngx_crc32_short(d->id.data, d->id.len);
        ngx_rbtree_insert(&sh->byid, &a->node);

        a->slot = sh->nall;
        sh->all[sh->nall++] = a;

        a->created_at = d->created_at ? d->created_at : ngx_time();
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

        if (ngx_http_q2api_accounts_set_str(pool, &a->label, &d->label) != NGX_OK
            || ngx_http_q2api_accounts_set_str(pool, &a->client_id,
                                           &d->client_id) != NGX_OK
            || ngx_http_q2api_accounts_set_str(pool, &a->client_secret,
                                           &d->client_secret) != NGX_OK
            || (!keep
                && ngx_http_q2api_accounts_set_str(pool, &a->refresh_token,
                                               &d->refresh_token) != NGX_OK)
            || (!keep
                && ngx_http_q2api_accounts_set_str(pool, &a->access_token,
                                               &d->access_token) != NGX_OK)
            || ngx_http_q2api_accounts_set_str(pool, &a->profile_arn,
                                           &d->profile_arn) != NGX_OK
            || ngx_http_q2api_accounts_set_str(pool, &a->other, &d->other)
               != NGX_OK)
        {
            goto nomem;
        }

        a->type = d->type;
        a->enabled = d->enabled;

        if (!keep) {
            a->token_expires = expires;
        }
    }

    if (fields & NGX_HTTP_Q2API_SET_STATE) {
        if (ngx_http_q2api_accounts_set_str(pool, &a->reason, &d->reason)
            != NGX_OK
            || ngx_http_q2api_accounts_set_str(pool, &a->last_error,
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

    if (ngx_http_q2api_accounts_place(pool, a) != NGX_OK) {
        goto nomem;
    }

    if (fields & NGX_HTTP_Q2API_SET_DIRTY) {
        ngx_http_q2api_accounts_mark(pool, a);
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_q2api_accounts_remove(ngx_http_q2api_accounts_t *pool, ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a != NULL) {
        ngx_http_q2api_accounts_unlink(pool, a);
        ngx_http_q2api_accounts_free(pool, a);
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return a ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_q2api_accounts_delete(ngx_http_q2api_accounts_t *pool, ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a != NULL) {
        /* out of every structure but the store's queue: a tombstone */
        ngx_http_q2api_accounts_unlink(pool, a);
        a->deleted = 1;
        ngx_http_q2api_accounts_mark(pool, a);
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return a ? NGX_OK : NGX_DECLINED;
}


ngx_int_t
ngx_http_q2api_accounts_get(ngx_http_q2api_accounts_t *pool, ngx_str_t *id,
    ngx_pool_t *p, ngx_http_q2api_account_data_t *d)
{
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    rc = a ? ngx_http_q2api_accounts_export_one(a, p, d) : NGX_DECLINED;

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_prune(ngx_http_q2api_accounts_t *pool, ngx_uint_t generation)
{
    ngx_uint_t                 i;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    i = 0;

    while (i < pool->sh->nall) {
        a = pool->sh->all[i];

        if (a->generation != generation) {
            ngx_http_q2api_accounts_unlink(pool, a);
            ngx_http_q2api_accounts_free(pool, a);
            continue;
        }

        i++;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


/* out of the id tree, the rotation, the cooling tree and the slots */
static void
ngx_http_q2api_accounts_unlink(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a)
{
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = pool->sh;

    a->enabled = 0;
    (void) ngx_http_q2api_accounts_place(pool, a);

    ngx_rbtree_delete(&sh->byid, &a->node);

    sh->all[a->slot] = sh->all[--sh->nall];
    sh->all[a->slot]->slot = a->slot;
}


static void
ngx_http_q2api_accounts_free(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a)
{
    ngx_str_t  *s;

    if (a->queued) {
        ngx_queue_remove(&a->dirty);
    }

    if (a->id.data) {
        ngx_slab_free_locked(pool->shpool, a->id.data);
    }

    for (s = &a->label; s <= &a->last_error; s++) {
        if (s->data) {
            ngx_slab_free_locked(pool->shpool, s->data);
        }
    }

    ngx_slab_free_locked(pool->shpool, a);
}


static ngx_int_t
ngx_http_q2api_accounts_copy(ngx_http_q2api_account_t *a, ngx_pool_t *p,
    ngx_http_q2api_pick_t *pick)
{
    pick->id.data = ngx_pstrdup(p, &a->id);
    pick->access_token.data = ngx_pstrdup(p, &a->access_token);
    pick->profile_arn.data = a->profile_arn.len
                             ? ngx_pstrdup(p, &a->profile_arn) : NULL;

    if (pick->id.data == NULL || pick->access_token.data == NULL
        || (a->profile_arn.len && pick->profile_arn.data == NULL))
    {
        return NGX_ERROR;
    }

    pick->id.len = a->id.len;
    pick->access_token.len = a->access_token.len;
    pick->profile_arn.len = a->profile_arn.len;
    pick->type = a->type;
    pick->token_expires = a->token_expires;
    pick->refreshable = a->refresh_token.len != 0;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_q2api_accounts_excluded(ngx_http_q2api_select_t *sel,
    ngx_http_q2api_account_t *a)
{
    ngx_uint_t  i;

    for (i = 0; i < sel->nexclude; i++) {
        if (sel->exclude[i].len == a->id.len
            && ngx_memcmp(sel->exclude[i].data, a->id.data, a->id.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/*
 * The base strategies, all in constant time: a random start (or the
 * round-robin cursor) and a walk past the few accounts this request
 * already tried; least_used takes the less used of two random accounts,
 * which keeps usage within a small constant of even without a heap.
 */
static ngx_http_q2api_account_t *
ngx_http_q2api_accounts_choose(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_select_t *sel)
{
    ngx_uint_t                  i, n, start;
    ngx_http_q2api_accounts_sh_t   *sh;
    ngx_http_q2api_account_t   *a, *b;

    sh = pool->sh;
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

    for (i = 0; i <= sel->nexclude && i < n; i++) {
        if (!ngx_http_q2api_accounts_excluded(sel, sh->rot[(start + i) % n])) {
            a = sh->rot[(start + i) % n];
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
        && b->successes + b->errors < a->successes + a->errors)
    {
        return b;
    }

    return a;
}


static void
ngx_http_q2api_aff_free(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_affinity_t *e)
{
    ngx_rbtree_delete(&pool->sh->aff, &e->node);
    ngx_queue_remove(&e->lru);

    if (e->account.data) {
        ngx_slab_free_locked(pool->shpool, e->account.data);
    }

    ngx_slab_free_locked(pool->shpool, e);
}


/*
 * A conversation keeps its account while it is usable, so the backend's
 * prompt cache stays warm; it moves only when that account is out.
 * Entries idle longer than the timeout expire from the LRU tail.
 */
static ngx_http_q2api_account_t *
ngx_http_q2api_accounts_affinity(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_select_t *sel, time_t now)
{
    u_char                      md5[16];
    ngx_md5_t                   ctx;
    ngx_uint_t                  i;
    ngx_queue_t                *q;
    ngx_http_q2api_account_t   *a;
    ngx_http_q2api_affinity_t  *e;

    ngx_md5_init(&ctx);
    ngx_md5_update(&ctx, sel->affinity.data, sel->affinity.len);
    ngx_md5_final(md5, &ctx);

    /* a little expiry on every visit keeps the table small */
    for (i = 0; i < 2 && !ngx_queue_empty(&pool->sh->aff_lru); i++) {
        q = ngx_queue_last(&pool->sh->aff_lru);
        e = ngx_queue_data(q, ngx_http_q2api_affinity_t, lru);

        if (now - e->last < sel->affinity_timeout) {
            break;
        }

        ngx_http_q2api_aff_free(pool, e);
    }

    e = (ngx_http_q2api_affinity_t *)
        ngx_http_q2api_keyed_lookup(&pool->sh->aff, md5, 16);

    if (e != NULL) {
        a = ngx_http_q2api_accounts_lookup(pool, &e->account);

        if (a != NULL && a->rot >= 0 && !ngx_http_q2api_accounts_excluded(sel, a))
        {
            e->last = now;
            ngx_queue_remove(&e->lru);
            ngx_queue_insert_head(&pool->sh->aff_lru, &e->lru);
            return a;
        }
    }

    /* a new conversation, or its account is out: bind to another */
    a = ngx_http_q2api_accounts_choose(pool, sel);
    if (a == NULL) {
        return NULL;
    }

    if (e == NULL) {
        e = ngx_slab_calloc_locked(pool->shpool,
                                   sizeof(ngx_http_q2api_affinity_t));

        while (e == NULL && !ngx_queue_empty(&pool->sh->aff_lru)) {
            /* the zone is full: the oldest bindings make room */
            q = ngx_queue_last(&pool->sh->aff_lru);
            ngx_http_q2api_aff_free(pool,
                ngx_queue_data(q, ngx_http_q2api_affinity_t, lru));

            e = ngx_slab_calloc_locked(pool->shpool,
                                       sizeof(ngx_http_q2api_affinity_t));
        }

        if (e == NULL) {
            return a;
        }

        ngx_memcpy(e->md5, md5, 16);
        e->key.data = e->md5;
        e->key.len = 16;
        e->node.key = ngx_crc32_short(md5, 16);
        ngx_rbtree_insert(&pool->sh->aff, &e->node);
        ngx_queue_insert_head(&pool->sh->aff_lru, &e->lru);

    } else {
        ngx_queue_remove(&e->lru);
        ngx_queue_insert_head(&pool->sh->aff_lru, &e->lru);
    }

    e->last = now;

    if (ngx_http_q2api_accounts_set_str(pool, &e->account, &a->id) != NGX_OK) {
        ngx_http_q2api_aff_free(pool, e);
    }

    return a;
}


ngx_int_t
ngx_http_q2api_accounts_pick(ngx_http_q2api_accounts_t *pool, ngx_pool_t *p,
    ngx_http_q2api_select_t *sel, ngx_http_q2api_pick_t *pick,
    time_t *retry_after)
{
    time_t                     now;
    ngx_int_t                  rc;
    ngx_rbtree_node_t         *node;
    ngx_http_q2api_account_t  *a;

    *retry_after = 0;
    now = ngx_time();

    ngx_shmtx_lock(&pool->shpool->mutex);

    ngx_http_q2api_accounts_wake(pool, now);

    if (sel->want.len) {
        a = ngx_http_q2api_accounts_lookup(pool, &sel->want);

        if (a == NULL || (a->rot < 0 && !(sel->force && a->access_token.len)))
        {
            ngx_shmtx_unlock(&pool->shpool->mutex);
            return a ? NGX_BUSY : NGX_DECLINED;
        }

    } else if (sel->affinity.len) {
        a = ngx_http_q2api_accounts_affinity(pool, sel, now);

    } else {
        a = ngx_http_q2api_accounts_choose(pool, sel);
    }

    if (a == NULL) {
        if (pool->sh->cool.root != pool->sh->cool.sentinel) {
            node = ngx_rbtree_min(pool->sh->cool.root,
                                  pool->sh->cool.sentinel);
            *retry_after = (time_t) node->key - now;
        }

        ngx_shmtx_unlock(&pool->shpool->mutex);
        return NGX_DECLINED;
    }

    rc = ngx_http_q2api_accounts_copy(a, p, pick);

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return rc;
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


/*
 * The account health policy: what one attempt's outcome does to its
 * account (see the README's "Account health").
 */
/* a backoff that doubles with each strike until the account succeeds */
static void
ngx_http_q2api_accounts_cool(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a, time_t now, const char *reason)
{
    time_t  cool;

    cool = NGX_HTTP_Q2API_COOLDOWN_BASE << ngx_min(a->throttle_level, 6);
    cool = ngx_min(cool, NGX_HTTP_Q2API_COOLDOWN_MAX);

    a->throttle_level++;
    a->status = NGX_HTTP_Q2API_ST_COOLING;
    a->until = now + cool;
    a->status_since = now;
    ngx_http_q2api_accounts_set_cstr(pool, &a->reason, reason);
}


void
ngx_http_q2api_accounts_report(ngx_http_q2api_accounts_t *pool, ngx_str_t *id,
    ngx_http_q2api_outcome_e outcome, const char *detail,
    uint64_t tokens_in, uint64_t tokens_out)
{
    time_t                     now;
    ngx_http_q2api_account_t  *a;

    now = ngx_time();

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a == NULL) {
        ngx_shmtx_unlock(&pool->shpool->mutex);
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
        ngx_http_q2api_accounts_cool(pool, a, now, "throttled");
        break;

    case NGX_HTTP_Q2API_OUT_QUOTA:
        a->status = NGX_HTTP_Q2API_ST_QUOTA;
        a->until = ngx_http_q2api_next_reset(now,
                       detail == NULL || ngx_strstr(detail, "DAILY") == NULL);
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(pool, &a->reason,
                                     detail ? detail : "quota");
        break;

    case NGX_HTTP_Q2API_OUT_SUSPENDED:
        a->status = NGX_HTTP_Q2API_ST_SUSPENDED;
        a->until = 0;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(pool, &a->reason,
                                     detail ? detail : "suspended");
        break;

    case NGX_HTTP_Q2API_OUT_AUTH:
        a->status = NGX_HTTP_Q2API_ST_TOKEN;
        a->until = 0;
        a->status_since = now;
        ngx_http_q2api_accounts_set_cstr(pool, &a->reason,
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
        ngx_http_q2api_accounts_set_cstr(pool, &a->last_error,
                                     detail ? detail : "error");

        /* q2api's MAX_ERROR_COUNT: an account that only fails is out */
        if (pool->max_errors && a->consecutive_errors >= pool->max_errors
            && a->status == NGX_HTTP_Q2API_ST_ACTIVE)
        {
            a->status = NGX_HTTP_Q2API_ST_ERRORS;
            a->status_since = now;
            ngx_http_q2api_accounts_set_cstr(pool, &a->reason,
                                         "too many consecutive errors");
        }
    }

    (void) ngx_http_q2api_accounts_place(pool, a);
    ngx_http_q2api_accounts_mark(pool, a);

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


static ngx_int_t
ngx_http_q2api_accounts_export_one(ngx_http_q2api_account_t *a, ngx_pool_t *p,
    ngx_http_q2api_account_data_t *d)
{
    ngx_str_t  *src, *dst;

    ngx_memzero(d, sizeof(ngx_http_q2api_account_data_t));

#define q2api_copy(field)                                                  \
    src = &a->field;                                                       \
    dst = &d->field;                                                       \
    dst->len = src->len;                                                   \
    if (src->len) {                                                        \
        dst->data = ngx_pstrdup(p, src);                                   \
        if (dst->data == NULL) {                                           \
            return NGX_ERROR;                                              \
        }                                                                  \
    }

    q2api_copy(id);
    q2api_copy(label);
    q2api_copy(client_id);
    q2api_copy(client_secret);
    q2api_copy(refresh_token);
    q2api_copy(access_token);
    q2api_copy(profile_arn);
    q2api_copy(other);
    q2api_copy(reason);
    q2api_copy(last_error);

#undef q2api_copy

    d->type = a->type;
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


ngx_int_t
ngx_http_q2api_accounts_take_dirty(ngx_http_q2api_accounts_t *pool, ngx_pool_t *p,
    ngx_array_t *out)
{
    ngx_queue_t                    *q;
    ngx_http_q2api_account_t       *a;
    ngx_http_q2api_account_data_t  *d;

    ngx_shmtx_lock(&pool->shpool->mutex);

    while (!ngx_queue_empty(&pool->sh->dirty)) {
        q = ngx_queue_head(&pool->sh->dirty);
        a = ngx_queue_data(q, ngx_http_q2api_account_t, dirty);

        d = ngx_array_push(out);
        if (d == NULL || ngx_http_q2api_accounts_export_one(a, p, d) != NGX_OK) {
            ngx_shmtx_unlock(&pool->shpool->mutex);
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
            ngx_http_q2api_accounts_free(pool, a);
        }
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_OK;
}


void
ngx_http_q2api_accounts_return_dirty(ngx_http_q2api_accounts_t *pool,
    ngx_array_t *taken)
{
    ngx_uint_t                      i;
    ngx_http_q2api_account_t       *a;
    ngx_http_q2api_account_data_t  *d;

    d = taken->elts;

    ngx_shmtx_lock(&pool->shpool->mutex);

    for (i = 0; i < taken->nelts; i++) {
        a = ngx_http_q2api_accounts_lookup(pool, &d[i].id);

        if (a == NULL && d[i].deleted) {
            /* the deletion failed to reach the store: its tombstone
             * goes back to the queue, in no other structure */
            a = ngx_slab_calloc_locked(pool->shpool,
                                       sizeof(ngx_http_q2api_account_t));
            if (a == NULL) {
                continue;
            }

            if (ngx_http_q2api_accounts_set_str(pool, &a->id, &d[i].id)
                != NGX_OK)
            {
                ngx_slab_free_locked(pool->shpool, a);
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
            pool->sh->db_lease_work = 1;
        }

        a->d_successes += d[i].d_successes;
        a->d_errors += d[i].d_errors;
        a->d_tokens_in += d[i].d_tokens_in;
        a->d_tokens_out += d[i].d_tokens_out;

        if (!a->queued) {
            ngx_queue_insert_tail(&pool->sh->dirty, &a->dirty);
            a->queued = 1;
        }
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


ngx_int_t
ngx_http_q2api_accounts_export(ngx_http_q2api_accounts_t *pool, ngx_pool_t *p,
    ngx_array_t *out)
{
    ngx_uint_t                      i;
    ngx_http_q2api_account_data_t  *d;

    ngx_shmtx_lock(&pool->shpool->mutex);

    for (i = 0; i < pool->sh->nall; i++) {
        d = ngx_array_push(out);
        if (d == NULL
            || ngx_http_q2api_accounts_export_one(pool->sh->all[i], p, d)
               != NGX_OK)
        {
            ngx_shmtx_unlock(&pool->shpool->mutex);
            return NGX_ERROR;
        }
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_OK;
}


ngx_uint_t
ngx_http_q2api_accounts_size(ngx_http_q2api_accounts_t *pool)
{
    return pool->sh->nall;
}


ngx_uint_t
ngx_http_q2api_accounts_lease(ngx_http_q2api_accounts_t *pool, ngx_msec_t stale)
{
    ngx_uint_t                 held;
    ngx_http_q2api_accounts_sh_t  *sh;

    sh = pool->sh;
    held = 0;

    ngx_shmtx_lock(&pool->shpool->mutex);

    if (sh->lease_pid == ngx_pid
        || sh->lease_pid == 0
        || (ngx_msec_int_t) (ngx_current_msec - sh->lease_beat)
           > (ngx_msec_int_t) stale)
    {
        sh->lease_pid = ngx_pid;
        sh->lease_beat = ngx_current_msec;
        held = 1;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return held;
}


void
ngx_http_q2api_accounts_lease_release(ngx_http_q2api_accounts_t *pool)
{
    ngx_shmtx_lock(&pool->shpool->mutex);

    if (pool->sh->lease_pid == ngx_pid) {
        pool->sh->lease_pid = 0;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


#define NGX_HTTP_Q2API_REFRESH_STALE  60000


ngx_int_t
ngx_http_q2api_accounts_refresh_begin(ngx_http_q2api_accounts_t *pool, ngx_str_t *id,
    ngx_pool_t *p, ngx_http_q2api_account_data_t *creds)
{
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

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

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_refresh_end(ngx_http_q2api_accounts_t *pool, ngx_str_t *id,
    ngx_int_t rc, ngx_http_q2api_account_data_t *fresh, const char *reason)
{
    time_t                     now;
    ngx_http_q2api_account_t  *a;

    now = ngx_time();

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a == NULL) {
        ngx_shmtx_unlock(&pool->shpool->mutex);
        return;
    }

    a->refresh_pid = 0;

    ngx_http_q2api_accounts_db_lease_end(pool, a);

    if (rc == NGX_DONE) {
        /* nothing to refresh after all: the leases go, nothing else */
        ngx_shmtx_unlock(&pool->shpool->mutex);
        return;
    }

    if (rc == NGX_OK) {
        if (ngx_http_q2api_accounts_set_str(pool, &a->access_token,
                                        &fresh->access_token) != NGX_OK
            || (fresh->refresh_token.len
                && ngx_http_q2api_accounts_set_str(pool, &a->refresh_token,
                                               &fresh->refresh_token)
                   != NGX_OK)
            || (fresh->profile_arn.len && a->profile_arn.len == 0
                && ngx_http_q2api_accounts_set_str(pool, &a->profile_arn,
                                               &fresh->profile_arn)
                   != NGX_OK))
        {
            /* the old token stays; the next refresh tries again (and a
             * store lease goes with the next write) */
            ngx_http_q2api_accounts_mark(pool, a);
            ngx_shmtx_unlock(&pool->shpool->mutex);
            return;
        }

        a->token_expires = fresh->token_expires;

        if (a->status == NGX_HTTP_Q2API_ST_TOKEN
            || a->status == NGX_HTTP_Q2API_ST_NEEDS_LOGIN)
        {
            a->status = NGX_HTTP_Q2API_ST_ACTIVE;
            a->status_since = now;
            ngx_http_q2api_accounts_set_cstr(pool, &a->reason, "");
        }

    } else if (rc == NGX_DECLINED) {
        a->status = NGX_HTTP_Q2API_ST_NEEDS_LOGIN;
        a->status_since = now;
        a->until = 0;
        ngx_http_q2api_accounts_set_cstr(pool, &a->reason,
                                     reason ? reason : "refresh refused");

    } else {
        ngx_http_q2api_accounts_set_cstr(pool, &a->last_error,
                                     reason ? reason : "refresh failed");

        if (a->token_expires && a->token_expires <= now) {
            /*
             * the token is dead and the identity service is failing: every
             * request would start another refresh against it, so the
             * account rests with the same backoff a throttle gets
             */
            ngx_http_q2api_accounts_cool(pool, a, now, "token refresh failing");
        }
    }

    (void) ngx_http_q2api_accounts_place(pool, a);

    /* a rotated refresh token is worth nothing unless it is stored */
    ngx_http_q2api_accounts_mark(pool, a);

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


void
ngx_http_q2api_accounts_learn_profile(ngx_http_q2api_accounts_t *pool, ngx_str_t *id,
    ngx_str_t *profile_arn)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    /* an operator's choice, made meanwhile, wins */
    if (a != NULL && a->profile_arn.len == 0
        && ngx_http_q2api_accounts_set_str(pool, &a->profile_arn, profile_arn)
           == NGX_OK)
    {
        ngx_http_q2api_accounts_mark(pool, a);
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_refreshing(ngx_http_q2api_accounts_t *pool, ngx_str_t *id)
{
    ngx_uint_t                 busy;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    busy = a != NULL && a->refresh_pid
           && (ngx_msec_int_t) (ngx_current_msec - a->refresh_since)
              < NGX_HTTP_Q2API_REFRESH_STALE;

    ngx_shmtx_unlock(&pool->shpool->mutex);

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
ngx_http_q2api_accounts_db_lease_end(ngx_http_q2api_accounts_t *pool,
    ngx_http_q2api_account_t *a)
{
    switch (a->db_lease) {

    case NGX_HTTP_Q2API_DBLEASE_GRANTED:
        a->db_lease = NGX_HTTP_Q2API_DBLEASE_RELEASE;
        pool->sh->db_lease_work = 1;
        ngx_http_q2api_accounts_mark(pool, a);
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
ngx_http_q2api_accounts_db_lease_ask(ngx_http_q2api_accounts_t *pool, ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a != NULL && a->refresh_pid == ngx_pid) {
        /* waiting for another node is part of the refresh: the local
         * lease must not go stale meanwhile */
        a->refresh_since = ngx_current_msec;

        if (a->db_lease != NGX_HTTP_Q2API_DBLEASE_ASKED
            && a->db_lease != NGX_HTTP_Q2API_DBLEASE_RELEASE)
        {
            a->db_lease = NGX_HTTP_Q2API_DBLEASE_WANTED;
            pool->sh->db_lease_work = 1;
        }
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_db_lease_state(ngx_http_q2api_accounts_t *pool,
    ngx_str_t *id, time_t *token_expires, ngx_pool_t *p,
    ngx_http_q2api_account_data_t *creds)
{
    ngx_uint_t                 state;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

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

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return state;
}


void
ngx_http_q2api_accounts_db_lease_drop(ngx_http_q2api_accounts_t *pool, ngx_str_t *id)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a != NULL) {
        ngx_http_q2api_accounts_db_lease_end(pool, a);
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_db_lease_work(ngx_http_q2api_accounts_t *pool)
{
    return *(volatile ngx_uint_t *) &pool->sh->db_lease_work;
}


void
ngx_http_q2api_accounts_db_lease_up(ngx_http_q2api_accounts_t *pool, ngx_uint_t up)
{
    ngx_shmtx_lock(&pool->shpool->mutex);

    if (up) {
        pool->sh->db_lease_up = ngx_pid;

    } else if (pool->sh->db_lease_up == ngx_pid) {
        /* not the store of new workers, after a reload */
        pool->sh->db_lease_up = 0;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


ngx_uint_t
ngx_http_q2api_accounts_db_lease_is_up(ngx_http_q2api_accounts_t *pool)
{
    return *(volatile ngx_pid_t *) &pool->sh->db_lease_up != 0;
}


ngx_int_t
ngx_http_q2api_accounts_db_lease_take(ngx_http_q2api_accounts_t *pool,
    ngx_pool_t *p, ngx_array_t *ids, ngx_uint_t *release)
{
    ngx_int_t                  rc;
    ngx_str_t                 *id;
    ngx_uint_t                 i;
    ngx_http_q2api_account_t  *a;

    rc = NGX_OK;
    *release = 0;

    ngx_shmtx_lock(&pool->shpool->mutex);

    pool->sh->db_lease_work = 0;

    for (i = 0; i < pool->sh->nall; i++) {
        a = pool->sh->all[i];

        if (a->db_lease == NGX_HTTP_Q2API_DBLEASE_RELEASE) {
            *release = 1;
            continue;
        }

        if (a->db_lease != NGX_HTTP_Q2API_DBLEASE_WANTED) {
            continue;
        }

        id = ngx_array_push(ids);
        if (id == NULL
            || (id->data = ngx_pstrdup(p, &a->id)) == NULL)
        {
            pool->sh->db_lease_work = 1;
            rc = NGX_ERROR;
            break;
        }

        id->len = a->id.len;
        a->db_lease = NGX_HTTP_Q2API_DBLEASE_ASKED;
    }

    if (*release) {
        /* until the write has taken them */
        pool->sh->db_lease_work = 1;
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return rc;
}


void
ngx_http_q2api_accounts_db_lease_answer(ngx_http_q2api_accounts_t *pool,
    ngx_str_t *id, ngx_uint_t granted, ngx_http_q2api_account_data_t *row)
{
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a == NULL) {
        /* deleted meanwhile: the lease expires in the database */
        goto done;
    }

    if (a->db_lease != NGX_HTTP_Q2API_DBLEASE_ASKED) {
        /* the refresher gave up waiting */
        if (granted && a->db_lease == NGX_HTTP_Q2API_DBLEASE_NONE) {
            a->db_lease = NGX_HTTP_Q2API_DBLEASE_RELEASE;
            pool->sh->db_lease_work = 1;
            ngx_http_q2api_accounts_mark(pool, a);
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
        && (ngx_http_q2api_accounts_set_str(pool, &a->refresh_token,
                                        &row->refresh_token) != NGX_OK
            || ngx_http_q2api_accounts_set_str(pool, &a->access_token,
                                           &row->access_token) != NGX_OK))
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

    ngx_shmtx_unlock(&pool->shpool->mutex);
}


ngx_int_t
ngx_http_q2api_accounts_pick_id(ngx_http_q2api_accounts_t *pool, ngx_pool_t *p,
    ngx_str_t *id, ngx_http_q2api_pick_t *pick)
{
    ngx_int_t                  rc;
    ngx_http_q2api_account_t  *a;

    ngx_shmtx_lock(&pool->shpool->mutex);

    a = ngx_http_q2api_accounts_lookup(pool, id);

    if (a == NULL || a->rot < 0) {
        rc = NGX_DECLINED;

    } else {
        rc = ngx_http_q2api_accounts_copy(a, p, pick);
    }

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return rc;
}


/* login sessions are few and short-lived: a list does */
static ngx_http_q2api_kv_t *
ngx_http_q2api_kv_lookup(ngx_http_q2api_accounts_t *pool, ngx_str_t *key)
{
    ngx_queue_t          *q;
    ngx_http_q2api_kv_t  *kv;

    for (q = ngx_queue_head(&pool->sh->kv_queue);
         q != ngx_queue_sentinel(&pool->sh->kv_queue);
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
ngx_http_q2api_kv_free(ngx_http_q2api_accounts_t *pool, ngx_http_q2api_kv_t *kv)
{
    ngx_queue_remove(&kv->queue);

    if (kv->key.data) {
        ngx_slab_free_locked(pool->shpool, kv->key.data);
    }

    if (kv->value.data) {
        ngx_slab_free_locked(pool->shpool, kv->value.data);
    }

    ngx_slab_free_locked(pool->shpool, kv);
}


/* drops expired records: the queue is oldest first */
static void
ngx_http_q2api_kv_expire(ngx_http_q2api_accounts_t *pool, time_t now)
{
    ngx_queue_t          *q, *next;
    ngx_http_q2api_kv_t  *kv;

    for (q = ngx_queue_head(&pool->sh->kv_queue);
         q != ngx_queue_sentinel(&pool->sh->kv_queue);
         q = next)
    {
        next = ngx_queue_next(q);
        kv = ngx_queue_data(q, ngx_http_q2api_kv_t, queue);

        if (kv->expires <= now) {
            ngx_http_q2api_kv_free(pool, kv);
        }
    }
}


ngx_int_t
ngx_http_q2api_accounts_kv_set(ngx_http_q2api_accounts_t *pool, ngx_str_t *key,
    ngx_str_t *value, time_t expires)
{
    ngx_http_q2api_kv_t  *kv;

    ngx_shmtx_lock(&pool->shpool->mutex);

    ngx_http_q2api_kv_expire(pool, ngx_time());

    kv = ngx_http_q2api_kv_lookup(pool, key);

    if (kv == NULL) {
        kv = ngx_slab_calloc_locked(pool->shpool,
                                    sizeof(ngx_http_q2api_kv_t));
        if (kv == NULL) {
            goto nomem;
        }

        if (ngx_http_q2api_accounts_set_str(pool, &kv->key, key) != NGX_OK) {
            ngx_slab_free_locked(pool->shpool, kv);
            goto nomem;
        }

        ngx_queue_insert_tail(&pool->sh->kv_queue, &kv->queue);
    }

    if (ngx_http_q2api_accounts_set_str(pool, &kv->value, value) != NGX_OK) {
        goto nomem;
    }

    kv->expires = expires;

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_OK;

nomem:

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return NGX_ERROR;
}


ngx_int_t
ngx_http_q2api_accounts_kv_get(ngx_http_q2api_accounts_t *pool, ngx_str_t *key,
    ngx_pool_t *p, ngx_str_t *value)
{
    ngx_int_t             rc;
    ngx_http_q2api_kv_t  *kv;

    ngx_shmtx_lock(&pool->shpool->mutex);

    kv = ngx_http_q2api_kv_lookup(pool, key);

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

    ngx_shmtx_unlock(&pool->shpool->mutex);

    return rc;
}
