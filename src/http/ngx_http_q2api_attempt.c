/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Attempts: an account is picked, its token refreshed if it must be, and
 * one subrequest sent to the internal location of its kind, which proxies
 * to the backend (conf/q2api_upstream.conf).  When it is over, its outcome
 * goes to the account's health, and a failure that reached no client byte
 * is tried again: the same account after a token refresh, or the next.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_metrics.h"


static ngx_int_t ngx_http_q2api_post_subrequest(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_q2api_attempt_body(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_http_q2api_attempt_t *actx);
static ngx_http_q2api_outcome_e ngx_http_q2api_health_outcome(
    q2api_health_e health);
static ngx_int_t ngx_http_q2api_retry(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_reset_attempt(ngx_http_q2api_ctx_t *ctx);
static void ngx_http_q2api_refreshed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message);

static int ngx_http_q2api_on_event(void *data, const q2api_event_t *ev);
static void ngx_http_q2api_count_usage(ngx_http_q2api_ctx_t *ctx,
    const q2api_event_t *ev);
static void ngx_http_q2api_stream_broke(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_http_q2api_attempt_t *actx);



static ngx_str_t  ngx_http_q2api_post_method = ngx_string("POST");


ngx_int_t
ngx_http_q2api_start_attempt(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_http_q2api_pick_t        pick;
    ngx_http_q2api_select_t      sel;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    /* a named account is tried once: another try would be the same */
    if (qmcf->accounts == NULL || ctx->attempts >= ctx->conf->max_attempts
        || (ctx->want.len && ctx->attempts))
    {
        return NGX_DECLINED;
    }

    ngx_memzero(&sel, sizeof(ngx_http_q2api_select_t));

    sel.strategy = ctx->conf->strategy;
    sel.affinity = ctx->affinity;
    sel.affinity_timeout = ctx->conf->affinity_timeout;
    sel.want = ctx->want;
    sel.force = ctx->force;
    sel.exclude = ctx->tried;
    sel.nexclude = ctx->attempts;

    /* the model's back end decides which accounts can serve it */
    sel.back = ctx->back_name;
    sel.model.data = (u_char *) ctx->model_id.data;
    sel.model.len = ctx->model_id.len;

    if (ctx->back_name && ngx_strcmp(ctx->back_name, "amazonq") == 0) {
        sel.alt_model.data = (u_char *) ctx->alt_model_id.data;
        sel.alt_model.len = ctx->alt_model_id.len;
    }

    rc = ngx_http_q2api_accounts_pick(qmcf->accounts, r->pool, &sel, &pick,
                                  &ctx->retry_after);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->tried[ctx->attempts++] = pick.id;

    /* each account gets its own refresh-and-retry after a 401 or 403,
     * and its own project lookup */
    ctx->auth_retried = 0;
    ctx->discovered = 0;

    /*
     * A token that has expired, or will within the refresh window, is
     * refreshed first (one refresh per account across all workers); the
     * attempt starts when it is done.
     */
    if (pick.refreshable && pick.token_expires
        && pick.token_expires - ngx_time() < NGX_HTTP_Q2API_REFRESH_AHEAD)
    {
        rc = ngx_http_q2api_refresh_then_launch(r, ctx, &pick.id);

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    /*
     * A Gemini account whose project is not known yet finds it first;
     * when another request is at it, this one goes without, and Google's
     * 403 about the project brings it back here.
     */
    if (pick.type == NGX_HTTP_Q2API_ACCOUNT_GEMINI && pick.project.len == 0) {
        rc = ngx_http_q2api_discover_then_launch(r, ctx, &pick.id, 0);

        if (rc == NGX_OK || rc == NGX_ERROR) {
            return rc;
        }
    }

    if (pick.type == NGX_HTTP_Q2API_ACCOUNT_GEMINI && pick.project.len) {
        ngx_http_q2api_quota_when_due(r, &pick);
    }

    return ngx_http_q2api_launch_attempt(r, ctx, &pick);
}


ngx_int_t
ngx_http_q2api_launch_attempt(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_http_q2api_pick_t *pick)
{
    ngx_http_request_t          *sr;
    ngx_http_q2api_kind_t       *kind;
    ngx_http_q2api_attempt_t    *actx;
    ngx_http_post_subrequest_t  *ps;

    actx = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_attempt_t));
    if (actx == NULL) {
        return NGX_ERROR;
    }

    actx->magic = NGX_HTTP_Q2API_CTX_ATTEMPT;
    actx->ctx = ctx;
    actx->account = *pick;

    if (ngx_http_q2api_attempt_body(r, ctx, actx) != NGX_OK) {
        return NGX_ERROR;
    }

    if (q2api_uuid4((char *) actx->invocation_id) != Q2API_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api: RAND_bytes() failed");
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_q2api_post_subrequest;
    ps->data = actx;

    /* each kind has its location: Kiro speaks the IDE's REST style */
    kind = ngx_http_q2api_kind(pick->type);

    if (ngx_http_subrequest(r, &ctx->conf->kinds[kind->type].location,
                            NULL, &sr, ps, NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(sr, actx, ngx_http_q2api_module);
    actx->request = sr;

    if (ngx_http_q2api_subrequest_body(r, sr, actx->body.data,
                                       actx->body.len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ctx->attempt = actx;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "q2api attempt %ui on account \"%V\", body %uz bytes",
                   ctx->attempts, &actx->account.id, actx->body.len);

    return NGX_OK;
}


/*
 * The account decides the back end and what goes into its body (a
 * profileArn, the Kiro IDE's style), so each attempt builds its own, and
 * begins the back end's stream state anew.  The previous attempt's
 * subrequest is over, so its body is rebuilt in place.
 */
static ngx_int_t
ngx_http_q2api_attempt_body(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_http_q2api_attempt_t *actx)
{
    q2api_error_t           err;
    q2api_back_opts_t       opts;
    const q2api_back_t     *back;
    ngx_http_q2api_kind_t  *kind;

    kind = ngx_http_q2api_kind(actx->account.type);

    back = q2api_back_find(kind->back, ngx_strlen(kind->back));
    if (back == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api: no back end \"%s\" in this build", kind->back);
        return NGX_ERROR;
    }

    if (ctx->back_state) {
        ctx->back->stream_free(ctx->back_state);

        if (back->stream_size > ctx->back->stream_size) {
            ctx->back_state = NULL;
        }
    }

    ctx->back = back;

    if (ctx->back_state == NULL) {
        ctx->back_state = ngx_pcalloc(r->pool, back->stream_size);
        if (ctx->back_state == NULL) {
            return NGX_ERROR;
        }
    }

    back->stream_init(ctx->back_state, &ctx->req, ngx_http_q2api_on_event,
                      ctx);

    ngx_memzero(&opts, sizeof(q2api_back_opts_t));
    opts.model_id = ctx->model_id;
    opts.scope.data = (char *) actx->account.profile_arn.data;
    opts.scope.len = actx->account.profile_arn.len;
    opts.flavour = kind->flavour;
    opts.now = ngx_time();

    if (actx->account.type == NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        /* Gemini accounts: their project and flavour are their own */
        opts.scope.data = (char *) actx->account.project.data;
        opts.scope.len = actx->account.project.len;
        opts.flavour = actx->account.flavour;

        if (ctx->back_name && ngx_strcmp(ctx->back_name, back->name) != 0
            && ctx->alt_model_id.len)
        {
            /* Claude on Antigravity, under Antigravity's name */
            opts.model_id = ctx->alt_model_id;
        }
    }

    actx->model_id = opts.model_id;

    q2api_buf_reset(&ctx->body);

    if (back->build(&ctx->req, &opts, &ctx->body, &err) != Q2API_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "q2api: %s",
                      err.message);
        return NGX_ERROR;
    }

    actx->body.data = ctx->body.data;
    actx->body.len = ctx->body.len;

    return NGX_OK;
}


/* a POST with our body, in place of the client's */
ngx_int_t
ngx_http_q2api_subrequest_body(ngx_http_request_t *r, ngx_http_request_t *sr,
    u_char *data, size_t len)
{
    ngx_buf_t                *b;
    ngx_chain_t              *cl;
    ngx_http_request_body_t  *rb;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = data;
    b->last = data + len;
    b->start = b->pos;
    b->end = b->last;
    /* an empty body is a bare last_buf: nginx alerts on empty memory bufs */
    b->memory = (len != 0);
    b->last_buf = 1;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    rb = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (rb == NULL) {
        return NGX_ERROR;
    }

    rb->bufs = cl;
    rb->buf = b;

    sr->request_body = rb;
    sr->method = NGX_HTTP_POST;
    sr->method_name = ngx_http_q2api_post_method;
    sr->headers_in.content_length_n = len;
    sr->headers_in.chunked = 0;

    return NGX_OK;
}


/*
 * Runs every time the subrequest is finalized; it only records the outcome
 * and lets the parent decide (nginx then wakes the parent).  Returning
 * NGX_OK keeps nginx from rendering an error page into the client's
 * stream or tearing the client request down with the upstream.
 */
static ngx_int_t
ngx_http_q2api_post_subrequest(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_q2api_attempt_t  *actx = data;

    if (actx->finalized) {
        return NGX_OK;
    }

    actx->finalized = 1;

    /*
     * nginx ends a stream that falls silent as it ends a reset one: silence
     * as long as proxy_read_timeout is what tells them apart.  A timer
     * re-armed within NGX_TIMER_LAZY_DELAY keeps its old time, so it may
     * fire up to that much before the full timeout since the last bytes.
     */
    if (actx->streaming && !actx->eof && sr->upstream
        && ngx_current_msec - actx->last_input + NGX_TIMER_LAZY_DELAY
           >= sr->upstream->conf->read_timeout)
    {
        actx->timed_out = 1;
    }

    if (actx->status == 0) {
        /* no header came: connect error, timeout... */
        if (sr->headers_out.status) {
            actx->status = sr->headers_out.status;

        } else if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            actx->status = rc;

        } else {
            actx->status = NGX_HTTP_BAD_GATEWAY;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, sr->connection->log, 0,
                   "q2api attempt done rc:%i status:%i eof:%ui",
                   rc, actx->status, (ngx_uint_t) actx->eof);

    if (sr->connection->error) {
        /*
         * The client went away: nginx terminates the request with what
         * this returns, and logs that as its status (it would be "000"
         * with NGX_OK when nothing was sent yet).
         */
        return NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    return NGX_OK;
}

/*
 * A stream that began well and did not end well, named for what happened:
 * the backend fell silent for proxy_read_timeout; it closed without a
 * length or a chunked end, so nothing says the answer is whole; or it was
 * cut or corrupt.
 */
static void
ngx_http_q2api_stream_broke(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_http_q2api_attempt_t *actx)
{
    const char  *message, *reason;

    ctx->failed = 1;
    ctx->outcome = NGX_HTTP_Q2API_OUT_CAPACITY;
    ctx->error = Q2API_ERR_API;

    if (actx->timed_out && !actx->corrupt) {
        ctx->error = Q2API_ERR_TIMEOUT;
        message = "the backend stopped sending in the middle of its answer "
                  "(proxy_read_timeout)";
        reason = "stream stalled";

    } else if (actx->eof && !actx->corrupt) {
        message = "the backend closed the connection without ending its "
                  "answer: it may be cut";
        reason = "stream unframed";

    } else {
        message = "the backend stream ended unexpectedly";
        reason = "stream cut";
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "q2api: account \"%V\": %s", &actx->account.id, message);

    ngx_cpystrn(ctx->error_message, (u_char *) message, Q2API_ERR_MSG_LEN);
    ngx_cpystrn(ctx->reason, (u_char *) reason, sizeof(ctx->reason));
}


/*
 * The attempt is over: what it did goes to the account's health and
 * counters, and a failure is named for the client.
 */
void
ngx_http_q2api_attempt_done(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    q2api_upstream_error_t       ue;
    ngx_http_q2api_attempt_t    *actx;
    ngx_http_q2api_main_conf_t  *qmcf;

    actx = ctx->attempt;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (!ctx->failed && !actx->streaming) {

        if (!actx->header_seen) {
            /* no answer at all: the transport failed, not the backend */
            ue.health = Q2API_HEALTH_CAPACITY;

            if (actx->status == NGX_HTTP_GATEWAY_TIME_OUT) {
                ue.client_error = Q2API_ERR_TIMEOUT;
                ngx_cpystrn((u_char *) ue.message,
                            (u_char *) "the backend did not answer in time",
                            Q2API_ERR_MSG_LEN);
                ngx_cpystrn((u_char *) ue.reason, (u_char *) "timed out",
                            sizeof(ue.reason));

            } else {
                ue.client_error = Q2API_ERR_BAD_GATEWAY;
                ngx_cpystrn((u_char *) ue.message,
                            (u_char *) "the backend could not be reached",
                            Q2API_ERR_MSG_LEN);
                ngx_cpystrn((u_char *) ue.reason, (u_char *) "unreachable",
                            sizeof(ue.reason));
            }

        } else {
            /* the backend answered with an HTTP error */
            ctx->back->classify(actx->status,
                                actx->error_body
                                ? (char *) actx->error_body->pos : NULL,
                                actx->error_body
                                ? (size_t) (actx->error_body->last
                                            - actx->error_body->pos)
                                : 0,
                                &ue);
        }

        ctx->failed = 1;
        ctx->error = ue.client_error;
        ctx->outcome = ngx_http_q2api_health_outcome(ue.health);

        ctx->project_refused = (ue.health == Q2API_HEALTH_PROJECT);

        if (ue.health == Q2API_HEALTH_MODEL_QUOTA
            || ue.health == Q2API_HEALTH_MODEL_UNSERVED)
        {
            ngx_http_q2api_model_out(r, ctx, &ue);
        }
        ngx_cpystrn(ctx->error_message, (u_char *) ue.message,
                    Q2API_ERR_MSG_LEN);
        ngx_cpystrn(ctx->reason, (u_char *) ue.reason, sizeof(ctx->reason));

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: account \"%V\" failed with upstream status "
                      "%i (%s)", &actx->account.id, actx->status, ue.reason);
    }

    if (!ctx->failed && (!actx->eof || actx->corrupt || !actx->framed)) {
        /* the stream broke after the upstream's 200 */
        ngx_http_q2api_stream_broke(r, ctx, actx);
    }

    ngx_http_q2api_metrics_attempt(r, ctx);

    if (ctx->failed) {
        ngx_http_q2api_accounts_report(qmcf->accounts, &actx->account.id,
                                       ctx->outcome, (char *) ctx->reason,
                                       0, 0);
        return;
    }

    ngx_http_q2api_accounts_report(qmcf->accounts, &actx->account.id,
                                   NGX_HTTP_Q2API_OUT_SUCCESS, NULL,
                                   ctx->usage.input_tokens >= 0
                                   ? ctx->usage.input_tokens
                                   : ctx->input_estimate,
                                   ctx->usage.output_tokens >= 0
                                   ? ctx->usage.output_tokens
                                   : q2api_estimate_tokens(
                                         ctx->output_bytes));
}


/*
 * A failed attempt that sent the client nothing: a rejected token is
 * refreshed and the same account tried once more, before moving on; other
 * failures move on to the next account, unless the request itself was the
 * problem.  NGX_OK: another attempt is under way; NGX_DECLINED: the
 * failure is the answer.
 */
ngx_int_t
ngx_http_q2api_attempt_again(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    ngx_int_t                  rc;
    ngx_http_q2api_attempt_t  *actx;

    actx = ctx->attempt;

    if (ctx->project_refused && !ctx->discovered
        && actx->account.type == NGX_HTTP_Q2API_ACCOUNT_GEMINI)
    {
        /* Google refused the project: look it up again, once */
        ctx->project_refused = 0;
        ngx_http_q2api_reset_attempt(ctx);

        rc = ngx_http_q2api_discover_then_launch(r, ctx, &actx->account.id,
                                             NGX_HTTP_Q2API_GEMINI_REDISCOVER);
        if (rc == NGX_OK) {
            return NGX_OK;
        }
    }

    if (ctx->outcome == NGX_HTTP_Q2API_OUT_AUTH
        && actx->account.refreshable && !ctx->auth_retried)
    {
        ctx->auth_retried = 1;
        ngx_http_q2api_reset_attempt(ctx);

        rc = ngx_http_q2api_refresh_then_launch(r, ctx, &actx->account.id);
        if (rc == NGX_OK) {
            return NGX_OK;
        }
    }

    if (ctx->outcome != NGX_HTTP_Q2API_OUT_CLIENT
        && ctx->attempts < ctx->conf->max_attempts)
    {
        rc = ngx_http_q2api_retry(r, ctx);

        if (rc == NGX_OK || rc == NGX_ERROR) {
            return rc;
        }
    }

    return NGX_DECLINED;
}


/* the answer when no attempt could start */
ngx_int_t
ngx_http_q2api_no_account(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_int_t rc)
{
    u_char  msg[256];

    /* for metrics: all cooling is "rate limited", a last failure is its
     * own class */
    ctx->no_account = !(rc == NGX_DECLINED
                        && ((ctx->attempts && ctx->failed)
                            || (ctx->want.len == 0 && ctx->retry_after > 0)));

    if (rc == NGX_BUSY) {
        ngx_snprintf(msg, sizeof(msg) - 1,
                     "account \"%V\" is not usable now%Z", &ctx->want);
        return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_UNAVAILABLE,
                                         (char *) msg);
    }

    if (rc == NGX_DECLINED && ctx->want.len) {
        ngx_snprintf(msg, sizeof(msg) - 1, "no account \"%V\"%Z",
                     &ctx->want);
        return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_NOT_FOUND,
                                         (char *) msg);
    }

    if (rc == NGX_DECLINED && ctx->attempts && ctx->failed) {
        /* every account tried failed: the last failure says why */
        return ngx_http_q2api_send_error(r, ctx, ctx->error,
                                         (char *) ctx->error_message);
    }

    if (rc == NGX_DECLINED && ctx->retry_after > 0) {
        /* all usable accounts are cooling down: come back then */
        return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_RATE_LIMIT,
                                         "every backend account is rate "
                                         "limited; retry later");
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_UNAVAILABLE,
                                         "no usable backend account: the "
                                         "account pool is empty or every "
                                         "account is out of rotation");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}



