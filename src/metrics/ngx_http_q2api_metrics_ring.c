/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Pool totals over time for people (the admin console's charts): a ring
 * in the metrics zone, a sample every q2api_metrics_interval (a minute:
 * a day of them).  Every worker has a timer; the first to see a new
 * interval claims it with a compare-and-set and writes the sample, so one
 * sample is taken however many workers run.  Also the admin API's views
 * of the same zone: /healthz's store and zone members, and the status.
 */


#include "ngx_http_q2api_metrics_zone.h"


#define NGX_HTTP_Q2API_M_TICK   1000       /* ms between looks */

#define ngx_http_q2api_metrics_lit(p, lit)                                 \
    ngx_cpymem(p, "" lit, sizeof(lit) - 1)


static void ngx_http_q2api_metrics_tick(ngx_event_t *ev);
static void ngx_http_q2api_metrics_sample(ngx_http_q2api_metrics_conf_t *mc,
    time_t now);
static void ngx_http_q2api_metrics_totals(ngx_http_q2api_metrics_conf_t *mc,
    ngx_atomic_uint_t *t);
static u_char *ngx_http_q2api_metrics_store_json(u_char *p,
    ngx_http_q2api_metrics_conf_t *mc, ngx_http_q2api_census_t *c,
    time_t now);


static ngx_event_t       ngx_http_q2api_metrics_timer;

/* what a debug log reads a timer's fd from */
static ngx_connection_t  ngx_http_q2api_metrics_conn;


static const char  *ngx_http_q2api_metrics_fields[] = {
    "time", "accounts", "active", "cooling", "quota", "suspended",
    "token_rejected", "needs_login", "too_many_errors", "disabled",
    "requests", "failed", "tokens_in", "tokens_out"
};


ngx_int_t
ngx_http_q2api_metrics_ring_init(ngx_cycle_t *cycle)
{
    ngx_event_t  *ev;

    ev = &ngx_http_q2api_metrics_timer;

    ev->handler = ngx_http_q2api_metrics_tick;
    ev->log = cycle->log;
    ngx_http_q2api_metrics_conn.fd = (ngx_socket_t) -1;
    ev->data = &ngx_http_q2api_metrics_conn;

    /* a worker shutting down does not wait for it */
    ev->cancelable = 1;

    ngx_add_timer(ev, 1);

    return NGX_OK;
}


static void
ngx_http_q2api_metrics_tick(ngx_event_t *ev)
{
    time_t                          now;
    ngx_atomic_uint_t               last, step;
    ngx_http_q2api_metrics_conf_t  *mc;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    mc = ngx_http_q2api_metrics_conf();

    if (mc) {
        now = ngx_time();
        step = (ngx_atomic_uint_t) (now / mc->interval);
        last = mc->sh->ring_minute;

        if (step > last
            && ngx_atomic_cmp_set(&mc->sh->ring_minute, last, step))
        {
            ngx_http_q2api_metrics_sample(mc, now);
        }
    }

    ngx_add_timer(ev, NGX_HTTP_Q2API_M_TICK);
}


static void
ngx_http_q2api_metrics_sample(ngx_http_q2api_metrics_conf_t *mc, time_t now)
{
    ngx_uint_t                    i, k, slot;
    ngx_atomic_t                 *s;
    ngx_atomic_uint_t             totals[4];
    ngx_http_q2api_census_t       c;
    ngx_http_q2api_main_conf_t   *qmcf;

    qmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_q2api_module);

    ngx_http_q2api_accounts_census(qmcf ? qmcf->accounts : NULL, &c);
    ngx_http_q2api_metrics_totals(mc, totals);

    slot = mc->sh->ring_next % NGX_HTTP_Q2API_M_RING;
    s = &mc->sh->c[mc->ring + slot * NGX_HTTP_Q2API_M_SAMPLE];

    s[NGX_HTTP_Q2API_M_S_TIME] = (ngx_atomic_uint_t) now;
    s[NGX_HTTP_Q2API_M_S_ACCOUNTS] = c.accounts;

    for (i = 0; i < NGX_HTTP_Q2API_CENSUS_STATES; i++) {
        s[NGX_HTTP_Q2API_M_S_STATES + i] = 0;

        for (k = 0; k < NGX_HTTP_Q2API_CENSUS_KINDS; k++) {
            s[NGX_HTTP_Q2API_M_S_STATES + i] += c.by[k][i];
        }
    }

    for (i = 0; i < 4; i++) {
        s[NGX_HTTP_Q2API_M_S_REQUESTS + i] = totals[i];
    }

    /* readers see the sample once it is whole */
    ngx_memory_barrier();

    mc->sh->ring_next = (slot + 1) % NGX_HTTP_Q2API_M_RING;

    if (mc->sh->ring_count < NGX_HTTP_Q2API_M_RING) {
        mc->sh->ring_count++;
    }
}


