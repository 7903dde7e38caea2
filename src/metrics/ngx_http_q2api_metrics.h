/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * ngx_http_q2api_metrics_module: counters of the gateway in a shared zone
 * of their own, added with atomics by every worker (no lock per request),
 * kept across a reload, and served as Prometheus text by "q2api_metrics".
 *
 * Every label set is bounded and known when the configuration is read:
 * front ends and back ends are the entries of q2api_fronts and
 * q2api_backs, models the built-in table plus every q2api_model (anything
 * else is "other"), client keys the names given to q2api_api_key, token
 * refresh providers the entries of the provider table.  A front end, back
 * end or provider added to its table is counted without a change here.
 *
 * The glue makes one call per event (below); this folder holds the zone's
 * layout and the record calls (zone.c), the exposition (expo.c), the
 * ring of pool totals over time and the admin API's status (ring.c).
 */

#ifndef _NGX_HTTP_Q2API_METRICS_H_INCLUDED_
#define _NGX_HTTP_Q2API_METRICS_H_INCLUDED_


#include "ngx_http_q2api.h"


/* what became of a request, for q2api_requests_total's outcome */
#define NGX_HTTP_Q2API_M_OK             0
#define NGX_HTTP_Q2API_M_CLIENT_ERROR   1
#define NGX_HTTP_Q2API_M_RATE_LIMITED   2
#define NGX_HTTP_Q2API_M_NO_ACCOUNT     3
#define NGX_HTTP_Q2API_M_UPSTREAM_ERROR 4
#define NGX_HTTP_Q2API_M_TIMEOUT        5
#define NGX_HTTP_Q2API_M_ABORTED        6
#define NGX_HTTP_Q2API_M_OUTCOMES       7

/* device login results */
#define NGX_HTTP_Q2API_M_LOGIN_OK       0
#define NGX_HTTP_Q2API_M_LOGIN_EXPIRED  1
#define NGX_HTTP_Q2API_M_LOGIN_REFUSED  2
#define NGX_HTTP_Q2API_M_LOGIN_ERROR    3
#define NGX_HTTP_Q2API_M_LOGINS         4

/* donations (q2api_donate's exchange) by result */
#define NGX_HTTP_Q2API_M_DONATION_NEW      0   /* a Google account added */
#define NGX_HTTP_Q2API_M_DONATION_AGAIN    1   /* one already here renewed */
#define NGX_HTTP_Q2API_M_DONATION_REFUSED  2   /* the donor's or Google's no */
#define NGX_HTTP_Q2API_M_DONATION_LIMITED  3   /* too many from an address */
#define NGX_HTTP_Q2API_M_DONATION_ERROR    4
#define NGX_HTTP_Q2API_M_DONATIONS         5


extern ngx_module_t  ngx_http_q2api_metrics_module;


/*
 * Configuration, from the directives that name labels: a model id, a
 * client key's name (*slot: its label, kept with the key).
 */
ngx_int_t ngx_http_q2api_metrics_add_model(ngx_conf_t *cf, const char *id);
ngx_int_t ngx_http_q2api_metrics_add_key(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t *slot);

/* the response's header is about to go (TTFB); the first call counts */
void ngx_http_q2api_metrics_first_byte(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
/* ctx->attempt is over (attempt_done); a failed one is followed by
 * another account (failover) */
void ngx_http_q2api_metrics_attempt(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
void ngx_http_q2api_metrics_failover(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
/* the request is over (its pool's cleanup, after the access log) */
void ngx_http_q2api_metrics_request(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
/* a token refresh's end: provider is the entry of the provider table */
void ngx_http_q2api_metrics_refresh(void *provider, ngx_int_t rc);
/* a device login's end: NGX_HTTP_Q2API_M_LOGIN_* */
void ngx_http_q2api_metrics_login(ngx_uint_t result);
/* a donation's end: NGX_HTTP_Q2API_M_DONATION_* */
void ngx_http_q2api_metrics_donation(ngx_uint_t result);
/* the store: connected or not; wrote: a write went through */
void ngx_http_q2api_metrics_store(ngx_uint_t up, ngx_uint_t wrote);
/* PostgreSQL: another node's NOTIFY came (applied 0), or what was
 * announced is in the zone now (applied 1) */
void ngx_http_q2api_metrics_notify(ngx_uint_t applied);

/*
 * For the admin API (ring.c): GET /healthz's "store" and "zone" members
 * (",\"store\":{...},\"zone\":{...}"), and the status route's JSON (the
 * contract is in README.md, "Status JSON").  Text in r->pool.
 */
ngx_int_t ngx_http_q2api_metrics_health(ngx_http_request_t *r,
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *json);
ngx_int_t ngx_http_q2api_metrics_status(ngx_http_request_t *r,
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *json);

/* the outcome class of a request */
ngx_uint_t ngx_http_q2api_metrics_outcome(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);


#endif /* _NGX_HTTP_Q2API_METRICS_H_INCLUDED_ */
