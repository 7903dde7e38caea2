/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's own declarations, shared by its files:
 *
 *   ngx_http_q2api_store_pg.c          the loop: store operations, what to
 *                                      do next, failures and reconnects
 *   ngx_http_q2api_store_pg_conf.c     the connection string, host names
 *                                      resolved at configuration time
 *   ngx_http_q2api_store_pg_conn.c     libpq's socket on nginx events:
 *                                      connect, read, flush, errors
 *   ngx_http_q2api_store_pg_job.c      a pipeline of statements and what
 *                                      its results mean
 *   ngx_http_q2api_store_pg_sql.c      the statements; schema and migration
 *   ngx_http_q2api_store_pg_rows.c     reading account rows: full load,
 *                                      announced rows, what was last seen
 *   ngx_http_q2api_store_pg_write.c    writing dirty accounts, exactly once
 *   ngx_http_q2api_store_pg_lease.c    refresh leases across nodes
 */

#ifndef _NGX_HTTP_Q2API_STORE_PG_H_INCLUDED_
#define _NGX_HTTP_Q2API_STORE_PG_H_INCLUDED_


#include <libpq-fe.h>

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_row.h"


#ifndef LIBPQ_HAS_PIPELINING
#error "the q2api PostgreSQL store needs libpq 14 or newer (pipeline mode)"
#endif


#define NGX_HTTP_Q2API_PG_BACKOFF_MIN     1000
#define NGX_HTTP_Q2API_PG_BACKOFF_MAX     30000
#define NGX_HTTP_Q2API_PG_RESYNC          60000
#define NGX_HTTP_Q2API_PG_CONNECT_TIMEOUT 10000
#define NGX_HTTP_Q2API_PG_QUERY_TIMEOUT   30000
#define NGX_HTTP_Q2API_PG_FINAL_TIMEOUT   5000
#define NGX_HTTP_Q2API_PG_MAX_NOTIFIED    512
#define NGX_HTTP_Q2API_PG_MAX_ADDRS       8
#define NGX_HTTP_Q2API_PG_ERR_LEN         512
#define NGX_HTTP_Q2API_PG_LEASE_POLL      20     /* ms, refresh leases */

/*
 * How much the worker does per turn of its event loop, so that a pool of
 * 10,000 accounts never holds it for more than a few milliseconds: rows
 * of a full load applied to the zone, accounts in one write transaction.
 */
#define NGX_HTTP_Q2API_PG_LOAD_PART       64
#define NGX_HTTP_Q2API_PG_BATCH           500

#define NGX_HTTP_Q2API_PG_CHANNEL         "q2api_accounts"

/* read after the row codec's columns: q2api_disabled */
#define NGX_HTTP_Q2API_PG_SELECT_EXTRA    1


typedef enum {
    NGX_HTTP_Q2API_PG_DOWN = 0,
    NGX_HTTP_Q2API_PG_CONNECTING,
    NGX_HTTP_Q2API_PG_SETUP,          /* schema and first load */
    NGX_HTTP_Q2API_PG_READY
} ngx_http_q2api_pg_state_e;


typedef enum {
    NGX_HTTP_Q2API_PG_JOB_NONE = 0,
    NGX_HTTP_Q2API_PG_JOB_SCHEMA,
    NGX_HTTP_Q2API_PG_JOB_MIGRATE,
    NGX_HTTP_Q2API_PG_JOB_LOAD,
    NGX_HTTP_Q2API_PG_JOB_FETCH,
    NGX_HTTP_Q2API_PG_JOB_XID,        /* BEGIN; txid_current() */
    NGX_HTTP_Q2API_PG_JOB_WRITE,      /* the rows; COMMIT */
    NGX_HTTP_Q2API_PG_JOB_RESOLVE,    /* did an interrupted write commit? */
    NGX_HTTP_Q2API_PG_JOB_LEASE       /* refresh leases for the workers */
} ngx_http_q2api_pg_job_e;


/* what this worker last read from or wrote to a row, to write back only
 * what changed here (see ngx_http_q2api_pg_put) */
typedef struct {
    ngx_str_node_t                  sn;
    uint64_t                        config;
    uint64_t                        state;
    ngx_uint_t                      seen;     /* load generation */
} ngx_http_q2api_pg_row_t;


