/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The content handler of q2api_pass: reads the client body, turns it into
 * a backend request, runs the attempt and ends the client's response.
 */


#include "ngx_http_q2api.h"


static void ngx_http_q2api_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_read_body(ngx_http_request_t *r,
    ngx_str_t *body);
static ngx_int_t ngx_http_q2api_prepare(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *body, q2api_error_t *err);
static ngx_int_t ngx_http_q2api_resolve_model(ngx_http_q2api_ctx_t *ctx,
    q2api_str_t *model_id, q2api_error_t *err);
static void ngx_http_q2api_parent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_finish(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
static void ngx_http_q2api_cleanup(void *data);


/* what Amazon Q knows as model ids; client names are normalised to these */
static const char  *ngx_http_q2api_amazonq_models[] = {
    "claude-sonnet-4",
    "claude-sonnet-4.5",
    "claude-sonnet-4.6",
    "claude-haiku-4.5",
    "claude-opus-4.5",
    "claude-opus-4.6",
    NULL
};


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
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_q2api_create_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method != NGX_HTTP_POST) {
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
        ngx_str_set(&allow->value, "POST");

        rc = ngx_http_q2api_send_error(r, ctx, Q2API_ERR_METHOD,
                                       "this endpoint only accepts POST");
        return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_q2api_body_handler);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        /* nginx's own error page; the filter puts it in our dialect */
        return rc;
    }

    return NGX_DONE;
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

    r->connection->log->action = "choosing an account";

    rc = ngx_http_q2api_start_attempt(r, ctx);

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_send_error(r, ctx, Q2API_ERR_UNAVAILABLE,
                                      "no usable backend account: the "
                                      "account pool is empty or every "
                                      "account is disabled"));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->write_event_handler = ngx_http_q2api_parent_handler;
}


/*
 * The client body as one contiguous string: cJSON wants that.  Bodies
 * larger than client_body_buffer_size arrive in a temporary file.
 */
static ngx_int_t
ngx_http_q2api_read_body(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    body->len = 0;
    body->data = NULL;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len == 0) {
        return NGX_OK;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL && !cl->buf->in_file) {
        body->data = cl->buf->pos;
        body->len = cl->buf->last - cl->buf->pos;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, (size_t) len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;

    for ( /* void */ ; cl; cl = cl->next) {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        n = ngx_read_file(b->file, p, (size_t) (b->file_last - b->file_pos),
                          b->file_pos);

        if (n != b->file_last - b->file_pos) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "ngx_read_file() of the client body returned "
                          "%z bytes instead of %O", n,
                          b->file_last - b->file_pos);
            return NGX_ERROR;
        }

        p += n;
    }

    body->len = p - body->data;

    return NGX_OK;
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

    if (ngx_http_q2api_resolve_model(ctx, &model_id, err) != NGX_OK) {
        return err->kind == Q2API_ERR_API ? NGX_ERROR : NGX_DECLINED;
    }

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

    q2api_amazonq_stream_init(&ctx->amazonq, ngx_http_q2api_on_event, ctx);

    return NGX_OK;
}


/*
 * Client model names to Amazon Q model ids: dated ids, dash and dot
 * versions, family aliases and "-thinking" variants all land on one id.
 */
