/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The metrics zone's layout, private to src/metrics.  The zone is one
 * block: a header, then every counter as an ngx_atomic_t in families laid
 * out one after the other (each a dense array over its labels), then the
 * ring of pool samples.  The configuration computes the offsets; a reload
 * whose labels differ (another model, key or back end) starts the
 * counters again rather than file them under the wrong labels.
 */

#ifndef _NGX_HTTP_Q2API_METRICS_ZONE_H_INCLUDED_
#define _NGX_HTTP_Q2API_METRICS_ZONE_H_INCLUDED_


#include "ngx_http_q2api_metrics.h"
#include "ngx_http_q2api_provider.h"


/* attempt classes: the health outcomes (ok, client, capacity, auth,
 * suspended, quota, throttled, error), then these */
#define NGX_HTTP_Q2API_M_ATT_TIMEOUT    8
#define NGX_HTTP_Q2API_M_ATT_ABORTED    9
#define NGX_HTTP_Q2API_M_ATTEMPTS       10

#define NGX_HTTP_Q2API_M_BUCKETS        13    /* 12 bounds and +Inf */
#define NGX_HTTP_Q2API_M_HIST           (NGX_HTTP_Q2API_M_BUCKETS + 2)
#define NGX_HTTP_Q2API_M_HIST_SUM       NGX_HTTP_Q2API_M_BUCKETS  /* ms */
#define NGX_HTTP_Q2API_M_HIST_COUNT     (NGX_HTTP_Q2API_M_BUCKETS + 1)

#define NGX_HTTP_Q2API_M_DIRECTIONS     4     /* input output cache_* */
#define NGX_HTTP_Q2API_M_REFRESHES      3     /* ok refused error */

/* the ring: a sample a minute for a day */
#define NGX_HTTP_Q2API_M_RING           1440
#define NGX_HTTP_Q2API_M_RING_STEP      60

/* one sample's fields, in this order in the zone and the status JSON */
#define NGX_HTTP_Q2API_M_S_TIME         0
#define NGX_HTTP_Q2API_M_S_ACCOUNTS     1
#define NGX_HTTP_Q2API_M_S_STATES       2     /* census states follow */
#define NGX_HTTP_Q2API_M_S_REQUESTS     (2 + NGX_HTTP_Q2API_CENSUS_STATES)
#define NGX_HTTP_Q2API_M_S_FAILED       (NGX_HTTP_Q2API_M_S_REQUESTS + 1)
#define NGX_HTTP_Q2API_M_S_TOKENS_IN    (NGX_HTTP_Q2API_M_S_REQUESTS + 2)
#define NGX_HTTP_Q2API_M_S_TOKENS_OUT   (NGX_HTTP_Q2API_M_S_REQUESTS + 3)
#define NGX_HTTP_Q2API_M_SAMPLE         (NGX_HTTP_Q2API_M_S_REQUESTS + 4)


typedef struct {
    uint32_t                   layout;        /* hash of the labels */
    time_t                     started;       /* counters since */

    ngx_atomic_t               store_known;   /* a store reported */
    ngx_atomic_t               store_up;
    ngx_atomic_t               store_written; /* last good write, time */
    ngx_atomic_t               notify_lag;    /* ms, + 1; 0: none yet */

    ngx_atomic_t               ring_lock;
    ngx_atomic_t               ring_minute;   /* the last sample's */
    ngx_atomic_t               ring_next;     /* the slot to write */
    ngx_atomic_t               ring_count;

    ngx_atomic_t               c[1];          /* counters, then the ring */
} ngx_http_q2api_metrics_sh_t;


typedef struct {
    ngx_array_t                models;        /* of char *, the ids */
    ngx_array_t                keys;          /* of ngx_str_t */
    ngx_uint_t                 accounts_max;  /* per-account gauges */
    time_t                     interval;      /* between ring samples */

    ngx_uint_t                 nfront;
    ngx_uint_t                 nback;         /* with "none" */
    ngx_uint_t                 nmodel;        /* with "other", "none" */
    ngx_uint_t                 nkey;          /* with "none" */
    ngx_uint_t                 nprov;         /* with "none" */

    /* offsets into sh->c */
    ngx_uint_t                 req;           /* [front][back][model][out] */
    ngx_uint_t                 att;           /* [back][class] */
    ngx_uint_t                 fov;           /* [back][class] */
    ngx_uint_t                 ttfb;          /* [back][hist] */
    ngx_uint_t                 dur;           /* [back][hist] */
    ngx_uint_t                 tok;           /* [dir][back][model] */
    ngx_uint_t                 ref;           /* [provider][result] */
    ngx_uint_t                 login;         /* [result] */
    ngx_uint_t                 donation;      /* [result] */
    ngx_uint_t                 kreq;          /* [key][outcome] */
    ngx_uint_t                 ktok;          /* [key][dir] */
    ngx_uint_t                 ring;          /* [slot][field] */
    ngx_uint_t                 ncounters;

    uint32_t                   layout;
    ngx_shm_zone_t            *shm_zone;
    ngx_http_q2api_metrics_sh_t  *sh;
} ngx_http_q2api_metrics_conf_t;


extern const char  *ngx_http_q2api_metrics_outcomes[];
extern const char  *ngx_http_q2api_metrics_classes[];
extern const char  *ngx_http_q2api_metrics_directions[];
extern const char  *ngx_http_q2api_metrics_refreshes[];
extern const char  *ngx_http_q2api_metrics_logins[];
extern const char  *ngx_http_q2api_metrics_donations[];
extern const ngx_msec_t  ngx_http_q2api_metrics_bounds[];


/* the cycle's, or NULL when the zone is not there (yet) */
ngx_http_q2api_metrics_conf_t *ngx_http_q2api_metrics_conf(void);

/* labels by index: name of a front end, back end, model, key, provider */
const char *ngx_http_q2api_metrics_front_name(ngx_uint_t i);
const char *ngx_http_q2api_metrics_back_name(
    ngx_http_q2api_metrics_conf_t *mc, ngx_uint_t i);
const char *ngx_http_q2api_metrics_model_name(
    ngx_http_q2api_metrics_conf_t *mc, ngx_uint_t i);
ngx_str_t *ngx_http_q2api_metrics_key_name(
    ngx_http_q2api_metrics_conf_t *mc, ngx_uint_t i);
const char *ngx_http_q2api_metrics_provider_name(
    ngx_http_q2api_metrics_conf_t *mc, ngx_uint_t i);

/* expo.c: the q2api_metrics location */
ngx_int_t ngx_http_q2api_metrics_handler(ngx_http_request_t *r);

/* ring.c: the per-worker sampling timer */
ngx_int_t ngx_http_q2api_metrics_ring_init(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_Q2API_METRICS_ZONE_H_INCLUDED_ */
