/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * GET status of the public donate API: how many Gemini accounts the pool
 * has and how many serve, the quota left per model group with the next
 * reset, and the latest donations with masked labels and project ids.
 * No secret, no e-mail, no full project id: anyone may read it.
 *
 * Quota is read from each account's "other" as amq2api keeps it
 * (creditsInfo.models.<model>.remainingFraction / resetTime, written by
 * the Gemini back end's quota reads).  Models share quota per group at
 * Google (Gemini models one, Claude and GPT another), so the page shows
 * groups: per account the least left in the group, averaged over the
 * accounts that reported one.
 *
 * Every open page polls this route, so its answer is made at most once
 * per NGX_HTTP_Q2API_DONATE_CACHE seconds per worker and served from
 * memory in between: viewers cost nothing upstream and little here.
 */


#include "q2api_time.h"

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_admin_donate.h"


#define NGX_HTTP_Q2API_DONATE_CACHE    5          /* s */
#define NGX_HTTP_Q2API_DONATE_RECENT   50         /* donations listed */
#define NGX_HTTP_Q2API_DONATE_GROUPS   3


typedef struct {
    double                     remaining;     /* the least, 0..1 */
    time_t                     reset;         /* its reset, or 0 */
    ngx_uint_t                 seen;
} ngx_http_q2api_donate_quota_t;


typedef struct {
    double                     sum;
    ngx_uint_t                 accounts;
    time_t                     reset;         /* the earliest to come */
} ngx_http_q2api_donate_group_t;


static const char  *ngx_http_q2api_donate_group_names[] = {
    "Gemini", "Claude and GPT", "Other"
};


static void ngx_http_q2api_donate_cache_free(void *data);

static u_char      *ngx_http_q2api_donate_cached;
static size_t       ngx_http_q2api_donate_cached_len;
static time_t       ngx_http_q2api_donate_cached_at;


static ngx_uint_t
ngx_http_q2api_donate_group(const char *model)
{
    if (ngx_strncmp(model, "gemini", 6) == 0) {
        return 0;
    }

    if (ngx_strncmp(model, "claude", 6) == 0
        || ngx_strncmp(model, "gpt", 3) == 0)
    {
        return 1;
    }

    return 2;
}


/* an account's quota per group from other.creditsInfo.models */
static void
ngx_http_q2api_donate_quota(ngx_http_request_t *r, ngx_str_t *other,
    ngx_http_q2api_donate_quota_t *q)
{
    u_char      err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON      *root, *models, *m, *f, *reset;
    time_t      t;
    ngx_uint_t  g;

    ngx_memzero(q, NGX_HTTP_Q2API_DONATE_GROUPS * sizeof(*q));

    if (other->len == 0) {
        return;
    }

    root = ngx_http_q2api_admin_parse(r, other, err);
    if (root == NULL) {
        return;
    }

    models = cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(root, "creditsInfo"),
                 "models");

    cJSON_ArrayForEach(m, models) {
        f = cJSON_GetObjectItemCaseSensitive(m, "remainingFraction");

        if (m->string == NULL || !cJSON_IsNumber(f)
            || f->valuedouble < 0 || f->valuedouble > 1)
        {
            continue;
        }

        g = ngx_http_q2api_donate_group(m->string);
        reset = cJSON_GetObjectItemCaseSensitive(m, "resetTime");

        t = 0;

        if (cJSON_IsString(reset)
            && q2api_time_parse(reset->valuestring,
                                ngx_strlen(reset->valuestring), &t)
               != Q2API_OK)
        {
            t = 0;
        }

        if (!q[g].seen || f->valuedouble < q[g].remaining) {
            q[g].remaining = f->valuedouble;
            q[g].reset = t;
        }

        q[g].seen = 1;
    }
}


/*
 * keep_head characters, an ellipsis, keep_tail characters; a value too
 * short to hide anything that way becomes the ellipsis alone, an empty
 * one stays empty.  Cuts fall on UTF-8 character boundaries.
 */
void
ngx_http_q2api_donate_mask(ngx_pool_t *p, ngx_str_t *in, size_t keep_head,
    size_t keep_tail, ngx_str_t *out)
{
    u_char  *head, *tail, *end;
    size_t   chars, n;

    end = in->data + in->len;
    chars = ngx_utf8_length(in->data, in->len);

    out->len = 0;
    out->data = (u_char *) "\xe2\x80\xa6";

    if (in->len == 0) {
        return;
    }

    if (chars == (size_t) NGX_ERROR
        || chars < 2 * (keep_head + keep_tail) + 1)
    {
        out->len = 3;
        return;
    }

    head = in->data;

    for (n = 0; n < keep_head; n++) {
        (void) ngx_utf8_decode(&head, end - head);
    }

    tail = end;

    for (n = 0; n < keep_tail; n++) {
        do {
            tail--;
        } while ((*tail & 0xc0) == 0x80);
    }

    out->data = ngx_pnalloc(p, (head - in->data) + 3 + (end - tail));
    if (out->data == NULL) {
        out->data = (u_char *) "\xe2\x80\xa6";
        out->len = 3;
        return;
    }

    out->len = ngx_cpymem(ngx_cpymem(ngx_cpymem(out->data, in->data,
                                                head - in->data),
                                     "\xe2\x80\xa6", 3),
                          tail, end - tail)
               - out->data;
}


