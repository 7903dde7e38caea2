/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The store loop: a cancelable timer in every worker; the one holding the
 * lease in the zone runs the store's tick.  A worker that dies stops
 * renewing the lease and another one takes over after three intervals.
 */


#include "ngx_http_q2api.h"


static void ngx_http_q2api_store_timer(ngx_event_t *ev);
static void ngx_http_q2api_store_stop(ngx_http_q2api_store_t *st);


static ngx_event_t  ngx_http_q2api_store_event;


ngx_int_t
ngx_http_q2api_store_load(ngx_http_q2api_accounts_t *accounts,
    ngx_uint_t reload, ngx_log_t *log)
{
    ngx_http_q2api_store_t  *st;

    st = accounts->store;

    if (st == NULL || st->ops->load == NULL) {
        return NGX_OK;
    }

    return st->ops->load(st, reload, log);
}


/* what every store needs once the configuration says which one it is */
ngx_int_t
ngx_http_q2api_store_conf(ngx_conf_t *cf, ngx_http_q2api_store_t *st)
{
    if (st->ops == &ngx_http_q2api_store_file_ops && st->data == NULL) {
        return ngx_http_q2api_store_file_conf(cf, st);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_store_init_process(ngx_cycle_t *cycle,
    ngx_http_q2api_store_t *st)
{
    ngx_event_t  *ev;

    if (st == NULL || st->accounts == NULL || st->accounts->sh == NULL) {
        return NGX_OK;
    }

    st->log = cycle->log;

    ev = &ngx_http_q2api_store_event;
    ev->handler = ngx_http_q2api_store_timer;
    ev->data = st;
    ev->log = cycle->log;

    /* a worker exits without waiting for it */
    ev->cancelable = 1;

    /* a random first delay, so that workers do not race for the lease */
    ngx_add_timer(ev, (ngx_msec_t) (ngx_random() % 200) + 1);

    return NGX_OK;
}


static void
ngx_http_q2api_store_timer(ngx_event_t *ev)
{
    ngx_http_q2api_store_t  *st = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_http_q2api_store_stop(st);
        return;
    }

    if (ngx_http_q2api_accounts_lease(st->accounts, 3 * st->interval)) {

        if (!st->running) {
            ngx_log_error(NGX_LOG_INFO, st->log, 0,
                          "q2api: this worker runs the %s store",
                          st->ops->name);
            st->running = 1;
        }

        st->ops->tick(st);

    } else if (st->running) {
        st->ops->stop(st);
        st->running = 0;
    }

    ngx_add_timer(ev, st->interval);
}


/* the module's exit_process: nginx has joined its thread pools already */
void
ngx_http_q2api_store_exit_process(ngx_http_q2api_store_t *st)
{
    if (st == NULL || st->accounts == NULL || st->accounts->sh == NULL) {
        return;
    }

    st->exiting = 1;

    ngx_http_q2api_store_stop(st);
}


static void
ngx_http_q2api_store_stop(ngx_http_q2api_store_t *st)
{
    if (ngx_http_q2api_store_event.timer_set) {
        ngx_del_timer(&ngx_http_q2api_store_event);
    }

    if (st->running) {
        /* what this worker counted is written before it goes */
        st->ops->stop(st);
        st->running = 0;
        ngx_http_q2api_accounts_lease_release(st->accounts);
    }
}
