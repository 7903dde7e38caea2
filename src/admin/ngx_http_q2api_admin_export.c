/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * GET /v2/accounts/export: every account with its secrets, as JSON rows
 * or amq2api's lines.
 */


#include "ngx_http_q2api_admin.h"


/* a field of a line: "|" and line breaks would end it */
static void
ngx_http_q2api_admin_field(ngx_http_q2api_admin_json_t *j, ngx_str_t *s,
    ngx_uint_t *changed)
{
    size_t   i;
    u_char   c;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (c == '|' || c == '\r' || c == '\n') {
            c = ' ';
            *changed = 1;
        }

        ngx_http_q2api_admin_raw(j, &c, 1);
    }
}


/*
 * GET /v2/accounts/export?format=json|lines: every account WITH its
 * secrets, the backup path.  json is {"accounts":[rows]}, a valid
 * accounts file for "q2api_store file" and a valid import; lines is
 * amq2api's generic form (no ids, no state).
 */
ngx_int_t
ngx_http_q2api_admin_export(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         *p, *name;
    size_t                          len;
    ngx_str_t                       format, *type;
    ngx_uint_t                      i, lines, changed;
    struct tm                       tm;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t  *d;

    lines = 0;

    if (ngx_http_q2api_admin_arg(r, "format", &format) == NGX_OK) {
        if (format.len == 5 && ngx_strncmp(format.data, "lines", 5) == 0) {
            lines = 1;

        } else if (!(format.len == 4
                     && ngx_strncmp(format.data, "json", 4) == 0))
        {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "format: expected json or "
                                               "lines");
        }
    }

    if (ngx_array_init(&all, r->pool, 64,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_http_q2api_accounts_export(ctx->accounts, r->pool, &all)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = all.elts;

    if (lines) {
        ngx_http_q2api_admin_lit(j, "# q2api accounts: type|label|clientId|"
                                    "clientSecret|refreshToken|accessToken|"
                                    "project|api_endpoint\n");

        for (i = 0; i < all.nelts; i++) {
            changed = 0;

            type = ngx_http_q2api_kind_name(d[i].type);

            ngx_http_q2api_admin_raw(j, type->data, type->len);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].label, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].client_id, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].client_secret, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].refresh_token, &changed);
            ngx_http_q2api_admin_lit(j, "|");
            ngx_http_q2api_admin_field(j, &d[i].access_token, &changed);
            ngx_http_q2api_admin_lit(j, "||\n");

            if (changed) {
                ngx_http_q2api_admin_lit(j, "# the line above had \"|\" or "
                                            "a line break in a field, "
                                            "replaced by a space: account ");
                ngx_http_q2api_admin_field(j, &d[i].id, &changed);
                ngx_http_q2api_admin_lit(j, "\n");
            }
        }

    } else {
        ngx_http_q2api_admin_lit(j, "{\"accounts\":[");

        for (i = 0; i < all.nelts; i++) {
            if (i) {
                ngx_http_q2api_admin_lit(j, ",\n");
            }

            ngx_http_q2api_admin_row(j, &d[i], 1);
        }

        ngx_http_q2api_admin_lit(j, "]}\n");
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: %ui accounts exported with their secrets",
                  all.nelts);

    if (j->rc != Q2API_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = sizeof("attachment; filename=\"q2api-accounts-YYYY-MM-DD.json\"");

    name = ngx_pnalloc(r->pool, len);
    if (name == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_libc_gmtime(ngx_time(), &tm);

    p = ngx_sprintf(name, "attachment; filename=\"q2api-accounts-"
                          "%4d-%02d-%02d.%s\"",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    lines ? "txt" : "json");

    if (ngx_http_q2api_add_header(r, "Content-Disposition", name, p - name)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_admin_send_raw(r, NGX_HTTP_OK,
                                         lines ? "text/plain; charset=utf-8"
                                               : "application/json",
                                         j->b.data, j->b.len);
}
