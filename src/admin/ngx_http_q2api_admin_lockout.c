/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The admin zone: the random master secret of session tokens, and the
 * slow-down of repeated authentication failures.
 *
 * Failures are counted per client address (an IPv6 client by its /64) in
 * the zone, so an attacker gains nothing by spreading attempts over
 * connections that land on other workers.
 */


#include <openssl/rand.h>

#include "ngx_http_q2api_admin.h"


#define NGX_HTTP_Q2API_ADMIN_ZONE_SIZE   (256 * 1024)
#define NGX_HTTP_Q2API_ADMIN_FORGET      900      /* failures, s idle */
#define NGX_HTTP_Q2API_ADMIN_FORGIVE     3600     /* lockouts, s idle */
#define NGX_HTTP_Q2API_ADMIN_LOCK_MAX    3600


/* one client's failures, by its address (node.key: its crc32) */
typedef struct {
    ngx_str_node_t             sn;            /* str: addr */
    ngx_queue_t                lru;
    time_t                     last;          /* last failure */
    time_t                     locked_until;
    ngx_uint_t                 failures;      /* since the last lockout */
    ngx_uint_t                 strikes;       /* lockouts in a row */
    u_char                     addr[16];
} ngx_http_q2api_admin_peer_t;


typedef struct {
    u_char                     key[32];       /* the random master secret */
    ngx_rbtree_t               rbtree;
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;
} ngx_http_q2api_admin_sh_t;


typedef struct {
    ngx_http_q2api_admin_sh_t *sh;
    ngx_slab_pool_t           *shpool;
} ngx_http_q2api_admin_zone_t;


static ngx_int_t ngx_http_q2api_admin_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_q2api_admin_zone_t *ngx_http_q2api_admin_zone(
    ngx_http_request_t *r);
static size_t ngx_http_q2api_admin_peer_key(ngx_http_request_t *r,
    u_char *key);
static ngx_http_q2api_admin_peer_t *ngx_http_q2api_admin_peer_lookup(
    ngx_http_q2api_admin_zone_t *zone, ngx_str_t *addr, uint32_t hash);
static void ngx_http_q2api_admin_peer_expire(
    ngx_http_q2api_admin_zone_t *zone, time_t now);


static ngx_str_t  ngx_http_q2api_admin_zone_name = ngx_string("q2api_admin");


ngx_int_t
ngx_http_q2api_admin_add_zone(ngx_conf_t *cf,
    ngx_http_q2api_admin_main_conf_t *amcf)
{
    ngx_http_q2api_admin_zone_t  *zone;

    if (amcf->shm_zone != NULL) {
        return NGX_OK;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_admin_zone_t));
    if (zone == NULL) {
        return NGX_ERROR;
    }

    amcf->shm_zone = ngx_shared_memory_add(cf,
                                           &ngx_http_q2api_admin_zone_name,
                                           NGX_HTTP_Q2API_ADMIN_ZONE_SIZE,
                                           &ngx_http_q2api_admin_module);
    if (amcf->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (amcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used",
                           &ngx_http_q2api_admin_zone_name);
        return NGX_ERROR;
    }

    amcf->shm_zone->init = ngx_http_q2api_admin_init_zone;
    amcf->shm_zone->data = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_q2api_admin_zone_t  *ozone = data;

    size_t                        len;
    ngx_http_q2api_admin_sh_t    *sh;
    ngx_http_q2api_admin_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        /* reload: the key, hence the sessions, and the failures stay */
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(zone->shpool, sizeof(ngx_http_q2api_admin_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    if (RAND_bytes(sh->key, sizeof(sh->key)) != 1) {
        ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                      "q2api admin: RAND_bytes() failed");
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->lru);

    zone->sh = sh;
    zone->shpool->data = sh;

    len = sizeof(" in q2api admin zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in q2api admin zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full table evicts its oldest entries, no need to say so */
    zone->shpool->log_nomem = 0;

    return NGX_OK;
}


static ngx_http_q2api_admin_zone_t *
ngx_http_q2api_admin_zone(ngx_http_request_t *r)
{
    ngx_http_q2api_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_admin_module);

    return amcf->shm_zone->data;
}


u_char *
ngx_http_q2api_admin_zone_key(ngx_http_request_t *r, size_t *len)
{
    ngx_http_q2api_admin_zone_t  *zone;

    /* written once when the zone was made, constant since */
    zone = ngx_http_q2api_admin_zone(r);

    *len = sizeof(zone->sh->key);

    return zone->sh->key;
}


/* the client's address; an IPv6 client owns its /64 */
static size_t
ngx_http_q2api_admin_peer_key(ngx_http_request_t *r, u_char *key)
{
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (r->connection->sockaddr->sa_family) {

    case AF_INET:
        sin = (struct sockaddr_in *) r->connection->sockaddr;
        ngx_memcpy(key, &sin->sin_addr, 4);
        return 4;

#if (NGX_HAVE_INET6)
    case AF_INET6:
        sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;

        if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
            ngx_memcpy(key, &sin6->sin6_addr.s6_addr[12], 4);
            return 4;
        }

        ngx_memcpy(key, sin6->sin6_addr.s6_addr, 8);
        return 8;
#endif

    default:
        /* a unix socket: every client is the same peer */
        key[0] = 0;
        return 1;
    }
}


static ngx_http_q2api_admin_peer_t *
ngx_http_q2api_admin_peer_lookup(ngx_http_q2api_admin_zone_t *zone,
    ngx_str_t *addr, uint32_t hash)
{
    ngx_str_node_t  *sn;

    sn = ngx_str_rbtree_lookup(&zone->sh->rbtree, addr, hash);

    return (ngx_http_q2api_admin_peer_t *) sn;
}


