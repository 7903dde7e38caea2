/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Stored replies of the Responses API (store, previous_response_id): a
 * shared zone every worker reads, bounded in size (the oldest go first)
 * and in time (q2api_responses_store).
 */

#ifndef _NGX_HTTP_Q2API_RESPONSES_STORE_H_INCLUDED_
#define _NGX_HTTP_Q2API_RESPONSES_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


#define NGX_HTTP_Q2API_RESPONSES_SIZE   (8 * 1024 * 1024)
#define NGX_HTTP_Q2API_RESPONSES_TIME   3600


typedef struct ngx_http_q2api_responses_sh_s  ngx_http_q2api_responses_sh_t;

typedef struct {
    ngx_shm_zone_t                 *shm_zone;     /* NULL: "off" */
    ngx_slab_pool_t                *shpool;
    ngx_http_q2api_responses_sh_t  *sh;
    time_t                          time;         /* how long one is kept */
    size_t                          max;          /* the largest one kept */
} ngx_http_q2api_responses_t;


/* "q2api_responses_store size [time] | off" */
char *ngx_http_q2api_responses_store_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);

/* the default zone when q2api is used and the directive is not */
ngx_int_t ngx_http_q2api_responses_store_conf(ngx_conf_t *cf,
    ngx_http_q2api_responses_t **store, ngx_uint_t used);

/* a stored reply's items (a JSON array) copied into pool: NGX_OK,
 * NGX_DECLINED when it is unknown or expired, NGX_ERROR */
ngx_int_t ngx_http_q2api_responses_find(ngx_http_q2api_responses_t *st,
    ngx_str_t *id, ngx_pool_t *pool, ngx_str_t *items);

/* keeps id -> history's items then the reply's (two JSON arrays);
 * NGX_DECLINED when it is larger than the zone takes */
ngx_int_t ngx_http_q2api_responses_save(ngx_http_q2api_responses_t *st,
    ngx_str_t *id, ngx_str_t *history, ngx_str_t *items, ngx_log_t *log);


#endif /* _NGX_HTTP_Q2API_RESPONSES_STORE_H_INCLUDED_ */
