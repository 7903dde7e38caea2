/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The token lifecycle: one refresh per account at a time, and what its
 * result does to the account.  The service called is the account's
 * credential provider (ngx_http_q2api_provider.h).
 *
 * A refresh holds the account's refresh lease in the zone, so one worker
 * at a time refreshes an account; the others wait for it and use the new
 * token.  The services rotate refresh tokens: the new one goes to the zone
 * and is queued for the store before anything else uses it.
 *
 * With a store shared by several nodes (PostgreSQL) the refresher also
 * needs the account's lease in the database, which the store loop takes
 * for it: granted, it refreshes with the token the database has then;
 * denied, another node refreshes, and the refresher (keeping the zone's
 * lease, so the local requests keep waiting) waits for that node's new
 * token to come in, asking again now and then in case that node died.
 * A store that does not answer (the database is down) is not waited for
 * long: the refresh goes on with the zone's lease alone.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_provider.h"
#include "ngx_http_q2api_kiro_profiles.h"
#include "ngx_http_q2api_metrics.h"


#define NGX_HTTP_Q2API_REFRESH_WAIT      100     /* ms between looks */
#define NGX_HTTP_Q2API_REFRESH_PATIENCE  15000   /* ms a waiter waits */
#define NGX_HTTP_Q2API_LEASE_LOOK        20      /* ms between looks */
#define NGX_HTTP_Q2API_LEASE_ANSWER      2000    /* ms for a store that is
                                                    not connected */
#define NGX_HTTP_Q2API_LEASE_BUSY        10000   /* ms for one that is */
#define NGX_HTTP_Q2API_LEASE_AGAIN       1000    /* ms, then ask again */


typedef struct {
    ngx_http_request_t              *request;
    ngx_str_t                        id;
    ngx_http_q2api_refresh_done_pt   done;
    void                            *data;
    ngx_http_q2api_provider_t       *provider;
    ngx_uint_t                       discover;   /* a Kiro login with no
                                                    profileArn */
    ngx_str_t                        region;     /* Identity Center's */
    ngx_event_t                      wait;       /* another one refreshes */
    ngx_msec_t                       waited;
    ngx_msec_t                       asked;      /* the store lease */
    time_t                           old_expires;
    ngx_http_q2api_account_data_t    creds;
    unsigned                         leasing:1;
} ngx_http_q2api_refresh_t;


static ngx_int_t ngx_http_q2api_refresh_start(ngx_http_q2api_refresh_t *rf);
static void ngx_http_q2api_refresh_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_refresh_profiled(ngx_http_request_t *r,
    void *data);
static void ngx_http_q2api_refresh_lease(ngx_event_t *ev);
static void ngx_http_q2api_refresh_wait(ngx_event_t *ev);
static void ngx_http_q2api_refresh_cleanup(void *data);


