/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Placeholder while the PostgreSQL store is written: the directive is
 * refused with a clear message.
 */


#include "ngx_http_q2api.h"


ngx_http_q2api_store_ops_t  ngx_http_q2api_store_pg_ops = {
    "postgres", NULL, NULL, NULL
};


ngx_int_t
ngx_http_q2api_store_pg_conf(ngx_conf_t *cf, ngx_http_q2api_store_t *st)
{
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "q2api_store postgres is not available in this "
                       "build");
    return NGX_ERROR;
}
