/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Header and body filters for the module's own attempt subrequests: the
 * upstream's status decides between decoding and swallowing; upstream
 * bytes are decoded as they arrive and the client's SSE is written in the
 * same pass, with bounded memory.
 */


#include "ngx_http_q2api.h"


/*
 * How much upstream input is decoded before the output is checked: small
 * enough that what one slice decodes to stays near one output buffer.
 */
#define NGX_HTTP_Q2API_FEED_SLICE  4096

/*
 * The client's bytes go out in buffers of this size, reused: a slice's
 * output fills a few, a trickling answer's event one, which a stream in
 * flight keeps.
 */
#define NGX_HTTP_Q2API_OUT_SIZE    2048


static ngx_int_t ngx_http_q2api_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_q2api_decode(ngx_http_request_t *r,
    ngx_http_q2api_attempt_t *actx);
static void ngx_http_q2api_capture_error(ngx_http_q2api_attempt_t *actx,
    ngx_http_request_t *r, ngx_chain_t *in);
static ngx_int_t ngx_http_q2api_hold(ngx_http_request_t *r,
    ngx_http_q2api_attempt_t *actx, ngx_chain_t *in);
static size_t ngx_http_q2api_busy_size(ngx_http_q2api_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_page_filter(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_chain_t *in);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_q2api_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_q2api_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_q2api_body_filter;

    return NGX_OK;
}


static ngx_http_q2api_attempt_t *
ngx_http_q2api_filter_attempt(ngx_http_request_t *r)
{
    ngx_http_q2api_attempt_t  *actx;

    if (r == r->main) {
        return NULL;
    }

    actx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    if (actx == NULL || actx->magic != NGX_HTTP_Q2API_CTX_ATTEMPT) {
        return NULL;
    }

    return actx;
}


