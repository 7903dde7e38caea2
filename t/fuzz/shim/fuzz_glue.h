/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the glue fuzzers check alike: an account as it reaches the pool,
 * and an admin answer as it is sent.
 */

#ifndef _FUZZ_GLUE_H_INCLUDED_
#define _FUZZ_GLUE_H_INCLUDED_


#include <stdlib.h>

#include <ngx_config.h>
#include <ngx_core.h>

#include <cjson/cJSON.h>

#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_kind.h"
#include "q2api_check.h"
#include "q2api_json.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


static ngx_inline void
fuzz_checked(ngx_str_t *s, q2api_check_e what)
{
    check(s->len == 0
          || q2api_check(what, (char *) s->data, s->len) == Q2API_OK);
}


/* every field that becomes a header, URL, host or log line passed */
static ngx_inline void
fuzz_account_checked(ngx_http_q2api_account_data_t *d)
{
    check(d->id.len > 0);
    fuzz_checked(&d->id, Q2API_CHECK_ID);
    fuzz_checked(&d->label, Q2API_CHECK_LABEL);
    fuzz_checked(&d->client_id, Q2API_CHECK_TOKEN);
    fuzz_checked(&d->client_secret, Q2API_CHECK_TOKEN);
    fuzz_checked(&d->refresh_token, Q2API_CHECK_TOKEN);
    fuzz_checked(&d->access_token, Q2API_CHECK_TOKEN);
    fuzz_checked(&d->profile_arn, Q2API_CHECK_ARN);
    check(d->type != NGX_HTTP_Q2API_ACCOUNT_UNKNOWN);
}


/* one JSON object of valid UTF-8; the caller deletes it */
static ngx_inline cJSON *
fuzz_json_answer(u_char *data, size_t len)
{
    cJSON       *o;
    const char  *at;

    check(q2api_utf8_valid((char *) data, len));

    o = q2api_json_document((char *) data, len, &at);
    check(cJSON_IsObject(o));

    return o;
}


#endif /* _FUZZ_GLUE_H_INCLUDED_ */