/* one account of a write batch */
typedef struct {
    uint64_t                        config;
    uint64_t                        state;
    unsigned                        write_config:1;
    unsigned                        write_state:1;
    unsigned                        gone:1;   /* row deleted elsewhere */
} ngx_http_q2api_pg_put_t;


/*
 * A write batch: the accounts take_dirty gave, their deltas moved out of
 * the zone.  Written once: if the connection fails after COMMIT was sent,
 * the batch waits, out of the zone, until txid_status() of its transaction
 * says whether it committed (then it is done) or not (then it goes back).
 */
typedef struct {
    ngx_pool_t                     *pool;
    ngx_array_t                    *taken;
    ngx_http_q2api_pg_put_t        *puts;
    ngx_uint_t                      nrelease; /* refresh leases */
    uint64_t                        xid;
} ngx_http_q2api_pg_batch_t;


typedef struct {
    ngx_http_q2api_store_t         *st;

    /* configuration */
    const char                    **keywords;
    const char                    **values;
    ngx_msec_t                      connect_timeout;
    const char                     *select_all;
    const char                     *select_one;   /* WHERE id = $1 */

    /* the connection */
    PGconn                         *conn;
    ngx_connection_t               *c;
    ino_t                           ino;
    ngx_event_t                     timer;
    ngx_http_q2api_pg_state_e       state;
    ngx_msec_t                      backoff;
    ngx_msec_t                      next_try;

    /* the batch in flight */
    ngx_http_q2api_pg_job_e         job;
    ngx_pool_t                     *job_pool;
    ngx_uint_t                      nstmt;
    ngx_uint_t                      cur;
    ngx_array_t                    *ids;      /* fetch, lease */
    ngx_uint_t                     *granted;  /* lease */
    uint64_t                        missing;  /* schema: columns to add */
    ngx_http_q2api_pg_batch_t      *batch;    /* being written */
    ngx_http_q2api_pg_batch_t      *unsure;   /* its fate unknown */
    ngx_msec_t                      unsure_checked;
    unsigned                        sql_error:1;
    unsigned                        flushing:1;

    /* rows announced by other hosts, to read */
    ngx_pool_t                     *npool;
    ngx_array_t                    *notified;

    ngx_uint_t                      generation;
    ngx_uint_t                      skipped;  /* rows, last full load */
    ngx_uint_t                      sealed;   /* rows that did not open */

    /* a full load applied NGX_HTTP_Q2API_PG_LOAD_PART rows at a time */
    PGresult                       *load_res;
    int                             load_row;
    ngx_uint_t                      load_skipped;
    ngx_uint_t                      load_sealed;
    ngx_uint_t                      load_full;
    ngx_pool_t                     *scratch;  /* one row's opened secrets */
    ngx_msec_t                      last_load;
    ngx_rbtree_t                    rows;
    ngx_rbtree_node_t               sentinel;

    u_char                          node[17];
    u_char                          err[NGX_HTTP_Q2API_PG_ERR_LEN];

    unsigned                        inited:1;
    unsigned                        want_write:1;
    unsigned                        resync:1;
    unsigned                        closing:1;
    unsigned                        final:1;
    unsigned                        final_resolve:1;
    unsigned                        ready_once:1;
} ngx_http_q2api_pg_t;


/* the loop */
ngx_int_t ngx_http_q2api_pg_next(ngx_http_q2api_pg_t *pg);
void ngx_http_q2api_pg_notifies(ngx_http_q2api_pg_t *pg);
void ngx_http_q2api_pg_fail(ngx_http_q2api_pg_t *pg);
void ngx_http_q2api_pg_close(ngx_http_q2api_pg_t *pg,
    ngx_uint_t keep_unsure);
void ngx_http_q2api_pg_batch_return(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t **batch);

/* the connection */
ngx_int_t ngx_http_q2api_pg_connect(ngx_http_q2api_pg_t *pg);
void ngx_http_q2api_pg_detach(ngx_http_q2api_pg_t *pg);
void ngx_http_q2api_pg_timer(ngx_event_t *ev);
ngx_int_t ngx_http_q2api_pg_flush(ngx_http_q2api_pg_t *pg);
/* "what: message" into pg->err; returns NGX_ERROR */
ngx_int_t ngx_http_q2api_pg_error(ngx_http_q2api_pg_t *pg,
    const char *what, const char *msg);
