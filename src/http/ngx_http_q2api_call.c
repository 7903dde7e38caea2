/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * In-memory calls.  The answer is handed to the caller from a posted
 * event, outside nginx's subrequest finalization, so the caller may start
 * the next subrequest or finalize its request.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_call.h"


typedef struct {
    uint32_t                         magic;
    ngx_http_request_t              *request;    /* the caller */
    ngx_str_t                        url;
    ngx_str_t                        method;
    ngx_str_t                        authorization;
    ngx_http_q2api_call_done_pt      done;
    void                            *data;
    ngx_int_t                        status;
    ngx_str_t                        body;
    ngx_event_t                      ev;         /* delivers the answer */
    unsigned                         finalized:1;
} ngx_http_q2api_call_t;


static ngx_int_t ngx_http_q2api_call_post(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_q2api_call_deliver(ngx_event_t *ev);
static void ngx_http_q2api_call_cleanup(void *data);


static ngx_str_t  ngx_http_q2api_call_uri = ngx_string("/_q2api/call");


ngx_int_t
ngx_http_q2api_call(ngx_http_request_t *r, ngx_http_q2api_call_req_t *req,
    ngx_http_q2api_call_done_pt done, void *data, ngx_http_request_t **psr)
{
    ngx_str_t                   *uri;
    ngx_pool_cleanup_t          *cln;
    ngx_http_request_t          *sr;
    ngx_http_q2api_call_t       *call;
    ngx_http_post_subrequest_t  *ps;

    call = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_call_t));
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->magic = NGX_HTTP_Q2API_CTX_CALL;
    call->request = r;
    call->url = req->url;
    call->method = req->method;
    call->authorization = req->authorization;
    call->done = done;
    call->data = data;

    call->ev.handler = ngx_http_q2api_call_deliver;
    call->ev.data = call;
    call->ev.log = r->connection->log;

    /* a client that goes away must not leave the event posted */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_q2api_call_cleanup;
    cln->data = call;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_q2api_call_post;
    ps->data = call;

    uri = req->location.len ? &req->location : &ngx_http_q2api_call_uri;

    if (ngx_http_subrequest(r, uri, req->args.len ? &req->args : NULL, &sr,
                            ps, NGX_HTTP_SUBREQUEST_IN_MEMORY
                                |(req->background
                                  ? NGX_HTTP_SUBREQUEST_BACKGROUND
                                  : NGX_HTTP_SUBREQUEST_WAITED))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(sr, call, ngx_http_q2api_module);

    if (psr != NULL) {
        *psr = sr;
    }

    return ngx_http_q2api_subrequest_body(r, sr, req->body.data,
                                          req->body.len);
}


static ngx_int_t
ngx_http_q2api_call_post(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_q2api_call_t  *call = data;

    ngx_buf_t  *b;

    if (call->finalized) {
        return NGX_OK;
    }

    call->finalized = 1;

    /* no header: nginx's own verdict (502 connect failure, 504...) */
    call->status = sr->headers_out.status
                   ? (ngx_int_t) sr->headers_out.status
                   : (rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc : 0);

    b = sr->out ? sr->out->buf : NULL;

    if (b && b->last > b->pos) {
        call->body.data = b->pos;
        call->body.len = b->last - b->pos;
    }

    /* answered from the event loop, outside this finalization */
    ngx_post_event(&call->ev, &ngx_posted_events);

    return NGX_OK;
}


static void
ngx_http_q2api_call_deliver(ngx_event_t *ev)
{
    ngx_http_q2api_call_t  *call = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = call->request;
    c = r->connection;

    call->done(r, call->data, call->status, &call->body);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_q2api_call_cleanup(void *data)
{
    ngx_http_q2api_call_t  *call = data;

    if (call->ev.posted) {
        ngx_delete_posted_event(&call->ev);
    }
}


ngx_int_t
ngx_http_q2api_call_param(ngx_http_request_t *r, ngx_uint_t what,
    ngx_str_t *value)
{
    ngx_http_q2api_call_t  *call;

    call = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    if (call == NULL || call->magic != NGX_HTTP_Q2API_CTX_CALL) {
        return NGX_DECLINED;
    }

    switch (what) {

    case NGX_HTTP_Q2API_CALL_URL:
        *value = call->url;
        break;

    case NGX_HTTP_Q2API_CALL_METHOD:
        *value = call->method;
        break;

    default: /* NGX_HTTP_Q2API_CALL_AUTHORIZATION */
        *value = call->authorization;
    }

    return NGX_OK;
}