/* requests, failed requests, input and output tokens, since the start */
static void
ngx_http_q2api_metrics_totals(ngx_http_q2api_metrics_conf_t *mc,
    ngx_atomic_uint_t *t)
{
    ngx_uint_t     i, n;
    ngx_atomic_t  *c;

    c = mc->sh->c;
    t[0] = t[1] = t[2] = t[3] = 0;

    n = mc->nfront * mc->nback * mc->nmodel * NGX_HTTP_Q2API_M_OUTCOMES;

    for (i = 0; i < n; i++) {
        t[0] += c[mc->req + i];

        if (i % NGX_HTTP_Q2API_M_OUTCOMES != NGX_HTTP_Q2API_M_OK) {
            t[1] += c[mc->req + i];
        }
    }

    n = mc->nback * mc->nmodel;

    for (i = 0; i < n; i++) {
        t[2] += c[mc->tok + i];
        t[3] += c[mc->tok + n + i];
    }
}


static u_char *
ngx_http_q2api_metrics_store_json(u_char *p, ngx_http_q2api_metrics_conf_t *mc,
    ngx_http_q2api_census_t *c, time_t now)
{
    p = ngx_sprintf(p, "\"store\":{\"up\":%s,\"last_write_age\":",
                    !mc->sh->store_known ? "null"
                    : mc->sh->store_up ? "true" : "false");

    if (mc->sh->store_written) {
        p = ngx_sprintf(p, "%T", now - (time_t) mc->sh->store_written);

    } else {
        p = ngx_http_q2api_metrics_lit(p, "null");
    }

    return ngx_sprintf(p, ",\"pending\":%ui},\"zone\":{\"size\":%uz,"
                       "\"free\":%uz,\"accounts\":%ui,\"affinity\":%ui}",
                       c->dirty, c->size, c->free, c->accounts, c->affinity);
}


