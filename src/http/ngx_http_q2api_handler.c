/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The content handler of q2api_pass: reads the client body, turns it into
 * a backend request, runs the attempt and ends the client's response.
 */


#include <openssl/crypto.h>

#include "ngx_http_q2api.h"


static ngx_http_q2api_endpoint_e ngx_http_q2api_route(ngx_http_request_t *r,
    ngx_str_t *id);
static ngx_int_t ngx_http_q2api_check_key(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_method_not_allowed(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, char *allowed);
static void ngx_http_q2api_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_count_tokens(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static void ngx_http_q2api_ping_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_q2api_selection(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_error_t *err);
static ngx_int_t ngx_http_q2api_no_account(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_int_t rc);
static ngx_int_t ngx_http_q2api_retry(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static ngx_http_q2api_outcome_e ngx_http_q2api_health_outcome(
    q2api_health_e health);
static ngx_int_t ngx_http_q2api_reset_attempt(ngx_http_q2api_ctx_t *ctx);
static void ngx_http_q2api_refreshed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message);
static ngx_int_t ngx_http_q2api_prepare(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *body, q2api_error_t *err);
static void ngx_http_q2api_parent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_finish(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static void ngx_http_q2api_cleanup(void *data);


ngx_http_q2api_ctx_t *
ngx_http_q2api_create_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t    *cln;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->magic = NGX_HTTP_Q2API_CTX_REQUEST;
    ctx->request = r;
    ctx->conf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    q2api_request_init(&ctx->req);
    q2api_buf_init(&ctx->body, 0);
    q2api_buf_init(&ctx->out, 0);

    /* every foreign allocation of this request is released here, on every
     * path, including a client that goes away mid-stream */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_q2api_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_q2api_module);

    return ctx;
}


ngx_int_t
ngx_http_q2api_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              id;
    ngx_uint_t             post;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_q2api_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->endpoint = ngx_http_q2api_route(r, &id);

    /* internal requests (the admin API's tests) were authorized there */
    if (ctx->endpoint == NGX_HTTP_Q2API_EP_NONE
        || (!r->internal && ngx_http_q2api_check_key(r, ctx) != NGX_OK))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ctx->endpoint == NGX_HTTP_Q2API_EP_NONE) {
            return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_NOT_FOUND,
                                             "no such endpoint");
        }

        /* the words Claude Code looks for to say the key is wrong */
        return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_AUTHENTICATION,
                                         "invalid x-api-key");
    }

    post = ctx->endpoint == NGX_HTTP_Q2API_EP_MESSAGES
           || ctx->endpoint == NGX_HTTP_Q2API_EP_COUNT_TOKENS;

    if ((post && r->method != NGX_HTTP_POST)
        || (!post && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))))
    {
        return ngx_http_q2api_method_not_allowed(r, ctx,
                                                 post ? "POST" : "GET, HEAD");
    }

    if (!post) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_q2api_models_handler(r, ctx,
                   ctx->endpoint == NGX_HTTP_Q2API_EP_MODEL ? &id : NULL);
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_q2api_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* nginx's own error page; the filter puts it in our dialect */
        return rc;
    }

    return NGX_DONE;
}


/*
 * q2api_pass makes a location an API root: the end of the URI names the
 * endpoint, so "location /v1/ { q2api_pass claude; }" serves them all and
 * query strings (?beta=true) do not matter.
 */
static ngx_http_q2api_endpoint_e
ngx_http_q2api_route(ngx_http_request_t *r, ngx_str_t *id)
{
    u_char  *p, *end, *slash;

    end = r->uri.data + r->uri.len;

    while (end > r->uri.data && end[-1] == '/') {
        end--;
    }

#define q2api_ends_with(lit)                                               \
    ((size_t) (end - r->uri.data) >= sizeof(lit) - 1                       \
     && ngx_strncmp(end - (sizeof(lit) - 1), lit, sizeof(lit) - 1) == 0)

    if (q2api_ends_with("/messages")) {
        return NGX_HTTP_Q2API_EP_MESSAGES;
    }

    if (q2api_ends_with("/messages/count_tokens")) {
        return NGX_HTTP_Q2API_EP_COUNT_TOKENS;
    }

    if (q2api_ends_with("/models")) {
        return NGX_HTTP_Q2API_EP_MODELS;
    }

#undef q2api_ends_with

    for (slash = NULL, p = r->uri.data; p < end; p++) {
        if (*p == '/') {
            slash = p;
        }
    }

    if (slash != NULL && slash - r->uri.data >= 7
        && ngx_strncmp(slash - 7, "/models", 7) == 0 && end - slash > 1)
    {
        id->data = slash + 1;
        id->len = end - slash - 1;
        return NGX_HTTP_Q2API_EP_MODEL;
    }

    return NGX_HTTP_Q2API_EP_NONE;
}