ngx_int_t
ngx_http_q2api_token_refresh(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_refresh_done_pt done, void *data)
{
    ngx_int_t                       rc;
    ngx_pool_cleanup_t             *cln;
    ngx_http_q2api_store_t         *st;
    ngx_http_q2api_refresh_t       *rf;
    ngx_http_q2api_main_conf_t     *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf == NULL || qmcf->accounts == NULL) {
        return NGX_DECLINED;
    }

    rf = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_refresh_t));
    if (rf == NULL) {
        return NGX_ERROR;
    }

    rf->request = r;
    rf->done = done;
    rf->data = data;
    rf->id.data = ngx_pstrdup(r->pool, id);
    rf->id.len = id->len;

    if (rf->id.data == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_q2api_accounts_refresh_begin(qmcf->accounts, id, r->pool,
                                               &rf->creds);

    if (rc == NGX_DECLINED || rc == NGX_ERROR) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        if (rc == NGX_OK) {
            ngx_http_q2api_accounts_refresh_end(qmcf->accounts, id, NGX_DONE,
                                                NULL, NULL);
        }

        return NGX_ERROR;
    }

    cln->handler = ngx_http_q2api_refresh_cleanup;
    cln->data = rf;

    rf->wait.data = rf;
    rf->wait.log = r->connection->log;

    if (rc == NGX_BUSY) {
        /* another worker is at it: wait for its result */
        rf->wait.handler = ngx_http_q2api_refresh_wait;
        ngx_add_timer(&rf->wait, NGX_HTTP_Q2API_REFRESH_WAIT);

        return NGX_OK;
    }

    st = qmcf->accounts->store;

    if (st != NULL && st->ops == &ngx_http_q2api_store_pg_ops) {
        /* other nodes may refresh it too: the database's lease first */
        rf->leasing = 1;
        rf->old_expires = rf->creds.token_expires;
        rf->asked = ngx_current_msec;

        ngx_http_q2api_accounts_db_lease_ask(qmcf->accounts, id);

        rf->wait.handler = ngx_http_q2api_refresh_lease;
        ngx_add_timer(&rf->wait, NGX_HTTP_Q2API_LEASE_LOOK);

        return NGX_OK;
    }

    if (ngx_http_q2api_refresh_start(rf) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the call to the identity service, with the lease(s) held */
static ngx_int_t
ngx_http_q2api_refresh_start(ngx_http_q2api_refresh_t *rf)
{
    ngx_int_t                       rc;
    ngx_str_t                       region, *id;
    ngx_http_request_t             *r;
    ngx_http_q2api_call_req_t       req;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t  *creds;

    r = rf->request;
    id = &rf->id;
    creds = &rf->creds;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    rf->provider = ngx_http_q2api_provider(creds);

    if (rf->provider == NULL) {
        goto failed;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "q2api: account \"%V\" refreshes at %s", id,
                   rf->provider->name);

    /*
     * a Kiro Identity Center login carries no profileArn, and the Kiro
     * service refuses chats without one: it is looked up after the refresh
     */
    rf->discover = creds->type == NGX_HTTP_Q2API_ACCOUNT_KIRO
                   && !rf->provider->profile
                   && creds->profile_arn.len == 0;

    rc = ngx_http_q2api_login_region(r->pool, &creds->other, &region);

    if (rc == NGX_ERROR) {
        goto failed;
    }

    if (rc == NGX_OK) {
        rf->region = region;
    }

    ngx_memzero(&req, sizeof(ngx_http_q2api_call_req_t));

    if (rf->provider->request(r, creds, &rf->region, &req) != NGX_OK
        || ngx_http_q2api_call(r, &req, ngx_http_q2api_refresh_answer, rf,
                               NULL)
           != NGX_OK)
    {
        goto failed;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api: refreshing the token of account \"%V\"", id);

    return NGX_OK;

failed:

    ngx_http_q2api_metrics_refresh(rf->provider, NGX_ERROR);
    ngx_http_q2api_accounts_refresh_end(qmcf->accounts, id, NGX_ERROR, NULL,
                                        "refresh could not start");
    return NGX_ERROR;
}


static void
ngx_http_q2api_refresh_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_refresh_t  *rf = data;

    cJSON                          *o;
    ngx_int_t                       rc;
    ngx_str_t                       message;
    ngx_uint_t                      level;
    const char                     *err;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t   fresh;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    ngx_memzero(&fresh, sizeof(ngx_http_q2api_account_data_t));

    o = ngx_http_q2api_identity_parse(r->pool, body);
    err = NULL;

    if (status == NGX_HTTP_OK) {
        rc = rf->provider->answer(r, o, &fresh, &err);

    } else {
        rc = rf->provider->refusal(status, o, &err);
    }

    cJSON_Delete(o);

    if (rc == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api: account \"%V\" has a new token", &rf->id);

    } else {
        level = (rc == NGX_DECLINED) ? NGX_LOG_WARN : NGX_LOG_ERR;

        ngx_log_error(level, r->connection->log, 0,
                      "q2api: refreshing account \"%V\" failed with status "
                      "%i: %s", &rf->id, status, err);
    }

    ngx_http_q2api_metrics_refresh(rf->provider, rc);
    ngx_http_q2api_accounts_refresh_end(qmcf->accounts, &rf->id, rc, &fresh,
                                        err);

    /* the new tokens are stored: a lookup that fails loses nothing */
    if (rc == NGX_OK && rf->discover && fresh.profile_arn.len == 0
        && ngx_http_q2api_kiro_profile(r, &rf->id, &rf->region,
                                       &fresh.access_token,
                                       ngx_http_q2api_refresh_profiled, rf)
           == NGX_OK)
    {
        return;
    }

    message.data = (u_char *) (err ? err : "ok");
    message.len = ngx_strlen(message.data);

    rf->done(r, rf->data, rc, &message);
}


static void
ngx_http_q2api_refresh_profiled(ngx_http_request_t *r, void *data)
{
    ngx_http_q2api_refresh_t  *rf = data;

    ngx_str_t  message;

    ngx_str_set(&message, "ok");

    rf->done(r, rf->data, NGX_OK, &message);
}


/*
 * The refresher waits for the store loop to take the database's lease for
 * it.  The zone's lease stays held throughout, so that this node's other
 * requests wait for this one.
 */
