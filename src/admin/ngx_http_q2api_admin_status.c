/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * GET /v2/status: the pool now and its totals over time, for the admin
 * console's charts.  src/metrics keeps the samples and writes the JSON;
 * its shape is in README.md ("Status JSON").
 */


#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_metrics.h"


ngx_int_t
ngx_http_q2api_admin_status(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  json;

    rc = ngx_http_q2api_metrics_status(r, ctx->accounts, &json);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "metrics are not ready");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_admin_send_raw(r, NGX_HTTP_OK, "application/json",
                                         json.data, json.len);
}
