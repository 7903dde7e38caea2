/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's jobs: one at a time, each a pipeline of
 * statements sent in one round trip, then its results one by one, and
 * what comes after it.
 */


#include "ngx_http_q2api_store_pg.h"
#include "ngx_http_q2api_metrics.h"


static ngx_int_t ngx_http_q2api_pg_result(ngx_http_q2api_pg_t *pg,
    PGresult *res, ngx_uint_t i);
static ngx_int_t ngx_http_q2api_pg_done(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_job_e job);


ngx_int_t
ngx_http_q2api_pg_begin(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_job_e job, ngx_pool_t *pool)
{
    if (pool == NULL) {
        pool = ngx_create_pool(4096, pg->st->log);
        if (pool == NULL) {
            return ngx_http_q2api_pg_error(pg, ngx_http_q2api_pg_job_name(job),
                                           "out of memory");
        }
    }

    pg->job = job;
    pg->job_pool = pool;
    pg->nstmt = 0;
    pg->cur = 0;
    pg->sql_error = 0;

    if (!PQenterPipelineMode(pg->conn)) {
        return ngx_http_q2api_pg_error(pg, ngx_http_q2api_pg_job_name(job),
                                       PQerrorMessage(pg->conn));
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_pg_query(ngx_http_q2api_pg_t *pg, const char *sql, int n,
    const char *const *values)
{
    if (!PQsendQueryParams(pg->conn, sql, n, NULL, values, NULL, NULL, 0)) {
        return ngx_http_q2api_pg_error(pg,
                                       ngx_http_q2api_pg_job_name(pg->job),
                                       PQerrorMessage(pg->conn));
    }

    pg->nstmt++;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_pg_send(ngx_http_q2api_pg_t *pg, ngx_msec_t timeout)
{
    if (!PQpipelineSync(pg->conn)) {
        return ngx_http_q2api_pg_error(pg,
                                       ngx_http_q2api_pg_job_name(pg->job),
                                       PQerrorMessage(pg->conn));
    }

    if (pg->timer.timer_set) {
        ngx_del_timer(&pg->timer);
    }

    ngx_add_timer(&pg->timer, timeout);

    return ngx_http_q2api_pg_flush(pg);
}


/*
 * The results of a pipeline: for each statement its result and a NULL,
 * then PGRES_PIPELINE_SYNC.  The first error ends the connection (an
 * explicit transaction that failed stays aborted until it is closed).
 */
ngx_int_t
ngx_http_q2api_pg_results(ngx_http_q2api_pg_t *pg)
{
    ngx_int_t                 rc;
    PGresult                 *res;
    ExecStatusType            status;
    ngx_http_q2api_pg_job_e   job;

    if (pg->load_res) {
        /* a full load half applied: its next part first */
        rc = ngx_http_q2api_pg_load_more(pg);

        if (rc != NGX_OK) {
            return (rc == NGX_AGAIN) ? NGX_OK : NGX_ERROR;
        }
    }

    while (pg->job != NGX_HTTP_Q2API_PG_JOB_NONE && !PQisBusy(pg->conn)) {

        res = PQgetResult(pg->conn);

        if (res == NULL) {
            if (++pg->cur > pg->nstmt) {
                return ngx_http_q2api_pg_error(pg,
                           ngx_http_q2api_pg_job_name(pg->job),
                           "more results than statements");
            }

            continue;
        }

        status = PQresultStatus(res);

        switch (status) {

        case PGRES_PIPELINE_SYNC:
            PQclear(res);

            if (!PQexitPipelineMode(pg->conn)) {
                return ngx_http_q2api_pg_error(pg,
                           ngx_http_q2api_pg_job_name(pg->job),
                           PQerrorMessage(pg->conn));
            }

            if (pg->timer.timer_set) {
                ngx_del_timer(&pg->timer);
            }

            job = pg->job;
            pg->job = NGX_HTTP_Q2API_PG_JOB_NONE;

            rc = ngx_http_q2api_pg_done(pg, job);

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }

            if (rc == NGX_DONE) {
                /* closed after the last write */
                return NGX_OK;
            }

            continue;

        case PGRES_COMMAND_OK:
        case PGRES_TUPLES_OK:

            if (pg->job == NGX_HTTP_Q2API_PG_JOB_LOAD) {
                /* the load keeps res while it is applied in parts */
                rc = ngx_http_q2api_pg_loaded(pg, res);

                if (rc != NGX_OK) {
                    return (rc == NGX_AGAIN) ? NGX_OK : NGX_ERROR;
                }

                continue;
            }

            rc = ngx_http_q2api_pg_result(pg, res, pg->cur);
            PQclear(res);

            if (rc != NGX_OK) {
                return NGX_ERROR;
            }

            continue;

        default:
            rc = ngx_http_q2api_pg_result_error(pg, res);
            PQclear(res);
            return rc;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_pg_result(ngx_http_q2api_pg_t *pg, PGresult *res,
    ngx_uint_t i)
{
    switch (pg->job) {

    case NGX_HTTP_Q2API_PG_JOB_SCHEMA:
        /* BEGIN, lock, CREATE, CREATE lease, columns, LISTEN, COMMIT */
        return (i == 4) ? ngx_http_q2api_pg_columns(pg, res) : NGX_OK;

    case NGX_HTTP_Q2API_PG_JOB_FETCH:
        return ngx_http_q2api_pg_fetched(pg, res,
                                         (ngx_str_t *) pg->ids->elts + i);

    case NGX_HTTP_Q2API_PG_JOB_XID:
        /* BEGIN, txid_current() */
        if (i == 1) {
            if (PQntuples(res) != 1) {
                return ngx_http_q2api_pg_error(pg, "write",
                                               "no transaction id");
            }

            pg->batch->xid = ngx_http_q2api_pg_int(res, 0, 0);
        }

        return NGX_OK;

    case NGX_HTTP_Q2API_PG_JOB_WRITE:
        /* one statement per account, COMMIT */
        if (i < pg->batch->taken->nelts) {
            pg->batch->puts[i].gone = (PQntuples(res) == 0);
            return NGX_OK;
        }

        if (i < pg->batch->taken->nelts + pg->batch->nrelease) {
            /* a refresh lease released */
            return NGX_OK;
        }

        /* COMMIT is through */
        ngx_http_q2api_pg_written(pg, pg->batch);
        ngx_destroy_pool(pg->batch->pool);
        pg->batch = NULL;
        return NGX_OK;

    case NGX_HTTP_Q2API_PG_JOB_RESOLVE:
        return ngx_http_q2api_pg_resolved(pg, res);

    case NGX_HTTP_Q2API_PG_JOB_LEASE:
        return ngx_http_q2api_pg_leased(pg, res, i);

    default:
        return NGX_OK;
    }
}


static ngx_int_t
ngx_http_q2api_pg_done(ngx_http_q2api_pg_t *pg, ngx_http_q2api_pg_job_e job)
{
    ngx_http_q2api_store_t  *st;

    if (pg->job_pool) {
        ngx_destroy_pool(pg->job_pool);
        pg->job_pool = NULL;
    }

    pg->ids = NULL;
    pg->granted = NULL;

    switch (job) {

    case NGX_HTTP_Q2API_PG_JOB_SCHEMA:
        if (pg->missing) {
            return ngx_http_q2api_pg_migrate(pg);
        }

        /* fall through */

    case NGX_HTTP_Q2API_PG_JOB_MIGRATE:
        if (pg->unsure) {
            /* before the load, so that it sees what the write did */
            return ngx_http_q2api_pg_resolve_write(pg);
        }

        return ngx_http_q2api_pg_start_load(pg);

    case NGX_HTTP_Q2API_PG_JOB_RESOLVE:
        if (pg->state == NGX_HTTP_Q2API_PG_SETUP) {
            return ngx_http_q2api_pg_start_load(pg);
        }

        break;

    case NGX_HTTP_Q2API_PG_JOB_XID:
        /* the transaction is open and its id known: now the rows */
        return ngx_http_q2api_pg_write_rows(pg);

    case NGX_HTTP_Q2API_PG_JOB_LOAD:

        if (pg->state == NGX_HTTP_Q2API_PG_SETUP) {
            st = pg->st;
            pg->state = NGX_HTTP_Q2API_PG_READY;
            ngx_http_q2api_metrics_store(1, 0);
            pg->backoff = NGX_HTTP_Q2API_PG_BACKOFF_MIN;

            if (st->failing) {
                ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                              "q2api: postgres store is back, %ui accounts",
                              ngx_http_q2api_accounts_size(st->accounts));
                st->failing = 0;

            } else if (!pg->ready_once) {
                ngx_log_error(NGX_LOG_INFO, st->log, 0,
                              "q2api: postgres store ready, %ui accounts",
                              ngx_http_q2api_accounts_size(st->accounts));
            }

            pg->ready_once = 1;

            ngx_http_q2api_accounts_db_lease_up(st->accounts, 1);
        }

        break;

    default:
        break;
    }

    return ngx_http_q2api_pg_next(pg);
}


const char *
ngx_http_q2api_pg_job_name(ngx_http_q2api_pg_job_e job)
{
    switch (job) {

    case NGX_HTTP_Q2API_PG_JOB_SCHEMA:
    case NGX_HTTP_Q2API_PG_JOB_MIGRATE:
        return "schema";

    case NGX_HTTP_Q2API_PG_JOB_LOAD:
        return "load";

    case NGX_HTTP_Q2API_PG_JOB_FETCH:
        return "read";

    case NGX_HTTP_Q2API_PG_JOB_XID:
    case NGX_HTTP_Q2API_PG_JOB_WRITE:
    case NGX_HTTP_Q2API_PG_JOB_RESOLVE:
        return "write";

    case NGX_HTTP_Q2API_PG_JOB_LEASE:
        return "refresh lease";

    default:
        return "connect";
    }
}