static ngx_int_t
ngx_http_q2api_resolve_model(ngx_http_q2api_ctx_t *ctx,
    q2api_str_t *model_id, q2api_error_t *err)
{
    u_char        *name, *p, *end;
    size_t         len;
    ngx_uint_t     i;

    len = ctx->req.model.len;

    name = ngx_pnalloc(ctx->request->pool, len + sizeof("claude-sonnet-"));
    if (name == NULL) {
        q2api_error_set(err, Q2API_ERR_API, "out of memory");
        return NGX_ERROR;
    }

    ngx_strlow(name, (u_char *) ctx->req.model.data, len);
    end = name + len;

    if (len > 9 && ngx_strncmp(end - 9, "-thinking", 9) == 0) {
        end -= 9;
        ctx->req.thinking = 1;
    }

    /* a date suffix: -YYYYMMDD */
    if (end - name > 9 && end[-9] == '-') {
        for (p = end - 8; p < end && *p >= '0' && *p <= '9'; p++) {
            /* void */
        }

        if (p == end) {
            end -= 9;
        }
    }

    if (end - name > 7 && ngx_strncmp(end - 7, "-latest", 7) == 0) {
        end -= 7;
    }

    *end = '\0';

    if (ngx_strcmp(name, "sonnet") == 0 || ngx_strcmp(name, "opus") == 0
        || ngx_strcmp(name, "haiku") == 0)
    {
        p = ngx_cpymem(name + sizeof("claude-") - 1, name,
                       ngx_strlen(name));
        ngx_memmove(name + sizeof("claude-") - 1,
                    name + sizeof("claude-") - 1, p - name);
    }

    /* claude-<family>-<major>-<minor> is claude-<family>-<major>.<minor> */
    for (p = end - 1; p > name + 2; p--) {
        if (*p == '-' && p[-1] >= '0' && p[-1] <= '9'
            && p[1] >= '0' && p[1] <= '9' && p[2] == '\0'
            && p[-2] == '-')
        {
            *p = '.';
            break;
        }
    }

    for (i = 0; ngx_http_q2api_amazonq_models[i]; i++) {
        if (ngx_strcmp(name, ngx_http_q2api_amazonq_models[i]) == 0) {
            model_id->data = ngx_http_q2api_amazonq_models[i];
            model_id->len = ngx_strlen(model_id->data);
            return NGX_OK;
        }
    }

    q2api_error_set(err, Q2API_ERR_NOT_FOUND, "model: %.*s",
                    (int) ctx->req.model.len, ctx->req.model.data);

    return NGX_ERROR;
}


/*
 * Called when an attempt's subrequest is done ("wake parent request"), and
 * on write readiness while the client request is the active one.
 */
static void
ngx_http_q2api_parent_handler(ngx_http_request_t *r)
{
    ngx_http_q2api_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    if (ctx->done) {
        return;
    }

    if (ctx->attempt == NULL || !ctx->attempt->finalized) {
        return;
    }

    ctx->done = 1;

    if (r->connection->error) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return;
    }

    ngx_http_finalize_request(r, ngx_http_q2api_finish(r, ctx));
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

    if (!ctx->failed && actx->streaming && (!actx->eof || actx->corrupt)) {
        /* the stream broke after the upstream's 200 */
        ctx->failed = 1;
        ctx->error = Q2API_ERR_API;
        ngx_cpystrn(ctx->error_message,
                    (u_char *) "the backend stream ended unexpectedly",
                    Q2API_ERR_MSG_LEN);
    }

    if (!ctx->failed && actx->streaming) {

        if (q2api_claude_stream_finish(&ctx->claude) != Q2API_OK) {
            return NGX_ERROR;
        }

        ngx_http_q2api_pool_report(qmcf->pool, &actx->account.id, 1);

        if (!ctx->stream) {
            return ngx_http_q2api_send_json(r, ctx, NGX_HTTP_OK,
                                            ctx->out.data, ctx->out.len);
        }

    } else if (ctx->committed) {

        ngx_http_q2api_pool_report(qmcf->pool, &actx->account.id, 0);

        if (!ctx->stream_error) {
            if (q2api_claude_stream_error(&ctx->claude, ctx->error,
                                          (char *) ctx->error_message)
                != Q2API_OK)
            {
                return NGX_ERROR;
            }
        }

    } else {

        if (!ctx->failed) {
            q2api_amazonq_classify(actx->status,
                                   actx->error_body
                                   ? (char *) actx->error_body->pos : NULL,
                                   actx->error_body
                                   ? (size_t) (actx->error_body->last
                                               - actx->error_body->pos)
                                   : 0,
                                   &ue);

            ctx->error = ue.client_error;
            ngx_cpystrn(ctx->error_message, (u_char *) ue.message,
                        Q2API_ERR_MSG_LEN);

            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "q2api: account \"%V\" failed with upstream "
                          "status %i (%s)", &actx->account.id,
                          actx->status, ue.reason);
        }

        ngx_http_q2api_pool_report(qmcf->pool, &actx->account.id, 0);

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

    q2api_amazonq_stream_free(&ctx->amazonq);
    q2api_claude_stream_free(&ctx->claude);
    q2api_request_free(&ctx->req);
    q2api_buf_free(&ctx->body);
    q2api_buf_free(&ctx->out);
}
