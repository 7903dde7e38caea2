/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The content handler of q2api_pass: reads the client body, turns it into
 * a backend request, runs the attempt and ends the client's response.
 */


#include <openssl/crypto.h>

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_metrics.h"


static const q2api_front_t *ngx_http_q2api_dialect(ngx_http_request_t *r,
    ngx_http_q2api_loc_conf_t *conf, ngx_uint_t models);
static ngx_http_q2api_endpoint_e ngx_http_q2api_route(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id);
static ngx_uint_t ngx_http_q2api_ends_with(u_char *start, u_char *end,
    const char *tail);
static ngx_int_t ngx_http_q2api_check_key(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_method_not_allowed(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, char *allowed);
static void ngx_http_q2api_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_count_tokens(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, long long tokens);
static void ngx_http_q2api_ping_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_q2api_selection(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_error_t *err);
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
    ctx->front = ngx_http_q2api_dialect(r, ctx->conf, 0);

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

    ctx->endpoint = ngx_http_q2api_route(r, ctx, &id);

    if (ctx->endpoint == NGX_HTTP_Q2API_EP_MODELS
        || ctx->endpoint == NGX_HTTP_Q2API_EP_MODEL)
    {
        ctx->front = ngx_http_q2api_dialect(r, ctx->conf, 1);
    }

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
 * The client's dialect, known before its endpoint is (nginx's own error
 * pages need it too): the URI's tail names it for a conversation; else a
 * header only one dialect's clients send; else, for the model list, the
 * dialect whose clients send none (the OpenAI SDK sends no Anthropic
 * header); else q2api_pass's.
 */
static const q2api_front_t *
ngx_http_q2api_dialect(ngx_http_request_t *r, ngx_http_q2api_loc_conf_t *conf,
    ngx_uint_t models)
{
    u_char                *end;
    const char *const     *m;
    const q2api_front_t  **f, *unmarked;

    end = r->uri.data + r->uri.len;

    while (end > r->uri.data && end[-1] == '/') {
        end--;
    }

    for (f = q2api_fronts; *f != NULL; f++) {
        if (ngx_http_q2api_ends_with(r->uri.data, end, (*f)->messages_path)
            || ((*f)->count_tokens_path
                && ngx_http_q2api_ends_with(r->uri.data, end,
                                            (*f)->count_tokens_path)))
        {
            return *f;
        }
    }

    unmarked = NULL;

    for (f = q2api_fronts; *f != NULL; f++) {
        if ((*f)->markers == NULL) {
            unmarked = unmarked ? unmarked : *f;
            continue;
        }

        for (m = (*f)->markers; *m != NULL; m++) {
            if (ngx_http_q2api_header(r, (char *) *m) != NULL) {
                return *f;
            }
        }
    }

    return (models && unmarked) ? unmarked : conf->front;
}


/*
 * q2api_pass makes a location an API root: the end of the URI names the
 * endpoint, so "location /v1/ { q2api_pass claude; }" serves them all and
 * query strings (?beta=true) do not matter.  A conversation's tail names
 * its dialect too, and so its front end; the models list is written in
 * the location's.
 */
