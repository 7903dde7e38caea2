/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * POST /v2/accounts/import: JSON rows (q2api's, an export's, or Kiro IDE
 * logins) or amq2api's lines.
 */


#include "ngx_http_q2api_admin.h"
#include "q2api_check.h"
#include "ngx_http_q2api_row.h"


typedef struct {
    ngx_uint_t                     total;
    ngx_uint_t                     created;
    ngx_uint_t                     updated;
    ngx_uint_t                     failed;
    ngx_http_q2api_admin_json_t   *errors;
    ngx_http_q2api_admin_json_t   *ids;
} ngx_http_q2api_admin_import_t;


static void
ngx_http_q2api_admin_import_error(ngx_http_q2api_admin_import_t *im,
    const char *what, ngx_uint_t n, u_char *msg)
{
    im->failed++;

    if (im->failed > NGX_HTTP_Q2API_ADMIN_ERRORS_MAX) {
        return;
    }

    if (im->failed > 1) {
        ngx_http_q2api_admin_lit(im->errors, ",");
    }

    ngx_http_q2api_admin_lit(im->errors, "{");
    ngx_http_q2api_admin_cstr(im->errors, what);
    ngx_http_q2api_admin_lit(im->errors, ":");
    ngx_http_q2api_admin_int(im->errors, n);
    ngx_http_q2api_admin_lit(im->errors, ",\"error\":");
    ngx_http_q2api_admin_string(im->errors, msg, ngx_strlen(msg));
    ngx_http_q2api_admin_lit(im->errors, "}");
}


/* one account of an import: created, or its configuration replaced */
static ngx_int_t
ngx_http_q2api_admin_import_one(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_import_t *im,
    ngx_http_q2api_admin_input_t *in, u_char *err)
{
    ngx_int_t                      rc;
    ngx_http_q2api_account_data_t  cur;

    rc = (in->set & NGX_HTTP_Q2API_F_ID)
         ? ngx_http_q2api_accounts_get(ctx->accounts, &in->d.id, r->pool, &cur)
         : NGX_DECLINED;

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        /*
         * An account known already: the fields given replace its own, as
         * a PATCH would, but its state (out of rotation or not) and
         * counters stay as they are.
         */
        ngx_http_q2api_admin_overlay(&cur, in);
        cur.updated_at = ngx_time();

        if (ngx_http_q2api_accounts_upsert(ctx->accounts, &cur,
                                           NGX_HTTP_Q2API_SET_CONFIG
                                           |NGX_HTTP_Q2API_SET_DIRTY, 0)
            != NGX_OK)
        {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "no room in the shared zone%Z");
            return NGX_DECLINED;
        }

        im->updated++;

    } else {
        rc = ngx_http_q2api_admin_complete(r, in, "", err);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_q2api_admin_insert(r, ctx, &in->d) != NGX_OK) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "no room in the shared zone%Z");
            return NGX_DECLINED;
        }

        im->created++;
    }

    if (im->created + im->updated > 1) {
        ngx_http_q2api_admin_lit(im->ids, ",");
    }

    ngx_http_q2api_admin_string(im->ids, in->d.id.data, in->d.id.len);

    return NGX_OK;
}


