/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The pool counted by kind and state, for metrics and the status route.
 * A scrape or a sample a minute pays one pass over the accounts; requests
 * never call it.
 */


#include "ngx_http_q2api_accounts_zone.h"


void
ngx_http_q2api_accounts_census(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_census_t *c)
{
    ngx_uint_t                     i, kind, state;
    ngx_queue_t                   *q;
    ngx_rbtree_node_t             *node;
    ngx_http_q2api_account_t      *a;
    ngx_http_q2api_accounts_sh_t  *sh;

    ngx_memzero(c, sizeof(ngx_http_q2api_census_t));

    if (accounts == NULL || accounts->sh == NULL) {
        return;
    }

    sh = accounts->sh;

    ngx_shmtx_lock(&accounts->shpool->mutex);

    for (i = 0; i < sh->nall; i++) {
        a = sh->all[i];

        if (a->deleted) {
            continue;
        }

        c->accounts++;

        kind = ngx_min(a->type, NGX_HTTP_Q2API_CENSUS_KINDS - 1);
        state = a->enabled ? ngx_min(a->status,
                                     NGX_HTTP_Q2API_CENSUS_DISABLED - 1)
                           : NGX_HTTP_Q2API_CENSUS_DISABLED;

        c->by[kind][state]++;
    }

    if (sh->cool.root != sh->cool.sentinel) {
        node = ngx_rbtree_min(sh->cool.root, sh->cool.sentinel);
        c->next_back = (time_t) node->key;
    }

    for (q = ngx_queue_head(&sh->dirty);
         q != ngx_queue_sentinel(&sh->dirty);
         q = ngx_queue_next(q))
    {
        c->dirty++;
    }

    for (q = ngx_queue_head(&sh->aff_lru);
         q != ngx_queue_sentinel(&sh->aff_lru);
         q = ngx_queue_next(q))
    {
        c->affinity++;
    }

    c->size = accounts->shm_zone->shm.size;
    c->free = accounts->shpool->pfree << ngx_pagesize_shift;

    ngx_shmtx_unlock(&accounts->shpool->mutex);
}
