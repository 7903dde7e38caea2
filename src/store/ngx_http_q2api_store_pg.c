/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store: q2api's "accounts" table, shared by any number of
 * nginx hosts (and q2api itself).  The worker holding the store lease
 * runs one request-less libpq connection on nginx events:
 *
 *   connect -> schema (create, migrate, LISTEN) -> full load -> ready
 *
 * and, when ready, on every store tick: writes the dirty accounts (one
 * transaction; counters are added, not overwritten; each written row is
 * announced with NOTIFY q2api_accounts '<node>:<id>'), reads the rows other
 * hosts announced (at once, not at the tick), and reloads everything once
 * a minute.  Any failure closes the connection and reconnects with a
 * backoff of 1 s to 30 s; the zone keeps serving meanwhile and what was
 * counted stays in it until a write succeeds, exactly once.
 *
 * libpq never blocks here: host names are resolved at configuration time
 * into "hostaddr", the socket is an nginx connection, queries go out with
 * PQsendQueryParams in pipeline mode (a batch of statements per round
 * trip) and PQflush, and results are read with PQconsumeInput, PQisBusy
 * and PQgetResult.  PQfinish owns the socket, so the nginx connection is
 * freed without closing it.
 */


#include <openssl/rand.h>

#include "ngx_http_q2api_store_pg.h"
#include "ngx_http_q2api_metrics.h"


static ngx_int_t ngx_http_q2api_pg_load(ngx_http_q2api_store_t *st,
    ngx_uint_t reload, ngx_log_t *log);
static void ngx_http_q2api_pg_tick(ngx_http_q2api_store_t *st);
static void ngx_http_q2api_pg_stop(ngx_http_q2api_store_t *st);


ngx_http_q2api_store_ops_t  ngx_http_q2api_store_pg_ops = {
    "postgres",
    ngx_http_q2api_pg_load,
    ngx_http_q2api_pg_tick,
    ngx_http_q2api_pg_stop
};


static ngx_int_t
ngx_http_q2api_pg_load(ngx_http_q2api_store_t *st, ngx_uint_t reload,
    ngx_log_t *log)
{
    /* the master never talks to the database: the lease worker fills the
     * zone, and until it has, requests are told there is no account */
    return NGX_OK;
}


static void
ngx_http_q2api_pg_tick(ngx_http_q2api_store_t *st)
{
    u_char                rnd[8];
    ngx_int_t             rc;
    ngx_uint_t            i;
    ngx_http_q2api_pg_t  *pg;

    pg = st->data;

    if (!pg->inited) {
        /* this process's name in notifications, to skip its own */
        if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
            for (i = 0; i < sizeof(rnd); i++) {
                rnd[i] = (u_char) ngx_random();
            }
        }

        ngx_hex_dump(pg->node, rnd, sizeof(rnd));
        pg->node[16] = '\0';

        pg->timer.log = st->log;
        pg->inited = 1;
    }

    if (pg->closing) {
        return;
    }

    pg->want_write = 1;

    switch (pg->state) {

    case NGX_HTTP_Q2API_PG_DOWN:

        if ((ngx_msec_int_t) (ngx_current_msec - pg->next_try) < 0) {
            return;
        }

        rc = ngx_http_q2api_pg_connect(pg);
        break;

    case NGX_HTTP_Q2API_PG_READY:

        if (pg->job != NGX_HTTP_Q2API_PG_JOB_NONE) {
            return;
        }

        rc = ngx_http_q2api_pg_next(pg);
        break;

    default:
        return;
    }

    if (rc == NGX_ERROR) {
        ngx_http_q2api_pg_fail(pg);
    }
}


/*
 * The lease is gone or the worker exits.  On a graceful exit the loop is
 * still running: what is dirty is written before the connection closes
 * (the connection's timer keeps the worker until then, at most
 * NGX_HTTP_Q2API_PG_FINAL_TIMEOUT).  Otherwise a batch in flight goes back
 * to the zone, where the next lease holder finds it.
 */
