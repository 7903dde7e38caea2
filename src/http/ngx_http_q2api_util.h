/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Generic HTTP helpers of the API and the admin API: the request body,
 * request headers, response headers and whole bodies.  nginx types only,
 * so that any glue file may include it without the API's own header.
 */

#ifndef _NGX_HTTP_Q2API_UTIL_H_INCLUDED_
#define _NGX_HTTP_Q2API_UTIL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the request body as one string, from memory or its temporary file */
ngx_int_t ngx_http_q2api_read_body(ngx_http_request_t *r, ngx_str_t *body);

/* the value of a request header, or NULL when absent or empty */
ngx_str_t *ngx_http_q2api_header(ngx_http_request_t *r, char *name);

/* what follows "Authorization: Bearer "; NGX_DECLINED without one */
ngx_int_t ngx_http_q2api_bearer_value(ngx_http_request_t *r,
    ngx_str_t *value);

/* a response header; key and value must live as long as r */
ngx_int_t ngx_http_q2api_add_header(ngx_http_request_t *r, char *key,
    u_char *value, size_t len);

/*
 * The whole response: status, Content-Type "type", Content-Length and
 * the body, the last of the request's output (of the main request's).
 * data is not copied: it must live as long as r.
 */
ngx_int_t ngx_http_q2api_send_body(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *data, size_t len);


#endif /* _NGX_HTTP_Q2API_UTIL_H_INCLUDED_ */
