/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * "q2api_metrics": the counters, and the pool's gauges counted at scrape
 * time, in Prometheus's text format 0.0.4, or in OpenMetrics 1.0 when the
 * scraper's Accept asks for it.  Label sets with many members (requests,
 * tokens, keys) show the series that have counted something; the small
 * ones show every series.
 */


#include "ngx_http_q2api_metrics_zone.h"


#define NGX_HTTP_Q2API_M_CHUNK   16384
#define NGX_HTTP_Q2API_M_LINE    4096       /* room any one line needs */
#define NGX_HTTP_Q2API_M_VALUE   256        /* a label value, at most */


typedef struct {
    ngx_http_request_t        *r;
    ngx_chain_t               *out;
    ngx_chain_t              **last;
    ngx_buf_t                 *b;
    ngx_uint_t                 om;          /* OpenMetrics */
    ngx_uint_t                 failed;
} ngx_http_q2api_metrics_out_t;


static void ngx_http_q2api_metrics_printf(ngx_http_q2api_metrics_out_t *o,
    const char *fmt, ...);
static void ngx_http_q2api_metrics_family(ngx_http_q2api_metrics_out_t *o,
    const char *name, const char *type, const char *help);
static u_char *ngx_http_q2api_metrics_escape(u_char *dst, ngx_str_t *src);
static void ngx_http_q2api_metrics_counters(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc);
static void ngx_http_q2api_metrics_histogram(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc, const char *name, ngx_uint_t off);
static void ngx_http_q2api_metrics_pool(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc);
static void ngx_http_q2api_metrics_accounts(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc, ngx_http_q2api_accounts_t *accounts);