ngx_int_t ngx_http_q2api_pg_result_error(ngx_http_q2api_pg_t *pg,
    PGresult *res);

/* jobs */
ngx_int_t ngx_http_q2api_pg_begin(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_job_e job, ngx_pool_t *pool);
ngx_int_t ngx_http_q2api_pg_query(ngx_http_q2api_pg_t *pg,
    const char *sql, int n, const char *const *values);
ngx_int_t ngx_http_q2api_pg_send(ngx_http_q2api_pg_t *pg,
    ngx_msec_t timeout);
ngx_int_t ngx_http_q2api_pg_results(ngx_http_q2api_pg_t *pg);
const char *ngx_http_q2api_pg_job_name(ngx_http_q2api_pg_job_e job);

/* SQL */
ngx_int_t ngx_http_q2api_pg_statements(ngx_conf_t *cf,
    ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_schema(ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_columns(ngx_http_q2api_pg_t *pg,
    PGresult *res);
ngx_int_t ngx_http_q2api_pg_migrate(ngx_http_q2api_pg_t *pg);

extern ngx_http_q2api_row_field_e  ngx_http_q2api_pg_select[];
extern ngx_http_q2api_row_field_e  ngx_http_q2api_pg_upsert_fields[];
extern const char  ngx_http_q2api_pg_upsert[];
extern const char  ngx_http_q2api_pg_delete[];
extern const char  ngx_http_q2api_pg_lease_take[];
extern const char  ngx_http_q2api_pg_lease_release[];

#define NGX_HTTP_Q2API_PG_UPSERT_PARAMS  30

/* rows */
ngx_int_t ngx_http_q2api_pg_start_load(ngx_http_q2api_pg_t *pg);
/* takes res; NGX_AGAIN: rows left, the connection's read event posted */
ngx_int_t ngx_http_q2api_pg_loaded(ngx_http_q2api_pg_t *pg,
    PGresult *res);
ngx_int_t ngx_http_q2api_pg_load_more(ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_fetch(ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_fetched(ngx_http_q2api_pg_t *pg,
    PGresult *res, ngx_str_t *id);
/*
 * One row as the zone takes it; strings point into the result, or into
 * pg->scratch for opened secrets (valid until the next row).  *plain (may
 * be NULL): a secret was plaintext or under the old key, to be sealed at
 * the next write.  NGX_DECLINED: no id, or a type this module does not
 * serve; NGX_ABORT: a secret does not open with q2api_store_key.
 */
ngx_int_t ngx_http_q2api_pg_account(ngx_http_q2api_pg_t *pg, PGresult *res,
    int i, ngx_http_q2api_account_data_t *d, ngx_uint_t *plain);
void ngx_http_q2api_pg_value(PGresult *res, int i, int col, ngx_str_t *s);
uint64_t ngx_http_q2api_pg_int(PGresult *res, int i, int col);
const char *ngx_http_q2api_pg_cstr(ngx_pool_t *pool, ngx_str_t *s,
    ngx_uint_t *failed);
ngx_http_q2api_pg_row_t *ngx_http_q2api_pg_row_get(
    ngx_http_q2api_pg_t *pg, ngx_str_t *id, ngx_uint_t create);
void ngx_http_q2api_pg_row_delete(ngx_http_q2api_pg_t *pg, ngx_str_t *id);
uint64_t ngx_http_q2api_pg_digest_config(ngx_http_q2api_account_data_t *d);
uint64_t ngx_http_q2api_pg_digest_state(ngx_http_q2api_account_data_t *d);

/* writes */
ngx_int_t ngx_http_q2api_pg_write(ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_write_rows(ngx_http_q2api_pg_t *pg);
void ngx_http_q2api_pg_written(ngx_http_q2api_pg_t *pg,
    ngx_http_q2api_pg_batch_t *batch);
ngx_int_t ngx_http_q2api_pg_resolve_write(ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_resolved(ngx_http_q2api_pg_t *pg,
    PGresult *res);

/* refresh leases */
ngx_int_t ngx_http_q2api_pg_lease(ngx_http_q2api_pg_t *pg);
ngx_int_t ngx_http_q2api_pg_leased(ngx_http_q2api_pg_t *pg,
    PGresult *res, ngx_uint_t i);


#endif /* _NGX_HTTP_Q2API_STORE_PG_H_INCLUDED_ */
