/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Authentication of the admin API: the password (kept as its SHA-256),
 * signed expiring session tokens, and the slow-down of repeated failures.
 *
 * A session token is "q2a1.<expires>.<nonce>.<mac>", the mac being
 * HMAC-SHA256 over the rest with a key derived from a master secret and
 * the password's digest.  The master secret is q2api_admin_secret when
 * set (tokens then survive restarts and are valid on every node sharing
 * the setting), else 32 random bytes drawn once in the admin zone (the
 * same for every worker, kept across reloads, new at each start).  Since
 * the password is part of the key, changing it ends every session.
 *
 * Failures are counted per client address (an IPv6 client by its /64) in
 * the same small zone, so an attacker gains nothing by spreading attempts
 * over connections that land on other workers.
 */


#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ngx_http_q2api_admin.h"


#define NGX_HTTP_Q2API_ADMIN_ZONE_SIZE   (256 * 1024)
#define NGX_HTTP_Q2API_ADMIN_FORGET      900      /* failures, s idle */
#define NGX_HTTP_Q2API_ADMIN_FORGIVE     3600     /* lockouts, s idle */
#define NGX_HTTP_Q2API_ADMIN_LOCK_MAX    3600

#define NGX_HTTP_Q2API_TOKEN_PREFIX      "q2a1."
#define NGX_HTTP_Q2API_TOKEN_NONCE       8        /* bytes, 16 hex */
#define NGX_HTTP_Q2API_TOKEN_MAC         43       /* base64url of 32 */


typedef struct {
    ngx_rbtree_node_t          node;          /* key: crc32 of addr */
    ngx_queue_t                lru;
    time_t                     last;          /* last failure */
    time_t                     locked_until;
    ngx_uint_t                 failures;      /* since the last lockout */
    ngx_uint_t                 strikes;       /* lockouts in a row */
    size_t                     len;
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
static void ngx_http_q2api_admin_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_q2api_admin_zone_t *ngx_http_q2api_admin_zone(
    ngx_http_request_t *r);
static size_t ngx_http_q2api_admin_peer_key(ngx_http_request_t *r,
    u_char *key);
static ngx_http_q2api_admin_peer_t *ngx_http_q2api_admin_peer_lookup(
    ngx_http_q2api_admin_zone_t *zone, u_char *key, size_t len,
    uint32_t hash);
static void ngx_http_q2api_admin_peer_expire(
    ngx_http_q2api_admin_zone_t *zone, time_t now);
static time_t ngx_http_q2api_admin_locked(ngx_http_request_t *r);
static time_t ngx_http_q2api_admin_failed(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf);
static void ngx_http_q2api_admin_succeeded(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_session_key(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *key);
static ngx_int_t ngx_http_q2api_admin_mac(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *data, size_t len,
    u_char *out);
static ngx_int_t ngx_http_q2api_admin_verify(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *token);
static ngx_uint_t ngx_http_q2api_admin_password_ok(
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *password);
static ngx_int_t ngx_http_q2api_admin_credential(ngx_http_request_t *r,
    ngx_str_t *cred);


static ngx_str_t  ngx_http_q2api_admin_zone_name = ngx_string("q2api_admin");


/* configuration --------------------------------------------------------- */


/*
 * q2api_admin_password secret | {PLAIN}secret | {SHA256}base64;
 * only the SHA-256 of the password is kept.
 */
char *
ngx_http_q2api_admin_password(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_admin_loc_conf_t *alcf = conf;

    u_char      buf[NGX_HTTP_Q2API_ADMIN_DIGEST_LEN + 4];
    ngx_str_t  *value, v, decoded;

    if (alcf->has_password != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];

#define q2api_scheme(lit)                                                  \
    (v.len >= sizeof(lit) - 1                                              \
     && ngx_strncasecmp(v.data, (u_char *) lit, sizeof(lit) - 1) == 0)

    if (q2api_scheme("{SHA256}")) {
        v.data += sizeof("{SHA256}") - 1;
        v.len -= sizeof("{SHA256}") - 1;

        if (ngx_base64_decoded_length(v.len) > sizeof(buf)) {
            goto bad_hash;
        }

        decoded.data = buf;

        if (ngx_decode_base64(&decoded, &v) != NGX_OK
            || decoded.len != NGX_HTTP_Q2API_ADMIN_DIGEST_LEN)
        {
            goto bad_hash;
        }

        ngx_memcpy(alcf->digest, buf, NGX_HTTP_Q2API_ADMIN_DIGEST_LEN);
        alcf->has_password = 1;

        return NGX_CONF_OK;
    }

    if (q2api_scheme("{PLAIN}")) {
        v.data += sizeof("{PLAIN}") - 1;
        v.len -= sizeof("{PLAIN}") - 1;

    } else if (v.len && v.data[0] == '{'
               && ngx_strlchr(v.data, v.data + v.len, '}') != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": unknown password scheme, use "
                           "{PLAIN} or {SHA256}", &cmd->name);
        return NGX_CONF_ERROR;
    }

#undef q2api_scheme

    if (v.len < 8) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the password must have at least "
                           "8 characters", &cmd->name);
        return NGX_CONF_ERROR;
    }

    SHA256(v.data, v.len, alcf->digest);
    alcf->has_password = 1;

    return NGX_CONF_OK;

