/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The record calls: what the glue reports, added to the zone's counters
 * with ngx_atomic_fetch_add, so that workers never wait for each other.
 * A label is found by its entry in its table, never by a name written
 * here.
 */


#include "ngx_http_q2api_metrics_zone.h"
#include "q2api_models.h"


#define ngx_http_q2api_metrics_add(mc, off, n)                             \
    (void) ngx_atomic_fetch_add(&(mc)->sh->c[off], (ngx_atomic_int_t) (n))


static ngx_uint_t ngx_http_q2api_metrics_front(
    ngx_http_q2api_metrics_conf_t *mc, ngx_http_q2api_ctx_t *ctx);
static ngx_uint_t ngx_http_q2api_metrics_back(
    ngx_http_q2api_metrics_conf_t *mc, const q2api_back_t *back);
static ngx_uint_t ngx_http_q2api_metrics_model(
    ngx_http_q2api_metrics_conf_t *mc, ngx_http_q2api_ctx_t *ctx);
static void ngx_http_q2api_metrics_observe(ngx_http_q2api_metrics_conf_t *mc,
    ngx_uint_t off, ngx_msec_int_t ms);
static ngx_msec_int_t ngx_http_q2api_metrics_since(ngx_http_request_t *r);


ngx_uint_t
ngx_http_q2api_metrics_outcome(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_uint_t  status;

    status = r->headers_out.status;

    if (status == NGX_HTTP_CLIENT_CLOSED_REQUEST || r->connection->error) {
        return NGX_HTTP_Q2API_M_ABORTED;
    }

    if (ctx->no_account) {
        return NGX_HTTP_Q2API_M_NO_ACCOUNT;
    }

    if (ctx->failed && ctx->error == Q2API_ERR_TIMEOUT) {
        /* also a stream that stalled after its 200 */
        return NGX_HTTP_Q2API_M_TIMEOUT;
    }

    if (status >= 200 && status < 300) {
        return (ctx->failed && ctx->committed)
               ? NGX_HTTP_Q2API_M_UPSTREAM_ERROR : NGX_HTTP_Q2API_M_OK;
    }

    if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        return NGX_HTTP_Q2API_M_RATE_LIMITED;
    }

    if (status == NGX_HTTP_GATEWAY_TIME_OUT) {
        return NGX_HTTP_Q2API_M_TIMEOUT;
    }

    if (status >= 400 && status < 500) {
        return NGX_HTTP_Q2API_M_CLIENT_ERROR;
    }

    return NGX_HTTP_Q2API_M_UPSTREAM_ERROR;
}


void
ngx_http_q2api_metrics_first_byte(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    if (ctx->ttfb == 0) {
        ctx->ttfb = (ngx_msec_t) ngx_http_q2api_metrics_since(r) + 1;
    }
}


void
ngx_http_q2api_metrics_attempt(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_uint_t                      back, class;
    ngx_http_q2api_metrics_conf_t  *mc;

    if (ctx->attempt == NULL || ctx->counted == ctx->attempt) {
        return;
    }

    ctx->counted = ctx->attempt;

    if (!ctx->failed) {
        class = NGX_HTTP_Q2API_OUT_SUCCESS;

    } else if (ctx->error == Q2API_ERR_TIMEOUT) {
        class = NGX_HTTP_Q2API_M_ATT_TIMEOUT;

    } else {
        class = ngx_min((ngx_uint_t) ctx->outcome,
                        NGX_HTTP_Q2API_M_ATT_TIMEOUT - 1);
    }

    if (r->connection->error) {
        class = NGX_HTTP_Q2API_M_ATT_ABORTED;
    }

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return;
    }

    back = ngx_http_q2api_metrics_back(mc, ctx->back);

    ctx->counted_back = back;
    ctx->counted_class = class;

    ngx_http_q2api_metrics_add(mc,
        mc->att + back * NGX_HTTP_Q2API_M_ATTEMPTS + class, 1);
}


