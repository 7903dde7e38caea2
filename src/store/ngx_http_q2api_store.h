/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Where the account pool is kept: the embedded JSON file store, or
 * PostgreSQL.  The zone is the working copy every worker reads; one worker
 * at a time (the store lease holder) runs the store loop that loads
 * changes into it and writes its changes back.
 */

#ifndef _NGX_HTTP_Q2API_STORE_H_INCLUDED_
#define _NGX_HTTP_Q2API_STORE_H_INCLUDED_


#include "ngx_http_q2api_accounts.h"


typedef struct ngx_http_q2api_store_s  ngx_http_q2api_store_t;
typedef struct ngx_http_q2api_seal_s   ngx_http_q2api_seal_t;


/* the accounts file's shape, as it was read, to write it back the same */
#define NGX_HTTP_Q2API_SHAPE_ARRAY       0x01   /* a bare array */
#define NGX_HTTP_Q2API_SHAPE_TEXT_TIMES  0x02   /* q2api's text times */
#define NGX_HTTP_Q2API_SHAPE_FLAG_NUMS   0x04   /* enabled as 0/1 */
#define NGX_HTTP_Q2API_SHAPE_TIME_KNOWN  0x10   /* decided by an account */
#define NGX_HTTP_Q2API_SHAPE_FLAG_KNOWN  0x20


typedef struct {
    const char               *name;

    /*
     * In the master, when the zone is created (fresh: load everything) or
     * kept across a reload (reload: take configuration changes, keep the
     * zone's state and counters).  May block; NGX_ERROR fails the
     * (re)load, so it must only do so for a broken configuration.
     */
    ngx_int_t               (*load)(ngx_http_q2api_store_t *st,
                                    ngx_uint_t reload, ngx_log_t *log);

    /*
     * In the lease holder, every q2api_store_interval: bring changes in,
     * write dirty accounts out (ngx_http_q2api_accounts_take_dirty, and
     * ngx_http_q2api_accounts_return_dirty when a write fails, so nothing is
     * lost).  Must never block the worker.
     */
    void                    (*tick)(ngx_http_q2api_store_t *st);

    /* the lease is gone or the worker exits: last writes, close */
    void                    (*stop)(ngx_http_q2api_store_t *st);
} ngx_http_q2api_store_ops_t;


struct ngx_http_q2api_store_s {
    ngx_http_q2api_store_ops_t   *ops;
    ngx_http_q2api_accounts_t    *accounts;
    ngx_str_t                     target;    /* file path, or conninfo */
    ngx_msec_t                    interval;
    ngx_log_t                    *log;       /* the cycle's, in workers */
    void                         *data;      /* the store's own state */
    ngx_http_q2api_seal_t        *seal;      /* q2api_store_key, or NULL */
    ngx_uint_t                    shape;     /* NGX_HTTP_Q2API_SHAPE_* */
    unsigned                      running:1;
    unsigned                      failing:1; /* to log state changes once */
    unsigned                      exiting:1; /* thread pools are gone */
};


extern ngx_http_q2api_store_ops_t  ngx_http_q2api_store_file_ops;
extern ngx_http_q2api_store_ops_t  ngx_http_q2api_store_pg_ops;


/* master: the zone was created (reload == 0) or kept */
ngx_int_t ngx_http_q2api_store_load(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t reload, ngx_log_t *log);

/* workers: the store loop timer */
ngx_int_t ngx_http_q2api_store_init_process(ngx_cycle_t *cycle,
    ngx_http_q2api_store_t *st);
void ngx_http_q2api_store_exit_process(ngx_http_q2api_store_t *st);

/* configuration: the store chosen, what it needs from the cycle */
ngx_int_t ngx_http_q2api_store_conf(ngx_conf_t *cf,
    ngx_http_q2api_store_t *st);
ngx_int_t ngx_http_q2api_store_file_conf(ngx_conf_t *cf,
    ngx_http_q2api_store_t *st);

/* configuration: the "q2api_store postgres" connection string */
ngx_int_t ngx_http_q2api_store_pg_conf(ngx_conf_t *cf,
    ngx_http_q2api_store_t *st);

/* an accounts file's text into the zone (fields: NGX_HTTP_Q2API_SET_*);
 * text is changed in place (its NULs marked, q2api_nul.h) */
ngx_int_t ngx_http_q2api_store_file_parse(ngx_http_q2api_store_t *st,
    u_char *text, size_t len, ngx_uint_t fields, ngx_log_t *log);


#endif /* _NGX_HTTP_Q2API_STORE_H_INCLUDED_ */