bad_hash:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": {SHA256} must be followed by the base64 "
                       "of a 32-byte SHA-256 digest", &cmd->name);
    return NGX_CONF_ERROR;
}


/* q2api_admin_login_limit number time | off; */
char *
ngx_http_q2api_admin_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_q2api_admin_loc_conf_t *alcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (alcf->max_failures != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "off") != 0) {
            return "takes \"off\" or a number and a time";
        }

        alcf->max_failures = 0;
        alcf->lockout = 0;

        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of failures \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    alcf->max_failures = n;
    alcf->lockout = ngx_parse_time(&value[2], 1);

    if (alcf->lockout == (time_t) NGX_ERROR || alcf->lockout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lockout time \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


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
                    ngx_http_q2api_admin_rbtree_insert);
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


static void
ngx_http_q2api_admin_rbtree_insert(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t            **p;
    ngx_http_q2api_admin_peer_t   *a, *t;

    for ( ;; ) {

        if (node->key < temp->key) {
            p = &temp->left;

        } else if (node->key > temp->key) {
            p = &temp->right;

        } else {
            a = (ngx_http_q2api_admin_peer_t *) node;
            t = (ngx_http_q2api_admin_peer_t *) temp;

            p = (ngx_memn2cmp(a->addr, t->addr, a->len, t->len) < 0)
                ? &temp->left : &temp->right;
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


/* the failure table ----------------------------------------------------- */


static ngx_http_q2api_admin_zone_t *
ngx_http_q2api_admin_zone(ngx_http_request_t *r)
{
    ngx_http_q2api_admin_main_conf_t  *amcf;

    amcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_admin_module);

    return amcf->shm_zone->data;
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
    u_char *key, size_t len, uint32_t hash)
{
    ngx_int_t                     rc;
    ngx_rbtree_node_t            *node, *sentinel;
    ngx_http_q2api_admin_peer_t  *p;

    node = zone->sh->rbtree.root;
    sentinel = zone->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        p = (ngx_http_q2api_admin_peer_t *) node;

        rc = ngx_memn2cmp(key, p->addr, len, p->len);

        if (rc == 0) {
            return p;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_http_q2api_admin_peer_free(ngx_http_q2api_admin_zone_t *zone,
    ngx_http_q2api_admin_peer_t *p)
{
    ngx_queue_remove(&p->lru);
    ngx_rbtree_delete(&zone->sh->rbtree, &p->node);
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
static time_t
ngx_http_q2api_admin_locked(ngx_http_request_t *r)
{
    u_char                        key[16];
    size_t                        len;
    time_t                        now, left;
    uint32_t                      hash;
    ngx_http_q2api_admin_peer_t  *p;
    ngx_http_q2api_admin_zone_t  *zone;

    zone = ngx_http_q2api_admin_zone(r);
    len = ngx_http_q2api_admin_peer_key(r, key);
    hash = ngx_crc32_short(key, len);
    now = ngx_time();
    left = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    p = ngx_http_q2api_admin_peer_lookup(zone, key, len, hash);

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
static time_t
ngx_http_q2api_admin_failed(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf)
{
    u_char                        key[16];
    size_t                        len;
    time_t                        now, lock;
    uint32_t                      hash;
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
    now = ngx_time();
    lock = 0;

    ngx_shmtx_lock(&zone->shpool->mutex);

    ngx_http_q2api_admin_peer_expire(zone, now);

    p = ngx_http_q2api_admin_peer_lookup(zone, key, len, hash);

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
        p->len = len;
        p->node.key = hash;
        ngx_rbtree_insert(&zone->sh->rbtree, &p->node);

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


static void
ngx_http_q2api_admin_succeeded(ngx_http_request_t *r)
{
    u_char                        key[16];
    size_t                        len;
    uint32_t                      hash;
    ngx_http_q2api_admin_peer_t  *p;
    ngx_http_q2api_admin_zone_t  *zone;

    zone = ngx_http_q2api_admin_zone(r);
    len = ngx_http_q2api_admin_peer_key(r, key);
    hash = ngx_crc32_short(key, len);

    ngx_shmtx_lock(&zone->shpool->mutex);

    p = ngx_http_q2api_admin_peer_lookup(zone, key, len, hash);

    if (p != NULL) {
        ngx_http_q2api_admin_peer_free(zone, p);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* session tokens -------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_admin_session_key(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *key)
{
    u_char                        msg[64];
    u_char                       *master;
    size_t                        mlen;
    unsigned int                  len;
    ngx_http_q2api_admin_zone_t  *zone;

    if (alcf->secret.len) {
        master = alcf->secret.data;
        mlen = alcf->secret.len;

    } else {
        /* written once when the zone was made, constant since */
        zone = ngx_http_q2api_admin_zone(r);
        master = zone->sh->key;
        mlen = sizeof(zone->sh->key);
    }

    ngx_memcpy(msg, "q2api admin session v1", 22);
    ngx_memcpy(msg + 22, alcf->digest, NGX_HTTP_Q2API_ADMIN_DIGEST_LEN);

    if (HMAC(EVP_sha256(), master, (int) mlen, msg,
             22 + NGX_HTTP_Q2API_ADMIN_DIGEST_LEN, key, &len)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: HMAC() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the base64url mac of data, 43 characters into out */
static ngx_int_t
ngx_http_q2api_admin_mac(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *data, size_t len,
    u_char *out)
{
    u_char        key[32], mac[EVP_MAX_MD_SIZE];
    ngx_str_t     src, dst;
    unsigned int  n;

    if (ngx_http_q2api_admin_session_key(r, alcf, key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (HMAC(EVP_sha256(), key, sizeof(key), data, len, mac, &n) == NULL) {
        ngx_explicit_memzero(key, sizeof(key));
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: HMAC() failed");
        return NGX_ERROR;
    }

    ngx_explicit_memzero(key, sizeof(key));

    src.data = mac;
    src.len = 32;
    dst.data = out;

    ngx_encode_base64url(&dst, &src);

    return NGX_OK;
}


/*
 * NGX_OK: a genuine live token; NGX_DECLINED: not shaped like a token
 * (maybe a password); NGX_ABORT: forged or damaged; NGX_AGAIN: genuine
 * but expired; NGX_ERROR.
 */
static ngx_int_t
ngx_http_q2api_admin_verify(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *token)
{
    u_char   *p, *last, *dot, mac[NGX_HTTP_Q2API_TOKEN_MAC];
    time_t    expires;
    size_t    plen;

    plen = sizeof(NGX_HTTP_Q2API_TOKEN_PREFIX) - 1;

    if (token->len < plen + 1 + 1 + 2 * NGX_HTTP_Q2API_TOKEN_NONCE + 1
                     + NGX_HTTP_Q2API_TOKEN_MAC
        || ngx_strncmp(token->data, NGX_HTTP_Q2API_TOKEN_PREFIX, plen) != 0)
    {
        return NGX_DECLINED;
    }

    last = token->data + token->len - NGX_HTTP_Q2API_TOKEN_MAC - 1;

    if (*last != '.') {
        return NGX_DECLINED;
    }

    /* q2a1.<digits>.<16 hex> */
    p = token->data + plen;
    dot = ngx_strlchr(p, last, '.');

    if (dot == NULL || dot == p || dot - p > (ssize_t) NGX_TIME_T_LEN
        || last - dot - 1 != 2 * NGX_HTTP_Q2API_TOKEN_NONCE)
    {
        return NGX_DECLINED;
    }

    expires = ngx_atotm(p, dot - p);

    if (expires == NGX_ERROR) {
        return NGX_DECLINED;
    }

    for (p = dot + 1; p < last; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return NGX_DECLINED;
        }
    }

    if (ngx_http_q2api_admin_mac(r, alcf, token->data, last - token->data,
                                 mac)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (CRYPTO_memcmp(mac, last + 1, NGX_HTTP_Q2API_TOKEN_MAC) != 0) {
        return NGX_ABORT;
    }

    if (expires <= ngx_time()) {
        return NGX_AGAIN;
    }

    return NGX_OK;
}


/* constant time whatever the length: both sides are digests */
static ngx_uint_t
ngx_http_q2api_admin_password_ok(ngx_http_q2api_admin_loc_conf_t *alcf,
    ngx_str_t *password)
{
    u_char  digest[NGX_HTTP_Q2API_ADMIN_DIGEST_LEN];

    SHA256(password->data, password->len, digest);

    return CRYPTO_memcmp(digest, alcf->digest,
                         NGX_HTTP_Q2API_ADMIN_DIGEST_LEN) == 0;
}


/*
 * "Authorization: Bearer <token or password>" (q2api's clients send the
 * password itself), else "X-Admin-Key: <...>" (amq2api's header).
 */
static ngx_int_t
ngx_http_q2api_admin_credential(ngx_http_request_t *r, ngx_str_t *cred)
{
    ngx_str_t  v, *h;

    if (ngx_http_q2api_bearer_value(r, &v) == NGX_OK) {

        while (v.len && v.data[0] == ' ') {
            v.data++;
            v.len--;
        }

        while (v.len && v.data[v.len - 1] == ' ') {
            v.len--;
        }

        if (v.len) {
            *cred = v;
            return NGX_OK;
        }
    }

    h = ngx_http_q2api_header(r, "X-Admin-Key");

    if (h == NULL) {
        return NGX_DECLINED;
    }

    *cred = *h;

    return NGX_OK;
}


ngx_http_q2api_auth_e
ngx_http_q2api_admin_authenticate(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, time_t *retry_after)
{
    ngx_int_t  rc;
    ngx_str_t  cred;

    *retry_after = 0;

    if (ngx_http_q2api_admin_credential(r, &cred) != NGX_OK) {
        return NGX_HTTP_Q2API_AUTH_MISSING;
    }

    rc = ngx_http_q2api_admin_verify(r, alcf, &cred);

    switch (rc) {

    case NGX_OK:
        return NGX_HTTP_Q2API_AUTH_OK;

    case NGX_AGAIN:
        /* genuine, just old: not an attack */
        return NGX_HTTP_Q2API_AUTH_EXPIRED;

    case NGX_ERROR:
        return NGX_HTTP_Q2API_AUTH_ERROR;

    default:
        break;
    }

    /* while a client is locked out only a valid session gets through */
    *retry_after = ngx_http_q2api_admin_locked(r);

    if (*retry_after) {
        return NGX_HTTP_Q2API_AUTH_LOCKED;
    }

    if (rc == NGX_DECLINED && ngx_http_q2api_admin_password_ok(alcf, &cred)) {
        ngx_http_q2api_admin_succeeded(r);
        return NGX_HTTP_Q2API_AUTH_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api admin: %s", rc == NGX_ABORT
                                     ? "invalid session token"
                                     : "wrong admin password");

    (void) ngx_http_q2api_admin_failed(r, alcf);

    return rc == NGX_ABORT ? NGX_HTTP_Q2API_AUTH_BAD_TOKEN
                           : NGX_HTTP_Q2API_AUTH_BAD_PASSWORD;
}


ngx_int_t
ngx_http_q2api_admin_login(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *password,
    ngx_str_t *token, time_t *expires, time_t *retry_after)
{
    u_char  *p, nonce[NGX_HTTP_Q2API_TOKEN_NONCE];
    size_t   len;

    *retry_after = ngx_http_q2api_admin_locked(r);

    if (*retry_after) {
        return NGX_BUSY;
    }

    if (!ngx_http_q2api_admin_password_ok(alcf, password)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api admin: wrong password at login");

        (void) ngx_http_q2api_admin_failed(r, alcf);

        return NGX_DECLINED;
    }

    ngx_http_q2api_admin_succeeded(r);

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: RAND_bytes() failed");
        return NGX_ERROR;
    }

    *expires = ngx_time() + alcf->session_timeout;

    len = sizeof(NGX_HTTP_Q2API_TOKEN_PREFIX) - 1 + NGX_TIME_T_LEN + 1
          + 2 * sizeof(nonce) + 1 + NGX_HTTP_Q2API_TOKEN_MAC;

    token->data = ngx_pnalloc(r->pool, len);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, NGX_HTTP_Q2API_TOKEN_PREFIX "%T.",
                    *expires);
    p = ngx_hex_dump(p, nonce, sizeof(nonce));

    if (ngx_http_q2api_admin_mac(r, alcf, token->data, p - token->data,
                                 p + 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *p++ = '.';
    token->len = p + NGX_HTTP_Q2API_TOKEN_MAC - token->data;

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: login, session until %T", *expires);

    return NGX_OK;
}
