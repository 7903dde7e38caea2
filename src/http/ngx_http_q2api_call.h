/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * In-memory calls: a subrequest whose whole answer (status and body) is
 * captured in memory and handed to a callback outside nginx's subrequest
 * finalization.  The identity services (token refresh, device login, Kiro
 * usage and profiles) are called this way through /_q2api/call
 * (conf/q2api_upstream.conf), a proxy_pass location that reads where to
 * go from $q2api_call_url, $q2api_call_method and
 * $q2api_call_authorization; nothing blocks, and nginx does TLS, resolving
 * and keepalive.
 */

#ifndef _NGX_HTTP_Q2API_CALL_H_INCLUDED_
#define _NGX_HTTP_Q2API_CALL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* what ngx_http_q2api_call_param() is asked for */
#define NGX_HTTP_Q2API_CALL_URL            0
#define NGX_HTTP_Q2API_CALL_METHOD         1
#define NGX_HTTP_Q2API_CALL_AUTHORIZATION  2


/*
 * What to call.  The strings are not copied: they must live as long as
 * the calling request (its pool, or static).
 */
typedef struct {
    ngx_str_t                  location;      /* empty: /_q2api/call */
    ngx_str_t                  args;          /* the subrequest's query */
    ngx_str_t                  method;        /* $q2api_call_method */
    ngx_str_t                  url;           /* $q2api_call_url */
    ngx_str_t                  authorization; /* the whole header value */
    ngx_str_t                  body;          /* sent as a POST body */
    unsigned                   background:1;  /* r does not wait for it:
                                                 its answer may come after
                                                 r's own has gone */
} ngx_http_q2api_call_req_t;


/*
 * The answer of one call: status 0 when no answer came (connection
 * failure); body is the response body, in r->pool.  Called from r's
 * posted event, never from inside nginx's subrequest finalization, so it
 * may start another call or finalize r.
 */
typedef void (*ngx_http_q2api_call_done_pt)(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);


/*
 * Starts the call as a subrequest of r.  r must have been told it is
 * waiting (its count is taken here).  NGX_OK: done will be called; sr,
 * when not NULL, gets the subrequest, for a caller that sets more on it
 * (headers, method) before it runs.
 */
ngx_int_t ngx_http_q2api_call(ngx_http_request_t *r,
    ngx_http_q2api_call_req_t *req, ngx_http_q2api_call_done_pt done,
    void *data, ngx_http_request_t **sr);

/*
 * For the variables of the call location: the URL, method or
 * authorization of the call this subrequest is (NGX_HTTP_Q2API_CALL_*).
 * NGX_DECLINED: r is not a call.
 */
ngx_int_t ngx_http_q2api_call_param(ngx_http_request_t *r, ngx_uint_t what,
    ngx_str_t *value);


#endif /* _NGX_HTTP_Q2API_CALL_H_INCLUDED_ */
