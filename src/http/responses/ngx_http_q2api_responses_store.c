/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The zone of stored Responses replies.  Each entry is one reply's id and
 * the items a later turn rebuilds its history from; entries are found by
 * the id's crc32 in a red-black tree and kept on a queue, newest first,
 * so that both bounds evict from its tail: the expired ones, then, when
 * the zone is full, the oldest.
 */


#include "ngx_http_q2api_responses_store.h"


typedef struct {
    ngx_str_node_t                  sn;           /* str: the id */
    ngx_queue_t                     queue;
    time_t                          expires;
    size_t                          len;          /* of the items */
    u_char                          data[1];      /* id, then items */
} ngx_http_q2api_responses_node_t;


struct ngx_http_q2api_responses_sh_s {
    ngx_rbtree_t                    rbtree;
    ngx_rbtree_node_t               sentinel;
    ngx_queue_t                     queue;
};


static ngx_int_t ngx_http_q2api_responses_init_zone(
    ngx_shm_zone_t *shm_zone, void *data);
static ngx_int_t ngx_http_q2api_responses_add_zone(ngx_conf_t *cf,
    ngx_http_q2api_responses_t *st, size_t size);
static void ngx_http_q2api_responses_free(ngx_http_q2api_responses_t *st,
    ngx_http_q2api_responses_node_t *n);
static void ngx_http_q2api_responses_expire(ngx_http_q2api_responses_t *st,
    time_t now);


static ngx_str_t  ngx_http_q2api_responses_zone_name =
    ngx_string("q2api_responses");


extern ngx_module_t  ngx_http_q2api_module;


char *
ngx_http_q2api_responses_store_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ssize_t                       size;
    time_t                        time;
    ngx_str_t                    *value;
    ngx_http_q2api_responses_t  **field, *st;

    field = (ngx_http_q2api_responses_t **) (p + cmd->offset);

    if (*field != NULL) {
        return "is duplicate";
    }

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_responses_t));
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    *field = st;
    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        if (cf->args->nelts > 2) {
            return "takes no time with \"off\"";
        }

        return NGX_CONF_OK;
    }

    size = ngx_parse_size(&value[1]);

    if (size == NGX_ERROR || size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid responses store size \"%V\", it must "
                           "be \"off\" or at least %uz bytes", &value[1],
                           8 * ngx_pagesize);
        return NGX_CONF_ERROR;
    }

    st->time = NGX_HTTP_Q2API_RESPONSES_TIME;

    if (cf->args->nelts > 2) {
        time = ngx_parse_time(&value[2], 1);

        if (time == (time_t) NGX_ERROR || time == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid responses store time \"%V\"",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        st->time = time;
    }

    if (ngx_http_q2api_responses_add_zone(cf, st, size) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_q2api_responses_store_conf(ngx_conf_t *cf,
    ngx_http_q2api_responses_t **store, ngx_uint_t used)
{
    ngx_http_q2api_responses_t  *st;

    if (*store != NULL || !used) {
        return NGX_OK;
    }

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_responses_t));
    if (st == NULL) {
        return NGX_ERROR;
    }

    st->time = NGX_HTTP_Q2API_RESPONSES_TIME;
    *store = st;

    return ngx_http_q2api_responses_add_zone(cf, st,
                                             NGX_HTTP_Q2API_RESPONSES_SIZE);
}


