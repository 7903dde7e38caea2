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

#include "q2api_check.h"


/* where Builder ID, device login and accounts without a region live */
extern ngx_str_t  ngx_http_q2api_home_region;


/* "Bearer <token>" in pool */
ngx_int_t ngx_http_q2api_bearer(ngx_pool_t *pool, ngx_str_t *token,
    ngx_str_t *out);

/*
 * The region of a profileArn, its fourth field
 * (arn:aws:codewhisperer:<region>:<account>:profile/<id>), parsed
 * strictly: it becomes part of a host name.  NGX_OK: region points into
 * arn; NGX_DECLINED: no ARN, region is us-east-1; NGX_ERROR: not an ARN
 * (region is us-east-1 too, but a caller must not use the account there).
 */
ngx_int_t ngx_http_q2api_arn_region(ngx_str_t *arn, ngx_str_t *region);


#endif /* _NGX_HTTP_Q2API_CREDENTIALS_H_INCLUDED_ */