void
ngx_http_q2api_metrics_failover(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL || ctx->counted == NULL) {
        return;
    }

    ngx_http_q2api_metrics_add(mc,
        mc->fov + ctx->counted_back * NGX_HTTP_Q2API_M_ATTEMPTS
        + ctx->counted_class, 1);
}


void
ngx_http_q2api_metrics_request(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    long long                       tokens[NGX_HTTP_Q2API_M_DIRECTIONS];
    ngx_uint_t                      i, front, back, model, key, outcome;
    ngx_uint_t                      failed;
    ngx_msec_int_t                  ms;
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return;
    }

    if (ctx->attempt && ctx->counted != ctx->attempt) {
        /* the client went away while it ran: nobody finished it */
        failed = ctx->failed;
        ctx->failed = 1;
        ngx_http_q2api_metrics_attempt(r, ctx);
        ctx->failed = failed;
    }

    outcome = ngx_http_q2api_metrics_outcome(r, ctx);
    front = ngx_http_q2api_metrics_front(mc, ctx);
    back = ngx_http_q2api_metrics_back(mc, ctx->attempt ? ctx->back : NULL);
    model = ngx_http_q2api_metrics_model(mc, ctx);
    key = (ctx->key && ctx->key->slot < mc->nkey - 1) ? ctx->key->slot
                                                       : mc->nkey - 1;

    ngx_http_q2api_metrics_add(mc,
        mc->req + ((front * mc->nback + back) * mc->nmodel + model)
                  * NGX_HTTP_Q2API_M_OUTCOMES + outcome, 1);

    ngx_http_q2api_metrics_add(mc,
        mc->kreq + key * NGX_HTTP_Q2API_M_OUTCOMES + outcome, 1);

    ms = ngx_http_q2api_metrics_since(r);

    ngx_http_q2api_metrics_observe(mc, mc->dur + back * NGX_HTTP_Q2API_M_HIST,
                                   ms);

    if (outcome != NGX_HTTP_Q2API_M_OK) {
        return;
    }

    if (ctx->ttfb) {
        ngx_http_q2api_metrics_observe(mc,
            mc->ttfb + back * NGX_HTTP_Q2API_M_HIST,
            (ngx_msec_int_t) ctx->ttfb - 1);
    }

    if (ctx->endpoint != NGX_HTTP_Q2API_EP_MESSAGES || ctx->attempt == NULL) {
        return;
    }

    /* what the account was charged (attempt_done): figures, else guesses */
    tokens[0] = ctx->usage.input_tokens >= 0 ? ctx->usage.input_tokens
                                             : ctx->input_estimate;
    tokens[1] = ctx->usage.output_tokens >= 0
                ? ctx->usage.output_tokens
                : q2api_estimate_tokens(ctx->output_bytes);
    tokens[2] = ctx->usage.cache_read_tokens;
    tokens[3] = ctx->usage.cache_write_tokens;

    for (i = 0; i < NGX_HTTP_Q2API_M_DIRECTIONS; i++) {
        if (tokens[i] <= 0) {
            continue;
        }

        ngx_http_q2api_metrics_add(mc,
            mc->tok + (i * mc->nback + back) * mc->nmodel + model, tokens[i]);
        ngx_http_q2api_metrics_add(mc,
            mc->ktok + key * NGX_HTTP_Q2API_M_DIRECTIONS + i, tokens[i]);
    }
}


void
ngx_http_q2api_metrics_refresh(void *provider, ngx_int_t rc)
{
    ngx_uint_t                      i, result;
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return;
    }

    for (i = 0; i + 1 < mc->nprov; i++) {
        if ((void *) ngx_http_q2api_providers[i] == provider) {
            break;
        }
    }

    result = (rc == NGX_OK) ? 0 : (rc == NGX_DECLINED) ? 1 : 2;

    ngx_http_q2api_metrics_add(mc,
        mc->ref + i * NGX_HTTP_Q2API_M_REFRESHES + result, 1);
}


void
ngx_http_q2api_metrics_login(ngx_uint_t result)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL || result >= NGX_HTTP_Q2API_M_LOGINS) {
        return;
    }

    ngx_http_q2api_metrics_add(mc, mc->login + result, 1);
}