/*
 * The client's key, from x-api-key (SDK 0.x, Claude Code) or from
 * "Authorization: Bearer" (SDK 1.x), against the configured keys in
 * constant time.  No q2api_api_key: the location is open.
 */
static ngx_int_t
ngx_http_q2api_check_key(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    ngx_str_t   key, *keys, *value;
    ngx_uint_t  i, ok;

    value = ngx_http_q2api_header(r, "x-api-key");

    if (value != NULL) {
        key = *value;

    } else if (ngx_http_q2api_bearer_value(r, &key) != NGX_OK) {
        ngx_str_null(&key);
    }

    ctx->client_key = key;

    if (ctx->conf->api_keys == NULL || ctx->conf->api_keys->nelts == 0) {
        return NGX_OK;
    }

    if (key.len == 0) {
        return NGX_DECLINED;
    }

    keys = ctx->conf->api_keys->elts;
    ok = 0;

    for (i = 0; i < ctx->conf->api_keys->nelts; i++) {
        if (keys[i].len == key.len
            && CRYPTO_memcmp(keys[i].data, key.data, key.len) == 0)
        {
            ok = 1;
        }
    }

    if (!ok) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api: client sent an unknown API key");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_method_not_allowed(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, char *allowed)
{
    ngx_int_t         rc;
    ngx_table_elt_t  *allow;

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    allow = ngx_list_push(&r->headers_out.headers);
    if (allow == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    allow->hash = 1;
    ngx_str_set(&allow->key, "Allow");
    allow->value.data = (u_char *) allowed;
    allow->value.len = ngx_strlen(allowed);

    return ngx_http_q2api_send_error(r, ctx, Q2API_ERR_METHOD,
                                     "method not allowed on this endpoint");
}


static void
ngx_http_q2api_body_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_str_t              body;
    q2api_error_t          err;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    r->connection->log->action = "reading the client request";

    if (ngx_http_q2api_read_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->connection->log->action = "converting the client request";

    rc = ngx_http_q2api_prepare(r, ctx, &body, &err);

    if (rc == NGX_DECLINED) {
        /* the client's mistake, told in its dialect */
        ngx_http_finalize_request(r,
            ngx_http_q2api_send_error(r, ctx, err.kind, err.message));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (ctx->endpoint == NGX_HTTP_Q2API_EP_COUNT_TOKENS) {
        ngx_http_finalize_request(r, ngx_http_q2api_count_tokens(r, ctx));
        return;
    }

    r->connection->log->action = "choosing an account";

    if (ngx_http_q2api_selection(r, ctx, &err) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_send_error(r, ctx, err.kind, err.message));
        return;
    }

    rc = ngx_http_q2api_start_attempt(r, ctx);

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, ngx_http_q2api_no_account(r, ctx, rc));
        return;
    }

    r->write_event_handler = ngx_http_q2api_parent_handler;

    if (ctx->stream && ctx->conf->ping_interval) {
        ctx->ping.handler = ngx_http_q2api_ping_handler;
        ctx->ping.data = r;
        ctx->ping.log = r->connection->log;

        ngx_add_timer(&ctx->ping, ctx->conf->ping_interval);
    }
}


/*
 * Answered here, never by the backend: the same estimate message_start
 * reports, so the two always agree.
 */
static ngx_int_t
ngx_http_q2api_count_tokens(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    u_char  *p, json[64];

    p = ngx_sprintf(json, "{\"input_tokens\":%L}",
                    q2api_request_estimate_tokens(&ctx->req));

    return ngx_http_q2api_send_json(r, ctx, NGX_HTTP_OK, json, p - json);
}


/*
 * While the backend is silent, an SSE ping every q2api_ping_interval keeps
 * the client's and any proxy's idle timers at bay.  The first one commits
 * the response (message_start goes out with it): after that an upstream
 * failure can only be reported as an error event.
 */