ngx_int_t
ngx_http_q2api_metrics_health(ngx_http_request_t *r,
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *json)
{
    u_char                         *p;
    time_t                          now;
    ngx_http_q2api_metrics_conf_t  *mc;

    /* unauthenticated: counted at most once a second per worker */
    static time_t                   checked;
    static ngx_http_q2api_census_t  c;

    mc = ngx_http_q2api_metrics_conf();

    if (mc == NULL) {
        ngx_str_null(json);
        return NGX_OK;
    }

    now = ngx_time();

    if (now != checked) {
        ngx_http_q2api_accounts_census(accounts, &c);
        checked = now;
    }

    p = ngx_pnalloc(r->pool, 512);
    if (p == NULL) {
        return NGX_ERROR;
    }

    json->data = p;
    *p++ = ',';
    p = ngx_http_q2api_metrics_store_json(p, mc, &c, now);
    json->len = p - json->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_metrics_status(ngx_http_request_t *r,
    ngx_http_q2api_accounts_t *accounts, ngx_str_t *json)
{
    u_char                         *p;
    size_t                          len;
    time_t                          now;
    ngx_str_t                      *name;
    ngx_uint_t                      i, j, k, n, first;
    ngx_atomic_t                   *s, *c;
    ngx_http_q2api_census_t         census;
    ngx_http_q2api_metrics_conf_t  *mc;

    mc = ngx_http_q2api_metrics_conf();
    if (mc == NULL) {
        return NGX_DECLINED;
    }

    ngx_http_q2api_accounts_census(accounts, &census);
    now = ngx_time();
    c = mc->sh->c;

    n = mc->sh->ring_count;
    first = (mc->sh->ring_next + NGX_HTTP_Q2API_M_RING - n)
            % NGX_HTTP_Q2API_M_RING;

    len = 1024 + NGX_HTTP_Q2API_CENSUS_STATES * 40
          + mc->nkey * (64 + 5 * NGX_ATOMIC_T_LEN + 80)
          + n * NGX_HTTP_Q2API_M_SAMPLE * (NGX_ATOMIC_T_LEN + 1)
          + NGX_HTTP_Q2API_M_SAMPLE * 24;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    json->data = p;

    p = ngx_sprintf(p, "{\"now\":%T,\"since\":%T,\"step\":%T,"
                    "\"pool\":{\"accounts\":%ui,\"states\":{",
                    now, mc->sh->started, mc->interval, census.accounts);

    for (i = 0; i < NGX_HTTP_Q2API_CENSUS_STATES; i++) {
        for (k = 0, j = 0; k < NGX_HTTP_Q2API_CENSUS_KINDS; k++) {
            j += census.by[k][i];
        }

        p = ngx_sprintf(p, "%s\"%s\":%ui", i ? "," : "",
                        ngx_http_q2api_metrics_fields[2 + i], j);
    }

    p = ngx_http_q2api_metrics_lit(p, "},\"next_return\":");

    if (census.next_back) {
        p = ngx_sprintf(p, "%T", census.next_back > now
                                 ? census.next_back - now : 0);
    } else {
        p = ngx_http_q2api_metrics_lit(p, "null");
    }

    p = ngx_http_q2api_metrics_lit(p, "},");
    p = ngx_http_q2api_metrics_store_json(p, mc, &census, now);
    p = ngx_http_q2api_metrics_lit(p, ",\"keys\":[");

    for (k = 0; k < mc->nkey; k++) {
        name = ngx_http_q2api_metrics_key_name(mc, k);

        for (i = 0, j = 0; i < NGX_HTTP_Q2API_M_OUTCOMES; i++) {
            j += c[mc->kreq + k * NGX_HTTP_Q2API_M_OUTCOMES + i];
        }

        /* names are checked where they are configured: JSON as they are */
        p = ngx_sprintf(p, "%s{\"name\":\"%V\",\"requests\":%ui,"
                        "\"failed\":%uA,\"input_tokens\":%uA,"
                        "\"output_tokens\":%uA}",
                        k ? "," : "", name, j,
                        j - c[mc->kreq + k * NGX_HTTP_Q2API_M_OUTCOMES],
                        c[mc->ktok + k * NGX_HTTP_Q2API_M_DIRECTIONS],
                        c[mc->ktok + k * NGX_HTTP_Q2API_M_DIRECTIONS + 1]);
    }

    p = ngx_http_q2api_metrics_lit(p, "],\"series\":{\"fields\":[");

    for (i = 0; i < NGX_HTTP_Q2API_M_SAMPLE; i++) {
        p = ngx_sprintf(p, "%s\"%s\"", i ? "," : "",
                        ngx_http_q2api_metrics_fields[i]);
    }

    p = ngx_http_q2api_metrics_lit(p, "],\"samples\":[");

    for (j = 0; j < n; j++) {
        s = &c[mc->ring + ((first + j) % NGX_HTTP_Q2API_M_RING)
                          * NGX_HTTP_Q2API_M_SAMPLE];

        p = ngx_sprintf(p, "%s[", j ? "," : "");

        for (i = 0; i < NGX_HTTP_Q2API_M_SAMPLE; i++) {
            p = ngx_sprintf(p, "%s%uA", i ? "," : "", s[i]);
        }

        *p++ = ']';
    }

    p = ngx_http_q2api_metrics_lit(p, "]}}");

    json->len = p - json->data;

    return NGX_OK;
}
