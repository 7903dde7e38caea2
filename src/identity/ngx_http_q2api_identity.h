/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the identity files share: where the identity services are (a
 * configured URL with "{region}" in it), calls to them through
 * ngx_http_q2api_call(), and the JSON they speak.  Private to
 * src/identity.
 */

#ifndef _NGX_HTTP_Q2API_IDENTITY_H_INCLUDED_
#define _NGX_HTTP_Q2API_IDENTITY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <cjson/cJSON.h>

#include "ngx_http_q2api_call.h"
#include "q2api_answer.h"
#include "q2api_check.h"


/*
 * base with "{region}" replaced by region, in a buffer with room for
 * "extra" more bytes after url->len; NGX_ERROR for a region that is not
 * an AWS region name
 */
ngx_int_t ngx_http_q2api_region_url(ngx_pool_t *pool, ngx_str_t *base,
    ngx_str_t *region, size_t extra, ngx_str_t *url);

/*
 * The Identity Center region an account was logged in at, from its
 * "other" JSON.  NGX_DECLINED: none (or not a usable name).
 */
ngx_int_t ngx_http_q2api_login_region(ngx_pool_t *pool, ngx_str_t *other,
    ngx_str_t *region);

/*
 * The URL of the OIDC service's "op" ("token", "client/register",
 * "device_authorization") in the region given (NULL: us-east-1, where
 * Builder ID lives).
 */
ngx_int_t ngx_http_q2api_oidc_url(ngx_http_request_t *r, const char *op,
    ngx_str_t *region, ngx_str_t *url);

/*
 * A call to an identity service: method ("POST", "GET") to url, with
 * "Authorization: Bearer <access_token>" unless access_token is NULL.
 */
ngx_int_t ngx_http_q2api_identity_call(ngx_http_request_t *r, char *method,
    ngx_str_t *url, ngx_str_t *access_token, ngx_str_t *body,
    ngx_http_q2api_call_done_pt done, void *data);

/*
 * POST body (JSON) to the OIDC service's "op" as a subrequest of r, in
 * the region given (see ngx_http_q2api_oidc_url()).  r must have been
 * told it is waiting (its count is taken here).  NGX_OK: done will be
 * called.
 */
ngx_int_t ngx_http_q2api_oidc_call(ngx_http_request_t *r, const char *op,
    ngx_str_t *region, ngx_str_t *body, ngx_http_q2api_call_done_pt done,
    void *data);


/* o printed into r->pool; o is deleted either way */
ngx_int_t ngx_http_q2api_json_body(ngx_http_request_t *r, cJSON *o,
    ngx_str_t *out);
/* a NUL-terminated copy, for cJSON */
char *ngx_http_q2api_cstr(ngx_pool_t *pool, ngx_str_t *s);
/*
 * An identity service's answer (or an admin body) as JSON, NULL when it is
 * none (or empty).  A NUL in a string is kept as a mark (q2api_nul.h) that
 * every check refuses, rather than cutting the value as cJSON would.
 */
cJSON *ngx_http_q2api_identity_parse(ngx_pool_t *pool, ngx_str_t *body);

/* o's member "key" when it is a string, or NULL */
const char *ngx_http_q2api_jstr(cJSON *o, const char *key);
/*
 * o's member "key" checked as a value of its class: NGX_OK with *value,
 * NGX_DECLINED when absent or empty, NGX_ERROR when refused (logged with
 * from and the member's name, never its value).
 */
ngx_int_t ngx_http_q2api_jstr_check(ngx_log_t *log, cJSON *o,
    const char *key, q2api_check_e what, const char *from,
    const char **value);
/* a member of an answer refused by its check, logged by its name */
void ngx_http_q2api_identity_refused(ngx_log_t *log, const char *from,
    const char *key, q2api_check_e what);

/* o's member "key" when it is a number, or dflt */
double ngx_http_q2api_jnum(cJSON *o, const char *key, double dflt);


#endif /* _NGX_HTTP_Q2API_IDENTITY_H_INCLUDED_ */
