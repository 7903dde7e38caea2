/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * GET /v2/accounts: q2api's listing, with filters, a search, sort keys and
 * pages, so that a console over ten thousand accounts moves one page at a
 * time instead of the whole pool.
 */


#include "ngx_http_q2api_admin.h"


#define NGX_HTTP_Q2API_ADMIN_PAGE_MAX   1000

/* the sort keys; the order is that of the names below */
#define NGX_HTTP_Q2API_SORT_CREATED     0
#define NGX_HTTP_Q2API_SORT_SUCCESSES   1
#define NGX_HTTP_Q2API_SORT_LAST_USED   2
#define NGX_HTTP_Q2API_SORT_LABEL       3
#define NGX_HTTP_Q2API_SORT_ID          4
#define NGX_HTTP_Q2API_SORT_UPDATED     5
#define NGX_HTTP_Q2API_SORT_CONSECUTIVE 6
#define NGX_HTTP_Q2API_SORT_ERRORS      7
#define NGX_HTTP_Q2API_SORT_TOKENS_IN   8
#define NGX_HTTP_Q2API_SORT_TOKENS_OUT  9
#define NGX_HTTP_Q2API_SORT_STATUS      10
#define NGX_HTTP_Q2API_SORT_TYPE        11


typedef struct {
    ngx_http_q2api_account_data_t  *d;
    ngx_uint_t                      key;
} ngx_http_q2api_admin_sort_t;


typedef struct {
    ngx_int_t                       enabled;   /* -1: any */
    ngx_int_t                       status;
    ngx_int_t                       type;
    ngx_str_t                       q;         /* lowercase; empty: any */
    ngx_uint_t                      key;
    ngx_uint_t                      desc;
    ngx_int_t                       offset;
    ngx_int_t                       limit;     /* -1: every match */
    ngx_uint_t                      paged;
} ngx_http_q2api_admin_query_t;


static const char  *ngx_http_q2api_admin_sort_keys[] = {
    "created_at", "success_count", "last_used", "label", "id", "updated_at",
    "error_count", "total_errors", "tokens_in", "tokens_out", "status",
    "type", NULL
};


static uint64_t
ngx_http_q2api_admin_sort_num(ngx_http_q2api_account_data_t *d,
    ngx_uint_t key)
{
    switch (key) {
    case NGX_HTTP_Q2API_SORT_SUCCESSES:
        return d->successes;
    case NGX_HTTP_Q2API_SORT_LAST_USED:
        return d->last_used;
    case NGX_HTTP_Q2API_SORT_UPDATED:
        return d->updated_at;
    case NGX_HTTP_Q2API_SORT_CONSECUTIVE:
        return d->consecutive_errors;
    case NGX_HTTP_Q2API_SORT_ERRORS:
        return d->errors;
    case NGX_HTTP_Q2API_SORT_TOKENS_IN:
        return d->tokens_in;
    case NGX_HTTP_Q2API_SORT_TOKENS_OUT:
        return d->tokens_out;
    case NGX_HTTP_Q2API_SORT_STATUS:
        return d->status;
    case NGX_HTTP_Q2API_SORT_TYPE:
        return d->type;
    case NGX_HTTP_Q2API_SORT_LABEL:
    case NGX_HTTP_Q2API_SORT_ID:
        return 0;
    default:
        return d->created_at;
    }
}


/* by the key, then by id: the order is total, so pages never overlap */
static int ngx_libc_cdecl
ngx_http_q2api_admin_cmp(const void *one, const void *two)
{
    const ngx_http_q2api_admin_sort_t  *a = one;
    const ngx_http_q2api_admin_sort_t  *b = two;

    int       rc;
    size_t    n;
    uint64_t  x, y;

    /* people read labels: "alpha" before "Zeta" */
    if (a->key == NGX_HTTP_Q2API_SORT_LABEL) {
        n = ngx_min(a->d->label.len, b->d->label.len);
        rc = n ? ngx_strncasecmp(a->d->label.data, b->d->label.data, n) : 0;

        if (rc == 0 && a->d->label.len != b->d->label.len) {
            rc = a->d->label.len < b->d->label.len ? -1 : 1;
        }

        if (rc) {
            return rc;
        }
    }

    x = ngx_http_q2api_admin_sort_num(a->d, a->key);
    y = ngx_http_q2api_admin_sort_num(b->d, b->key);

    if (x != y) {
        return x < y ? -1 : 1;
    }

    return ngx_memn2cmp(a->d->id.data, b->d->id.data, a->d->id.len,
                        b->d->id.len);
}


