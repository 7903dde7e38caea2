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

#define NGX_HTTP_Q2API_KINDS            3     /* types are below this */


typedef struct {
    ngx_str_t    name;        /* the row's "type" */
    ngx_uint_t   type;        /* NGX_HTTP_Q2API_ACCOUNT_* */
    const char  *back;        /* the back end that serves it */
    ngx_uint_t   flavour;     /* that back end's style (q2api_back_opts_t) */
    ngx_str_t    location;    /* default q2api_<name>_location */
    ngx_str_t    url;         /* default q2api_<name>_url */
} ngx_http_q2api_kind_t;


/* every kind, ending with one whose name is empty */
extern ngx_http_q2api_kind_t  ngx_http_q2api_kinds[];


/* the type named "name" (not NUL-terminated), or ACCOUNT_UNKNOWN */
ngx_uint_t ngx_http_q2api_kind_type(u_char *name, size_t len);

/* the name of a type, as stores and the admin API write it */
ngx_str_t *ngx_http_q2api_kind_name(ngx_uint_t type);

/* the kind of a type (an unknown type is served as Amazon Q) */
ngx_http_q2api_kind_t *ngx_http_q2api_kind(ngx_uint_t type);


#endif /* _NGX_HTTP_Q2API_KIND_H_INCLUDED_ */