static ngx_http_q2api_outcome_e
ngx_http_q2api_health_outcome(q2api_health_e health)
{
    switch (health) {
    case Q2API_HEALTH_CLIENT:
        return NGX_HTTP_Q2API_OUT_CLIENT;
    case Q2API_HEALTH_AUTH:
        return NGX_HTTP_Q2API_OUT_AUTH;
    case Q2API_HEALTH_SUSPENDED:
        return NGX_HTTP_Q2API_OUT_SUSPENDED;
    case Q2API_HEALTH_QUOTA:
        return NGX_HTTP_Q2API_OUT_QUOTA;
    case Q2API_HEALTH_THROTTLED:
        return NGX_HTTP_Q2API_OUT_THROTTLED;
    case Q2API_HEALTH_CAPACITY:
    case Q2API_HEALTH_MODEL_QUOTA:
    case Q2API_HEALTH_MODEL_UNSERVED:
        /* the account serves its other models: no penalty of its own */
        return NGX_HTTP_Q2API_OUT_CAPACITY;
    default:
        return NGX_HTTP_Q2API_OUT_ERROR;
    }
}


/*
 * The next account, for a request whose attempt failed before anything
 * reached the client.  NGX_DECLINED: no other account is usable.
 */
static ngx_int_t
ngx_http_q2api_retry(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_str_t   failed;

    failed = ctx->attempt->account.id;

    rc = ngx_http_q2api_start_attempt(r, ctx);

    if (rc != NGX_OK) {
        return rc == NGX_ERROR ? NGX_ERROR : NGX_DECLINED;
    }

    ngx_http_q2api_metrics_failover(r, ctx);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "q2api: account \"%V\" failed (%s), trying account "
                  "\"%V\"", &failed, ctx->reason,
                  &ctx->tried[ctx->attempts - 1]);

    return ngx_http_q2api_reset_attempt(ctx);
}


