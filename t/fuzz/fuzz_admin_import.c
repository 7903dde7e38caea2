/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for what the admin API reads: the body of
 * POST /v2/accounts/import (JSON rows, an export, Kiro IDE files,
 * amq2api's lines) through ngx_http_q2api_admin_import() itself, and the
 * same body as the account of a create or a patch
 * (ngx_http_q2api_admin_parse(), _input(), _complete()).  The glue is
 * built against t/fuzz/shim.  Input: a body, any bytes.  Every account
 * that reaches the pool (the functions below stand for it) passes the
 * input checks of its fields; every answer is one JSON document of valid
 * UTF-8; no log line holds a control byte (the shim checks).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_shim.h"
#include "fuzz_glue.h"
#include "ngx_http_q2api_admin.h"


static void
account_checked(ngx_http_q2api_account_data_t *d)
{
    fuzz_account_checked(d);
    check(d->access_token.len || d->refresh_token.len);

    /* written into files and answers as it is */
    if (d->other.len) {
        cJSON_Delete(fuzz_json_answer(d->other.data, d->other.len));
    }
}


/* the account pool: ids beginning with "k" are known to it */
ngx_int_t
ngx_http_q2api_accounts_get(ngx_http_q2api_accounts_t *accounts,
    ngx_str_t *id, ngx_pool_t *p, ngx_http_q2api_account_data_t *d)
{
    if (id->len == 0 || id->data[0] != 'k') {
        return NGX_DECLINED;
    }

    ngx_memzero(d, sizeof(ngx_http_q2api_account_data_t));
    d->id = *id;
    ngx_str_set(&d->access_token, "known");
    d->type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_accounts_upsert(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_data_t *d, ngx_uint_t fields,
    ngx_uint_t generation)
{
    account_checked(d);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_admin_insert(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_account_data_t *d)
{
    account_checked(d);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_add_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    return NGX_OK;
}


/* the answer: one JSON document */
ngx_int_t
ngx_http_q2api_send_body(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *data, size_t len)
{
    cJSON_Delete(fuzz_json_answer(data, len));

    return status;
}


static void
input(ngx_http_request_t *r, u_char *data, size_t size, ngx_uint_t mode)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON                         *root;
    ngx_int_t                      rc;
    ngx_str_t                      text;
    ngx_http_q2api_admin_input_t   in;

    text.data = data;
    text.len = size;

    root = ngx_http_q2api_admin_parse(r, &text, err);

    if (root == NULL) {
        check(memchr(err, '\0', sizeof(err)) != NULL);
        return;
    }

    rc = ngx_http_q2api_admin_input(r, root, mode, &in, "", err);

    if (rc == NGX_OK && mode == NGX_HTTP_Q2API_INPUT_CREATE) {
        rc = ngx_http_q2api_admin_complete(r, &in, "", err);

        if (rc == NGX_OK) {
            account_checked(&in.d);
        }
    }

    if (rc == NGX_OK) {
        fuzz_checked(&in.d.id, Q2API_CHECK_ID);
        fuzz_checked(&in.d.access_token, Q2API_CHECK_TOKEN);
        fuzz_checked(&in.d.profile_arn, Q2API_CHECK_ARN);

    } else if (rc == NGX_DECLINED) {
        /* the detail of a 400 */
        check(memchr(err, '\0', sizeof(err)) != NULL);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *body;
    ngx_connection_t             c;
    ngx_http_request_t           r;
    ngx_http_q2api_admin_ctx_t   ctx;

    /* exactly size bytes: ASan sees a read past the end */
    body = malloc(size ? size : 1);
    check(body != NULL);

    ngx_memzero(&c, sizeof(ngx_connection_t));
    ngx_memzero(&r, sizeof(ngx_http_request_t));
    ngx_memzero(&ctx, sizeof(ngx_http_q2api_admin_ctx_t));

    c.log = ngx_shim_log();
    r.connection = &c;

    /* each reading on a body of its own: a parse may mark NULs in place */
    memcpy(body, data, size);
    r.pool = ngx_create_pool(4096, c.log);
    check(r.pool != NULL);
    ctx.body.data = body;
    ctx.body.len = size;
    (void) ngx_http_q2api_admin_import(&r, &ctx);
    ngx_destroy_pool(r.pool);

    memcpy(body, data, size);
    r.pool = ngx_create_pool(4096, c.log);
    check(r.pool != NULL);
    input(&r, body, size, NGX_HTTP_Q2API_INPUT_CREATE);
    ngx_destroy_pool(r.pool);

    memcpy(body, data, size);
    r.pool = ngx_create_pool(4096, c.log);
    check(r.pool != NULL);
    input(&r, body, size, NGX_HTTP_Q2API_INPUT_PATCH);
    ngx_destroy_pool(r.pool);

    free(body);

    return 0;
}