static void
ngx_http_q2api_pg_stop(ngx_http_q2api_store_t *st)
{
    ngx_http_q2api_pg_t  *pg;

    pg = st->data;

    if (pg->state == NGX_HTTP_Q2API_PG_READY && ngx_exiting
        && !ngx_terminate && !pg->closing)
    {
        pg->closing = 1;
        pg->want_write = 1;

        if (pg->job == NGX_HTTP_Q2API_PG_JOB_NONE) {
            if (ngx_http_q2api_pg_next(pg) == NGX_ERROR) {
                ngx_http_q2api_pg_fail(pg);
            }
        }

        return;
    }

    /* the next lease holder may be another worker: all back to the zone */
    ngx_http_q2api_pg_close(pg, 0);

    pg->backoff = NGX_HTTP_Q2API_PG_BACKOFF_MIN;
    pg->next_try = ngx_current_msec;
}


/* connected and idle: what to do next */
ngx_int_t
ngx_http_q2api_pg_next(ngx_http_q2api_pg_t *pg)
{
    ngx_int_t   rc;
    ngx_msec_t  age;

    if (pg->closing) {
        if (pg->unsure && !pg->final_resolve) {
            pg->final_resolve = 1;
            return ngx_http_q2api_pg_resolve_write(pg);
        }

        if (!pg->final || pg->want_write) {
            /* want_write: a full batch went, more are dirty */
            pg->final = 1;
            pg->want_write = 0;

            rc = ngx_http_q2api_pg_write(pg);

            if (rc != NGX_DECLINED) {
                return rc;
            }
        }

        ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                       "q2api pg: closed after the last write");

        ngx_http_q2api_pg_close(pg, 0);

        return NGX_DONE;
    }

    if (pg->resync) {
        return ngx_http_q2api_pg_start_load(pg);
    }

    if (pg->notified) {
        return ngx_http_q2api_pg_fetch(pg);
    }

    if (ngx_http_q2api_accounts_db_lease_work(pg->st->accounts)) {
        rc = ngx_http_q2api_pg_lease(pg);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (pg->unsure) {
        /* no write until the interrupted one is known: the deltas wait in
         * the zone */
        if (ngx_current_msec - pg->unsure_checked >= 1000) {
            return ngx_http_q2api_pg_resolve_write(pg);
        }

    } else if (pg->want_write) {
        pg->want_write = 0;

        rc = ngx_http_q2api_pg_write(pg);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    age = ngx_current_msec - pg->last_load;

    if (age >= NGX_HTTP_Q2API_PG_RESYNC) {
        return ngx_http_q2api_pg_start_load(pg);
    }

    /*
     * Idle until the next full load.  This timer is not cancelable, so a
     * worker that shuts down gracefully waits for the store loop to call
     * stop and the last write to be done.
     */
    if (pg->timer.timer_set) {
        ngx_del_timer(&pg->timer);
    }

    /* the workers cannot wake this one: it looks for refresh leases they
     * want often, which costs a read of the zone */
    ngx_add_timer(&pg->timer, ngx_min(NGX_HTTP_Q2API_PG_RESYNC - age,
                                      NGX_HTTP_Q2API_PG_LEASE_POLL));

    return NGX_OK;
}


/*
 * Notifications: "<node>:<id>" from a host that changed a row (our own are
 * skipped), "<id>" from anyone else, "" to reload everything.
 */
void
ngx_http_q2api_pg_notifies(ngx_http_q2api_pg_t *pg)
{
    u_char     *colon;
    size_t      len;
    PGnotify   *n;
    ngx_str_t   id, *p;

    while ((n = PQnotifies(pg->conn)) != NULL) {

        len = ngx_strlen(n->extra);
        id.data = (u_char *) n->extra;
        id.len = len;

        colon = (u_char *) ngx_strlchr(id.data, id.data + len, ':');

        if (colon) {
            if ((size_t) (colon - id.data) == 16
                && ngx_strncmp(id.data, pg->node, 16) == 0)
            {
                PQfreemem(n);
                continue;
            }

            id.len = id.data + len - (colon + 1);
            id.data = colon + 1;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                       "q2api pg: notified \"%V\"", &id);

        if (id.len == 0) {
            pg->resync = 1;
            PQfreemem(n);
            continue;
        }

        if (pg->notified && pg->notified->nelts
                            >= NGX_HTTP_Q2API_PG_MAX_NOTIFIED)
        {
            /* that many: a full load is cheaper */
            pg->resync = 1;
            ngx_destroy_pool(pg->npool);
            pg->npool = NULL;
            pg->notified = NULL;
        }

        if (pg->resync) {
            PQfreemem(n);
            continue;
        }

        if (pg->npool == NULL) {
            pg->npool = ngx_create_pool(4096, pg->st->log);
            if (pg->npool == NULL) {
                pg->resync = 1;
                PQfreemem(n);
                continue;
            }

            pg->notified = ngx_array_create(pg->npool, 16,
                                            sizeof(ngx_str_t));
            if (pg->notified == NULL) {
                ngx_destroy_pool(pg->npool);
                pg->npool = NULL;
                pg->resync = 1;
                PQfreemem(n);
                continue;
            }
        }

        p = ngx_array_push(pg->notified);

        if (p == NULL || (p->data = ngx_pstrdup(pg->npool, &id)) == NULL) {
            pg->resync = 1;

        } else {
            p->len = id.len;
        }

        PQfreemem(n);
    }
}


void
ngx_http_q2api_pg_fail(ngx_http_q2api_pg_t *pg)
{
    ngx_http_q2api_store_t  *st;

    st = pg->st;

    ngx_http_q2api_metrics_store(0, 0);

    if (pg->closing) {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "q2api: postgres store: last write failed: %s",
                      pg->err);

    } else if (!st->failing) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store unavailable: %s", pg->err);
        st->failing = 1;

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, st->log, 0,
                       "q2api pg: still unavailable: %s", pg->err);
    }

    ngx_http_q2api_pg_close(pg, !pg->closing);

    pg->next_try = ngx_current_msec + pg->backoff;
    pg->backoff = ngx_min(pg->backoff * 2, NGX_HTTP_Q2API_PG_BACKOFF_MAX);
}