static ngx_int_t
ngx_http_q2api_responses_add_zone(ngx_conf_t *cf,
    ngx_http_q2api_responses_t *st, size_t size)
{
    /* one reply may take an eighth: a huge one must not empty the zone */
    st->max = size / 8;

    st->shm_zone = ngx_shared_memory_add(cf,
                                         &ngx_http_q2api_responses_zone_name,
                                         size, &ngx_http_q2api_module);
    if (st->shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (st->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used",
                           &ngx_http_q2api_responses_zone_name);
        return NGX_ERROR;
    }

    st->shm_zone->init = ngx_http_q2api_responses_init_zone;
    st->shm_zone->data = st;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_responses_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_q2api_responses_t  *ost = data;

    ngx_http_q2api_responses_t     *st;
    ngx_http_q2api_responses_sh_t  *sh;

    st = shm_zone->data;

    if (ost) {
        /* a reload keeps what was stored */
        st->sh = ost->sh;
        st->shpool = ost->shpool;
        return NGX_OK;
    }

    st->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        st->sh = st->shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_alloc(st->shpool, sizeof(ngx_http_q2api_responses_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_rbtree_init(&sh->rbtree, &sh->sentinel, ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->queue);

    st->sh = sh;
    st->shpool->data = sh;

    st->shpool->log_nomem = 0;

    return NGX_OK;
}


static void
ngx_http_q2api_responses_free(ngx_http_q2api_responses_t *st,
    ngx_http_q2api_responses_node_t *n)
{
    ngx_rbtree_delete(&st->sh->rbtree, &n->sn.node);
    ngx_queue_remove(&n->queue);
    ngx_slab_free_locked(st->shpool, n);
}


/* the queue is newest first: the expired ones are at its tail */
static void
ngx_http_q2api_responses_expire(ngx_http_q2api_responses_t *st, time_t now)
{
    ngx_queue_t                      *q;
    ngx_http_q2api_responses_node_t  *n;

    while (!ngx_queue_empty(&st->sh->queue)) {
        q = ngx_queue_last(&st->sh->queue);
        n = ngx_queue_data(q, ngx_http_q2api_responses_node_t, queue);

        if (n->expires > now) {
            return;
        }

        ngx_http_q2api_responses_free(st, n);
    }
}


ngx_int_t
ngx_http_q2api_responses_find(ngx_http_q2api_responses_t *st, ngx_str_t *id,
    ngx_pool_t *pool, ngx_str_t *items)
{
    uint32_t                          hash;
    ngx_int_t                         rc;
    ngx_http_q2api_responses_node_t  *n;

    if (st == NULL || st->shm_zone == NULL) {
        return NGX_DECLINED;
    }

    hash = ngx_crc32_short(id->data, id->len);
    rc = NGX_DECLINED;

    ngx_shmtx_lock(&st->shpool->mutex);

    ngx_http_q2api_responses_expire(st, ngx_time());

    n = (ngx_http_q2api_responses_node_t *)
        ngx_str_rbtree_lookup(&st->sh->rbtree, id, hash);

    if (n != NULL) {
        items->len = n->len;
        items->data = ngx_pnalloc(pool, n->len);

        if (items->data == NULL) {
            rc = NGX_ERROR;

        } else {
            ngx_memcpy(items->data, n->data + id->len, n->len);
            rc = NGX_OK;
        }
    }

    ngx_shmtx_unlock(&st->shpool->mutex);

    return rc;
}


ngx_int_t
ngx_http_q2api_responses_save(ngx_http_q2api_responses_t *st, ngx_str_t *id,
    ngx_str_t *history, ngx_str_t *items, ngx_log_t *log)
{
    u_char                           *p;
    size_t                            len, size;
    time_t                            now;
    ngx_uint_t                        i, join;
    ngx_queue_t                      *q;
    ngx_http_q2api_responses_node_t  *n;

    if (st == NULL || st->shm_zone == NULL) {
        return NGX_OK;
    }

    /* [history...] + [items...] as one array */
    join = history->len > 2 && items->len > 2;
    len = history->len > 2 ? history->len + items->len - 2 + join
                           : items->len;

    if (len > st->max) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "q2api: response \"%V\" not stored, its %uz bytes "
                      "exceed an eighth of q2api_responses_store's zone",
                      id, len);
        return NGX_DECLINED;
    }

    size = offsetof(ngx_http_q2api_responses_node_t, data) + id->len + len;
    now = ngx_time();

    ngx_shmtx_lock(&st->shpool->mutex);

    ngx_http_q2api_responses_expire(st, now);

    n = ngx_slab_alloc_locked(st->shpool, size);

    for (i = 0; n == NULL && i < 64 && !ngx_queue_empty(&st->sh->queue);
         i++)
    {
        /* the zone is full: the oldest make room */
        q = ngx_queue_last(&st->sh->queue);
        ngx_http_q2api_responses_free(st,
            ngx_queue_data(q, ngx_http_q2api_responses_node_t, queue));

        n = ngx_slab_alloc_locked(st->shpool, size);
    }

    if (n == NULL) {
        ngx_shmtx_unlock(&st->shpool->mutex);
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "q2api: no room in the \"%V\" zone to store response "
                      "\"%V\"", &ngx_http_q2api_responses_zone_name, id);
        return NGX_DECLINED;
    }

    p = ngx_cpymem(n->data, id->data, id->len);

    if (history->len > 2) {
        p = ngx_cpymem(p, history->data, history->len - 1);

        if (join) {
            *p++ = ',';
        }

        ngx_memcpy(p, items->data + 1, items->len - 1);

    } else {
        ngx_memcpy(p, items->data, items->len);
    }

    n->len = len;
    n->expires = now + st->time;
    n->sn.str.data = n->data;
    n->sn.str.len = id->len;
    n->sn.node.key = ngx_crc32_short(id->data, id->len);

    ngx_rbtree_insert(&st->sh->rbtree, &n->sn.node);
    ngx_queue_insert_head(&st->sh->queue, &n->queue);

    ngx_shmtx_unlock(&st->shpool->mutex);

    return NGX_OK;
}