void
ngx_http_q2api_metrics_donation(ngx_uint_t result)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL || result >= NGX_HTTP_Q2API_M_DONATIONS) {
        return;
    }

    ngx_http_q2api_metrics_add(mc, mc->donation + result, 1);
}


void
ngx_http_q2api_metrics_store(ngx_uint_t up, ngx_uint_t wrote)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return;
    }

    mc->sh->store_known = 1;
    mc->sh->store_up = up ? 1 : 0;

    if (wrote) {
        mc->sh->store_written = ngx_time();
    }
}


/*
 * The NOTIFY lag: from the first announcement of another node's change
 * that this node has not applied yet to the fetch (or load) that applied
 * it.  Only the store loop's worker calls it, so the start is its own.
 */
void
ngx_http_q2api_metrics_notify(ngx_uint_t applied)
{
    ngx_http_q2api_metrics_conf_t  *mc;

    static ngx_msec_t               since;
    static ngx_uint_t               waiting;

    if (!applied) {
        if (!waiting) {
            since = ngx_current_msec;
            waiting = 1;
        }

        return;
    }

    if (!waiting) {
        return;
    }

    waiting = 0;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return;
    }

    mc->sh->notify_lag = (ngx_current_msec - since) + 1;
}


static ngx_uint_t
ngx_http_q2api_metrics_front(ngx_http_q2api_metrics_conf_t *mc,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_uint_t  i;

    for (i = 0; i < mc->nfront; i++) {
        if (q2api_fronts[i] == ctx->front) {
            return i;
        }
    }

    return 0;
}


static ngx_uint_t
ngx_http_q2api_metrics_back(ngx_http_q2api_metrics_conf_t *mc,
    const q2api_back_t *back)
{
    ngx_uint_t  i;

    for (i = 0; back && i + 1 < mc->nback; i++) {
        if (q2api_backs[i] == back) {
            return i;
        }
    }

    return mc->nback - 1;
}


/* the client's model as the model table knows it; else "other" */
static ngx_uint_t
ngx_http_q2api_metrics_model(ngx_http_q2api_metrics_conf_t *mc,
    ngx_http_q2api_ctx_t *ctx)
{
    int          thinking;
    char         name[128], **ids;
    ngx_uint_t   i;

    if ((ctx->endpoint != NGX_HTTP_Q2API_EP_MESSAGES
         && ctx->endpoint != NGX_HTTP_Q2API_EP_COUNT_TOKENS)
        || ctx->req.model.len == 0)
    {
        return mc->nmodel - 1;
    }

    if (q2api_model_normalize(ctx->req.model.data, ctx->req.model.len,
                              name, sizeof(name), &thinking)
        == 0)
    {
        return mc->nmodel - 2;
    }

    ids = mc->models.elts;

    for (i = 0; i < mc->models.nelts; i++) {
        if (ngx_strcmp(ids[i], name) == 0) {
            return i;
        }
    }

    return mc->nmodel - 2;
}


/* one observation into a histogram: its bucket, the sum (ms), the count */
static void
ngx_http_q2api_metrics_observe(ngx_http_q2api_metrics_conf_t *mc,
    ngx_uint_t off, ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    if (ms < 0) {
        ms = 0;
    }

    for (i = 0; i < NGX_HTTP_Q2API_M_BUCKETS - 1; i++) {
        if ((ngx_msec_t) ms <= ngx_http_q2api_metrics_bounds[i]) {
            break;
        }
    }

    ngx_http_q2api_metrics_add(mc, off + i, 1);
    ngx_http_q2api_metrics_add(mc, off + NGX_HTTP_Q2API_M_HIST_SUM, ms);
    ngx_http_q2api_metrics_add(mc, off + NGX_HTTP_Q2API_M_HIST_COUNT, 1);
}


/* ms since the client's request began */
static ngx_msec_int_t
ngx_http_q2api_metrics_since(ngx_http_request_t *r)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (ngx_msec_int_t) ((tp->sec - r->main->start_sec) * 1000
                             + (tp->msec - r->main->start_msec));
}