static void
ngx_http_q2api_ping_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_q2api_ctx_t      *ctx;
    ngx_http_q2api_attempt_t  *actx;

    r = ev->data;
    c = r->connection;
    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);
    actx = ctx->attempt;

    if (ctx->done || actx == NULL || actx->finalized || ctx->failed) {
        return;
    }

    if (ngx_current_msec - ctx->last_output
        >= ctx->conf->ping_interval)
    {
        if (q2api_claude_stream_ping(&ctx->claude) != Q2API_OK) {
            return;
        }

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0, "q2api ping");

        if (ngx_http_output_filter(actx->request, NULL) == NGX_ERROR) {
            ngx_http_finalize_request(actx->request, NGX_ERROR);
        }
    }

    if (!c->destroyed && !ctx->done) {
        ngx_add_timer(&ctx->ping, ctx->conf->ping_interval);
    }

    ngx_http_run_posted_requests(c);
}


/*
 * NGX_OK: ready for the backend; NGX_DECLINED: the request is wrong and
 * err says why; NGX_ERROR: our failure (logged).
 */
static ngx_int_t
ngx_http_q2api_prepare(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_str_t *body, q2api_error_t *err)
{
    q2api_str_t           model_id;
    q2api_amazonq_opts_t  opts;

    if (q2api_claude_parse(&ctx->req, (char *) body->data, body->len, err)
        != Q2API_OK)
    {
        if (err->kind == Q2API_ERR_API) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "q2api: %s", err->message);
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    ctx->stream = ctx->req.stream;

    if (ctx->endpoint == NGX_HTTP_Q2API_EP_COUNT_TOKENS) {
        return NGX_OK;
    }

    if (ngx_http_q2api_resolve_model(r, ctx, &model_id, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx->model_id = model_id;

    ngx_memzero(&opts, sizeof(q2api_amazonq_opts_t));
    opts.model_id = model_id;
    opts.now = ngx_time();

    if (q2api_amazonq_build(&ctx->req, &opts, &ctx->body, err)
        != Q2API_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: %s", err->message);
        return NGX_ERROR;
    }

    if (q2api_claude_stream_init(&ctx->claude, &ctx->out, &ctx->req)
        != Q2API_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api: RAND_bytes() failed");
        return NGX_ERROR;
    }

    q2api_amazonq_stream_init(&ctx->amazonq, &ctx->req,
                              ngx_http_q2api_on_event, ctx);

    return NGX_OK;
}


/*
 * What the pool needs to choose: the conversation's key for affinity, an
 * account asked for by X-Account-ID, room for the accounts tried.
 */
static ngx_int_t
ngx_http_q2api_selection(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    q2api_error_t *err)
{
    u_char             *p;
    ngx_str_t          *keys, *id, arg;
    ngx_uint_t          i;
    q2api_block_t      *b;
    q2api_message_t    *m;

    ctx->tried = ngx_pcalloc(r->pool,
                             ctx->conf->max_attempts * sizeof(ngx_str_t));
    if (ctx->tried == NULL) {
        q2api_error_set(err, Q2API_ERR_API, "out of memory");
        return NGX_ERROR;
    }

    /*
     * The admin API's chat test reaches us by an internal redirect naming
     * the account; a client cannot set an internal request's arguments.
     */
    if (r->internal
        && ngx_http_arg(r, (u_char *) "q2api_account", 13, &arg) == NGX_OK)
    {
        ctx->want.data = ngx_pnalloc(r->pool, arg.len);
        if (ctx->want.data == NULL) {
            q2api_error_set(err, Q2API_ERR_API, "out of memory");
            return NGX_ERROR;
        }

        p = ctx->want.data;
        ngx_unescape_uri(&p, &arg.data, arg.len, NGX_UNESCAPE_URI);
        ctx->want.len = p - ctx->want.data;

        /* a test of an account out of rotation is what the admin wants */
        ctx->force = 1;

        return NGX_OK;
    }

    id = ngx_http_q2api_header(r, "x-account-id");

    if (id != NULL) {
        keys = ctx->conf->account_header_keys
               ? ctx->conf->account_header_keys->elts : NULL;

        for (i = 0; keys && i < ctx->conf->account_header_keys->nelts; i++) {
            if (keys[i].len == ctx->client_key.len
                && CRYPTO_memcmp(keys[i].data, ctx->client_key.data,
                                 keys[i].len) == 0)
            {
                break;
            }
        }

        if (keys == NULL || i == ctx->conf->account_header_keys->nelts) {
            q2api_error_set(err, Q2API_ERR_PERMISSION,
                            "this key may not choose an account "
                            "(X-Account-ID)");
            return NGX_ERROR;
        }

        ctx->want = *id;
        return NGX_OK;
    }

    if (!ctx->conf->affinity) {
        return NGX_OK;
    }

    /* Claude Code names its session; other clients are known by
     * metadata.user_id or by how their conversation starts */
    id = ngx_http_q2api_header(r, "x-claude-code-session-id");

    if (id != NULL) {
        ctx->affinity = *id;

    } else if (ctx->req.user_id.len) {
        ctx->affinity.data = (u_char *) ctx->req.user_id.data;
        ctx->affinity.len = ctx->req.user_id.len;

    } else {
        m = ctx->req.messages;
        b = m ? m->blocks : NULL;

        while (b && b->type != Q2API_BLOCK_TEXT) {
            b = b->next;
        }

        ctx->affinity.len = ctx->req.system.len + 1 + (b ? b->text.len : 0);
        ctx->affinity.data = ngx_pnalloc(r->pool, ctx->affinity.len);
        if (ctx->affinity.data == NULL) {
            q2api_error_set(err, Q2API_ERR_API, "out of memory");
            return NGX_ERROR;
        }

        ngx_memcpy(ngx_cpymem(ngx_cpymem(ctx->affinity.data,
                                         ctx->req.system.data,
                                         ctx->req.system.len),
                              "\n", 1),
                   b ? b->text.data : "", b ? b->text.len : 0);
    }

    return NGX_OK;
}


/* the answer when no attempt could start */
static ngx_int_t
ngx_http_q2api_no_account(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_int_t rc)
{
    u_char  msg[256];

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


/*
 * Called when an attempt's subrequest is done ("wake parent request"), and
 * on write readiness while the client request is the active one.
 */
static void
ngx_http_q2api_parent_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    if (ctx->done || ctx->waiting) {
        return;
    }

    if (ctx->attempt == NULL || !ctx->attempt->finalized) {
        return;
    }

    rc = r->connection->error ? NGX_ERROR : ngx_http_q2api_finish(r, ctx);

    if (rc == NGX_DONE) {
        /* another account is being tried */
        return;
    }

    ctx->done = 1;

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_q2api_finish(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    ngx_int_t                    rc;
    ngx_chain_t                 *out;
    q2api_upstream_error_t       ue;
    ngx_http_q2api_attempt_t    *actx;
    ngx_http_q2api_main_conf_t  *qmcf;

    actx = ctx->attempt;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    r->connection->log->action = "finishing the response";

    if (!ctx->failed && !actx->streaming) {
        /* the backend answered with an HTTP error, or not at all */
        q2api_amazonq_classify(actx->status,
                               actx->error_body
                               ? (char *) actx->error_body->pos : NULL,
                               actx->error_body
                               ? (size_t) (actx->error_body->last
                                           - actx->error_body->pos)
                               : 0,
                               &ue);

        ctx->failed = 1;
        ctx->error = ue.client_error;
        ctx->outcome = ngx_http_q2api_health_outcome(ue.health);
        ngx_cpystrn(ctx->error_message, (u_char *) ue.message,
                    Q2API_ERR_MSG_LEN);
        ngx_cpystrn(ctx->reason, (u_char *) ue.reason, sizeof(ctx->reason));

        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: account \"%V\" failed with upstream status "
                      "%i (%s)", &actx->account.id, actx->status, ue.reason);
    }

    if (!ctx->failed && (!actx->eof || actx->corrupt)) {
        /* the stream broke after the upstream's 200 */
        ctx->failed = 1;
        ctx->error = Q2API_ERR_API;
        ctx->outcome = NGX_HTTP_Q2API_OUT_CAPACITY;
        ngx_cpystrn(ctx->error_message,
                    (u_char *) "the backend stream ended unexpectedly",
                    Q2API_ERR_MSG_LEN);
        ngx_cpystrn(ctx->reason, (u_char *) "stream cut",
                    sizeof(ctx->reason));
    }

    if (ctx->failed) {
        ngx_http_q2api_accounts_report(qmcf->pool, &actx->account.id,
                                   ctx->outcome, (char *) ctx->reason, 0, 0);

    } else {
        ngx_http_q2api_accounts_report(qmcf->pool, &actx->account.id,
                                   NGX_HTTP_Q2API_OUT_SUCCESS, NULL,
                                   ctx->claude.usage.input_tokens >= 0
                                   ? ctx->claude.usage.input_tokens
                                   : ctx->claude.input_tokens,
                                   ctx->claude.usage.output_tokens >= 0
                                   ? ctx->claude.usage.output_tokens
                                   : q2api_estimate_tokens(
                                         ctx->claude.output_bytes));
    }

    if (!ctx->failed) {

        if (q2api_claude_stream_finish(&ctx->claude) != Q2API_OK) {
            return NGX_ERROR;
        }

        if (!ctx->stream) {
            return ngx_http_q2api_send_json(r, ctx, NGX_HTTP_OK,
                                            ctx->out.data, ctx->out.len);
        }

    } else if (ctx->committed) {

        if (!ctx->stream_error
            && q2api_claude_stream_error(&ctx->claude, ctx->error,
                                         (char *) ctx->error_message)
               != Q2API_OK)
        {
            return NGX_ERROR;
        }

    } else {

        /*
         * A rejected token is refreshed and the same account tried once
         * more, before moving on.
         */
        if (ctx->outcome == NGX_HTTP_Q2API_OUT_AUTH
            && actx->account.refreshable && !ctx->auth_retried)
        {
            ctx->auth_retried = 1;
            ngx_http_q2api_reset_attempt(ctx);

            rc = ngx_http_q2api_refresh_then_launch(r, ctx,
                                                    &actx->account.id);
            if (rc == NGX_OK) {
                return NGX_DONE;
            }
        }

        /*
         * Nothing reached the client yet: another account may still give
         * it one clean answer, unless the request itself was the problem.
         */
        if (ctx->outcome != NGX_HTTP_Q2API_OUT_CLIENT
            && ctx->attempts < ctx->conf->max_attempts)
        {
            rc = ngx_http_q2api_retry(r, ctx);

            if (rc == NGX_OK) {
                return NGX_DONE;
            }

            if (rc == NGX_ERROR) {
                return NGX_ERROR;
            }
        }

        return ngx_http_q2api_send_error(r, ctx, ctx->error,
                                         (char *) ctx->error_message);
    }

    if (!ctx->committed) {
        rc = ngx_http_q2api_send_stream_header(r, ctx);
        if (rc == NGX_ERROR || rc > NGX_OK) {
            return rc;
        }
    }

    out = ngx_http_q2api_take_out(r, ctx, 1);
    if (out == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_output_filter(r, out);

    ngx_http_q2api_recycle_out(r, ctx, out);

    return rc;
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

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "q2api: account \"%V\" failed (%s), trying account "
                  "\"%V\"", &failed, ctx->reason, &ctx->tried[ctx->attempts - 1]);

    return ngx_http_q2api_reset_attempt(ctx);
}


/* the next attempt starts from a clean slate */
static ngx_int_t
ngx_http_q2api_reset_attempt(ngx_http_q2api_ctx_t *ctx)
{
    q2api_buf_reset(&ctx->out);
    q2api_claude_stream_free(&ctx->claude);
    q2api_amazonq_stream_free(&ctx->amazonq);

    if (q2api_claude_stream_init(&ctx->claude, &ctx->out, &ctx->req)
        != Q2API_OK)
    {
        return NGX_ERROR;
    }

    q2api_amazonq_stream_init(&ctx->amazonq, &ctx->req,
                              ngx_http_q2api_on_event, ctx);

    ctx->in = NULL;
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
    ngx_http_q2api_ctx_t  *ctx = data;

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
        && ngx_http_q2api_accounts_pick_id(qmcf->pool, r->pool, &ctx->refreshing,
                                       &pick) == NGX_OK)
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
    ngx_snprintf(ctx->error_message, Q2API_ERR_MSG_LEN - 1,
                 "the backend account's token could not be refreshed "
                 "(%V)%Z", message);

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
int
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

    return q2api_claude_stream_event(&ctx->claude, ev);
}


static void
ngx_http_q2api_cleanup(void *data)
{
    ngx_http_q2api_ctx_t  *ctx = data;

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    q2api_amazonq_stream_free(&ctx->amazonq);
    q2api_claude_stream_free(&ctx->claude);
    q2api_request_free(&ctx->req);
    q2api_buf_free(&ctx->body);
    q2api_buf_free(&ctx->out);
}
