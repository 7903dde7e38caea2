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
#define NGX_HTTP_Q2API_ACCOUNT_GEMINI   3

#define NGX_HTTP_Q2API_KINDS            4     /* types are below this */


/* the flavours of Gemini accounts, the gemini back end's opts.flavour */
#define NGX_HTTP_Q2API_GEMINI_CLI          0
#define NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY  1
#define NGX_HTTP_Q2API_GEMINI_FLAVOURS     2


typedef struct {
    ngx_str_t    name;        /* the row's "type" */
    ngx_uint_t   type;        /* NGX_HTTP_Q2API_ACCOUNT_* */
    const char  *back;        /* the back end that serves it */
    ngx_uint_t   flavour;     /* that back end's style (q2api_back_opts_t) */
    ngx_str_t    location;    /* default q2api_<name>_location */
    ngx_str_t    url;         /* default q2api_<name>_url */
} ngx_http_q2api_kind_t;


/*
 * What differs between the two clients of Google's Code Assist that
 * Gemini accounts log in with (gemini.md 0.2): the public OAuth client
 * (a default that q2api_gemini_client_id and friends override), the host,
 * and how control calls name the client.
 */
typedef struct {
    ngx_str_t    name;        /* other.flavour */
    ngx_str_t    client_id;
    ngx_str_t    client_secret;
    ngx_str_t    endpoint;    /* other.api_endpoint when it has none */
    const char  *ide_type;    /* loadCodeAssist's metadata.ideType */
} ngx_http_q2api_gemini_flavour_t;


extern ngx_http_q2api_gemini_flavour_t
    ngx_http_q2api_gemini_flavours[NGX_HTTP_Q2API_GEMINI_FLAVOURS];


/* every kind, ending with one whose name is empty */
extern ngx_http_q2api_kind_t  ngx_http_q2api_kinds[];


/* the type named "name" (not NUL-terminated), or ACCOUNT_UNKNOWN */
ngx_uint_t ngx_http_q2api_kind_type(u_char *name, size_t len);

/* the name of a type, as stores and the admin API write it */
ngx_str_t *ngx_http_q2api_kind_name(ngx_uint_t type);

/* the kind of a type (an unknown type is served as Amazon Q) */
ngx_http_q2api_kind_t *ngx_http_q2api_kind(ngx_uint_t type);

/* a flavour by its name (other.flavour); NGX_ERROR for none */
ngx_int_t ngx_http_q2api_gemini_flavour_named(u_char *name, size_t len);

/*
 * The flavour of a Gemini account: the one named in other.flavour when
 * "named" is not NGX_ERROR, else the one whose public OAuth client id the
 * account has, else antigravity when its endpoint is not the production
 * host (only Antigravity uses the daily and sandbox hosts), else
 * gemini-cli.
 */
ngx_uint_t ngx_http_q2api_gemini_flavour(ngx_int_t named,
    ngx_str_t *client_id, ngx_str_t *endpoint);


#endif /* _NGX_HTTP_Q2API_KIND_H_INCLUDED_ */
