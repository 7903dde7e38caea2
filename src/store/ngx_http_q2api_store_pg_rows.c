/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's reads: the full load, the rows other hosts
 * announced, a result's row through the row codec, and what this worker
 * last read from or wrote to each row.
 */


#include <ngx_md5.h>

#include "ngx_http_q2api_store_pg.h"
#include "ngx_http_q2api_seal.h"


static void ngx_http_q2api_pg_row_sweep(ngx_http_q2api_pg_t *pg);


ngx_int_t
ngx_http_q2api_pg_start_load(ngx_http_q2api_pg_t *pg)
{
    /* the load supersedes what was announced before it */
    if (pg->npool) {
        ngx_destroy_pool(pg->npool);
        pg->npool = NULL;
        pg->notified = NULL;
    }

    pg->resync = 0;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_LOAD, NULL)
        != NGX_OK
        || ngx_http_q2api_pg_query(pg, pg->select_all, 0, NULL) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


ngx_int_t
ngx_http_q2api_pg_loaded(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    if ((ngx_uint_t) PQnfields(res)
        != ngx_http_q2api_row_count(ngx_http_q2api_pg_select)
           + NGX_HTTP_Q2API_PG_SELECT_EXTRA)
    {
        PQclear(res);
        return ngx_http_q2api_pg_error(pg, "load", "unexpected columns");
    }

    pg->generation = ngx_http_q2api_accounts_next_generation(pg->st->accounts);
    pg->last_load = ngx_current_msec;

    pg->load_res = res;
    pg->load_row = 0;
    pg->load_skipped = 0;
    pg->load_sealed = 0;
    pg->load_full = 0;

    return ngx_http_q2api_pg_load_more(pg);
}


/*
 * The next NGX_HTTP_Q2API_PG_LOAD_PART rows into the zone.  With rows
 * left, the connection's read event goes to ngx_posted_next_events: the
 * loop serves what else is ready first, and comes back here (through
 * ngx_http_q2api_pg_results) at its next turn.
 */
