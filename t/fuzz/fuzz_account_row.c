/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for account rows as the file store reads them: the
 * glue itself (ngx_http_q2api_store_file_parse(), the row codec of
 * src/store/ngx_http_q2api_row.c, the seal check, the kind table), built
 * against t/fuzz/shim.  Input: an accounts file, any bytes.  What reaches
 * the account pool (the upsert below stands for it) passes the input
 * checks of every field that becomes a header, URL or host; it is written
 * back as JSON that reads as the same row; each field also reads from its
 * text as a database gives it.  No log line holds a control byte (the
 * shim checks).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_shim.h"
#include "fuzz_glue.h"
#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_kind.h"
#include "ngx_http_q2api_row.h"
#include "ngx_http_q2api_store.h"
#include "q2api_check.h"


static ngx_uint_t
same(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


/* a row written as the file is, read back: the same account */
static void
round_trip(ngx_http_q2api_account_data_t *d, ngx_uint_t flags)
{
    cJSON                          *o;
    ngx_int_t                       rc;
    ngx_pool_t                     *pool;
    q2api_buf_t                     b;
    ngx_http_q2api_row_field_e      bad;
    ngx_http_q2api_account_data_t   e;

    q2api_buf_init(&b, 0);
    check(ngx_http_q2api_row_to_json(&b, d, ngx_http_q2api_row_file, flags)
          == NGX_OK);

    o = fuzz_json_answer(b.data, b.len);

    pool = ngx_create_pool(1024, ngx_shim_log());
    check(pool != NULL);

    ngx_memzero(&e, sizeof(ngx_http_q2api_account_data_t));
    rc = ngx_http_q2api_row_from_json(o, ngx_http_q2api_row_file, pool, &e,
                                      &bad);
    check(rc == NGX_OK);

    check(same(&d->id, &e.id) && same(&d->label, &e.label)
          && same(&d->client_id, &e.client_id)
          && same(&d->client_secret, &e.client_secret)
          && same(&d->refresh_token, &e.refresh_token)
          && same(&d->access_token, &e.access_token)
          && same(&d->profile_arn, &e.profile_arn));
    check(d->type == e.type && d->enabled == e.enabled);
    check(d->successes == e.successes && d->errors == e.errors);

    ngx_destroy_pool(pool);
    cJSON_Delete(o);
    q2api_buf_free(&b);
}


/* the account pool, as the file store hands it a row */
ngx_int_t
ngx_http_q2api_accounts_upsert(ngx_http_q2api_accounts_t *accounts,
    ngx_http_q2api_account_data_t *d, ngx_uint_t fields,
    ngx_uint_t generation)
{
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    const char  *text;

    fuzz_account_checked(d);
    check(d->status <= NGX_HTTP_Q2API_ST_ERRORS);

    round_trip(d, 0);
    round_trip(d, NGX_HTTP_Q2API_ROW_TEXT_TIMES|NGX_HTTP_Q2API_ROW_FLAG_NUMS);
    round_trip(d, NGX_HTTP_Q2API_ROW_Q2API_TIMES);

    /* the row as PostgreSQL parameters: NUL-terminated text, or NULL */
    pool = ngx_create_pool(1024, ngx_shim_log());
    check(pool != NULL);

    for (i = 0; i < NGX_HTTP_Q2API_ROW_NFIELDS; i++) {
        check(ngx_http_q2api_row_text(pool, i, d, &text) == NGX_OK);
        check(text == NULL || strlen(text) < 1 << 20);
    }

    ngx_destroy_pool(pool);

    return NGX_OK;
}


void
ngx_http_q2api_accounts_prune(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t generation)
{
}


ngx_uint_t
ngx_http_q2api_accounts_next_generation(ngx_http_q2api_accounts_t *accounts)
{
    return 1;
}


/* each field from the input's text, as a PostgreSQL row gives it */
static void
from_text(u_char *data, size_t size)
{
    ngx_str_t                      text;
    ngx_uint_t                     i;
    ngx_http_q2api_account_data_t  d;

    text.data = data;
    text.len = size;

    for (i = 0; i < NGX_HTTP_Q2API_ROW_NFIELDS; i++) {
        ngx_memzero(&d, sizeof(ngx_http_q2api_account_data_t));

        if (ngx_http_q2api_row_from_text(i, &text, &d) != NGX_OK) {
            continue;
        }

        fuzz_checked(&d.id, Q2API_CHECK_ID);
        fuzz_checked(&d.label, Q2API_CHECK_LABEL);
        fuzz_checked(&d.access_token, Q2API_CHECK_TOKEN);
        fuzz_checked(&d.profile_arn, Q2API_CHECK_ARN);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                  *text;
    ngx_http_q2api_store_t   st;

    /* exactly size bytes: ASan sees a read past the end */
    text = malloc(size ? size : 1);
    check(text != NULL);
    memcpy(text, data, size);

    from_text(text, size);

    ngx_memzero(&st, sizeof(ngx_http_q2api_store_t));
    ngx_str_set(&st.target, "accounts.json");

    /* changes text in place: its NULs are marked */
    (void) ngx_http_q2api_store_file_parse(&st, text, size,
                                           NGX_HTTP_Q2API_SET_ALL,
                                           ngx_shim_log());

    free(text);

    return 0;
}
