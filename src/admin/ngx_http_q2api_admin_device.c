/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api's device login routes, /v2/auth/start, /v2/auth/status/{authId}
 * and /v2/auth/claim/{authId}, served by src/identity's device-code login.
 */


#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_login.h"


static void ngx_http_q2api_admin_device_done(ngx_http_request_t *r,
    void *data, ngx_uint_t status, ngx_str_t *json);


/*
 * q2api's /v2/auth/start, /v2/auth/status/{authId} and
 * /v2/auth/claim/{authId}, served by the device-code login.
 */
ngx_int_t
ngx_http_q2api_admin_device(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t   rc;
    ngx_str_t   json;
    ngx_uint_t  status;

    if (ctx->route == NGX_HTTP_Q2API_ROUTE_AUTH_STATUS) {
        rc = ngx_http_q2api_login_status(r, &ctx->id, &status, &json);

        if (rc != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_q2api_admin_send_raw(r, status, "application/json",
                                             json.data, json.len);
    }

    r->connection->log->action = "logging an account in";

    ctx->async = 1;

    rc = ctx->route == NGX_HTTP_Q2API_ROUTE_AUTH_START
         ? ngx_http_q2api_login_start(r, &ctx->body,
                                      ngx_http_q2api_admin_device_done, ctx)
         : ngx_http_q2api_login_claim(r, &ctx->id,
                                      ngx_http_q2api_admin_device_done, ctx);

    if (rc == NGX_DECLINED) {
        ctx->async = 0;
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "body: expected a JSON object");
    }

    if (rc != NGX_OK) {
        ctx->async = 0;
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_DONE;
}


static void
ngx_http_q2api_admin_device_done(ngx_http_request_t *r, void *data,
    ngx_uint_t status, ngx_str_t *json)
{
    ngx_http_finalize_request(r,
        ngx_http_q2api_admin_send_raw(r, status, "application/json",
                                      json->data, json->len));
}