static void
ngx_http_q2api_refresh_lease(ngx_event_t *ev)
{
    ngx_http_q2api_refresh_t  *rf = ev->data;

    time_t                       expires;
    ngx_str_t                    message;
    ngx_msec_t                   limit;
    ngx_uint_t                   state;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_q2api_main_conf_t  *qmcf;

    r = rf->request;
    c = r->connection;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    rf->waited += NGX_HTTP_Q2API_LEASE_LOOK;
    expires = 0;

    state = ngx_http_q2api_accounts_db_lease_state(qmcf->accounts, &rf->id,
                                                   &expires, r->pool,
                                                   &rf->creds);

    /* another node's new token has come in with its row: done */
    if (expires != rf->old_expires
        && expires - ngx_time() >= NGX_HTTP_Q2API_REFRESH_AHEAD
        && (state == NGX_HTTP_Q2API_DBLEASE_GRANTED
            || state == NGX_HTTP_Q2API_DBLEASE_DENIED))
    {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "q2api: account \"%V\" was refreshed by another node",
                      &rf->id);

        rf->leasing = 0;
        ngx_http_q2api_accounts_refresh_end(qmcf->accounts, &rf->id, NGX_DONE,
                                            NULL, NULL);

        ngx_str_set(&message, "refreshed by another node");
        rf->done(r, rf->data, NGX_BUSY, &message);
        goto done;
    }

    switch (state) {

    case NGX_HTTP_Q2API_DBLEASE_GRANTED:
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "q2api: store lease of account \"%V\" granted",
                       &rf->id);
        break;

    case NGX_HTTP_Q2API_DBLEASE_DENIED:

        if (rf->waited >= NGX_HTTP_Q2API_REFRESH_PATIENCE) {
            rf->leasing = 0;
            ngx_http_q2api_accounts_refresh_end(qmcf->accounts, &rf->id,
                NGX_ERROR, NULL, "another node's refresh takes too long");

            ngx_str_set(&message, "a refresh of this account takes too long");
            rf->done(r, rf->data, NGX_ERROR, &message);
            goto done;
        }

        if (ngx_current_msec - rf->asked >= NGX_HTTP_Q2API_LEASE_AGAIN) {
            /* the other node may have finished, or died: its lease
             * expires in the database */
            rf->asked = ngx_current_msec;
            ngx_http_q2api_accounts_db_lease_ask(qmcf->accounts, &rf->id);
        }

        ngx_add_timer(&rf->wait, NGX_HTTP_Q2API_LEASE_LOOK);
        return;

    default:

        /*
         * A connected store answers once its query in flight is done (a
         * full load of many rows takes a while); one that is not connected
         * may be back within a moment
         */
        limit = ngx_http_q2api_accounts_db_lease_is_up(qmcf->accounts)
                ? NGX_HTTP_Q2API_LEASE_BUSY : NGX_HTTP_Q2API_LEASE_ANSWER;

        if (ngx_current_msec - rf->asked < limit) {
            if (state == NGX_HTTP_Q2API_DBLEASE_NONE) {
                /* a release of ours went out meanwhile */
                ngx_http_q2api_accounts_db_lease_ask(qmcf->accounts, &rf->id);
            }

            ngx_add_timer(&rf->wait, NGX_HTTP_Q2API_LEASE_LOOK);
            return;
        }

        /*
         * The store does not answer: the database is out of reach.
         * Failing the requests would help nobody, and the zone's lease
         * still keeps this node to one refresh; only a node refreshing the
         * same account at this very moment could make it fail.
         */
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "q2api: no store lease for refreshing account \"%V\" "
                      "within %M ms, refreshing with the local lease only",
                      &rf->id, limit);

        ngx_http_q2api_accounts_db_lease_drop(qmcf->accounts, &rf->id);
        break;
    }

    rf->leasing = 0;

    if (ngx_http_q2api_refresh_start(rf) != NGX_OK) {
        ngx_str_set(&message, "refresh could not start");
        rf->done(r, rf->data, NGX_ERROR, &message);
    }

done:

    ngx_http_run_posted_requests(c);
}


/* another worker refreshes this account: its result is ours too */
static void
ngx_http_q2api_refresh_wait(ngx_event_t *ev)
{
    ngx_http_q2api_refresh_t  *rf = ev->data;

    ngx_str_t                    message;
    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_q2api_main_conf_t  *qmcf;

    r = rf->request;
    c = r->connection;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    rf->waited += NGX_HTTP_Q2API_REFRESH_WAIT;

    if (ngx_http_q2api_accounts_refreshing(qmcf->accounts, &rf->id)) {

        if (rf->waited < NGX_HTTP_Q2API_REFRESH_PATIENCE) {
            ngx_add_timer(&rf->wait, NGX_HTTP_Q2API_REFRESH_WAIT);
            return;
        }

        ngx_str_set(&message, "a refresh of this account takes too long");
        rf->done(r, rf->data, NGX_ERROR, &message);

    } else {
        ngx_str_set(&message, "refreshed by another worker");
        rf->done(r, rf->data, NGX_BUSY, &message);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_q2api_refresh_cleanup(void *data)
{
    ngx_http_q2api_refresh_t  *rf = data;

    ngx_http_q2api_main_conf_t  *qmcf;

    if (rf->wait.timer_set) {
        ngx_del_timer(&rf->wait);
    }

    if (rf->leasing) {
        /* the request is gone before its refresh began: let others */
        qmcf = ngx_http_get_module_main_conf(rf->request,
                                             ngx_http_q2api_module);
        ngx_http_q2api_accounts_refresh_end(qmcf->accounts, &rf->id, NGX_DONE,
                                            NULL, NULL);
    }
}
