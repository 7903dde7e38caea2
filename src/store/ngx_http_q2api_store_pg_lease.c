/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's refresh leases: the lease worker asks the
 * database, for the workers that want to refresh a token, whether this
 * node may (q2api_refresh_lease), and answers them in the zone.
 */


#include "ngx_http_q2api_store_pg.h"


/*
 * The refresh leases workers want: for each, take the lease, then read the
 * account's row (a statement of its own, so with a snapshot that sees what
 * the lease's last holder committed with its release).  Leases waiting to
 * be released make a write due now rather than at the next tick.
 * NGX_DECLINED: nothing to ask.
 */
ngx_int_t
ngx_http_q2api_pg_lease(ngx_http_q2api_pg_t *pg)
{
    ngx_str_t   *ids;
    ngx_uint_t   i, release, failed;
    ngx_pool_t  *pool;
    const char  *values[2];

    pool = ngx_create_pool(4096, pg->st->log);
    if (pool == NULL) {
        return ngx_http_q2api_pg_error(pg, "refresh lease", "out of memory");
    }

    pg->ids = ngx_array_create(pool, 4, sizeof(ngx_str_t));
    if (pg->ids == NULL) {
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "refresh lease", "out of memory");
    }

    if (ngx_http_q2api_accounts_db_lease_take(pg->st->accounts, pool,
                                              pg->ids, &release)
        != NGX_OK)
    {
        /* those taken are asked; the rest stay wanted */
        ngx_log_error(NGX_LOG_ERR, pg->st->log, 0,
                      "q2api: postgres store: out of memory taking "
                      "refresh leases");
    }

    if (release) {
        pg->want_write = 1;
    }

    if (pg->ids->nelts == 0) {
        pg->ids = NULL;
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    pg->granted = ngx_pcalloc(pool, pg->ids->nelts * sizeof(ngx_uint_t));
    if (pg->granted == NULL) {
        pg->ids = NULL;
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "refresh lease", "out of memory");
    }

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_LEASE, pool)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ids = pg->ids->elts;
    failed = 0;

    for (i = 0; i < pg->ids->nelts; i++) {

        values[0] = ngx_http_q2api_pg_cstr(pool, &ids[i], &failed);
        values[1] = (const char *) pg->node;

        if (failed) {
            return ngx_http_q2api_pg_error(pg, "refresh lease",
                                           "out of memory");
        }

        if (ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_lease_take, 2,
                                    values)
            != NGX_OK
            || ngx_http_q2api_pg_query(pg, pg->select_one, 1, values)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: asking %ui refresh leases", pg->ids->nelts);

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


ngx_int_t
ngx_http_q2api_pg_leased(ngx_http_q2api_pg_t *pg, PGresult *res,
    ngx_uint_t i)
{
    ngx_str_t                      *id;
    ngx_uint_t                      k;
    ngx_http_q2api_account_data_t   d, *row;

    k = i / 2;

    if (k >= pg->ids->nelts) {
        return ngx_http_q2api_pg_error(pg, "refresh lease",
                                       "more results than statements");
    }

    id = (ngx_str_t *) pg->ids->elts + k;

    if (i % 2 == 0) {
        pg->granted[k] = (PQntuples(res) == 1);
        return NGX_OK;
    }

    row = NULL;

    if (pg->granted[k]
        && PQntuples(res) == 1
        && (ngx_uint_t) PQnfields(res)
           == ngx_http_q2api_row_count(ngx_http_q2api_pg_select)
              + NGX_HTTP_Q2API_PG_SELECT_EXTRA
        && ngx_http_q2api_pg_account(pg, res, 0, &d, NULL) == NGX_OK)
    {
        row = &d;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: refresh lease of \"%V\": %s", id,
                   pg->granted[k] ? "granted" : "denied");

    ngx_http_q2api_accounts_db_lease_answer(pg->st->accounts, id,
                                            pg->granted[k], row);

    return NGX_OK;
}