static int ngx_libc_cdecl
ngx_http_q2api_donate_newest(const void *one, const void *two)
{
    const ngx_http_q2api_account_data_t  *a = *(void * const *) one;
    const ngx_http_q2api_account_data_t  *b = *(void * const *) two;

    return (a->created_at < b->created_at) - (a->created_at > b->created_at);
}


static void
ngx_http_q2api_donate_reset(ngx_http_q2api_admin_json_t *j, time_t reset,
    time_t now)
{
    ngx_http_q2api_admin_lit(j, ",\"reset_at\":");
    ngx_http_q2api_admin_time(j, reset);
    ngx_http_q2api_admin_lit(j, ",\"reset_in\":");

    if (reset > 0) {
        ngx_http_q2api_admin_int(j, reset > now ? reset - now : 0);

    } else {
        ngx_http_q2api_admin_lit(j, "null");
    }
}


static ngx_int_t
ngx_http_q2api_donate_build(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_json_t *j)
{
    time_t                            now;
    ngx_str_t                         label, project;
    ngx_uint_t                        i, g, n, total, active, comma;
    ngx_array_t                       all, mine;
    ngx_http_q2api_donate_group_t     groups[NGX_HTTP_Q2API_DONATE_GROUPS];
    ngx_http_q2api_donate_quota_t     q[NGX_HTTP_Q2API_DONATE_GROUPS];
    ngx_http_q2api_account_data_t    *d, **dp;

    if (ngx_array_init(&all, r->pool, 64,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_array_init(&mine, r->pool, 64, sizeof(void *)) != NGX_OK
        || ngx_http_q2api_accounts_export(ctx->accounts, r->pool, &all)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    now = ngx_time();
    total = 0;
    active = 0;
    ngx_memzero(groups, sizeof(groups));

    d = all.elts;

    for (i = 0; i < all.nelts; i++) {
        if (d[i].type != NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
            continue;
        }

        dp = ngx_array_push(&mine);
        if (dp == NULL) {
            return NGX_ERROR;
        }

        *dp = &d[i];
        total++;

        if (!d[i].enabled || d[i].status != NGX_HTTP_Q2API_ST_ACTIVE) {
            continue;
        }

        active++;

        ngx_http_q2api_donate_quota(r, &d[i].other, q);

        for (g = 0; g < NGX_HTTP_Q2API_DONATE_GROUPS; g++) {
            if (!q[g].seen) {
                continue;
            }

            groups[g].sum += q[g].remaining;
            groups[g].accounts++;

            if (q[g].reset > now
                && (groups[g].reset == 0 || q[g].reset < groups[g].reset))
            {
                groups[g].reset = q[g].reset;
            }
        }
    }

    ngx_http_q2api_admin_lit(j, "{\"accounts\":");
    ngx_http_q2api_admin_int(j, total);
    ngx_http_q2api_admin_lit(j, ",\"active\":");
    ngx_http_q2api_admin_int(j, active);
    ngx_http_q2api_admin_lit(j, ",\"groups\":[");

    for (g = 0, comma = 0; g < NGX_HTTP_Q2API_DONATE_GROUPS; g++) {
        if (groups[g].accounts == 0) {
            continue;
        }

        if (comma) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_lit(j, "{\"name\":");
        ngx_http_q2api_admin_cstr(j, ngx_http_q2api_donate_group_names[g]);
        ngx_http_q2api_admin_lit(j, ",\"accounts\":");
        ngx_http_q2api_admin_int(j, groups[g].accounts);
        ngx_http_q2api_admin_lit(j, ",\"remaining_percent\":");
        ngx_http_q2api_admin_int(j, (int64_t) (groups[g].sum * 100
                                               / groups[g].accounts + 0.5));
        ngx_http_q2api_donate_reset(j, groups[g].reset, now);
        ngx_http_q2api_admin_lit(j, "}");
        comma = 1;
    }

    ngx_http_q2api_admin_lit(j, "],\"recent\":[");

    dp = mine.elts;
    ngx_qsort(dp, mine.nelts, sizeof(void *), ngx_http_q2api_donate_newest);

    n = ngx_min(mine.nelts, NGX_HTTP_Q2API_DONATE_RECENT);

    for (i = 0; i < n; i++) {
        d = dp[i];

        ngx_http_q2api_donate_mask(r->pool, &d->label, 3, 0, &label);
        ngx_http_q2api_donate_mask(r->pool, &d->project, 4, 2, &project);
        ngx_http_q2api_donate_quota(r, &d->other, q);

        if (i) {
            ngx_http_q2api_admin_lit(j, ",");
        }

        ngx_http_q2api_admin_lit(j, "{\"label\":");
        ngx_http_q2api_admin_nstr(j, &label);
        ngx_http_q2api_admin_lit(j, ",\"project\":");
        ngx_http_q2api_admin_nstr(j, &project);
        ngx_http_q2api_admin_lit(j, ",\"flavour\":");
        ngx_http_q2api_admin_nstr(j, ngx_http_q2api_donate_flavour_name(
                                         d->flavour));
        ngx_http_q2api_admin_lit(j, ",\"status\":");
        ngx_http_q2api_admin_cstr(j, d->enabled
                                  ? ngx_http_q2api_status_name(d->status)
                                  : "disabled");
        ngx_http_q2api_admin_lit(j, ",\"donated_at\":");
        ngx_http_q2api_admin_time(j, d->created_at);
        ngx_http_q2api_admin_lit(j, ",\"quota\":[");

        for (g = 0, comma = 0; g < NGX_HTTP_Q2API_DONATE_GROUPS; g++) {
            if (!q[g].seen) {
                continue;
            }

            if (comma) {
                ngx_http_q2api_admin_lit(j, ",");
            }

            ngx_http_q2api_admin_lit(j, "{\"group\":");
            ngx_http_q2api_admin_cstr(j,
                                      ngx_http_q2api_donate_group_names[g]);
            ngx_http_q2api_admin_lit(j, ",\"remaining_percent\":");
            ngx_http_q2api_admin_int(j, (int64_t) (q[g].remaining * 100
                                                   + 0.5));
            ngx_http_q2api_donate_reset(j, q[g].reset, now);
            ngx_http_q2api_admin_lit(j, "}");
            comma = 1;
        }

        ngx_http_q2api_admin_lit(j, "]}");
    }

    ngx_http_q2api_admin_lit(j, "],\"updated_at\":");
    ngx_http_q2api_admin_time(j, now);
    ngx_http_q2api_admin_lit(j, ",\"refresh_after\":30");

    return NGX_OK;
}


/*
 * The pool's part is shared by every donate location of the worker and
 * cached; the flavours a location offers are its own, added last.
 */
ngx_int_t
ngx_http_q2api_admin_donate_status(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                       *copy;
    ngx_uint_t                    f;
    ngx_pool_cleanup_t           *cln;
    ngx_http_q2api_admin_json_t  *j;

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_q2api_donate_cached != NULL
        && ngx_time() - ngx_http_q2api_donate_cached_at
           < NGX_HTTP_Q2API_DONATE_CACHE
        && ngx_time() >= ngx_http_q2api_donate_cached_at)
    {
        ngx_http_q2api_admin_raw(j, ngx_http_q2api_donate_cached,
                                 ngx_http_q2api_donate_cached_len);

    } else {
        if (ngx_http_q2api_donate_build(r, ctx, j) != NGX_OK
            || j->rc != Q2API_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "q2api donate: out of memory writing the status");
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        copy = ngx_alloc(j->b.len, r->connection->log);

        if (copy != NULL && ngx_http_q2api_donate_cached == NULL) {
            /*
             * the worker's cycle frees it when the worker ends: unloading
             * the module would otherwise leave it with no pointer to it
             */
            cln = ngx_pool_cleanup_add(ngx_cycle->pool, 0);

            if (cln == NULL) {
                ngx_free(copy);
                copy = NULL;

            } else {
                cln->handler = ngx_http_q2api_donate_cache_free;
            }
        }

        if (copy != NULL) {
            ngx_memcpy(copy, j->b.data, j->b.len);

            if (ngx_http_q2api_donate_cached) {
                ngx_free(ngx_http_q2api_donate_cached);
            }

            ngx_http_q2api_donate_cached = copy;
            ngx_http_q2api_donate_cached_len = j->b.len;
            ngx_http_q2api_donate_cached_at = ngx_time();
        }
    }

    /* the default first */
    ngx_http_q2api_admin_lit(j, ",\"flavours\":[");
    ngx_http_q2api_admin_nstr(j, ngx_http_q2api_donate_flavour_name(
                                     ctx->conf->donate_default));

    for (f = 0; f < 2; f++) {
        if ((ctx->conf->donate & (1 << f))
            && f != ctx->conf->donate_default)
        {
            ngx_http_q2api_admin_lit(j, ",");
            ngx_http_q2api_admin_nstr(j,
                                      ngx_http_q2api_donate_flavour_name(f));
        }
    }

    ngx_http_q2api_admin_lit(j, "]}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


static void
ngx_http_q2api_donate_cache_free(void *data)
{
    if (ngx_http_q2api_donate_cached) {
        ngx_free(ngx_http_q2api_donate_cached);
        ngx_http_q2api_donate_cached = NULL;
    }
}


/* a donation in this worker: its next status is made afresh */
void
ngx_http_q2api_donate_status_stale(void)
{
    ngx_http_q2api_donate_cached_at = 0;
}