ngx_int_t
ngx_http_q2api_pg_load_more(ngx_http_q2api_pg_t *pg)
{
    int                             n, last;
    ngx_int_t                       rc;
    ngx_uint_t                      plain;
    PGresult                       *res;
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_store_t         *st;
    ngx_http_q2api_account_data_t   d;

    st = pg->st;
    res = pg->load_res;
    n = PQntuples(res);
    last = ngx_min(n, pg->load_row + NGX_HTTP_Q2API_PG_LOAD_PART);

    for ( /* void */ ; pg->load_row < last; pg->load_row++) {

        plain = 0;
        rc = ngx_http_q2api_pg_account(pg, res, pg->load_row, &d, &plain);

        if (rc == NGX_ERROR) {
            return ngx_http_q2api_pg_error(pg, "load", "out of memory");
        }

        if (rc != NGX_OK) {
            pg->load_skipped += (rc == NGX_DECLINED);
            pg->load_sealed += (rc == NGX_ABORT);
            continue;
        }

        rc = ngx_http_q2api_accounts_upsert(st->accounts, &d,
                                            NGX_HTTP_Q2API_SET_ALL,
                                            pg->generation);
        if (rc != NGX_OK) {
            pg->load_full++;
            continue;
        }

        row = ngx_http_q2api_pg_row_get(pg, &d.id, 1);
        if (row == NULL) {
            return ngx_http_q2api_pg_error(pg, "load", "out of memory");
        }

        row->config = ngx_http_q2api_pg_digest_config(&d);
        row->state = ngx_http_q2api_pg_digest_state(&d);
        row->seen = pg->generation;

        if (plain && st->seal) {
            /* its credentials are sealed at its next write */
            row->config ^= 1;
        }
    }

    if (pg->load_row < n) {
        ngx_post_event(pg->c->read, &ngx_posted_next_events);
        return NGX_AGAIN;
    }

    PQclear(res);
    pg->load_res = NULL;

    if (pg->load_sealed != pg->sealed) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store: %ui rows skipped: their "
                      "credentials do not open with q2api_store_key "
                      "(another key, or none set)", pg->load_sealed);
        pg->sealed = pg->load_sealed;
    }

    if (pg->load_full) {
        /* keep what is there rather than drop what did not fit */
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store: %ui of %d accounts did not "
                      "fit in the shared zone; make q2api_zone larger",
                      pg->load_full, n);

    } else {
        ngx_http_q2api_accounts_prune(st->accounts, pg->generation);
        ngx_http_q2api_pg_row_sweep(pg);
    }

    if (pg->load_skipped != pg->skipped) {
        /* said once, not at every full load */
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "q2api: postgres store: %ui rows skipped: no id, or "
                      "a type other than \"amazonq\" or \"kiro\"",
                      pg->load_skipped);
        pg->skipped = pg->load_skipped;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, st->log, 0,
                   "q2api pg: loaded %d rows", n);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_pg_fetch(ngx_http_q2api_pg_t *pg)
{
    ngx_str_t   *ids;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *values[1];

    /* the job owns them now */
    pool = pg->npool;
    pg->ids = pg->notified;
    pg->npool = NULL;
    pg->notified = NULL;

    if (ngx_http_q2api_pg_begin(pg, NGX_HTTP_Q2API_PG_JOB_FETCH, pool)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ids = pg->ids->elts;

    for (i = 0; i < pg->ids->nelts; i++) {

        values[0] = (const char *) ngx_pnalloc(pg->job_pool, ids[i].len + 1);
        if (values[0] == NULL) {
            return ngx_http_q2api_pg_error(pg, "read", "out of memory");
        }

        *ngx_cpymem((u_char *) values[0], ids[i].data, ids[i].len) = '\0';

        if (ngx_http_q2api_pg_query(pg, pg->select_one, 1, values)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_q2api_pg_send(pg, NGX_HTTP_Q2API_PG_QUERY_TIMEOUT);
}


ngx_int_t
ngx_http_q2api_pg_fetched(ngx_http_q2api_pg_t *pg, PGresult *res,
    ngx_str_t *id)
{
    ngx_int_t                       rc;
    ngx_uint_t                      plain;
    ngx_http_q2api_pg_row_t        *row;
    ngx_http_q2api_store_t         *st;
    ngx_http_q2api_account_data_t   d;

    st = pg->st;

    plain = 0;
    rc = (PQntuples(res) == 0)
         ? NGX_DECLINED : ngx_http_q2api_pg_account(pg, res, 0, &d, &plain);

    if (rc == NGX_ERROR) {
        return ngx_http_q2api_pg_error(pg, "read", "out of memory");
    }

    if (rc == NGX_ABORT) {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store: account \"%V\" skipped: its "
                      "credentials do not open with q2api_store_key", id);
    }

    if (rc != NGX_OK) {
        /* deleted, or of a type this module does not serve */
        (void) ngx_http_q2api_accounts_remove(st->accounts, id);
        ngx_http_q2api_pg_row_delete(pg, id);
        return NGX_OK;
    }

    if (ngx_http_q2api_accounts_upsert(st->accounts, &d,
                                       NGX_HTTP_Q2API_SET_ALL, pg->generation)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: postgres store: no room in the shared zone "
                      "for account \"%V\"; make q2api_zone larger", &d.id);
        return NGX_OK;
    }

    row = ngx_http_q2api_pg_row_get(pg, &d.id, 1);
    if (row == NULL) {
        return ngx_http_q2api_pg_error(pg, "read", "out of memory");
    }

    row->config = ngx_http_q2api_pg_digest_config(&d);
    row->state = ngx_http_q2api_pg_digest_state(&d);
    row->seen = pg->generation;

    if (plain && st->seal) {
        row->config ^= 1;
    }

    return NGX_OK;
}



/* rows -------------------------------------------------------------------- */


/*
 * One row as the zone takes it.  q2api_disabled says the module itself
 * turned "enabled" off while the account is suspended or needs a login
 * (so that q2api, which reads only "enabled", leaves it alone): for this
 * module the operator's flag is still on.
 */
ngx_int_t
ngx_http_q2api_pg_account(ngx_http_q2api_pg_t *pg, PGresult *res, int i,
    ngx_http_q2api_account_data_t *d, ngx_uint_t *plain)
{
    int                          col;
    ngx_str_t                    s;
    const char                  *bad;
    ngx_http_q2api_row_field_e  *f;

    ngx_memzero(d, sizeof(ngx_http_q2api_account_data_t));

    f = ngx_http_q2api_pg_select;

    for (col = 0; f[col] != NGX_HTTP_Q2API_ROW_END; col++) {

        ngx_http_q2api_pg_value(res, i, col, &s);

        if (ngx_http_q2api_row_from_text(f[col], &s, d) != NGX_OK) {

            if (f[col] != NGX_HTTP_Q2API_ROW_TYPE) {
                /* by its name: the value may be a credential */
                ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                              "q2api: postgres store: account row #%d "
                              "skipped: \"%s\" refused: it %s", i,
                              ngx_http_q2api_row_fields[f[col]].column,
                              ngx_http_q2api_row_rule(f[col]));
            }

            /* else of a type this module does not serve */
            return NGX_DECLINED;
        }
    }

    if (d->id.len == 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_q2api_pg_int(res, i, col) == 1) {
        d->enabled = 1;
    }

    if (pg->scratch == NULL) {
        pg->scratch = ngx_create_pool(4096, pg->st->log);
        if (pg->scratch == NULL) {
            return NGX_ERROR;
        }

    } else {
        ngx_reset_pool(pg->scratch);
    }

    switch (ngx_http_q2api_seal_open_row(pg->st->seal, pg->scratch, d, plain,
                                         &bad))
    {
    case NGX_OK:
        return NGX_OK;

    case NGX_DECLINED:
        return NGX_ABORT;

    default:
        return NGX_ERROR;
    }
}


void
ngx_http_q2api_pg_value(PGresult *res, int i, int col, ngx_str_t *s)
{
    if (PQgetisnull(res, i, col)) {
        s->len = 0;
        s->data = NULL;
        return;
    }

    s->data = (u_char *) PQgetvalue(res, i, col);
    s->len = PQgetlength(res, i, col);
}