static ngx_http_q2api_endpoint_e
ngx_http_q2api_route(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_str_t *id)
{
    u_char                *p, *end, *slash;
    const q2api_front_t  **f;

    end = r->uri.data + r->uri.len;

    while (end > r->uri.data && end[-1] == '/') {
        end--;
    }

    for (f = q2api_fronts; *f != NULL; f++) {
        if (ngx_http_q2api_ends_with(r->uri.data, end, (*f)->messages_path)) {
            ctx->front = *f;

            /* amq2api's route for its Google accounts */
            ctx->gemini_alias = ngx_http_q2api_ends_with(r->uri.data, end,
                                                         "/gemini/messages");
            return NGX_HTTP_Q2API_EP_MESSAGES;
        }

        if ((*f)->count_tokens_path
            && ngx_http_q2api_ends_with(r->uri.data, end,
                                        (*f)->count_tokens_path))
        {
            ctx->front = *f;
            return NGX_HTTP_Q2API_EP_COUNT_TOKENS;
        }
    }

    if (ngx_http_q2api_ends_with(r->uri.data, end, "/models")) {
        return NGX_HTTP_Q2API_EP_MODELS;
    }

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


static ngx_uint_t
ngx_http_q2api_ends_with(u_char *start, u_char *end, const char *tail)
{
    size_t  len;

    len = ngx_strlen(tail);

    return (size_t) (end - start) >= len
           && ngx_strncmp(end - len, tail, len) == 0;
}


/*
 * The client's key, from x-api-key (SDK 0.x, Claude Code) or from
 * "Authorization: Bearer" (SDK 1.x), against the configured keys in
 * constant time.  No q2api_api_key: the location is open.
 */
static ngx_int_t
ngx_http_q2api_check_key(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    ngx_str_t                  key, *value;
    ngx_uint_t                 i;
    ngx_http_q2api_api_key_t  *keys;

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

    /* every key is compared, so that the time says nothing of which */
    for (i = 0; i < ctx->conf->api_keys->nelts; i++) {
        if (keys[i].key.len == key.len
            && CRYPTO_memcmp(keys[i].key.data, key.data, key.len) == 0)
        {
            ctx->key = &keys[i];
        }
    }

    if (ctx->key == NULL) {
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
    long long              tokens;
    q2api_error_t          err;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    r->connection->log->action = "reading the client request";

    if (ngx_http_q2api_read_body(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->connection->log->action = "converting the client request";

    /* a body counted in one pass needs no request built; any other is
     * parsed, and a wrong one told why */
    if (ctx->endpoint == NGX_HTTP_Q2API_EP_COUNT_TOKENS
        && ctx->front->count_estimate != NULL
        && ctx->front->count_estimate((char *) body.data, body.len, &tokens)
           == Q2API_OK)
    {
        ngx_http_finalize_request(r,
                                  ngx_http_q2api_count_tokens(r, ctx, tokens));
        return;
    }

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
        ngx_http_finalize_request(r, ngx_http_q2api_count_tokens(r, ctx,
                                  q2api_request_estimate_tokens(&ctx->req)));
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
ngx_http_q2api_count_tokens(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    long long tokens)
{
    ngx_int_t    rc;
    q2api_buf_t  b;

    q2api_buf_init(&b, 0);

    if (ctx->front->count_tokens(&b, tokens) != Q2API_OK)
    {
        q2api_buf_free(&b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_q2api_send_json(r, ctx, NGX_HTTP_OK, b.data, b.len);

    q2api_buf_free(&b);

    return rc;
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
        if (ctx->front->stream_ping(ctx->front_state) != Q2API_OK) {
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
    ngx_int_t    rc;
    q2api_str_t  model_id;

    if (ctx->front->parse(&ctx->req, (char *) body->data, body->len, err)
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

    rc = ngx_http_q2api_responses_continue(r, ctx, err);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_q2api_resolve_model(r, ctx, &model_id, err) != NGX_OK) {
        return NGX_DECLINED;
    }

    ctx->model_id = model_id;
    ctx->input_estimate = q2api_request_estimate_tokens(&ctx->req);

    /* the backend body waits for the account: it is the account's kind
     * that decides the back end and what goes into the body */

    ctx->front_state = ngx_pcalloc(r->pool, ctx->front->stream_size);
    if (ctx->front_state == NULL) {
        return NGX_ERROR;
    }

    if (ctx->front->stream_init(ctx->front_state, &ctx->out, &ctx->req)
        != Q2API_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api: RAND_bytes() failed");
        return NGX_ERROR;
    }

    q2api_usage_init(&ctx->usage);

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
    u_char                    *p;
    ngx_str_t                 *id, arg;
    ngx_uint_t                 i;
    q2api_block_t             *b;
    q2api_message_t           *m;
    ngx_http_q2api_api_key_t  *keys;

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
            if (keys[i].key.len == ctx->client_key.len
                && CRYPTO_memcmp(keys[i].key.data, ctx->client_key.data,
                                 keys[i].key.len) == 0)
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

    /*
     * A client that went away is logged as 499, as proxy logs it: with
     * NGX_ERROR nginx would leave the status at 0 ("000" in the access
     * log) when nothing was sent yet.  Its attempt says nothing about the
     * account, which is neither blamed nor counted.
     */
    rc = r->connection->error ? NGX_HTTP_CLIENT_CLOSED_REQUEST
                              : ngx_http_q2api_finish(r, ctx);

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
    ngx_int_t     rc;
    ngx_chain_t  *out;

    r->connection->log->action = "finishing the response";

    ngx_http_q2api_attempt_done(r, ctx);

    if (!ctx->failed) {

        if (ctx->front->stream_finish(ctx->front_state) != Q2API_OK) {
            return NGX_ERROR;
        }

        ngx_http_q2api_responses_keep(r, ctx);

        if (!ctx->stream) {
            return ngx_http_q2api_send_json(r, ctx, NGX_HTTP_OK,
                                            ctx->out.data, ctx->out.len);
        }

    } else if (ctx->committed) {

        if (!ctx->stream_error
            && ctx->front->stream_error(ctx->front_state, ctx->error,
                                        (char *) ctx->error_message)
               != Q2API_OK)
        {
            return NGX_ERROR;
        }

    } else {

        /*
         * Nothing reached the client yet: the same account after a token
         * refresh, or another account, may still give it one clean answer.
         */
        rc = ngx_http_q2api_attempt_again(r, ctx);

        if (rc == NGX_OK) {
            return NGX_DONE;
        }

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
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


static void
ngx_http_q2api_cleanup(void *data)
{
    ngx_http_q2api_ctx_t  *ctx = data;

    /* after the access log: every path ends here, aborts too */
    ngx_http_q2api_metrics_request(ctx->request, ctx);

    if (ctx->ping.timer_set) {
        ngx_del_timer(&ctx->ping);
    }

    if (ctx->back_state) {
        ctx->back->stream_free(ctx->back_state);
    }

    if (ctx->front_state) {
        ctx->front->stream_free(ctx->front_state);
    }

    q2api_request_free(&ctx->req);
    q2api_buf_free(&ctx->body);
    q2api_buf_free(&ctx->out);
}
