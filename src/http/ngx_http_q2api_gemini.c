/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What attempts on Gemini accounts add: a model out on one account after
 * Google's per-model quota or a 404, and the account's Code Assist
 * project looked up before an attempt (or again after Google refused it).
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_gemini_setup.h"


/* how long a model stays out on an account when Google does not say */
#define NGX_HTTP_Q2API_QUOTA_TIME     3600
#define NGX_HTTP_Q2API_UNSERVED_TIME  86400


static void ngx_http_q2api_discovered(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message);


/*
 * A model out on the attempt's account (Gemini's per-model quota, a model
 * it is not given): until the reset Google named, else after the delay it
 * gave, else for a default; the account goes on serving other models.
 */
void
ngx_http_q2api_model_out(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    q2api_upstream_error_t *ue)
{
    time_t                       now, until;
    ngx_str_t                    model;
    ngx_http_q2api_attempt_t    *actx;
    ngx_http_q2api_loc_conf_t   *qlcf;
    ngx_http_q2api_main_conf_t  *qmcf;

    actx = ctx->attempt;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);
    now = ngx_time();

    if (ue->health == Q2API_HEALTH_MODEL_UNSERVED) {
        until = now + NGX_HTTP_Q2API_UNSERVED_TIME;

    } else if (ue->reset_at > now) {
        until = ue->reset_at;

    } else if (ue->retry_after > 0) {
        until = now + (time_t) ngx_min(ue->retry_after,
                                       NGX_HTTP_Q2API_UNSERVED_TIME);

    } else {
        until = now + NGX_HTTP_Q2API_QUOTA_TIME;
    }

    model.data = (u_char *) actx->model_id.data;
    model.len = actx->model_id.len;

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "q2api: account \"%V\": model \"%V\" out for %T s (%s)",
                  &actx->account.id, &model, until - now, ue->reason);

    ngx_http_q2api_accounts_model_out(qmcf->accounts, &actx->account.id,
                                      &model, until, ue->reason);

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    if (ue->health == Q2API_HEALTH_MODEL_QUOTA && qlcf->gemini_quota_interval
        && ngx_http_q2api_gemini_quota(r, &actx->account.id, NULL, NULL)
           == NGX_ERROR)
    {
        /*
         * the account's other models and reset times, for the stats and
         * the donate page: read in the background, so the next account's
         * attempt does not wait; a failure costs only their freshness
         */
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api: account \"%V\": its quota could not be read "
                      "after a 429", &actx->account.id);
    }
}


/*
 * nginx has no request of its own to call out from on a timer, so a
 * Gemini account's quota is read on its use: once every
 * q2api_gemini_quota_interval (with the account's own jitter), in the
 * background, across all workers.  An account nobody uses keeps the
 * quota of its last read (and its time, other.quotaCheckedAt).
 */
void
ngx_http_q2api_quota_when_due(ngx_http_request_t *r,
    ngx_http_q2api_pick_t *pick)
{
    ngx_http_q2api_loc_conf_t   *qlcf;
    ngx_http_q2api_main_conf_t  *qmcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    /*
     * the pick's copy answers most requests without the zone's lock; the
     * zone decides, under it, which worker reads
     */
    if (qlcf->gemini_quota_interval == 0
        || (pick->quota_read_at
            && ngx_time() - pick->quota_read_at
               < qlcf->gemini_quota_interval)
        || ngx_http_q2api_accounts_quota_due(qmcf->accounts, &pick->id,
                                             qlcf->gemini_quota_interval)
           != NGX_OK)
    {
        return;
    }

    if (ngx_http_q2api_gemini_quota(r, &pick->id, NULL, NULL) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api: account \"%V\": its quota could not be read",
                      &pick->id);
    }
}


/* a Gemini account's project looked up, then the attempt on it */
ngx_int_t
ngx_http_q2api_discover_then_launch(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id, ngx_uint_t flags)
{
    ngx_int_t  rc;

    ctx->refreshing = *id;
    ctx->waiting = 1;
    ctx->discovered = 1;

    rc = ngx_http_q2api_gemini_discover(r, id, flags,
                                        ngx_http_q2api_discovered, ctx);

    if (rc != NGX_OK) {
        ctx->waiting = 0;
    }

    return rc;
}


static void
ngx_http_q2api_discovered(ngx_http_request_t *r, void *data, ngx_int_t rc,
    ngx_str_t *message)
{
    ngx_http_q2api_resume(r, data, rc, message,
                          "the backend account's project could not be "
                          "found");
}