static ngx_int_t
ngx_http_q2api_header_filter(ngx_http_request_t *r)
{
    const char                 *type;
    ngx_http_q2api_ctx_t       *ctx;
    ngx_http_q2api_attempt_t   *actx;
    ngx_http_q2api_loc_conf_t  *qlcf;

    if (r == r->main && r->headers_out.status >= NGX_HTTP_BAD_REQUEST) {
        qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);
        ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

        if (qlcf->front == NULL || (ctx && ctx->replied)) {
            return ngx_http_next_header_filter(r);
        }

        if (ctx == NULL) {
            ctx = ngx_http_q2api_create_ctx(r);
            if (ctx == NULL) {
                return NGX_ERROR;
            }
        }

        if (ngx_http_q2api_error_page(r, ctx, &ctx->page) != NGX_OK) {
            return NGX_ERROR;
        }

        ctx->rewrite = 1;

        return ngx_http_next_header_filter(r);
    }

    actx = ngx_http_q2api_filter_attempt(r);
    if (actx == NULL) {
        return ngx_http_next_header_filter(r);
    }

    actx->header_seen = 1;
    actx->status = r->headers_out.status;

    /*
     * The backend's headers are never the client's: the client request
     * sends its own once there is something to say.  Like lua's capture
     * filter, stop here so no later filter treats this as a response.
     */
    r->header_sent = 1;
    r->filter_need_in_memory = 1;

    if (actx->status == NGX_HTTP_OK) {
        type = actx->ctx->back->content_type;

        if (r->headers_out.content_type.len
            && ngx_strlcasestrn(r->headers_out.content_type.data,
                                r->headers_out.content_type.data
                                + r->headers_out.content_type.len,
                                (u_char *) type, ngx_strlen(type) - 1)
               == NULL)
        {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "q2api: upstream answered 200 with "
                          "content type \"%V\", not \"%s\"",
                          &r->headers_out.content_type, type);

            actx->status = NGX_HTTP_BAD_GATEWAY;
            return NGX_OK;
        }

        actx->streaming = 1;
        actx->last_input = ngx_current_msec;
        actx->framed = r->upstream
                       && (r->upstream->headers_in.chunked
                           || r->upstream->headers_in.content_length_n >= 0);
        r->connection->log->action = "decoding the upstream's stream";
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                  rc;
    ngx_chain_t               *cl, *out;
    ngx_http_q2api_ctx_t      *ctx;
    ngx_http_q2api_attempt_t  *actx;

    if (r == r->main) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

        if (ctx == NULL || ctx->magic != NGX_HTTP_Q2API_CTX_REQUEST
            || !ctx->rewrite)
        {
            return ngx_http_next_body_filter(r, in);
        }

        return ngx_http_q2api_page_filter(r, ctx, in);
    }

    actx = ngx_http_q2api_filter_attempt(r);
    if (actx == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    ctx = actx->ctx;

    if (!actx->streaming && actx->header_seen) {
        ngx_http_q2api_capture_error(actx, r, in);
        return NGX_OK;
    }

    if (ngx_http_q2api_hold(r, actx, in) != NGX_OK) {
        return NGX_ERROR;
    }

    /*
     * Output the client has not taken yet waits in the filters below.  The
     * client draining wakes this filter, not them: push it on first, or
     * the room it leaves is never seen and the stream stalls for good.
     */
    if (ctx->busy && ctx->committed) {
        if (ngx_http_next_body_filter(r, NULL) == NGX_ERROR) {
            return NGX_ERROR;
        }

        ngx_http_q2api_recycle_out(r, ctx, NULL);
    }

    rc = ngx_http_q2api_decode(r, actx);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (ctx->out.len == 0 || !ctx->stream || ctx->failed) {
        if (ctx->failed && !ctx->committed) {
            /* nothing was sent: keep nothing of this attempt's output */
            q2api_buf_reset(&ctx->out);
        }

        if (!ctx->stream_error) {
            return rc;
        }
    }

    if (!ctx->committed) {
        if (ngx_http_q2api_send_stream_header(r->main, ctx) == NGX_ERROR) {
            return NGX_ERROR;
        }

        /*
         * Committed, no attempt follows; once proxy has sent it, the
         * backend body is nobody's: a long stream need not keep it.
         */
        if (r->upstream && r->upstream->request_body_sent) {
            q2api_buf_free(&ctx->body);
            ngx_str_null(&actx->body);
        }
    }

    out = ngx_http_q2api_take_out(r, ctx, 0);
    if (out == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_next_body_filter(r, out);

    ngx_http_q2api_recycle_out(r, ctx, out);

    ctx->last_output = ngx_current_msec;

    for (cl = ctx->in; cl; cl = cl->next) {
        if (ngx_buf_size(cl->buf)) {
            return rc == NGX_ERROR ? NGX_ERROR : NGX_AGAIN;
        }
    }

    return rc;
}


/*
 * Feeds held upstream bytes to the decoder while the client keeps up.
 * When decoded output the client has not taken yet passes
 * q2api_stream_buffer_size, the rest stays unconsumed: proxy then stops
 * reading the upstream until the client drains (back-pressure), and this
 * filter is called again with no new input.
 */
static ngx_int_t
ngx_http_q2api_decode(ngx_http_request_t *r, ngx_http_q2api_attempt_t *actx)
{
    int                    qrc;
    size_t                 len, used;
    ngx_buf_t             *b;
    ngx_chain_t           *cl;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = actx->ctx;

    while (ctx->in) {
        cl = ctx->in;
        b = cl->buf;

        while (b->pos < b->last) {

            if (ctx->failed || actx->corrupt) {
                /* swallow what follows an error */
                b->pos = b->last;
                break;
            }

            if (ctx->stream
                && ngx_http_q2api_busy_size(ctx) + ctx->out.len
                   >= ctx->conf->stream_buffer)
            {
                return NGX_AGAIN;
            }

            len = ngx_min((size_t) (b->last - b->pos),
                          NGX_HTTP_Q2API_FEED_SLICE);

            qrc = ctx->back->stream_feed(ctx->back_state, b->pos, len,
                                         &used);
            b->pos += used;

            if (qrc == Q2API_NOMEM) {
                ngx_log_error(NGX_LOG_CRIT, r->connection->log, 0,
                              "q2api: out of memory decoding the stream");
                return NGX_ERROR;
            }

            if (qrc != Q2API_OK) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "q2api: account \"%V\" sent a corrupt event "
                              "stream: %s", &actx->account.id,
                              ctx->back->strerror(qrc));
                actx->corrupt = 1;
                b->pos = b->last;
            }
        }

        if (b->last_in_chain || b->last_buf) {
            actx->eof = 1;

            if (!actx->corrupt) {
                qrc = ctx->back->stream_finish(ctx->back_state);

                if (qrc == Q2API_TRUNCATED) {
                    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                                  "q2api: account \"%V\" stream ended "
                                  "inside an event", &actx->account.id);
                    actx->corrupt = 1;

                } else if (qrc != Q2API_OK) {
                    actx->corrupt = 1;
                }
            }
        }

        ctx->in = cl->next;
        cl->next = ctx->in_free;
        ctx->in_free = cl;
    }

    return NGX_OK;
}


/*
 * Holds the links to upstream bytes until they are decoded: proxy reuses
 * its buffer only once they are consumed, which is the back-pressure.  The
 * links come from the stream's own free list, so a long answer takes no
 * more of them than a short one.
 */