/* the next attempt starts from a clean slate */
static ngx_int_t
ngx_http_q2api_reset_attempt(ngx_http_q2api_ctx_t *ctx)
{
    q2api_buf_reset(&ctx->out);
    ctx->front->stream_free(ctx->front_state);

    if (ctx->front->stream_init(ctx->front_state, &ctx->out, &ctx->req)
        != Q2API_OK)
    {
        return NGX_ERROR;
    }

    /* the back end's state is begun anew when the attempt launches */

    q2api_usage_init(&ctx->usage);
    ctx->output_bytes = 0;
    ctx->tool_open = 0;
    ctx->had_tool = 0;
    ctx->stop = Q2API_STOP_NONE;

    ngx_http_q2api_drop_in(ctx);
    ctx->failed = 0;
    ctx->stream_error = 0;
    ctx->error = Q2API_ERR_NONE;
    ctx->error_message[0] = '\0';
    ctx->reason[0] = '\0';

    return NGX_OK;
}


/*
 * The account's token is refreshed first (or another worker's refresh is
 * waited for); its attempt starts when that is done.  NGX_OK: under way;
 * NGX_DECLINED: nothing to refresh, launch as it is.
 */
ngx_int_t
ngx_http_q2api_refresh_then_launch(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id)
{
    ngx_int_t  rc;

    ctx->refreshing = *id;
    ctx->waiting = 1;

    rc = ngx_http_q2api_token_refresh(r, id, ngx_http_q2api_refreshed, ctx);

    if (rc != NGX_OK) {
        ctx->waiting = 0;
    }

    return rc;
}