/*
 * keep_unsure: a batch whose COMMIT may have gone through stays out of the
 * zone until the next connection asks the database; without it (the lease
 * is gone, the worker exits) it goes back, counted twice rather than lost.
 */
void
ngx_http_q2api_pg_close(ngx_http_q2api_pg_t *pg, ngx_uint_t keep_unsure)
{
    if (pg->batch) {
        if (keep_unsure && pg->job == NGX_HTTP_Q2API_PG_JOB_WRITE
            && !pg->sql_error && pg->unsure == NULL)
        {
            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                           "q2api pg: write of transaction %uL unsure",
                           pg->batch->xid);

            pg->unsure = pg->batch;
            pg->unsure_checked = ngx_current_msec - 1000;
            pg->batch = NULL;

        } else {
            /* rolled back, or COMMIT never sent */
            ngx_http_q2api_pg_batch_return(pg, &pg->batch);
        }
    }

    if (pg->unsure
        && (!keep_unsure
            || (pg->job == NGX_HTTP_Q2API_PG_JOB_RESOLVE && pg->sql_error)))
    {
        /* the database cannot tell (txid_status() failed): give up */
        ngx_http_q2api_pg_batch_return(pg, &pg->unsure);
    }

    if (pg->job_pool) {
        ngx_destroy_pool(pg->job_pool);
        pg->job_pool = NULL;
    }

    if (pg->load_res) {
        PQclear(pg->load_res);
        pg->load_res = NULL;
    }

    if (pg->npool) {
        ngx_destroy_pool(pg->npool);
        pg->npool = NULL;
    }

    pg->notified = NULL;
    pg->ids = NULL;
    pg->granted = NULL;
    pg->job = NGX_HTTP_Q2API_PG_JOB_NONE;
    pg->sql_error = 0;
    pg->flushing = 0;
    pg->resync = 0;

    if (pg->state == NGX_HTTP_Q2API_PG_READY) {
        ngx_http_q2api_accounts_db_lease_up(pg->st->accounts, 0);
    }

    ngx_http_q2api_pg_detach(pg);

    if (pg->conn) {
        PQfinish(pg->conn);
        pg->conn = NULL;
    }

    if (pg->timer.timer_set) {
        ngx_del_timer(&pg->timer);
    }

    pg->state = NGX_HTTP_Q2API_PG_DOWN;
}


/* the deltas go back to the zone, the accounts are dirty again */
void
ngx_http_q2api_pg_batch_return(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t **batch)
{
    ngx_http_q2api_accounts_return_dirty(pg->st->accounts, (*batch)->taken);
    ngx_destroy_pool((*batch)->pool);
    *batch = NULL;
}
