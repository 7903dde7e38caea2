/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * One attempt = one subrequest to the internal location that proxies to
 * the backend (conf/q2api_upstream.conf), with the backend body we built
 * and the account chosen for it.
 */


#include "ngx_http_q2api.h"


static ngx_int_t ngx_http_q2api_post_subrequest(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static ngx_int_t ngx_http_q2api_attempt_body(ngx_http_request_t *r,
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
    if (qmcf->pool == NULL || ctx->attempts >= ctx->conf->max_attempts
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

    rc = ngx_http_q2api_accounts_pick(qmcf->pool, r->pool, &sel, &pick,
                                  &ctx->retry_after);
    if (rc != NGX_OK) {
        return rc;
    }

    ctx->tried[ctx->attempts++] = pick.id;

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

    return NGX_OK;
}