/* the index of v among names, or -1 */
static ngx_int_t
ngx_http_q2api_admin_pick(ngx_str_t *v, const char **names)
{
    ngx_int_t  i;

    for (i = 0; names[i]; i++) {
        if (v->len == ngx_strlen(names[i])
            && ngx_strncmp(v->data, names[i], v->len) == 0)
        {
            return i;
        }
    }

    return -1;
}


/* NGX_OK, or NGX_DECLINED with the answer's detail in *err */
static ngx_int_t
ngx_http_q2api_admin_query(ngx_http_request_t *r,
    ngx_http_q2api_admin_query_t *qy, const char **err)
{
    ngx_int_t   k;
    ngx_str_t   v;
    ngx_uint_t  i;

    static const char  *bools[] = { "false", "true", NULL };
    static const char  *orders[] = { "asc", "desc", NULL };

    ngx_memzero(qy, sizeof(ngx_http_q2api_admin_query_t));

    qy->enabled = -1;
    qy->status = -1;
    qy->type = -1;
    qy->desc = 1;
    qy->limit = -1;

    if (ngx_http_q2api_admin_arg(r, "enabled", &v) == NGX_OK) {
        qy->enabled = ngx_http_q2api_admin_pick(&v, bools);

        if (qy->enabled == -1) {
            *err = "enabled: expected true or false";
            return NGX_DECLINED;
        }
    }

    if (ngx_http_q2api_admin_arg(r, "status", &v) == NGX_OK) {
        for (i = 0; i <= NGX_HTTP_Q2API_ST_INELIGIBLE; i++) {
            if (v.len == ngx_strlen(ngx_http_q2api_status_name(i))
                && ngx_strncmp(v.data, ngx_http_q2api_status_name(i), v.len)
                   == 0)
            {
                qy->status = i;
                break;
            }
        }

        if (qy->status == -1) {
            *err = "status: expected active, cooling, quota, suspended, "
                   "token_rejected, needs_login, too_many_errors, "
                   "needs_validation or ineligible";
            return NGX_DECLINED;
        }
    }

    if (ngx_http_q2api_admin_arg(r, "type", &v) == NGX_OK) {
        qy->type = ngx_http_q2api_kind_type(v.data, v.len);

        if (qy->type == NGX_HTTP_Q2API_ACCOUNT_UNKNOWN) {
            *err = "type: expected amazonq, kiro or gemini";
            return NGX_DECLINED;
        }
    }

    if (ngx_http_q2api_admin_arg(r, "q", &v) == NGX_OK) {
        if (v.len > NGX_HTTP_Q2API_ADMIN_LABEL_MAX) {
            *err = "q: longer than 256 bytes";
            return NGX_DECLINED;
        }

        ngx_strlow(v.data, v.data, v.len);
        qy->q = v;
    }

    if (ngx_http_q2api_admin_arg(r, "sort_by", &v) == NGX_OK) {
        k = ngx_http_q2api_admin_pick(&v, ngx_http_q2api_admin_sort_keys);

        if (k == -1) {
            *err = "sort_by: expected created_at, updated_at, label, id, "
                   "status, type, success_count, error_count, total_errors, "
                   "tokens_in, tokens_out or last_used";
            return NGX_DECLINED;
        }

        qy->key = k;
    }

    if (ngx_http_q2api_admin_arg(r, "sort_order", &v) == NGX_OK) {
        k = ngx_http_q2api_admin_pick(&v, orders);

        if (k == -1) {
            *err = "sort_order: expected asc or desc";
            return NGX_DECLINED;
        }

        qy->desc = k;
    }

    if (ngx_http_q2api_admin_arg(r, "offset", &v) == NGX_OK) {
        qy->offset = ngx_atoi(v.data, v.len);

        if (qy->offset == NGX_ERROR) {
            *err = "offset: expected a number from 0";
            return NGX_DECLINED;
        }

        qy->paged = 1;
    }

    if (ngx_http_q2api_admin_arg(r, "limit", &v) == NGX_OK) {
        qy->limit = ngx_atoi(v.data, v.len);

        if (qy->limit < 1 || qy->limit > NGX_HTTP_Q2API_ADMIN_PAGE_MAX) {
            *err = "limit: expected a number from 1 to 1000";
            return NGX_DECLINED;
        }

        qy->paged = 1;
    }

    return NGX_OK;
}


