/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the query of GET /v2/accounts (enabled, status,
 * type, q, sort_by, sort_order, offset, limit): the listing's handler
 * itself (src/admin/ngx_http_q2api_admin_list.c) over a fixed pool of
 * accounts, built against t/fuzz/shim.  Input: the query string, any
 * bytes.  The answer is a 400 with a detail, or one JSON document whose
 * page holds "count" rows, within the limit asked for and the pool.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_shim.h"
#include "fuzz_glue.h"
#include "ngx_http_q2api_admin.h"

#define NACCOUNTS  4


static ngx_uint_t  answered;


ngx_int_t
ngx_http_q2api_accounts_export(ngx_http_q2api_accounts_t *accounts,
    ngx_pool_t *p, ngx_array_t *out)
{
    ngx_uint_t                      i;
    ngx_http_q2api_account_data_t  *d;

    static char  *labels[] = { "Work", "home", "", "Kiro \xc3\xa9t\xc3\xa9" };

    for (i = 0; i < NACCOUNTS; i++) {
        d = ngx_array_push(out);
        if (d == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(d, sizeof(ngx_http_q2api_account_data_t));

        d->id.data = ngx_pnalloc(p, 2);
        if (d->id.data == NULL) {
            return NGX_ERROR;
        }

        d->id.data[0] = 'a' + i;
        d->id.len = 1;
        d->label.data = (u_char *) labels[i];
        d->label.len = ngx_strlen(labels[i]);
        ngx_str_set(&d->access_token, "token");
        d->type = (i & 1) ? NGX_HTTP_Q2API_ACCOUNT_KIRO
                          : NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
        d->enabled = (i != 2);
        d->status = i;
        d->created_at = 1700000000 + i * 10;
        d->successes = 7 * i % 3;
        d->last_used = (i == 1) ? 0 : 1700000100;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_add_header(ngx_http_request_t *r, char *key, u_char *value,
    size_t len)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_send_body(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *data, size_t len)
{
    cJSON  *o, *rows, *count, *limit;

    o = fuzz_json_answer(data, len);

    if (status == NGX_HTTP_OK) {
        rows = cJSON_GetObjectItemCaseSensitive(o, "accounts");
        count = cJSON_GetObjectItemCaseSensitive(o, "count");
        limit = cJSON_GetObjectItemCaseSensitive(o, "limit");

        check(cJSON_IsArray(rows) && cJSON_IsNumber(count));
        check(cJSON_GetArraySize(rows) == count->valueint);
        check(count->valueint <= NACCOUNTS);
        check(!cJSON_IsNumber(limit) || count->valueint <= limit->valueint);

    } else {
        check(status == NGX_HTTP_BAD_REQUEST);
        check(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "detail")));
    }

    cJSON_Delete(o);
    answered = 1;

    return status;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_int_t                    rc;
    ngx_connection_t             c;
    ngx_http_request_t           r;
    ngx_http_q2api_admin_ctx_t   ctx;

    ngx_memzero(&c, sizeof(ngx_connection_t));
    ngx_memzero(&r, sizeof(ngx_http_request_t));
    ngx_memzero(&ctx, sizeof(ngx_http_q2api_admin_ctx_t));

    c.log = ngx_shim_log();
    r.connection = &c;
    r.pool = ngx_create_pool(4096, c.log);
    check(r.pool != NULL);

    /* exactly size bytes: ASan sees a read past the end */
    r.args.len = size;
    r.args.data = ngx_pnalloc(r.pool, size);
    check(r.args.data != NULL);
    ngx_memcpy(r.args.data, data, size);

    answered = 0;
    rc = ngx_http_q2api_admin_list(&r, &ctx);
    check(answered && (rc == NGX_HTTP_OK || rc == NGX_HTTP_BAD_REQUEST));

    ngx_destroy_pool(r.pool);

    return 0;
}
