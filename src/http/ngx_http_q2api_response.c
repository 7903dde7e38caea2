/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the client request sends itself: error answers in the client's
 * dialect, the SSE response header, and whole JSON bodies.
 */


#include <openssl/rand.h>

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_metrics.h"


static ngx_int_t ngx_http_q2api_request_id(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);


ngx_int_t
ngx_http_q2api_send_error(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    q2api_err_e kind, const char *message)
{
    u_char      *p, *last;
    ngx_int_t    rc, status;
    q2api_buf_t  body;

    if (r->header_sent) {
        return NGX_ERROR;
    }

    ctx->answered = kind;

    if (ngx_http_q2api_request_id(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    q2api_buf_init(&body, 0);

    if (ctx->front->error_body(&body, kind, message,
                               (char *) ctx->request_id)
        != Q2API_OK)
    {
        q2api_buf_free(&body);
        return NGX_ERROR;
    }

    status = ctx->front->error_status(kind);

    /* clients back off as told; without it they retry at once */
    if (status == 429 || status == 503 || status == 529) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            q2api_buf_free(&body);
            return NGX_ERROR;
        }

        /* when the first cooling account is back, if that is known */
        last = ngx_sprintf(p, "%T", ctx->retry_after > 0 ? ctx->retry_after
                                                         : (time_t) 10);

        if (ngx_http_q2api_add_header(r, "retry-after", p, last - p)
            != NGX_OK)
        {
            q2api_buf_free(&body);
            return NGX_ERROR;
        }
    }

    if (status < 500 && status != 429 && status != 408 && status != 409
        && ngx_http_q2api_add_header(r, "x-should-retry", (u_char *) "false",
                                     5)
           != NGX_OK)
    {
        q2api_buf_free(&body);
        return NGX_ERROR;
    }

    rc = ngx_http_q2api_send_json(r, ctx, status, body.data, body.len);

    q2api_buf_free(&body);

    return rc;
}


ngx_int_t
ngx_http_q2api_send_json(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_uint_t status, u_char *data, size_t len)
{
    u_char  *copy;

    if (ngx_http_q2api_request_id(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    /* callers free their buffer when this returns; the body outlives it */
    copy = ngx_pnalloc(r->pool, len ? len : 1);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(copy, data, len);

    ctx->replied = 1;

    if (ngx_http_q2api_add_header(r, (char *) ctx->front->request_id_header,
                                  ctx->request_id,
                                  ngx_strlen(ctx->request_id))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_q2api_send_body(r, status, "application/json", copy,
                                    len);
}


ngx_int_t
ngx_http_q2api_send_stream_header(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (r->header_sent) {
        return NGX_OK;
    }

    if (ngx_http_q2api_request_id(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->replied = 1;

    r->headers_out.status = NGX_HTTP_OK;
    ngx_str_set(&r->headers_out.content_type, "text/event-stream");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);

    /* SSE must reach the client as it is written: no gzip, no buffering
     * by an nginx or a CDN in front of this one */
    r->gzip_tested = 1;
    r->gzip_ok = 0;

    if (ngx_http_q2api_add_header(r, "cache-control", (u_char *) "no-cache",
                                  8) != NGX_OK
        || ngx_http_q2api_add_header(r, "x-accel-buffering",
                                     (u_char *) "no", 2) != NGX_OK
        || ngx_http_q2api_add_header(r,
                                     (char *) ctx->front->request_id_header,
                                     ctx->request_id,
                                     ngx_strlen(ctx->request_id)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    rc = ngx_http_send_header(r);

    ctx->committed = 1;

    return rc;
}


/* the front end's prefix and 24 hex digits: req_... for Anthropic's */
static ngx_int_t
ngx_http_q2api_request_id(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx)
{
    u_char  *p, raw[12];

    /* every answer asks for its id first: its header is about to go */
    ngx_http_q2api_metrics_first_byte(r, ctx);

    if (ctx->request_id[0] != '\0') {
        return NGX_OK;
    }

    if (RAND_bytes(raw, sizeof(raw)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api: RAND_bytes() failed");
        return NGX_ERROR;
    }

    p = ngx_cpystrn(ctx->request_id,
                    (u_char *) ctx->front->request_id_prefix,
                    sizeof(ctx->request_id) - 2 * sizeof(raw));
    p = ngx_hex_dump(p, raw, sizeof(raw));
    *p = '\0';

    return NGX_OK;
}


/*
 * nginx answers some failures itself, before or around the handler: a body
 * over client_max_body_size (checked when the location is chosen, or while
 * a chunked body arrives), a client body timeout, an internal error.  For
 * q2api_pass locations those pages are replaced, in the header filter, by
 * the same answer in the client's dialect.
 */
ngx_int_t
ngx_http_q2api_error_page(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_chain_t **out)
{
    ngx_buf_t    *b;
    q2api_err_e   kind;
    q2api_buf_t   body;
    const char   *message;

    switch (r->headers_out.status) {

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        kind = Q2API_ERR_TOO_LARGE;
        message = "request body is larger than this gateway accepts "
                  "(client_max_body_size)";
        break;

    case NGX_HTTP_REQUEST_TIME_OUT:
        kind = Q2API_ERR_INVALID_REQUEST;
        message = "the request body did not arrive in time";
        break;

    case NGX_HTTP_LENGTH_REQUIRED:
        kind = Q2API_ERR_INVALID_REQUEST;
        message = "a Content-Length or a chunked body is required";
        break;

    case NGX_HTTP_NOT_FOUND:
        kind = Q2API_ERR_NOT_FOUND;
        message = "not found";
        break;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        kind = Q2API_ERR_UNAVAILABLE;
        message = "the gateway is not available";
        break;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        kind = Q2API_ERR_TIMEOUT;
        message = "the backend did not answer in time";
        break;

    default:
        if (r->headers_out.status < NGX_HTTP_INTERNAL_SERVER_ERROR) {
            kind = Q2API_ERR_INVALID_REQUEST;
            message = "bad request";

        } else {
            kind = Q2API_ERR_API;
            message = "internal error in the gateway";
        }
    }

    if (ngx_http_q2api_request_id(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    q2api_buf_init(&body, 0);

    if (ctx->front->error_body(&body, kind, message,
                               (char *) ctx->request_id)
        != Q2API_OK)
    {
        q2api_buf_free(&body);
        return NGX_ERROR;
    }

    b = ngx_create_temp_buf(r->pool, body.len);
    if (b == NULL) {
        q2api_buf_free(&body);
        return NGX_ERROR;
    }

    b->last = ngx_cpymem(b->pos, body.data, body.len);
    b->last_buf = 1;
    b->last_in_chain = 1;

    q2api_buf_free(&body);

    *out = ngx_alloc_chain_link(r->pool);
    if (*out == NULL) {
        return NGX_ERROR;
    }

    (*out)->buf = b;
    (*out)->next = NULL;

    ctx->replied = 1;

    ngx_http_clear_content_length(r);
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    return ngx_http_q2api_add_header(r,
                                     (char *) ctx->front->request_id_header,
                                     ctx->request_id,
                                     ngx_strlen(ctx->request_id));
}