/* q (lowercase, not empty) in s, whatever the case */
static ngx_uint_t
ngx_http_q2api_admin_contains(ngx_str_t *s, ngx_str_t *q)
{
    /* a shorter haystack, maybe with no data at all, holds no needle */
    if (s->len < q->len) {
        return 0;
    }

    /* ngx_strlcasestrn() wants the needle's length minus one */
    return ngx_strlcasestrn(s->data, s->data + s->len, q->data, q->len - 1)
           != NULL;
}


static ngx_uint_t
ngx_http_q2api_admin_matches(ngx_http_q2api_admin_query_t *qy,
    ngx_http_q2api_account_data_t *d)
{
    if ((qy->enabled != -1 && (ngx_int_t) (d->enabled ? 1 : 0) != qy->enabled)
        || (qy->status != -1 && (ngx_int_t) d->status != qy->status)
        || (qy->type != -1 && (ngx_int_t) d->type != qy->type))
    {
        return 0;
    }

    if (qy->q.len == 0) {
        return 1;
    }

    return ngx_http_q2api_admin_contains(&d->id, &qy->q)
           || ngx_http_q2api_admin_contains(&d->label, &qy->q);
}


/*
 * GET /v2/accounts?enabled=&status=&type=&q=&sort_by=&sort_order=&offset=
 * &limit=: q2api's {"accounts":[...],"count":n}, newest first by default;
 * a page (offset or limit given) adds "total", "offset" and "limit".
 */
ngx_int_t
ngx_http_q2api_admin_list(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    const char                     *err;
    ngx_uint_t                      i, n, first, last;
    ngx_array_t                     all;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_admin_sort_t    *s, t;
    ngx_http_q2api_admin_query_t    qy;
    ngx_http_q2api_account_data_t  *d;

    if (ngx_http_q2api_admin_query(r, &qy, &err) != NGX_OK) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    if (ngx_array_init(&all, r->pool, 64,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_http_q2api_accounts_export(ctx->accounts, r->pool, &all)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d = all.elts;

    s = ngx_palloc(r->pool, (all.nelts + 1)
                            * sizeof(ngx_http_q2api_admin_sort_t));
    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    n = 0;

    for (i = 0; i < all.nelts; i++) {
        if (ngx_http_q2api_admin_matches(&qy, &d[i])) {
            s[n].d = &d[i];
            s[n].key = qy.key;
            n++;
        }
    }

    ngx_qsort(s, n, sizeof(ngx_http_q2api_admin_sort_t),
              ngx_http_q2api_admin_cmp);

    if (qy.desc) {
        for (i = 0; i < n / 2; i++) {
            t = s[i];
            s[i] = s[n - 1 - i];
            s[n - 1 - i] = t;
        }
    }

    first = ngx_min((ngx_uint_t) qy.offset, n);
    last = qy.limit == -1 ? n : ngx_min(first + qy.limit, n);

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"accounts\":[");

    for (i = first; i < last; i++) {
        if (i > first) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_row(j, s[i].d, 0);
    }

    ngx_http_q2api_admin_lit(j, "],\"count\":");
    ngx_http_q2api_admin_int(j, last - first);

    if (qy.paged) {
        ngx_http_q2api_admin_lit(j, ",\"total\":");
        ngx_http_q2api_admin_int(j, n);
        ngx_http_q2api_admin_lit(j, ",\"offset\":");
        ngx_http_q2api_admin_int(j, qy.offset);
        ngx_http_q2api_admin_lit(j, ",\"limit\":");

        if (qy.limit == -1) {
            ngx_http_q2api_admin_lit(j, "null");

        } else {
            ngx_http_q2api_admin_int(j, qy.limit);
        }
    }

    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}
