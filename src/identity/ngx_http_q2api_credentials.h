/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Small helpers about credentials, shared by the identity calls, the
 * attempts and the admin API.
 */

#ifndef _NGX_HTTP_Q2API_CREDENTIALS_H_INCLUDED_
#define _NGX_HTTP_Q2API_CREDENTIALS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* where Builder ID, device login and accounts without a region live */
extern ngx_str_t  ngx_http_q2api_home_region;


/*
 * Printable ASCII without spaces: what may go as it is into an HTTP
 * header, a JSON body and a query string (tokens, secrets, ARNs).
 */
ngx_uint_t ngx_http_q2api_token_chars(u_char *s, size_t len);


/* "Bearer <token>" in pool */
ngx_int_t ngx_http_q2api_bearer(ngx_pool_t *pool, ngx_str_t *token,
    ngx_str_t *out);

/*
 * The region of a profileArn, its fourth field
 * (arn:aws:codewhisperer:<region>:<account>:profile/<id>); us-east-1 when
 * there is none.  region points into arn.
 */
void ngx_http_q2api_arn_region(ngx_str_t *arn, ngx_str_t *region);


#endif /* _NGX_HTTP_Q2API_CREDENTIALS_H_INCLUDED_ */