ngx_int_t
ngx_http_q2api_metrics_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_chain_t                     *cl;
    ngx_table_elt_t                 *accept;
    ngx_http_q2api_metrics_out_t     o;
    ngx_http_q2api_metrics_conf_t   *mc;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    ngx_memzero(&o, sizeof(ngx_http_q2api_metrics_out_t));
    o.r = r;
    o.last = &o.out;

    accept = r->headers_in.accept;

    if (accept
        && ngx_strlcasestrn(accept->value.data,
                            accept->value.data + accept->value.len,
                            (u_char *) "application/openmetrics-text",
                            sizeof("application/openmetrics-text") - 2)
           != NULL)
    {
        o.om = 1;
    }

    ngx_http_q2api_metrics_counters(&o, mc);
    ngx_http_q2api_metrics_pool(&o, mc);

    if (o.om) {
        ngx_http_q2api_metrics_printf(&o, "# EOF\n");
    }

    if (o.failed) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;

    if (o.om) {
        ngx_str_set(&r->headers_out.content_type,
                    "application/openmetrics-text; version=1.0.0; "
                    "charset=utf-8");
    } else {
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_length_n = 0;

    *o.last = NULL;

    for (cl = o.out; cl; cl = cl->next) {
        r->headers_out.content_length_n += cl->buf->last - cl->buf->pos;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    o.b->last_buf = (r == r->main) ? 1 : 0;
    o.b->last_in_chain = 1;

    return ngx_http_output_filter(r, o.out);
}


static void
ngx_http_q2api_metrics_printf(ngx_http_q2api_metrics_out_t *o,
    const char *fmt, ...)
{
    va_list       args;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (o->failed) {
        return;
    }

    if (o->b == NULL || o->b->end - o->b->last < NGX_HTTP_Q2API_M_LINE) {
        b = ngx_create_temp_buf(o->r->pool, NGX_HTTP_Q2API_M_CHUNK);
        cl = ngx_alloc_chain_link(o->r->pool);

        if (b == NULL || cl == NULL) {
            o->failed = 1;
            return;
        }

        cl->buf = b;
        *o->last = cl;
        o->last = &cl->next;
        o->b = b;
    }

    va_start(args, fmt);
    o->b->last = ngx_vslprintf(o->b->last, o->b->end, fmt, args);
    va_end(args);
}


/*
 * A family's HELP and TYPE.  A counter's samples end in _total; OpenMetrics
 * names the family without it, the 0.0.4 format with it.
 */
static void
ngx_http_q2api_metrics_family(ngx_http_q2api_metrics_out_t *o,
    const char *name, const char *type, const char *help)
{
    const char  *total;

    total = (ngx_strcmp(type, "counter") == 0 && !o->om) ? "_total" : "";

    ngx_http_q2api_metrics_printf(o, "# HELP %s%s %s\n# TYPE %s%s %s\n",
                                  name, total, help, name, total, type);
}


/* a label value with \ " and newline escaped, cut at NGX_HTTP_Q2API_M_VALUE
 * characters; dst has room for twice that and a NUL */
static u_char *
ngx_http_q2api_metrics_escape(u_char *dst, ngx_str_t *src)
{
    size_t   i, n;

    n = ngx_min(src->len, NGX_HTTP_Q2API_M_VALUE);

    for (i = 0; i < n; i++) {
        switch (src->data[i]) {
        case '\\':
        case '"':
            *dst++ = '\\';
            *dst++ = src->data[i];
            break;
        case '\n':
            *dst++ = '\\';
            *dst++ = 'n';
            break;
        default:
            *dst++ = src->data[i];
        }
    }

    *dst = '\0';

    return dst;
}


static void
ngx_http_q2api_metrics_counters(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc)
{
    ngx_str_t               *key;
    ngx_uint_t               f, b, m, i, k;
    ngx_atomic_uint_t        v;
    ngx_atomic_t            *c;

    c = mc->sh->c;

    ngx_http_q2api_metrics_family(o, "q2api_requests", "counter",
        "Client requests by front end, back end, model and outcome.");

    for (f = 0; f < mc->nfront; f++) {
        for (b = 0; b < mc->nback; b++) {
            for (m = 0; m < mc->nmodel; m++) {
                for (i = 0; i < NGX_HTTP_Q2API_M_OUTCOMES; i++) {
                    v = c[mc->req + ((f * mc->nback + b) * mc->nmodel + m)
                                    * NGX_HTTP_Q2API_M_OUTCOMES + i];
                    if (v == 0) {
                        continue;
                    }

                    ngx_http_q2api_metrics_printf(o,
                        "q2api_requests_total{front=\"%s\",backend=\"%s\","
                        "model=\"%s\",outcome=\"%s\"} %uA\n",
                        ngx_http_q2api_metrics_front_name(f),
                        ngx_http_q2api_metrics_back_name(mc, b),
                        ngx_http_q2api_metrics_model_name(mc, m),
                        ngx_http_q2api_metrics_outcomes[i], v);
                }
            }
        }
    }

    ngx_http_q2api_metrics_family(o, "q2api_upstream_attempts", "counter",
        "Upstream attempts by back end and how they ended.");

    for (b = 0; b + 1 < mc->nback; b++) {
        for (i = 0; i < NGX_HTTP_Q2API_M_ATTEMPTS; i++) {
            ngx_http_q2api_metrics_printf(o,
                "q2api_upstream_attempts_total{backend=\"%s\",class=\"%s\"} "
                "%uA\n", ngx_http_q2api_metrics_back_name(mc, b),
                ngx_http_q2api_metrics_classes[i],
                c[mc->att + b * NGX_HTTP_Q2API_M_ATTEMPTS + i]);
        }
    }

    ngx_http_q2api_metrics_family(o, "q2api_failovers", "counter",
        "Failed attempts followed by another account, by back end and "
        "failure class.");

    for (b = 0; b + 1 < mc->nback; b++) {
        for (i = 1; i < NGX_HTTP_Q2API_M_ATTEMPTS; i++) {
            ngx_http_q2api_metrics_printf(o,
                "q2api_failovers_total{backend=\"%s\",class=\"%s\"} %uA\n",
                ngx_http_q2api_metrics_back_name(mc, b),
                ngx_http_q2api_metrics_classes[i],
                c[mc->fov + b * NGX_HTTP_Q2API_M_ATTEMPTS + i]);
        }
    }

    ngx_http_q2api_metrics_family(o, "q2api_ttfb_seconds", "histogram",
        "Time from the request to the answer's first byte, answers that "
        "succeeded, by back end.");
    ngx_http_q2api_metrics_histogram(o, mc, "q2api_ttfb_seconds", mc->ttfb);

    ngx_http_q2api_metrics_family(o, "q2api_request_duration_seconds",
        "histogram", "Time from the request to its end, by back end.");
    ngx_http_q2api_metrics_histogram(o, mc, "q2api_request_duration_seconds",
                                     mc->dur);

    ngx_http_q2api_metrics_family(o, "q2api_tokens", "counter",
        "Tokens of answers that succeeded, by direction, back end and "
        "model.");

    for (i = 0; i < NGX_HTTP_Q2API_M_DIRECTIONS; i++) {
        for (b = 0; b < mc->nback; b++) {
            for (m = 0; m < mc->nmodel; m++) {
                v = c[mc->tok + (i * mc->nback + b) * mc->nmodel + m];
                if (v == 0) {
                    continue;
                }

                ngx_http_q2api_metrics_printf(o,
                    "q2api_tokens_total{direction=\"%s\",backend=\"%s\","
                    "model=\"%s\"} %uA\n",
                    ngx_http_q2api_metrics_directions[i],
                    ngx_http_q2api_metrics_back_name(mc, b),
                    ngx_http_q2api_metrics_model_name(mc, m), v);
            }
        }
    }

    ngx_http_q2api_metrics_family(o, "q2api_token_refreshes", "counter",
        "Account token refreshes by provider and result.");

    for (k = 0; k < mc->nprov; k++) {
        for (i = 0; i < NGX_HTTP_Q2API_M_REFRESHES; i++) {
            ngx_http_q2api_metrics_printf(o,
                "q2api_token_refreshes_total{provider=\"%s\",result=\"%s\"} "
                "%uA\n", ngx_http_q2api_metrics_provider_name(mc, k),
                ngx_http_q2api_metrics_refreshes[i],
                c[mc->ref + k * NGX_HTTP_Q2API_M_REFRESHES + i]);
        }
    }

    ngx_http_q2api_metrics_family(o, "q2api_device_logins", "counter",
        "Device logins (/v2/auth) that ended, by result.");

    for (i = 0; i < NGX_HTTP_Q2API_M_LOGINS; i++) {
        ngx_http_q2api_metrics_printf(o,
            "q2api_device_logins_total{result=\"%s\"} %uA\n",
            ngx_http_q2api_metrics_logins[i], c[mc->login + i]);
    }

    ngx_http_q2api_metrics_family(o, "q2api_donations", "counter",
        "Donations (q2api_donate's exchange) that ended, by result.");

    for (i = 0; i < NGX_HTTP_Q2API_M_DONATIONS; i++) {
        ngx_http_q2api_metrics_printf(o,
            "q2api_donations_total{result=\"%s\"} %uA\n",
            ngx_http_q2api_metrics_donations[i], c[mc->donation + i]);
    }

    ngx_http_q2api_metrics_family(o, "q2api_key_requests", "counter",
        "Client requests by client key name and outcome.");

    for (k = 0; k < mc->nkey; k++) {
        key = ngx_http_q2api_metrics_key_name(mc, k);

        for (i = 0; i < NGX_HTTP_Q2API_M_OUTCOMES; i++) {
            v = c[mc->kreq + k * NGX_HTTP_Q2API_M_OUTCOMES + i];
            if (v == 0) {
                continue;
            }

            ngx_http_q2api_metrics_printf(o,
                "q2api_key_requests_total{key=\"%V\",outcome=\"%s\"} %uA\n",
                key, ngx_http_q2api_metrics_outcomes[i], v);
        }
    }

    ngx_http_q2api_metrics_family(o, "q2api_key_tokens", "counter",
        "Tokens by client key name and direction.");

    for (k = 0; k < mc->nkey; k++) {
        key = ngx_http_q2api_metrics_key_name(mc, k);

        for (i = 0; i < NGX_HTTP_Q2API_M_DIRECTIONS; i++) {
            v = c[mc->ktok + k * NGX_HTTP_Q2API_M_DIRECTIONS + i];
            if (v == 0) {
                continue;
            }

            ngx_http_q2api_metrics_printf(o,
                "q2api_key_tokens_total{key=\"%V\",direction=\"%s\"} %uA\n",
                key, ngx_http_q2api_metrics_directions[i], v);
        }
    }
}


static void
ngx_http_q2api_metrics_histogram(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc, const char *name, ngx_uint_t off)
{
    ngx_uint_t          b, i;
    const char         *back;
    ngx_msec_t          bound;
    ngx_atomic_t       *h;
    ngx_atomic_uint_t   sum, count;

    for (b = 0; b < mc->nback; b++) {
        h = &mc->sh->c[off + b * NGX_HTTP_Q2API_M_HIST];
        back = ngx_http_q2api_metrics_back_name(mc, b);
        sum = 0;

        /* the count is the last to grow: the buckets may run ahead of it
         * by what is being added now, never behind */
        count = h[NGX_HTTP_Q2API_M_HIST_COUNT];

        for (i = 0; i < NGX_HTTP_Q2API_M_BUCKETS - 1; i++) {
            sum += h[i];
            bound = ngx_http_q2api_metrics_bounds[i];

            ngx_http_q2api_metrics_printf(o,
                "%s_bucket{backend=\"%s\",le=\"%M.%03M\"} %uA\n",
                name, back, bound / 1000, bound % 1000, ngx_min(sum, count));
        }

        ngx_http_q2api_metrics_printf(o,
            "%s_bucket{backend=\"%s\",le=\"+Inf\"} %uA\n"
            "%s_sum{backend=\"%s\"} %uA.%03uA\n"
            "%s_count{backend=\"%s\"} %uA\n",
            name, back, count,
            name, back, h[NGX_HTTP_Q2API_M_HIST_SUM] / 1000,
            h[NGX_HTTP_Q2API_M_HIST_SUM] % 1000,
            name, back, count);
    }
}


/* the pool, the store and the zones, counted now */
static void
ngx_http_q2api_metrics_pool(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc)
{
    time_t                        now;
    ngx_uint_t                    s, n;
    ngx_slab_pool_t              *shpool;
    ngx_http_q2api_kind_t        *k;
    ngx_http_q2api_census_t       census;
    ngx_http_q2api_main_conf_t   *qmcf;

    qmcf = ngx_http_get_module_main_conf(o->r, ngx_http_q2api_module);

    ngx_http_q2api_accounts_census(qmcf->accounts, &census);
    now = ngx_time();

    ngx_http_q2api_metrics_family(o, "q2api_accounts", "gauge",
        "Accounts in the pool by kind and state.");

    for (k = ngx_http_q2api_kinds; k->name.len; k++) {
        for (s = 0; s < NGX_HTTP_Q2API_CENSUS_STATES; s++) {
            n = census.by[k->type][s];

            /* an account of an unknown type is served as the first kind */
            if (k == ngx_http_q2api_kinds) {
                n += census.by[NGX_HTTP_Q2API_ACCOUNT_UNKNOWN][s];
            }

            ngx_http_q2api_metrics_printf(o,
                "q2api_accounts{kind=\"%V\",state=\"%s\"} %ui\n", &k->name,
                s == NGX_HTTP_Q2API_CENSUS_DISABLED
                ? "disabled" : ngx_http_q2api_status_name(s), n);
        }
    }

    if (census.next_back) {
        ngx_http_q2api_metrics_family(o,
            "q2api_accounts_next_return_seconds", "gauge",
            "Seconds until the next account comes back from a cooldown "
            "or quota reset.");
        ngx_http_q2api_metrics_printf(o,
            "q2api_accounts_next_return_seconds %T\n",
            census.next_back > now ? census.next_back - now : 0);
    }

    if (mc->sh->store_known) {
        ngx_http_q2api_metrics_family(o, "q2api_store_up", "gauge",
            "Whether the store answered its last call.");
        ngx_http_q2api_metrics_printf(o, "q2api_store_up %uA\n",
                                      mc->sh->store_up);
    }

    if (mc->sh->store_written) {
        ngx_http_q2api_metrics_family(o,
            "q2api_store_last_write_age_seconds", "gauge",
            "Seconds since the store last wrote changes.");
        ngx_http_q2api_metrics_printf(o,
            "q2api_store_last_write_age_seconds %T\n",
            now - (time_t) mc->sh->store_written);
    }

    if (mc->sh->notify_lag) {
        ngx_http_q2api_metrics_family(o, "q2api_store_notify_lag_seconds",
            "gauge", "PostgreSQL: from another node's NOTIFY to its change "
            "in this node's zone, the last time.");
        ngx_http_q2api_metrics_printf(o,
            "q2api_store_notify_lag_seconds %uA.%03uA\n",
            (mc->sh->notify_lag - 1) / 1000, (mc->sh->notify_lag - 1) % 1000);
    }

    ngx_http_q2api_metrics_family(o, "q2api_store_pending_changes", "gauge",
        "Accounts changed in memory and not yet written by the store.");
    ngx_http_q2api_metrics_printf(o, "q2api_store_pending_changes %ui\n",
                                  census.dirty);

    shpool = (ngx_slab_pool_t *) mc->shm_zone->shm.addr;

    /* OpenMetrics wants a family's samples together, after its TYPE */
    ngx_http_q2api_metrics_family(o, "q2api_zone_size_bytes", "gauge",
        "Size of a shared memory zone.");
    ngx_http_q2api_metrics_printf(o,
        "q2api_zone_size_bytes{zone=\"accounts\"} %uz\n"
        "q2api_zone_size_bytes{zone=\"metrics\"} %uz\n",
        census.size, mc->shm_zone->shm.size);

    ngx_http_q2api_metrics_family(o, "q2api_zone_free_bytes", "gauge",
        "Free pages of a shared memory zone.");
    ngx_http_q2api_metrics_printf(o,
        "q2api_zone_free_bytes{zone=\"accounts\"} %uz\n"
        "q2api_zone_free_bytes{zone=\"metrics\"} %uz\n",
        census.free, (size_t) shpool->pfree << ngx_pagesize_shift);

    ngx_http_q2api_metrics_family(o, "q2api_zone_accounts", "gauge",
        "Accounts held in the zone.");
    ngx_http_q2api_metrics_printf(o, "q2api_zone_accounts %ui\n",
                                  census.accounts);

    ngx_http_q2api_metrics_family(o, "q2api_zone_affinity_bindings", "gauge",
        "Conversations bound to an account (q2api_select affinity).");
    ngx_http_q2api_metrics_printf(o, "q2api_zone_affinity_bindings %ui\n",
                                  census.affinity);

    ngx_http_q2api_metrics_family(o, "q2api_metrics_start_time_seconds",
        "gauge", "When the counters started (Unix time).");
    ngx_http_q2api_metrics_printf(o, "q2api_metrics_start_time_seconds %T\n",
                                  mc->sh->started);

    if (census.accounts && census.accounts <= mc->accounts_max) {
        ngx_http_q2api_metrics_accounts(o, mc, qmcf->accounts);
    }
}


/* per-account series, while the pool is under q2api_metrics_accounts */
static void
ngx_http_q2api_metrics_accounts(ngx_http_q2api_metrics_out_t *o,
    ngx_http_q2api_metrics_conf_t *mc, ngx_http_q2api_accounts_t *accounts)
{
    u_char                          id[2 * NGX_HTTP_Q2API_M_VALUE + 1];
    ngx_uint_t                      i;
    ngx_pool_t                     *p;
    ngx_array_t                     all;
    ngx_http_q2api_account_data_t  *d;

    /* a pool of its own: the copies hold credentials, gone at once */
    p = ngx_create_pool(4096, o->r->connection->log);
    if (p == NULL) {
        o->failed = 1;
        return;
    }

    if (ngx_array_init(&all, p, 64, sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_http_q2api_accounts_export(accounts, p, &all) != NGX_OK)
    {
        ngx_destroy_pool(p);
        o->failed = 1;
        return;
    }

    d = all.elts;

    ngx_http_q2api_metrics_family(o, "q2api_account_state", "gauge",
        "1 for each account, labelled with its kind and state.");

    for (i = 0; i < all.nelts; i++) {
        (void) ngx_http_q2api_metrics_escape(id, &d[i].id);

        ngx_http_q2api_metrics_printf(o,
            "q2api_account_state{account=\"%s\",kind=\"%V\",state=\"%s\"} 1\n",
            id, ngx_http_q2api_kind_name(d[i].type),
            d[i].enabled ? ngx_http_q2api_status_name(d[i].status)
                         : "disabled");
    }

    ngx_http_q2api_metrics_family(o, "q2api_account_requests", "counter",
        "Attempts an account served, by result (the account's totals).");

    for (i = 0; i < all.nelts; i++) {
        (void) ngx_http_q2api_metrics_escape(id, &d[i].id);

        ngx_http_q2api_metrics_printf(o,
            "q2api_account_requests_total{account=\"%s\",result=\"success\"} "
            "%uL\n"
            "q2api_account_requests_total{account=\"%s\",result=\"error\"} "
            "%uL\n", id, d[i].successes, id, d[i].errors);
    }

    ngx_http_q2api_metrics_family(o, "q2api_account_tokens", "counter",
        "Tokens an account served, by direction (the account's totals).");

    for (i = 0; i < all.nelts; i++) {
        (void) ngx_http_q2api_metrics_escape(id, &d[i].id);

        ngx_http_q2api_metrics_printf(o,
            "q2api_account_tokens_total{account=\"%s\",direction=\"input\"} "
            "%uL\n"
            "q2api_account_tokens_total{account=\"%s\",direction=\"output\"} "
            "%uL\n", id, d[i].tokens_in, id, d[i].tokens_out);
    }

    ngx_destroy_pool(p);
}