static ngx_int_t
ngx_http_q2api_hold(ngx_http_request_t *r, ngx_http_q2api_attempt_t *actx,
    ngx_chain_t *in)
{
    ngx_chain_t           *cl, **ll;
    ngx_http_q2api_ctx_t  *ctx;

    ctx = actx->ctx;

    for (ll = &ctx->in; *ll; ll = &(*ll)->next) { /* void */ }

    for ( /* void */ ; in; in = in->next) {

        /* bytes, not the flush nginx sends when it gives up on the peer */
        if (ngx_buf_size(in->buf)) {
            actx->last_input = ngx_current_msec;
        }

        cl = ctx->in_free;

        if (cl != NULL) {
            ctx->in_free = cl->next;

        } else {
            cl = ngx_alloc_chain_link(r->pool);
            if (cl == NULL) {
                return NGX_ERROR;
            }

            ctx->stream_buffers++;
        }

        cl->buf = in->buf;
        cl->next = NULL;
        *ll = cl;
        ll = &cl->next;
    }

    return NGX_OK;
}


/* an attempt ends: what it held of the upstream's bytes is let go */
void
ngx_http_q2api_drop_in(ngx_http_q2api_ctx_t *ctx)
{
    ngx_chain_t  *cl;

    while (ctx->in) {
        cl = ctx->in;
        ctx->in = cl->next;
        cl->next = ctx->in_free;
        ctx->in_free = cl;
    }
}


static size_t
ngx_http_q2api_busy_size(ngx_http_q2api_ctx_t *ctx)
{
    size_t        size;
    ngx_chain_t  *cl;

    size = 0;

    for (cl = ctx->busy; cl; cl = cl->next) {
        size += ngx_buf_size(cl->buf);
    }

    return size;
}


/* nginx's error page goes; ours takes its place */
static ngx_int_t
ngx_http_q2api_page_filter(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_chain_t *in)
{
    ngx_chain_t  *page;
    ngx_uint_t    last;

    last = 0;

    for ( /* void */ ; in; in = in->next) {
        in->buf->pos = in->buf->last;

        if (in->buf->in_file) {
            in->buf->file_pos = in->buf->file_last;
        }

        if (in->buf->last_buf) {
            last = 1;
        }
    }

    if (!last || ctx->page == NULL) {
        return NGX_OK;
    }

    page = ctx->page;
    ctx->page = NULL;

    return ngx_http_next_body_filter(r, page);
}


/* a failed attempt: keep the start of its body for classification */
static void
ngx_http_q2api_capture_error(ngx_http_q2api_attempt_t *actx,
    ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t       n;
    ngx_buf_t   *b, *e;

    for ( /* void */ ; in; in = in->next) {
        b = in->buf;

        if (actx->error_body == NULL) {
            actx->error_body = ngx_create_temp_buf(r->pool,
                                               NGX_HTTP_Q2API_ERROR_BODY_MAX);
        }

        e = actx->error_body;

        if (e != NULL && !b->in_file) {
            n = ngx_min((size_t) (b->last - b->pos),
                        (size_t) (e->end - e->last));
            e->last = ngx_cpymem(e->last, b->pos, n);
        }

        b->pos = b->last;

        if (b->in_file) {
            b->file_pos = b->file_last;
        }

        if (b->last_in_chain || b->last_buf) {
            actx->eof = 1;
        }
    }
}


/*
 * ctx->out as a flushed chain of fixed-size buffers, recycled: the client's
 * bytes take the same few buffers however long the answer is.
 */
ngx_chain_t *
ngx_http_q2api_take_out(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_uint_t last)
{
    size_t        n, off;
    ngx_buf_t    *b;
    ngx_chain_t  *cl, *out, **ll;

    out = NULL;
    ll = &out;
    off = 0;

    do {
        if (ctx->free == NULL) {
            ctx->stream_buffers++;
        }

        cl = ngx_chain_get_free_buf(r->pool, &ctx->free);
        if (cl == NULL) {
            return NULL;
        }

        b = cl->buf;

        if (b->start == NULL) {
            b->start = ngx_palloc(r->pool, NGX_HTTP_Q2API_OUT_SIZE);
            if (b->start == NULL) {
                return NULL;
            }

            b->end = b->start + NGX_HTTP_Q2API_OUT_SIZE;
            ctx->stream_buffers++;
        }

        n = ngx_min(ctx->out.len - off, (size_t) (b->end - b->start));

        b->pos = b->start;
        b->last = ngx_cpymem(b->pos, ctx->out.data + off, n);
        b->temporary = n ? 1 : 0;
        b->tag = (ngx_buf_tag_t) &ngx_http_q2api_module;
        b->flush = 0;
        b->last_buf = 0;
        b->last_in_chain = 0;

        off += n;

        *ll = cl;
        ll = &cl->next;

    } while (off < ctx->out.len);

    b->flush = 1;

    if (last) {
        b->last_buf = (r == r->main) ? 1 : 0;
        b->last_in_chain = 1;
    }

    q2api_buf_reset(&ctx->out);

    return out;
}


void
ngx_http_q2api_recycle_out(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_chain_t *out)
{
    ngx_chain_update_chains(r->pool, &ctx->free, &ctx->busy, &out,
                            (ngx_buf_tag_t) &ngx_http_q2api_module);
}