/* other of a gemini line: {"project": f[0], "api_endpoint": f[1]} */
static ngx_int_t
ngx_http_q2api_admin_import_other(ngx_http_request_t *r,
    ngx_http_q2api_admin_input_t *in, ngx_str_t *f, ngx_uint_t n, u_char *err)
{
    static const char  *keys[] = { "project", "api_endpoint" };

    u_char      *v;
    ngx_uint_t   i;
    const char  *member;

    for (i = 0; i < n && i < 2; i++) {
        if (f[i].len == 0) {
            continue;
        }

        v = ngx_pnalloc(r->pool, f[i].len + 1);
        if (v == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(v, f[i].data, f[i].len) = '\0';

        if (ngx_http_q2api_admin_other_set(r, &in->d.other, keys[i],
                                              (const char *) v)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (ngx_http_q2api_row_other(&in->d.other, &in->d, &member) != NGX_OK) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN, "%s: %s%Z", member,
                     q2api_check_rule(member[0] == 'p' ? Q2API_CHECK_PROJECT
                                                       : Q2API_CHECK_ENDPOINT));
        return NGX_DECLINED;
    }

    in->set |= NGX_HTTP_Q2API_F_OTHER;

    return NGX_OK;
}


/*
 * amq2api's lines, "|"-separated and trimmed, "#" lines skipped:
 * type|label|clientId|clientSecret|refreshToken|accessToken[|project|
 * api_endpoint] (type amazonq, kiro or gemini), or its "amazonq" form
 * email|password|clientId|clientSecret|refreshToken|accessToken (the
 * e-mail becomes the label, the password is not kept).
 */
static ngx_int_t
ngx_http_q2api_admin_import_line(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_import_t *im,
    u_char *start, u_char *end, u_char *err)
{
    u_char                        *p, *q;
    ngx_str_t                      f[9];
    ngx_int_t                      rc;
    ngx_uint_t                     n, i, generic, type;
    ngx_http_q2api_admin_input_t   in;

    n = 0;
    p = start;

    for ( ;; ) {
        q = ngx_strlchr(p, end, '|');

        if (n == 9) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "line: more than 8 fields%Z");
            return NGX_DECLINED;
        }

        f[n].data = p;
        f[n].len = (q ? q : end) - p;

        while (f[n].len && (f[n].data[0] == ' ' || f[n].data[0] == '\t')) {
            f[n].data++;
            f[n].len--;
        }

        while (f[n].len && (f[n].data[f[n].len - 1] == ' '
                            || f[n].data[f[n].len - 1] == '\t'))
        {
            f[n].len--;
        }

        n++;

        if (q == NULL) {
            break;
        }

        p = q + 1;
    }

    type = ngx_http_q2api_kind_type(f[0].data, f[0].len);

    generic = n >= 6 && type != NGX_HTTP_Q2API_ACCOUNT_UNKNOWN;

    if (!generic && n != 6) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "line: expected type|label|clientId|clientSecret|"
                     "refreshToken|accessToken or email|password|"
                     "clientId|clientSecret|refreshToken|accessToken%Z");
        return NGX_DECLINED;
    }

    ngx_memzero(&in, sizeof(ngx_http_q2api_admin_input_t));

    /* an email|password line is an Amazon Q account */
    in.d.type = generic ? type : NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
    in.set = NGX_HTTP_Q2API_F_TYPE;

    in.d.label = f[generic ? 1 : 0];
    in.d.client_id = f[2];
    in.d.client_secret = f[3];
    in.d.refresh_token = f[4];
    in.d.access_token = f[5];

    if (in.d.label.len
        && q2api_check(Q2API_CHECK_LABEL, (char *) in.d.label.data,
                       in.d.label.len) != Q2API_OK)
    {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "label: must be valid UTF-8 without control "
                     "characters, at most %d bytes%Z",
                     NGX_HTTP_Q2API_ADMIN_LABEL_MAX);
        return NGX_DECLINED;
    }

    for (i = 2; i < 6; i++) {
        if (f[i].len
            && q2api_check(Q2API_CHECK_TOKEN, (char *) f[i].data, f[i].len)
               != Q2API_OK)
        {
            goto bad_token;
        }
    }

    if (type == NGX_HTTP_Q2API_ACCOUNT_GEMINI && n > 6) {
        /* amq2api's gemini lines: the project and endpoint go to other */
        rc = ngx_http_q2api_admin_import_other(r, &in, &f[6], n - 6, err);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return ngx_http_q2api_admin_import_one(r, ctx, im, &in, err);

bad_token:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%s: must be printable ASCII without spaces, at most "
                 "%d bytes%Z",
                 i == 2 ? "clientId" : i == 3 ? "clientSecret"
                 : i == 4 ? "refreshToken" : "accessToken",
                 NGX_HTTP_Q2API_ADMIN_TOKEN_MAX);
    return NGX_DECLINED;
}


/* one element of a JSON import: a q2api row or a Kiro IDE login */
static ngx_int_t
ngx_http_q2api_admin_import_item(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_import_t *im,
    cJSON *item, u_char *err)
{
    cJSON                         *tree;
    ngx_int_t                      rc;
    ngx_http_q2api_admin_input_t   in;

    if (!ngx_http_q2api_admin_kiro_shape(item)) {
        rc = ngx_http_q2api_admin_input(r, item, NGX_HTTP_Q2API_INPUT_IMPORT,
                                        &in, "", err);
        if (rc == NGX_OK) {
            rc = ngx_http_q2api_admin_import_one(r, ctx, im, &in, err);
        }

        return rc;
    }

    rc = ngx_http_q2api_admin_kiro_input(r, item, &in, &tree, err);

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_import_one(r, ctx, im, &in, err);

        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                          "q2api admin: Kiro IDE %s login imported as "
                          "account \"%V\"",
                          in.d.client_id.len ? "IdC" : "social", &in.d.id);
        }
    }

    /* "in" pointed into it; the zone has copies now */
    cJSON_Delete(tree);

    return rc;
}


