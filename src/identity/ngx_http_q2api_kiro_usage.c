/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Kiro usage limits (credits).
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_kiro_usage.h"


typedef struct {
    ngx_http_q2api_usage_done_pt     done;
    void                            *data;
} ngx_http_q2api_usage_t;


static void ngx_http_q2api_usage_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body);


/*
 * The balance of a Kiro account: getUsageLimits on the account's region
 * with its token (a suspended account fails here too, which makes it a
 * cheap health probe).
 */
ngx_int_t
ngx_http_q2api_kiro_usage(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_usage_done_pt done, void *data)
{
    u_char                         *end;
    ngx_str_t                       url, region, body, *base;
    ngx_http_q2api_usage_t         *u;
    ngx_http_q2api_loc_conf_t      *qlcf;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t   d;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);
    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    if (qmcf == NULL || qmcf->accounts == NULL
        || ngx_http_q2api_accounts_get(qmcf->accounts, id, r->pool, &d)
           != NGX_OK
        || d.access_token.len == 0)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_q2api_arn_region(&d.profile_arn, &region) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: account \"%V\" has a profileArn that is not "
                      "an ARN; its usage is not asked for", id);
        return NGX_DECLINED;
    }

    base = &qlcf->kiro_usage_url;

    /* "{region}" in the configured URL is the account's region */
    if (ngx_http_q2api_region_url(r->pool, base, &region,
                                  256 + 3 * d.profile_arn.len, &url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    end = ngx_sprintf(url.data + url.len,
                      "?origin=AI_EDITOR&resourceType=AGENTIC_REQUEST");

    if (d.profile_arn.len) {
        end = ngx_cpymem(end, "&profileArn=", sizeof("&profileArn=") - 1);
        end = (u_char *) ngx_escape_uri(end, d.profile_arn.data,
                                        d.profile_arn.len,
                                        NGX_ESCAPE_ARGS);
    }

    url.len = end - url.data;

    u = ngx_palloc(r->pool, sizeof(ngx_http_q2api_usage_t));
    if (u == NULL) {
        return NGX_ERROR;
    }

    u->done = done;
    u->data = data;

    body.len = 0;
    body.data = (u_char *) "";

    return ngx_http_q2api_identity_call(r, "GET", &url, &d.access_token,
                                        &body, ngx_http_q2api_usage_answer,
                                        u);
}


/* the balance as the admin API answers it (q2api_answer_usage()) */
static void
ngx_http_q2api_usage_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_usage_t  *u = data;

    cJSON                 *o, *out;
    ngx_str_t              json;
    q2api_usage_answer_t   ua;

    /* a title cut at a NUL is only shown: no marks to print raw */
    o = body->len ? cJSON_ParseWithLength((char *) body->data, body->len)
                  : NULL;

    if (status != NGX_HTTP_OK || q2api_answer_usage(o, &ua) != Q2API_OK) {
        cJSON_Delete(o);
        u->done(r, u->data, status ? status : NGX_HTTP_BAD_GATEWAY, body);
        return;
    }

    out = cJSON_CreateObject();

    cJSON_AddStringToObject(out, "title", ua.title);
    cJSON_AddNumberToObject(out, "limit", ua.limit);
    cJSON_AddNumberToObject(out, "used", ua.used);
    cJSON_AddNumberToObject(out, "remaining", ua.remaining);
    cJSON_AddNumberToObject(out, "next_reset", ua.next_reset);

    cJSON_Delete(o);

    if (ngx_http_q2api_json_body(r, out, &json) != NGX_OK) {
        ngx_str_set(&json, "{}");
        u->done(r, u->data, NGX_HTTP_INTERNAL_SERVER_ERROR, &json);
        return;
    }

    u->done(r, u->data, NGX_HTTP_OK, &json);
}
