/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The file store's own declarations, shared by its files:
 *
 *   ngx_http_q2api_store_file.c        reading the file (and its shape);
 *                                      when to write, back-off on failure
 *   ngx_http_q2api_store_file_write.c  one write: a snapshot of the zone,
 *                                      the text, the atomic rename; in a
 *                                      thread of nginx's pool
 */

#ifndef _NGX_HTTP_Q2API_STORE_FILE_H_INCLUDED_
#define _NGX_HTTP_Q2API_STORE_FILE_H_INCLUDED_


#include "ngx_http_q2api.h"


#define NGX_HTTP_Q2API_FILE_BACKOFF_MAX  60000     /* ms */
#define NGX_HTTP_Q2API_FILE_ERR_LEN      256


typedef struct {
    ngx_http_q2api_store_t     *st;

#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
    ngx_thread_task_t          *task;
#endif

    /* the write in flight: its memory, and the dirty accounts it covers,
     * which go back to the zone if it fails */
    ngx_pool_t                 *pool;
    ngx_array_t                *taken;
    ngx_int_t                   rc;
    u_char                      err[NGX_HTTP_Q2API_FILE_ERR_LEN];
    size_t                      bytes;
    ngx_uint_t                  count;

    ngx_msec_t                  backoff;  /* after a failure */
    ngx_msec_t                  next_try; /* no write before */

    /* keeps a worker that shuts down until the last write is done */
    ngx_event_t                 wait;

    unsigned                    busy:1;
    unsigned                    wait_next:1;
    unsigned                    final:1;  /* one more write when done */
} ngx_http_q2api_store_file_t;


/* file_write.c: start a write of the whole zone (NGX_ERROR: it could not
 * start, fs->err says why); ngx_http_q2api_store_file_done follows */
ngx_int_t ngx_http_q2api_store_file_start(ngx_http_q2api_store_file_t *fs,
    ngx_uint_t sync);
/* file.c: the write ended, fs->rc says how */
void ngx_http_q2api_store_file_done(ngx_http_q2api_store_file_t *fs);


#endif /* _NGX_HTTP_Q2API_STORE_FILE_H_INCLUDED_ */