/*
 * POST /v2/accounts/import: a JSON array of rows (or {"accounts":[...]},
 * e.g. an export), or amq2api's lines.  A row with a known id changes the
 * fields it gives of that account.  The Kiro IDE's token file (with its
 * client registration) may stand for a row, in an array or alone; alone,
 * a bad one is a 400.  Answers the counts and each failure.
 */
ngx_int_t
ngx_http_q2api_admin_import(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    u_char                        *p, *end, *eol, *s;
    cJSON                         *root, *list, *item;
    ngx_int_t                      rc;
    ngx_uint_t                     line;
    ngx_http_q2api_admin_json_t   *j;
    ngx_http_q2api_admin_import_t  im;

    ngx_memzero(&im, sizeof(ngx_http_q2api_admin_import_t));

    im.errors = ngx_http_q2api_admin_json(r);
    im.ids = ngx_http_q2api_admin_json(r);
    j = ngx_http_q2api_admin_json(r);

    if (im.errors == NULL || im.ids == NULL || j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ctx->body.data;
    end = p + ctx->body.len;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) {
        p++;
    }

    if (p == end) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "body: nothing to import");
    }

    r->connection->log->action = "importing accounts";

    if (*p == '[' || *p == '{') {
        root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

        if (root == NULL) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                               err);
        }

        if (ngx_http_q2api_admin_kiro_shape(root)) {
            /* one Kiro IDE login: all or nothing */
            rc = ngx_http_q2api_admin_import_item(r, ctx, &im, root, err);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                                   "%s", err);
            }

            im.total = 1;
            goto done;
        }

        list = cJSON_IsArray(root)
               ? root : cJSON_GetObjectItemCaseSensitive(root, "accounts");

        if (!cJSON_IsArray(list)) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "body: expected an array of "
                                               "accounts or "
                                               "{\"accounts\":[...]}");
        }

        if (cJSON_GetArraySize(list) > NGX_HTTP_Q2API_ADMIN_IMPORT_MAX) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "body: at most %d accounts "
                                               "per import",
                                               NGX_HTTP_Q2API_ADMIN_IMPORT_MAX);
        }

        cJSON_ArrayForEach(item, list) {
            rc = ngx_http_q2api_admin_import_item(r, ctx, &im, item, err);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                ngx_http_q2api_admin_import_error(&im, "index", im.total,
                                                  err);
            }

            im.total++;
        }

    } else {
        line = 0;

        while (p < end) {
            eol = ngx_strlchr(p, end, '\n');
            s = p;
            p = eol ? eol + 1 : end;
            line++;

            if (eol == NULL) {
                eol = end;
            }

            if (eol > s && eol[-1] == '\r') {
                eol--;
            }

            while (s < eol && (*s == ' ' || *s == '\t')) {
                s++;
            }

            if (s == eol || *s == '#') {
                continue;
            }

            if (im.total == NGX_HTTP_Q2API_ADMIN_IMPORT_MAX) {
                return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                                   "body: at most %d "
                                                   "accounts per import",
                                            NGX_HTTP_Q2API_ADMIN_IMPORT_MAX);
            }

            rc = ngx_http_q2api_admin_import_line(r, ctx, &im, s, eol, err);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_DECLINED) {
                ngx_http_q2api_admin_import_error(&im, "line", line, err);
            }

            im.total++;
        }
    }

done:

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: import of %ui accounts: %ui created, "
                  "%ui updated, %ui failed", im.total, im.created,
                  im.updated, im.failed);

    if (im.errors->rc != Q2API_OK || im.ids->rc != Q2API_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"success\":");
    ngx_http_q2api_admin_bool(j, im.failed == 0);
    ngx_http_q2api_admin_lit(j, ",\"total\":");
    ngx_http_q2api_admin_int(j, im.total);
    ngx_http_q2api_admin_lit(j, ",\"created\":");
    ngx_http_q2api_admin_int(j, im.created);
    ngx_http_q2api_admin_lit(j, ",\"updated\":");
    ngx_http_q2api_admin_int(j, im.updated);
    ngx_http_q2api_admin_lit(j, ",\"failed\":");
    ngx_http_q2api_admin_int(j, im.failed);
    ngx_http_q2api_admin_lit(j, ",\"errors\":[");
    ngx_http_q2api_admin_raw(j, im.errors->b.data, im.errors->b.len);
    ngx_http_q2api_admin_lit(j, "],\"account_ids\":[");
    ngx_http_q2api_admin_raw(j, im.ids->b.data, im.ids->b.len);
    ngx_http_q2api_admin_lit(j, "]}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}