static void
ngx_http_q2api_refreshed(ngx_http_request_t *r, void *data, ngx_int_t rc,
    ngx_str_t *message)
{
    ngx_http_q2api_resume(r, data, rc, message,
                          "the backend account's token could not be "
                          "refreshed");
}


/*
 * A refresh or a project lookup is over: the attempt it held back starts
 * on the account, or, when it failed, the next account is tried.
 */
void
ngx_http_q2api_resume(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_int_t rc, ngx_str_t *message, const char *failure)
{
    ngx_int_t                    rv;
    ngx_http_q2api_pick_t        pick;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    ctx->waiting = 0;

    if (ctx->done || r->connection->error) {
        ctx->done = 1;
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    if ((rc == NGX_OK || rc == NGX_BUSY)
        && ngx_http_q2api_accounts_pick_id(qmcf->accounts, r->pool,
                                           &ctx->refreshing, &pick)
           == NGX_OK)
    {
        rv = ngx_http_q2api_launch_attempt(r, ctx, &pick);

        if (rv == NGX_OK) {
            return;
        }

        ctx->done = 1;
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* this account cannot be used: the next one, if any */
    ctx->failed = 1;
    ctx->error = Q2API_ERR_UNAVAILABLE;
    ngx_snprintf(ctx->error_message, Q2API_ERR_MSG_LEN - 1, "%s (%V)%Z",
                 failure, message);

    rv = ngx_http_q2api_start_attempt(r, ctx);

    if (rv == NGX_OK) {
        if (ngx_http_q2api_reset_attempt(ctx) == NGX_OK) {
            return;
        }

        rv = NGX_ERROR;
    }

    ctx->done = 1;

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    ngx_http_finalize_request(r, rv == NGX_ERROR
                                 ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                 : ngx_http_q2api_no_account(r, ctx, rv));
}


/*
 * The back end's events go through here on their way to the front end:
 * an error before any byte reached the client is kept for a proper HTTP
 * error answer instead of becoming an SSE event.
 */
static int
ngx_http_q2api_on_event(void *data, const q2api_event_t *ev)
{
    ngx_http_q2api_ctx_t  *ctx = data;

    if (ev->type == Q2API_EV_ERROR) {
        ctx->error = ev->error;
        ngx_cpystrn(ctx->error_message, (u_char *) ev->text.data,
                    ngx_min(ev->text.len + 1, Q2API_ERR_MSG_LEN));

        ngx_log_error(NGX_LOG_ERR, ctx->request->connection->log, 0,
                      "q2api: account \"%V\" stream error: %s",
                      &ctx->attempt->account.id, ctx->error_message);

        ctx->failed = 1;

        switch (ev->error) {
        case Q2API_ERR_RATE_LIMIT:
            ctx->outcome = NGX_HTTP_Q2API_OUT_THROTTLED;
            break;
        case Q2API_ERR_INVALID_REQUEST:
        case Q2API_ERR_CONTEXT_EXCEEDED:
            ctx->outcome = NGX_HTTP_Q2API_OUT_CLIENT;
            break;
        case Q2API_ERR_PERMISSION:
            ctx->outcome = NGX_HTTP_Q2API_OUT_ERROR;
            break;
        default:
            ctx->outcome = NGX_HTTP_Q2API_OUT_CAPACITY;
        }

        ngx_cpystrn(ctx->reason, (u_char *) "stream exception",
                    sizeof(ctx->reason));

        if (!ctx->committed || !ctx->stream) {
            /* nothing was sent: drop what was prepared */
            q2api_buf_reset(&ctx->out);
            return Q2API_OK;
        }

        ctx->stream_error = 1;
    }

    ngx_http_q2api_count_usage(ctx, ev);

    return ctx->front->stream_event(ctx->front_state, ev);
}


/*
 * What the account's counters get: the back end's usage figures when it
 * sends them, else an estimate from the bytes of the answer.
 */
static void
ngx_http_q2api_count_usage(ngx_http_q2api_ctx_t *ctx,
    const q2api_event_t *ev)
{
    switch (ev->type) {

    case Q2API_EV_TEXT:
        ctx->output_bytes += ev->text.len;
        break;

    case Q2API_EV_TOOL_START:
        ctx->tool_open = 1;
        ctx->had_tool = 1;
        break;

    case Q2API_EV_TOOL_INPUT:
        if (ctx->tool_open) {
            ctx->output_bytes += ev->text.len;
        }
        break;

    case Q2API_EV_TOOL_STOP:
        ctx->tool_open = 0;
        break;

    case Q2API_EV_USAGE:
        if (ev->usage.input_tokens >= 0) {
            ctx->usage.input_tokens = ev->usage.input_tokens;
        }

        if (ev->usage.output_tokens >= 0) {
            ctx->usage.output_tokens = ev->usage.output_tokens;
        }

        if (ev->usage.cache_read_tokens > 0) {
            ctx->usage.cache_read_tokens = ev->usage.cache_read_tokens;
        }

        if (ev->usage.cache_write_tokens > 0) {
            ctx->usage.cache_write_tokens = ev->usage.cache_write_tokens;
        }

        break;

    case Q2API_EV_STOP:
        ctx->stop = ev->stop;
        break;

    default:
        break;
    }
}