uint64_t
ngx_http_q2api_pg_int(PGresult *res, int i, int col)
{
    off_t      n;
    ngx_str_t  s;

    ngx_http_q2api_pg_value(res, i, col, &s);

    if (s.len == 0) {
        return 0;
    }

    n = ngx_atoof(s.data, s.len);

    return (n == NGX_ERROR) ? 0 : (uint64_t) n;
}


const char *
ngx_http_q2api_pg_cstr(ngx_pool_t *pool, ngx_str_t *s, ngx_uint_t *failed)
{
    u_char  *p;

    /* an empty string is written as NULL, as q2api leaves unset columns */
    if (s->len == 0) {
        return NULL;
    }

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        *failed = 1;
        return NULL;
    }

    *ngx_cpymem(p, s->data, s->len) = '\0';

    return (const char *) p;
}


ngx_http_q2api_pg_row_t *
ngx_http_q2api_pg_row_get(ngx_http_q2api_pg_t *pg, ngx_str_t *id,
    ngx_uint_t create)
{
    uint32_t                  hash;
    ngx_str_node_t           *sn;
    ngx_http_q2api_pg_row_t  *row;

    hash = ngx_crc32_short(id->data, id->len);

    sn = ngx_str_rbtree_lookup(&pg->rows, id, hash);

    if (sn != NULL || !create) {
        return (ngx_http_q2api_pg_row_t *) sn;
    }

    row = ngx_alloc(sizeof(ngx_http_q2api_pg_row_t) + id->len, pg->st->log);
    if (row == NULL) {
        return NULL;
    }

    ngx_memzero(row, sizeof(ngx_http_q2api_pg_row_t));

    row->sn.str.data = (u_char *) row + sizeof(ngx_http_q2api_pg_row_t);
    row->sn.str.len = id->len;
    ngx_memcpy(row->sn.str.data, id->data, id->len);
    row->sn.node.key = hash;

    ngx_rbtree_insert(&pg->rows, &row->sn.node);

    return row;
}


void
ngx_http_q2api_pg_row_delete(ngx_http_q2api_pg_t *pg, ngx_str_t *id)
{
    ngx_http_q2api_pg_row_t  *row;

    row = ngx_http_q2api_pg_row_get(pg, id, 0);

    if (row) {
        ngx_rbtree_delete(&pg->rows, &row->sn.node);
        ngx_free(row);
    }
}


/* rows the last full load did not see are gone */
static void
ngx_http_q2api_pg_row_sweep(ngx_http_q2api_pg_t *pg)
{
    ngx_rbtree_node_t        *node, *next;
    ngx_http_q2api_pg_row_t  *row;

    if (pg->rows.root == pg->rows.sentinel) {
        return;
    }

    node = ngx_rbtree_min(pg->rows.root, pg->rows.sentinel);

    while (node) {
        next = ngx_rbtree_next(&pg->rows, node);
        row = (ngx_http_q2api_pg_row_t *) node;

        if (row->seen != pg->generation) {
            ngx_rbtree_delete(&pg->rows, node);
            ngx_free(row);
        }

        node = next;
    }
}


static void
ngx_http_q2api_pg_md5_str(ngx_md5_t *md5, ngx_str_t *s)
{
    ngx_md5_update(md5, &s->len, sizeof(size_t));
    ngx_md5_update(md5, s->data, s->len);
}


uint64_t
ngx_http_q2api_pg_digest_config(ngx_http_q2api_account_data_t *d)
{
    uint64_t   r;
    u_char     out[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_http_q2api_pg_md5_str(&md5, &d->label);
    ngx_http_q2api_pg_md5_str(&md5, &d->client_id);
    ngx_http_q2api_pg_md5_str(&md5, &d->client_secret);
    ngx_http_q2api_pg_md5_str(&md5, &d->refresh_token);
    ngx_http_q2api_pg_md5_str(&md5, &d->access_token);
    ngx_http_q2api_pg_md5_str(&md5, &d->profile_arn);
    ngx_http_q2api_pg_md5_str(&md5, &d->other);
    ngx_md5_update(&md5, &d->enabled, sizeof(ngx_flag_t));
    ngx_md5_update(&md5, &d->type, sizeof(ngx_uint_t));
    ngx_md5_update(&md5, &d->token_expires, sizeof(time_t));
    ngx_md5_final(out, &md5);

    ngx_memcpy(&r, out, sizeof(uint64_t));

    return r;
}


uint64_t
ngx_http_q2api_pg_digest_state(ngx_http_q2api_account_data_t *d)
{
    uint64_t   r;
    u_char     out[16];
    ngx_md5_t  md5;

    ngx_md5_init(&md5);
    ngx_md5_update(&md5, &d->status, sizeof(ngx_uint_t));
    ngx_http_q2api_pg_md5_str(&md5, &d->reason);
    ngx_md5_update(&md5, &d->status_since, sizeof(time_t));
    ngx_md5_update(&md5, &d->until, sizeof(time_t));
    ngx_md5_final(out, &md5);

    ngx_memcpy(&r, out, sizeof(uint64_t));

    return r;
}
