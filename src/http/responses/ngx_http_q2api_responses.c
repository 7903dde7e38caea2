/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * previous_response_id and store for the front ends that have them: the
 * stored history goes before a request's input, and a reply that went
 * well is kept for the next turn.
 */


#include "ngx_http_q2api.h"


ngx_int_t
ngx_http_q2api_responses_continue(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_error_t *err)
{
    ngx_int_t                    rc;
    ngx_str_t                    id;
    q2api_str_t                  prev;
    ngx_http_q2api_main_conf_t  *qmcf;

    if (ctx->front->previous == NULL) {
        return NGX_OK;
    }

    /* the id is checked there: only "resp_" and hex reach the lookup */
    if (ctx->front->previous(&ctx->req, &prev, err) != Q2API_OK) {
        return NGX_DECLINED;
    }

    if (prev.len == 0) {
        return NGX_OK;
    }

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf->responses == NULL || qmcf->responses->shm_zone == NULL) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "previous_response_id: this gateway keeps no "
                        "responses (q2api_responses_store off); send the "
                        "whole conversation in \"input\"");
        return NGX_DECLINED;
    }

    id.data = (u_char *) prev.data;
    id.len = prev.len;

    rc = ngx_http_q2api_responses_find(qmcf->responses, &id, r->pool,
                                       &ctx->history);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "previous_response_id: Previous response with id "
                        "'%.*s' not found.", (int) prev.len, prev.data);
        return NGX_DECLINED;
    }

    if (ctx->front->history(&ctx->req, (char *) ctx->history.data,
                            ctx->history.len, err)
        != Q2API_OK)
    {
        if (err->kind == Q2API_ERR_API) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "q2api: response \"%V\": %s", &id, err->message);
            return NGX_ERROR;
        }

        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_http_q2api_responses_keep(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx)
{
    ngx_str_t                    id, items;
    q2api_buf_t                  b;
    q2api_str_t                  rid;
    ngx_http_q2api_main_conf_t  *qmcf;

    if (ctx->front->record == NULL) {
        return;
    }

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf->responses == NULL || qmcf->responses->shm_zone == NULL) {
        return;
    }

    q2api_buf_init(&b, 0);

    if (ctx->front->record(ctx->front_state, &rid, &b) != Q2API_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: the response could not be stored: out of "
                      "memory");

    } else if (rid.len) {
        id.data = (u_char *) rid.data;
        id.len = rid.len;
        items.data = b.data;
        items.len = b.len;

        (void) ngx_http_q2api_responses_save(qmcf->responses, &id,
                                             &ctx->history, &items,
                                             r->connection->log);
    }

    q2api_buf_free(&b);
}
