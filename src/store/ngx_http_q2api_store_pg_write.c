/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's writes: the dirty accounts in one transaction,
 * each row's configuration and state only when they changed here, its
 * counters as deltas, and a write whose COMMIT went unanswered resolved
 * before anything else is written, so that nothing counts twice.
 */


#include "ngx_http_q2api_store_pg.h"
#include "ngx_http_q2api_seal.h"
#include "ngx_http_q2api_metrics.h"


static ngx_int_t ngx_http_q2api_pg_put(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_account_data_t *d, ngx_http_q2api_pg_put_t *put);


/*
 * The dirty accounts in one transaction, in two round trips: BEGIN and
 * txid_current() first, so that the transaction's id is known before its
 * COMMIT is sent, then the rows and COMMIT.  NOTIFY is transactional: the
 * other hosts hear of the rows when they are committed.  NGX_DECLINED:
 * nothing to write.
 */
ngx_int_t
ngx_http_q2api_pg_write(ngx_http_q2api_pg_t *pg)
{
    ngx_pool_t                 *pool;
    ngx_http_q2api_store_t     *st;
    ngx_http_q2api_pg_batch_t  *b;

    st = pg->st;

    pool = ngx_create_pool(4096, st->log);
    if (pool == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    b = ngx_pcalloc(pool, sizeof(ngx_http_q2api_pg_batch_t));
    if (b == NULL) {
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    b->pool = pool;

    b->taken = ngx_array_create(pool, 16,
                                sizeof(ngx_http_q2api_account_data_t));
    if (b->taken == NULL) {
        ngx_destroy_pool(pool);
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    if (ngx_http_q2api_accounts_take_dirty_n(st->accounts, pool, b->taken,
                                             NGX_HTTP_Q2API_PG_BATCH)
        != NGX_OK)
    {
        pg->batch = b;
        ngx_http_q2api_pg_batch_return(pg, &pg->batch);
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    if (b->taken->nelts == 0) {
        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    /* from here on, closing the connection gives them back */
    pg->batch = b;

    if (b->taken->nelts == NGX_HTTP_Q2API_PG_BATCH) {
        /* more wait: the next batch follows this one's COMMIT */
        pg->want_write = 1;
    }

    b->puts = ngx_pcalloc(pool,
                          b->taken->nelts * sizeof(ngx_http_q2api_pg_put_t));
    if (b->puts == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_XID, NULL)
        != NGX_OK
        || ngx_http_q2api_pg_query(pg, "BEGIN", 0, NULL) != NGX_OK
        || ngx_http_q2api_pg_query(pg, "SELECT txid_current()", 0, NULL)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, st->log, 0,
                   "q2api pg: writing %ui accounts", b->taken->nelts);

    return ngx_http_q2api_pg_send(pg, pg->closing
                                      ? NGX_HTTP_Q2API_PG_FINAL_TIMEOUT
                                      : NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


ngx_int_t
ngx_http_q2api_pg_write_rows(ngx_http_q2api_pg_t *pg)
{
    ngx_uint_t                      i, failed;
    const char                     *values[2];
    ngx_http_q2api_pg_batch_t      *b;
    ngx_http_q2api_account_data_t  *d;

    b = pg->batch;
    failed = 0;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_WRITE, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    d = b->taken->elts;

    for (i = 0; i < b->taken->nelts; i++) {
        if (ngx_http_q2api_pg_put(pg, &d[i], &b->puts[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /*
     * A refresh lease goes in the transaction that writes the new token:
     * whoever takes it next reads that token, never the one before.
     */
    b->nrelease = 0;

    for (i = 0; i < b->taken->nelts; i++) {
        if (!d[i].db_lease_release) {
            continue;
        }

        values[0] = ngx_http_q2api_pg_cstr(pg->job_pool, &d[i].id, &failed);
        values[1] = (const char *) pg->node;

        if (failed) {
            return ngx_http_q2api_pg_error(pg, "write", "out of memory");
        }

        if (ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_lease_release, 2,
                                    values)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        b->nrelease++;
    }

    if (ngx_http_q2api_pg_query(pg, "COMMIT", 0, NULL) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_pg_send(pg, pg->closing
                                      ? NGX_HTTP_Q2API_PG_FINAL_TIMEOUT
                                      : NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}



static ngx_int_t
ngx_http_q2api_pg_put(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_account_data_t *d, ngx_http_q2api_pg_put_t *put)
{
    ngx_uint_t                      k, failed, known;
    ngx_pool_t                     *pool;
    const char                     *v[NGX_HTTP_Q2API_PG_UPSERT_PARAMS];
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_row_field_e     *f;
    ngx_http_q2api_account_data_t   w;

    pool = pg->job_pool;
    failed = 0;

    if (d->deleted) {
        v[0] = ngx_http_q2api_pg_cstr(pool, &d->id, &failed);
        v[1] = (const char *) pg->node;

        if (failed) {
            return ngx_http_q2api_pg_error(pg, "write", "out of memory");
        }

        return ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_delete, 2, v);
    }

    row = ngx_http_q2api_pg_row_get(pg, &d->id, 0);
    known = (row != NULL);

    put->config = ngx_http_q2api_pg_digest_config(d);
    put->state = ngx_http_q2api_pg_digest_state(d);
    put->write_config = !known || row->config != put->config;
    put->write_state = !known || row->state != put->state;

    /* the row as written: the counters are this host's deltas, which the
     * statement adds to the totals */
    w = *d;
    w.created_at = d->created_at ? d->created_at : ngx_time();
    w.updated_at = ngx_time();
    w.successes = d->d_successes;
    w.errors = d->d_errors;
    w.tokens_in = d->d_tokens_in;
    w.tokens_out = d->d_tokens_out;

    if (pg->st->seal
        && ngx_http_q2api_seal_row(pg->st->seal, pool, &w) != NGX_OK)
    {
        return ngx_http_q2api_pg_error(pg, "write",
                                       "sealing the credentials failed");
    }

    f = ngx_http_q2api_pg_upsert_fields;

    for (k = 0; f[k] != NGX_HTTP_Q2API_ROW_END; k++) {
        if (ngx_http_q2api_row_text(pool, f[k], &w, &v[k]) != NGX_OK) {
            return ngx_http_q2api_pg_error(pg, "write", "out of memory");
        }
    }

    v[25] = put->write_config ? "t" : "f";
    v[26] = put->write_state ? "t" : "f";

    /* the latest error is the one this host just saw */
    v[27] = (put->write_state || d->d_errors) ? "t" : "f";
    v[28] = known ? "f" : "t";
    v[29] = (const char *) pg->node;

    return ngx_http_q2api_pg_query(pg, ngx_http_q2api_pg_upsert,
                                   NGX_HTTP_Q2API_PG_UPSERT_PARAMS, v);
}


/* the batch is committed: remember what the rows hold now */
void
ngx_http_q2api_pg_written(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t *batch)
{
    ngx_uint_t                      i;
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_pg_put_t        *put;
    ngx_http_q2api_account_data_t  *d;

    ngx_http_q2api_metrics_store(1, 1);

    d = batch->taken->elts;
    put = batch->puts;

    for (i = 0; i < batch->taken->nelts; i++) {

        if (d[i].deleted || put[i].gone) {
            /* deleted here, or elsewhere before this write */
            if (put[i].gone) {
                (void) ngx_http_q2api_accounts_remove(pg->st->accounts,
                                                      &d[i].id);
            }

            ngx_http_q2api_pg_row_delete(pg, &d[i].id);
            continue;
        }

        row = ngx_http_q2api_pg_row_get(pg, &d[i].id, 1);
        if (row == NULL) {
            /* the next load fills it in; until then config is rewritten */
            continue;
        }

        if (put[i].write_config) {
            row->config = put[i].config;
        }

        if (put[i].write_state) {
            row->state = put[i].state;
        }

        row->seen = pg->generation;
    }
}


/* asks whether the interrupted write committed */
ngx_int_t
ngx_http_q2api_pg_resolve_write(ngx_http_q2api_pg_t *pg)
{
    u_char      *p;
    const char  *values[1];

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_RESOLVE, NULL)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(pg->job_pool, NGX_INT64_LEN + 1);
    if (p == NULL) {
        return ngx_http_q2api_pg_error(pg, "write", "out of memory");
    }

    *ngx_sprintf(p, "%uL", pg->unsure->xid) = '\0';
    values[0] = (const char *) p;

    if (ngx_http_q2api_pg_query(pg, "SELECT txid_status($1::bigint)", 1,
                                values)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    pg->unsure_checked = ngx_current_msec;

    return ngx_http_q2api_pg_send(pg, pg->closing
                                      ? NGX_HTTP_Q2API_PG_FINAL_TIMEOUT
                                      : NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


ngx_int_t
ngx_http_q2api_pg_resolved(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    ngx_str_t  s;

    s.len = 0;

    if (PQntuples(res) == 1) {
        ngx_http_q2api_pg_value(res, 0, 0, &s);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: transaction %uL: \"%V\"", pg->unsure->xid, &s);

    if (s.len == 9 && ngx_strncmp(s.data, "committed", 9) == 0) {
        ngx_http_q2api_pg_written(pg, pg->unsure);
        ngx_destroy_pool(pg->unsure->pool);
        pg->unsure = NULL;
        return NGX_OK;
    }

    if (s.len == 11 && ngx_strncmp(s.data, "in progress", 11) == 0
        && !pg->closing)
    {
        /* its session has not ended yet: ask again later */
        return NGX_OK;
    }

    /* aborted, or too old to know: it did not count */
    ngx_http_q2api_pg_batch_return(pg, &pg->unsure);

    return NGX_OK;
}