static void
ngx_http_q2api_admin_peer_free(ngx_http_q2api_admin_zone_t *zone,
    ngx_http_q2api_admin_peer_t *p)
{
    ngx_queue_remove(&p->lru);
    ngx_rbtree_delete(&zone->sh->rbtree, &p->sn.node);
    ngx_slab_free_locked(zone->shpool, p);
}


/* a little expiry on every visit keeps the table small */
static void
ngx_http_q2api_admin_peer_expire(ngx_http_q2api_admin_zone_t *zone,
    time_t now)
{
    ngx_uint_t                    i;
    ngx_queue_t                  *q;
    ngx_http_q2api_admin_peer_t  *p;

    for (i = 0; i < 2 && !ngx_queue_empty(&zone->sh->lru); i++) {
        q = ngx_queue_last(&zone->sh->lru);
        p = ngx_queue_data(q, ngx_http_q2api_admin_peer_t, lru);

        if (p->locked_until > now
            || now - p->last < NGX_HTTP_Q2API_ADMIN_FORGIVE)
        {
            return;
        }

        ngx_http_q2api_admin_peer_free(zone, p);
    }
}


/* 0, or the seconds until this client may try a password again */
time_t
ngx_http_q2api_admin_locked(ngx_http_request_t *r)
{
    u_char                        key[16];
    size_t                        len;
    time_t                        now, left;
    uint32_t                      hash;
    ngx_str_t                     addr;
    ngx_http_q2api_admin_peer_t  *p;
    ngx_http_q2api_admin_zone_t  *zone;

    zone = ngx_http_q2api_admin_zone(r);
    len = ngx_http_q2api_admin_peer_key(r, key);
    hash = ngx_crc32_short(key, len);
    addr.data = key;
    addr.len = len;
    now = ngx_time();
    left = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    p = ngx_http_q2api_admin_peer_lookup(zone, &addr, hash);

    if (p != NULL && p->locked_until > now) {
        left = p->locked_until - now;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return left;
}


/*
 * One more failure from this client.  Every max_failures failures lock it
 * out, for "lockout" seconds, doubling with each lockout in a row up to an
 * hour.  Returns the lockout this failure started, or 0.
 */
time_t
ngx_http_q2api_admin_failed(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf)
{
    u_char                        key[16];
    size_t                        len;
    time_t                        now, lock;
    uint32_t                      hash;
    ngx_str_t                     addr;
    ngx_uint_t                    i;
    ngx_queue_t                  *q;
    ngx_http_q2api_admin_peer_t  *p;
    ngx_http_q2api_admin_zone_t  *zone;

    if (alcf->max_failures == 0) {
        return 0;
    }

    zone = ngx_http_q2api_admin_zone(r);
    len = ngx_http_q2api_admin_peer_key(r, key);
    hash = ngx_crc32_short(key, len);
    addr.data = key;
    addr.len = len;
    now = ngx_time();
    lock = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_q2api_admin_peer_expire(zone, now);

    p = ngx_http_q2api_admin_peer_lookup(zone, &addr, hash);

    if (p == NULL) {
        p = ngx_slab_calloc_locked(zone->shpool,
                                   sizeof(ngx_http_q2api_admin_peer_t));

        for (i = 0; p == NULL && i < 30 && !ngx_queue_empty(&zone->sh->lru);
             i++)
        {
            /* the table is full: the oldest entries make room */
            q = ngx_queue_last(&zone->sh->lru);
            ngx_http_q2api_admin_peer_free(zone,
                ngx_queue_data(q, ngx_http_q2api_admin_peer_t, lru));

            p = ngx_slab_calloc_locked(zone->shpool,
                                       sizeof(ngx_http_q2api_admin_peer_t));
        }

        if (p == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "q2api admin: no room in the admin zone to count "
                          "a failure");
            return 0;
        }

        ngx_memcpy(p->addr, key, len);
        p->sn.str.data = p->addr;
        p->sn.str.len = len;
        p->sn.node.key = hash;
        ngx_rbtree_insert(&zone->sh->rbtree, &p->sn.node);

    } else {
        ngx_queue_remove(&p->lru);

        if (now - p->last >= NGX_HTTP_Q2API_ADMIN_FORGIVE) {
            p->strikes = 0;
        }

        if (now - p->last >= NGX_HTTP_Q2API_ADMIN_FORGET) {
            p->failures = 0;
        }
    }

    ngx_queue_insert_head(&zone->sh->lru, &p->lru);

    p->last = now;

    if (++p->failures >= alcf->max_failures) {
        lock = alcf->lockout << ngx_min(p->strikes, 6);
        lock = ngx_min(lock, NGX_HTTP_Q2API_ADMIN_LOCK_MAX);

        p->locked_until = now + lock;
        p->strikes++;
        p->failures = 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (lock) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api admin: %ui failed authentications, password "
                      "attempts from this client refused for %T s",
                      alcf->max_failures, lock);
    }

    return lock;
}


void
ngx_http_q2api_admin_succeeded(ngx_http_request_t *r)
{
    u_char                        key[16];
    size_t                        len;
    uint32_t                      hash;
    ngx_str_t                     addr;
    ngx_http_q2api_admin_peer_t  *p;
    ngx_http_q2api_admin_zone_t  *zone;

    zone = ngx_http_q2api_admin_zone(r);
    len = ngx_http_q2api_admin_peer_key(r, key);
    hash = ngx_crc32_short(key, len);
    addr.data = key;
    addr.len = len;

    ngx_shmtx_lock(&zone->shpool->mutex);

    p = ngx_http_q2api_admin_peer_lookup(zone, &addr, hash);

    if (p != NULL) {
        ngx_http_q2api_admin_peer_free(zone, p);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}
