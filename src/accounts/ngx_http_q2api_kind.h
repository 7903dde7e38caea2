/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Account kinds: what an account row's "type" names, and what the glue
 * needs to serve an account of that kind (its back end and flavour, its
 * internal location and URL, how its token is refreshed).  The stores, the
 * admin API and the attempts look kinds up here and never spell them out.
 */

#ifndef _NGX_HTTP_Q2API_KIND_H_INCLUDED_
#define _NGX_HTTP_Q2API_KIND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


#define NGX_HTTP_Q2API_ACCOUNT_UNKNOWN  0
#define NGX_HTTP_Q2API_ACCOUNT_AMAZONQ  1
#define NGX_HTTP_Q2API_ACCOUNT_KIRO     2


/* the type named "name" (not NUL-terminated), or ACCOUNT_UNKNOWN */
ngx_uint_t ngx_http_q2api_kind_type(u_char *name, size_t len);

/* the name of a type, as stores and the admin API write it */
ngx_str_t *ngx_http_q2api_kind_name(ngx_uint_t type);


#endif /* _NGX_HTTP_Q2API_KIND_H_INCLUDED_ */
