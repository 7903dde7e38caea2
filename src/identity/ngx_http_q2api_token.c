/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Calls to the identity services, and token refresh built on them.
 *
 * A call is an in-memory subrequest to the internal location
 * /_q2api/call, which proxies to $q2api_call_url; its answer is handed to
 * the caller from a posted event, outside nginx's subrequest finalization,
 * so the caller may start the next subrequest or finalize its request.
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


#include <cjson/cJSON.h>

#include "ngx_http_q2api.h"
#include "q2api_jwt.h"


#define NGX_HTTP_Q2API_REFRESH_WAIT      100     /* ms between looks */
#define NGX_HTTP_Q2API_REFRESH_PATIENCE  15000   /* ms a waiter waits */
#define NGX_HTTP_Q2API_LEASE_LOOK        20      /* ms between looks */
#define NGX_HTTP_Q2API_LEASE_ANSWER      2000    /* ms for a store that is
                                                    not connected */
#define NGX_HTTP_Q2API_LEASE_BUSY         10000   /* ms for one that is */
#define NGX_HTTP_Q2API_LEASE_AGAIN       1000    /* ms, then ask again */


typedef struct {
    uint32_t                         magic;
    ngx_http_request_t              *request;    /* the caller */
    ngx_str_t                        url;
    ngx_str_t                        method;     /* POST, or GET */
    ngx_str_t                        authorization;
    ngx_http_q2api_call_done_pt      done;
    void                            *data;
    ngx_int_t                        status;
    ngx_str_t                        body;
    ngx_event_t                      ev;         /* delivers the answer */
    unsigned                         finalized:1;
} ngx_http_q2api_call_t;


typedef struct {
    ngx_http_request_t              *request;
    ngx_str_t                        id;
    ngx_http_q2api_refresh_done_pt   done;
    void                            *data;
    ngx_uint_t                       social;
    ngx_uint_t                       discover;   /* a Kiro IdC login with
                                                    no profileArn */
    ngx_str_t                        region;     /* Identity Center's */
    ngx_event_t                      wait;       /* another one refreshes */
    ngx_msec_t                       waited;
    ngx_msec_t                       asked;      /* the store lease */
    time_t                           old_expires;
    ngx_http_q2api_account_data_t    creds;
    unsigned                         leasing:1;
} ngx_http_q2api_refresh_t;


static ngx_int_t ngx_http_q2api_call_post(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_q2api_call_deliver(ngx_event_t *ev);
static void ngx_http_q2api_call_cleanup(void *data);
static ngx_int_t ngx_http_q2api_call(ngx_http_request_t *r, char *method,
    ngx_str_t *url, ngx_str_t *authorization, ngx_str_t *body,
    ngx_http_q2api_call_done_pt done, void *data);
static void ngx_http_q2api_usage_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_refresh_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body);
static ngx_int_t ngx_http_q2api_refresh_start(ngx_http_q2api_refresh_t *rf);
static void ngx_http_q2api_refresh_lease(ngx_event_t *ev);
static void ngx_http_q2api_refresh_wait(ngx_event_t *ev);
static void ngx_http_q2api_refresh_cleanup(void *data);
static ngx_int_t ngx_http_q2api_discover_profile(ngx_http_request_t *r,
    ngx_http_q2api_refresh_t *rf, ngx_str_t *access_token);
static void ngx_http_q2api_profiles_answer(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);
static ngx_int_t ngx_http_q2api_region_url(ngx_pool_t *pool, ngx_str_t *base,
    ngx_str_t *region, size_t extra, ngx_str_t *url);
static ngx_int_t ngx_http_q2api_other_region(ngx_pool_t *pool,
    ngx_str_t *other, ngx_str_t *region);


static ngx_str_t  ngx_http_q2api_call_uri = ngx_string("/_q2api/call");

/* where Builder ID, device login and accounts without a region live */
static ngx_str_t  ngx_http_q2api_home_region = ngx_string("us-east-1");


/* a NUL-terminated copy, for cJSON */
static char *
ngx_http_q2api_cstr(ngx_pool_t *pool, ngx_str_t *s)
{
    u_char  *p;

    p = ngx_pnalloc(pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (char *) p;
}


ngx_int_t
ngx_http_q2api_bearer(ngx_pool_t *pool, ngx_str_t *token, ngx_str_t *out)
{
    out->len = sizeof("Bearer ") - 1 + token->len;
    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(out->data, "Bearer ", sizeof("Bearer ") - 1),
               token->data, token->len);

    return NGX_OK;
}


void
ngx_http_q2api_arn_region(ngx_str_t *arn, ngx_str_t *region)
{
    u_char      *p, *start, *end;
    ngx_uint_t   field;

    *region = ngx_http_q2api_home_region;

    start = arn->data;
    end = start + arn->len;
    field = 0;

    for (p = start; p < end; p++) {
        if (*p != ':') {
            continue;
        }

        if (++field == 4 && p > start) {
            region->data = start;
            region->len = p - start;
            return;
        }

        start = p + 1;
    }
}


/* calls ---------------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_call(ngx_http_request_t *r, char *method, ngx_str_t *url,
    ngx_str_t *access_token, ngx_str_t *body,
    ngx_http_q2api_call_done_pt done, void *data)
{
    ngx_pool_cleanup_t          *cln;
    ngx_http_request_t          *sr;
    ngx_http_q2api_call_t       *call;
    ngx_http_post_subrequest_t  *ps;

    call = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_call_t));
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->magic = NGX_HTTP_Q2API_CTX_CALL;
    call->request = r;
    call->url = *url;
    call->method.data = (u_char *) method;
    call->method.len = ngx_strlen(method);

    if (access_token
        && ngx_http_q2api_bearer(r->pool, access_token, &call->authorization)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    call->done = done;
    call->data = data;

    call->ev.handler = ngx_http_q2api_call_deliver;
    call->ev.data = call;
    call->ev.log = r->connection->log;

    /* a client that goes away must not leave the event posted */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_http_q2api_call_cleanup;
    cln->data = call;

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_q2api_call_post;
    ps->data = call;

    if (ngx_http_subrequest(r, &ngx_http_q2api_call_uri, NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_IN_MEMORY
                            |NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(sr, call, ngx_http_q2api_module);

    return ngx_http_q2api_subrequest_body(r, sr, body->data, body->len);
}


static ngx_int_t
ngx_http_q2api_call_post(ngx_http_request_t *sr, void *data, ngx_int_t rc)
{
    ngx_http_q2api_call_t  *call = data;

    ngx_buf_t  *b;

    if (call->finalized) {
        return NGX_OK;
    }

    call->finalized = 1;

    /* no header: nginx's own verdict (502 connect failure, 504...) */
    call->status = sr->headers_out.status
                   ? (ngx_int_t) sr->headers_out.status
                   : (rc >= NGX_HTTP_SPECIAL_RESPONSE ? rc : 0);

    b = sr->out ? sr->out->buf : NULL;

    if (b && b->last > b->pos) {
        call->body.data = b->pos;
        call->body.len = b->last - b->pos;
    }

    /* answered from the event loop, outside this finalization */
    ngx_post_event(&call->ev, &ngx_posted_events);

    return NGX_OK;
}


static void
ngx_http_q2api_call_deliver(ngx_event_t *ev)
{
    ngx_http_q2api_call_t  *call = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = call->request;
    c = r->connection;

    call->done(r, call->data, call->status, &call->body);

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_q2api_call_cleanup(void *data)
{
    ngx_http_q2api_call_t  *call = data;

    if (call->ev.posted) {
        ngx_delete_posted_event(&call->ev);
    }
}


ngx_int_t
ngx_http_q2api_oidc_call(ngx_http_request_t *r, const char *op,
    ngx_str_t *region, ngx_str_t *body, ngx_http_q2api_call_done_pt done,
    void *data)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   url;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    len = ngx_strlen(op);

    if (ngx_http_q2api_region_url(r->pool, &qlcf->oidc_url,
                                  region ? region
                                         : &ngx_http_q2api_home_region,
                                  1 + len,
                                  &url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = url.data + url.len;
    *p++ = '/';
    p = ngx_cpymem(p, op, len);
    url.len = p - url.data;

    return ngx_http_q2api_call(r, "POST", &url, NULL, body, done, data);
}


/*
 * base with "{region}" replaced by region, in a buffer with room for
 * "extra" more bytes after url->len
 */
static ngx_int_t
ngx_http_q2api_region_url(ngx_pool_t *pool, ngx_str_t *base,
    ngx_str_t *region, size_t extra, ngx_str_t *url)
{
    u_char  *p, *end;

    url->data = ngx_pnalloc(pool, base->len + region->len + extra);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_strlcasestrn(base->data, base->data + base->len,
                         (u_char *) "{region}", sizeof("{region}") - 2);

    if (p != NULL) {
        end = ngx_cpymem(url->data, base->data, p - base->data);
        end = ngx_cpymem(end, region->data, region->len);
        end = ngx_cpymem(end, p + sizeof("{region}") - 1,
                         base->data + base->len - p - sizeof("{region}") + 1);

    } else {
        end = ngx_cpymem(url->data, base->data, base->len);
    }

    url->len = end - url->data;

    return NGX_OK;
}


/*
 * The Identity Center region an account was logged in at, as the Kiro IDE
 * import records it in "other": a name that goes into a host name, so
 * anything but [a-z0-9-] is ignored.
 */
static ngx_int_t
ngx_http_q2api_other_region(ngx_pool_t *pool, ngx_str_t *other,
    ngx_str_t *region)
{
    size_t   i, len;
    cJSON   *o, *item;
    u_char   c;

    if (other->len == 0) {
        return NGX_DECLINED;
    }

    o = cJSON_ParseWithLength((char *) other->data, other->len);
    item = cJSON_GetObjectItemCaseSensitive(o, "region");

    if (!cJSON_IsString(item)) {
        cJSON_Delete(o);
        return NGX_DECLINED;
    }

    len = ngx_strlen(item->valuestring);

    for (i = 0; i < len; i++) {
        c = item->valuestring[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            break;
        }
    }

    if (len == 0 || len > 32 || i < len) {
        cJSON_Delete(o);
        return NGX_DECLINED;
    }

    region->data = ngx_pnalloc(pool, len);
    if (region->data == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    ngx_memcpy(region->data, item->valuestring, len);
    region->len = len;

    cJSON_Delete(o);

    return NGX_OK;
}


/*
 * What the call this subrequest is needs from the internal location:
 * $q2api_call_url, $q2api_call_method, $q2api_call_authorization.
 */
ngx_int_t
ngx_http_q2api_call_param(ngx_http_request_t *r, ngx_uint_t what,
    ngx_str_t *value)
{
    ngx_http_q2api_call_t  *call;

    call = ngx_http_get_module_ctx(r, ngx_http_q2api_module);

    if (call == NULL || call->magic != NGX_HTTP_Q2API_CTX_CALL) {
        return NGX_DECLINED;
    }

    *value = what == 0 ? call->url
             : what == 1 ? call->method : call->authorization;

    return NGX_OK;
}


/* refresh ------------------------------------------------------------- */


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

    if (qmcf == NULL || qmcf->pool == NULL) {
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

    rc = ngx_http_q2api_accounts_refresh_begin(qmcf->pool, id, r->pool,
                                           &rf->creds);

    if (rc == NGX_DECLINED || rc == NGX_ERROR) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        if (rc == NGX_OK) {
            ngx_http_q2api_accounts_refresh_end(qmcf->pool, id, NGX_DONE, NULL,
                                            NULL);
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

    st = qmcf->pool->store;

    if (st != NULL && st->ops == &ngx_http_q2api_store_pg_ops) {
        /* other nodes may refresh it too: the database's lease first */
        rf->leasing = 1;
        rf->old_expires = rf->creds.token_expires;
        rf->asked = ngx_current_msec;

        ngx_http_q2api_accounts_db_lease_ask(qmcf->pool, id);

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
    char                           *json;
    u_char                         *p;
    cJSON                          *o;
    ngx_int_t                       rc;
    ngx_str_t                       url, body, region, *id;
    ngx_http_request_t             *r;
    ngx_http_q2api_loc_conf_t      *qlcf;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t  *creds;

    r = rf->request;
    id = &rf->id;
    creds = &rf->creds;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);
    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    /*
     * Accounts with an OIDC client registration (Amazon Q, Kiro IdC)
     * refresh at the OIDC service; Kiro social logins at Kiro's.
     */
    rf->social = creds->client_id.len == 0;

    /*
     * a Kiro Identity Center login carries no profileArn, and the Kiro
     * service refuses chats without one: it is looked up after the refresh
     */
    rf->discover = creds->type == NGX_HTTP_Q2API_ACCOUNT_KIRO && !rf->social
                   && creds->profile_arn.len == 0;

    rc = ngx_http_q2api_other_region(r->pool, &creds->other, &region);

    if (rc == NGX_ERROR) {
        goto failed;
    }

    if (rc == NGX_OK) {
        rf->region = region;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        goto failed;
    }

    if (!rf->social) {
        if (cJSON_AddStringToObject(o, "grantType", "refresh_token") == NULL
            || cJSON_AddStringToObject(o, "clientId",
                   ngx_http_q2api_cstr(r->pool, &creds->client_id)) == NULL
            || cJSON_AddStringToObject(o, "clientSecret",
                   ngx_http_q2api_cstr(r->pool, &creds->client_secret)) == NULL)
        {
            cJSON_Delete(o);
            goto failed;
        }
    }

    if (cJSON_AddStringToObject(o, "refreshToken",
            ngx_http_q2api_cstr(r->pool, &creds->refresh_token)) == NULL)
    {
        cJSON_Delete(o);
        goto failed;
    }

    json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (json == NULL) {
        goto failed;
    }

    body.len = ngx_strlen(json);
    body.data = ngx_pnalloc(r->pool, body.len);

    if (body.data == NULL) {
        cJSON_free(json);
        goto failed;
    }

    ngx_memcpy(body.data, json, body.len);
    cJSON_free(json);

    if (rf->social) {
        url.len = qlcf->kiro_auth_url.len + sizeof("/refreshToken") - 1;
        url.data = ngx_pnalloc(r->pool, url.len);
        if (url.data == NULL) {
            goto failed;
        }

        p = ngx_cpymem(url.data, qlcf->kiro_auth_url.data,
                       qlcf->kiro_auth_url.len);
        ngx_memcpy(p, "/refreshToken", sizeof("/refreshToken") - 1);

        rc = ngx_http_q2api_call(r, "POST", &url, NULL, &body,
                                 ngx_http_q2api_refresh_answer, rf);

    } else {
        rc = ngx_http_q2api_oidc_call(r, "token",
                                      rf->region.len ? &rf->region : NULL,
                                      &body,
                                      ngx_http_q2api_refresh_answer, rf);
    }

    if (rc != NGX_OK) {
        goto failed;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api: refreshing the token of account \"%V\"", id);

    return NGX_OK;

failed:

    ngx_http_q2api_accounts_refresh_end(qmcf->pool, id, NGX_ERROR, NULL,
                                    "refresh could not start");
    return NGX_ERROR;
}


static void
ngx_http_q2api_refresh_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_refresh_t  *rf = data;

    cJSON                          *o, *item;
    int64_t                         exp;
    ngx_int_t                       rc;
    ngx_str_t                       message;
    ngx_uint_t                      level;
    const char                     *err;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t   fresh;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    ngx_memzero(&fresh, sizeof(ngx_http_q2api_account_data_t));

    o = body->len ? cJSON_ParseWithLength((char *) body->data, body->len)
                  : NULL;
    err = NULL;

    if (status == NGX_HTTP_OK) {
        item = cJSON_GetObjectItemCaseSensitive(o, "accessToken");

        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            rc = NGX_ERROR;
            err = "refresh answer without accessToken";
            goto done;
        }

        fresh.access_token.len = ngx_strlen(item->valuestring);
        fresh.access_token.data = ngx_pnalloc(r->pool,
                                              fresh.access_token.len);
        if (fresh.access_token.data == NULL) {
            rc = NGX_ERROR;
            err = "out of memory";
            goto done;
        }

        ngx_memcpy(fresh.access_token.data, item->valuestring,
                   fresh.access_token.len);

        /* rotated: the old refresh token is dead from now on */
        item = cJSON_GetObjectItemCaseSensitive(o, "refreshToken");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
            fresh.refresh_token.len = ngx_strlen(item->valuestring);
            fresh.refresh_token.data = ngx_pnalloc(r->pool,
                                                   fresh.refresh_token.len);
            if (fresh.refresh_token.data == NULL) {
                rc = NGX_ERROR;
                err = "out of memory";
                goto done;
            }

            ngx_memcpy(fresh.refresh_token.data, item->valuestring,
                       fresh.refresh_token.len);
        }

        item = cJSON_GetObjectItemCaseSensitive(o, "profileArn");

        if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
            fresh.profile_arn.len = ngx_strlen(item->valuestring);
            fresh.profile_arn.data = ngx_pnalloc(r->pool,
                                                 fresh.profile_arn.len);
            if (fresh.profile_arn.data != NULL) {
                ngx_memcpy(fresh.profile_arn.data, item->valuestring,
                           fresh.profile_arn.len);

            } else {
                fresh.profile_arn.len = 0;
            }
        }

        item = cJSON_GetObjectItemCaseSensitive(o, "expiresIn");

        if (cJSON_IsNumber(item) && item->valuedouble > 0
            && item->valuedouble < 86400 * 365)
        {
            fresh.token_expires = ngx_time() + (time_t) item->valuedouble;

        } else if (q2api_jwt_exp((const char *) fresh.access_token.data,
                                 fresh.access_token.len, &exp)
                   == Q2API_OK)
        {
            fresh.token_expires = (time_t) exp;

        } else {
            /* the documented lifetime of an OIDC access token */
            fresh.token_expires = ngx_time() + 3600;
        }

        rc = NGX_OK;
        goto done;
    }

    item = cJSON_GetObjectItemCaseSensitive(o, "error");

    if (cJSON_IsString(item)
        && (ngx_strcmp(item->valuestring, "invalid_grant") == 0
            || ngx_strcmp(item->valuestring, "invalid_client") == 0
            || ngx_strcmp(item->valuestring, "unauthorized_client") == 0))
    {
        /* the credentials are dead: only a new login helps */
        rc = NGX_DECLINED;
        err = ngx_strcmp(item->valuestring, "invalid_client") == 0
              ? "needs login again (client registration expired)"
              : "needs login again (refresh token rejected)";

    } else if (status == NGX_HTTP_UNAUTHORIZED && rf->social) {
        /* Kiro's "Bad credentials": a rotated token used twice */
        rc = NGX_DECLINED;
        err = "needs login again (refresh token rejected)";

    } else {
        rc = NGX_ERROR;
        err = status ? "identity service error" : "identity service "
                                                   "unreachable";
    }

done:

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

    ngx_http_q2api_accounts_refresh_end(qmcf->pool, &rf->id, rc, &fresh, err);

    /* the new tokens are stored: a lookup that fails loses nothing */
    if (rc == NGX_OK && rf->discover && fresh.profile_arn.len == 0
        && ngx_http_q2api_discover_profile(r, rf, &fresh.access_token)
           == NGX_OK)
    {
        return;
    }

    message.data = (u_char *) (err ? err : "ok");
    message.len = ngx_strlen(message.data);

    rf->done(r, rf->data, rc, &message);
}


/*
 * ListAvailableProfiles, REST form, at the login's region; the first
 * profile is the one the Kiro IDE selects by itself.
 */
static ngx_int_t
ngx_http_q2api_discover_profile(ngx_http_request_t *r,
    ngx_http_q2api_refresh_t *rf, ngx_str_t *access_token)
{
    ngx_str_t                   url, body;
    ngx_http_q2api_loc_conf_t  *qlcf;

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    if (ngx_http_q2api_region_url(r->pool, &qlcf->kiro_profiles_url,
                                  rf->region.len ? &rf->region
                                  : &ngx_http_q2api_home_region,
                                  0, &url)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&body, "{\"maxResults\":10}");

    r->connection->log->action = "looking up a Kiro profile";

    return ngx_http_q2api_call(r, "POST", &url, access_token, &body,
                               ngx_http_q2api_profiles_answer, rf);
}


ngx_uint_t
ngx_http_q2api_token_chars(u_char *s, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_q2api_profiles_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_refresh_t *rf = data;

    cJSON                       *o, *profiles, *arn;
    size_t                       len;
    ngx_str_t                    message, found;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    o = (status == NGX_HTTP_OK && body->len)
        ? cJSON_ParseWithLength((char *) body->data, body->len) : NULL;

    profiles = cJSON_GetObjectItemCaseSensitive(o, "profiles");
    arn = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(profiles, 0),
                                           "arn");

    len = cJSON_IsString(arn) ? ngx_strlen(arn->valuestring) : 0;

    /* it goes into every chat body and a query string: an ARN or nothing */
    if (len > sizeof("arn:") - 1 && len <= 512
        && ngx_strncmp(arn->valuestring, "arn:", sizeof("arn:") - 1) == 0
        && ngx_http_q2api_token_chars((u_char *) arn->valuestring, len))
    {
        found.data = (u_char *) arn->valuestring;
        found.len = len;

        ngx_http_q2api_accounts_learn_profile(qmcf->pool, &rf->id, &found);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api: account \"%V\" uses Kiro profile \"%V\"",
                      &rf->id, &found);

    } else {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "q2api: ListAvailableProfiles for account \"%V\" "
                      "found no profile (status %i)", &rf->id, status);
    }

    cJSON_Delete(o);

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

    state = ngx_http_q2api_accounts_db_lease_state(qmcf->pool, &rf->id, &expires,
                                               r->pool, &rf->creds);

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
        ngx_http_q2api_accounts_refresh_end(qmcf->pool, &rf->id, NGX_DONE, NULL,
                                        NULL);

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
            ngx_http_q2api_accounts_refresh_end(qmcf->pool, &rf->id, NGX_ERROR,
                                 NULL, "another node's refresh takes too long");

            ngx_str_set(&message, "a refresh of this account takes too long");
            rf->done(r, rf->data, NGX_ERROR, &message);
            goto done;
        }

        if (ngx_current_msec - rf->asked >= NGX_HTTP_Q2API_LEASE_AGAIN) {
            /* the other node may have finished, or died: its lease
             * expires in the database */
            rf->asked = ngx_current_msec;
            ngx_http_q2api_accounts_db_lease_ask(qmcf->pool, &rf->id);
        }

        ngx_add_timer(&rf->wait, NGX_HTTP_Q2API_LEASE_LOOK);
        return;

    default:

        /*
         * A connected store answers once its query in flight is done (a
         * full load of many rows takes a while); one that is not connected
         * may be back within a moment
         */
        limit = ngx_http_q2api_accounts_db_lease_is_up(qmcf->pool)
                ? NGX_HTTP_Q2API_LEASE_BUSY : NGX_HTTP_Q2API_LEASE_ANSWER;

        if (ngx_current_msec - rf->asked < limit) {
            if (state == NGX_HTTP_Q2API_DBLEASE_NONE) {
                /* a release of ours went out meanwhile */
                ngx_http_q2api_accounts_db_lease_ask(qmcf->pool, &rf->id);
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

        ngx_http_q2api_accounts_db_lease_drop(qmcf->pool, &rf->id);
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

    if (ngx_http_q2api_accounts_refreshing(qmcf->pool, &rf->id)) {

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
        ngx_http_q2api_accounts_refresh_end(qmcf->pool, &rf->id, NGX_DONE, NULL,
                                        NULL);
    }
}


/* Kiro credits ------------------------------------------------------------ */


typedef struct {
    ngx_http_q2api_usage_done_pt     done;
    void                            *data;
} ngx_http_q2api_usage_t;


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

    if (qmcf == NULL || qmcf->pool == NULL
        || ngx_http_q2api_accounts_get(qmcf->pool, id, r->pool, &d) != NGX_OK
        || d.access_token.len == 0)
    {
        return NGX_DECLINED;
    }

    ngx_http_q2api_arn_region(&d.profile_arn, &region);

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

    return ngx_http_q2api_call(r, "GET", &url, &d.access_token, &body,
                               ngx_http_q2api_usage_answer, u);
}


static double
ngx_http_q2api_usage_num(cJSON *o, const char *key)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}


/*
 * limit and used as Kiro's own clients add them up: the credit line, an
 * active free trial, active bonuses.
 */
static void
ngx_http_q2api_usage_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_usage_t  *u = data;

    char        *text;
    cJSON       *o, *list, *line, *item, *trial, *bonus, *out;
    double       limit, used;
    ngx_str_t    json;

    o = body->len ? cJSON_ParseWithLength((char *) body->data, body->len)
                  : NULL;

    if (status != NGX_HTTP_OK || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        u->done(r, u->data, status ? status : NGX_HTTP_BAD_GATEWAY, body);
        return;
    }

    list = cJSON_GetObjectItemCaseSensitive(o, "usageBreakdownList");
    line = NULL;

    cJSON_ArrayForEach(item, list) {
        if (line == NULL) {
            line = item;
        }

        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item,
                                                            "resourceType"))
            && ngx_strcmp(cJSON_GetObjectItemCaseSensitive(item,
                              "resourceType")->valuestring, "CREDIT") == 0)
        {
            line = item;
            break;
        }
    }

    limit = ngx_http_q2api_usage_num(line, "usageLimitWithPrecision");
    used = ngx_http_q2api_usage_num(line, "currentUsageWithPrecision");

    trial = cJSON_GetObjectItemCaseSensitive(line, "freeTrialInfo");
    item = cJSON_GetObjectItemCaseSensitive(trial, "freeTrialStatus");

    if (cJSON_IsString(item) && ngx_strcmp(item->valuestring, "ACTIVE") == 0)
    {
        limit += ngx_http_q2api_usage_num(trial, "usageLimitWithPrecision");
        used += ngx_http_q2api_usage_num(trial,
                                         "currentUsageWithPrecision");
    }

    cJSON_ArrayForEach(bonus, cJSON_GetObjectItemCaseSensitive(line,
                                                               "bonuses"))
    {
        item = cJSON_GetObjectItemCaseSensitive(bonus, "status");

        if (cJSON_IsString(item)
            && ngx_strcmp(item->valuestring, "ACTIVE") == 0)
        {
            limit += ngx_http_q2api_usage_num(bonus, "usageLimit");
            used += ngx_http_q2api_usage_num(bonus, "currentUsage");
        }
    }

    out = cJSON_CreateObject();
    item = cJSON_GetObjectItemCaseSensitive(
               cJSON_GetObjectItemCaseSensitive(o, "subscriptionInfo"),
               "subscriptionTitle");

    cJSON_AddStringToObject(out, "title",
                            cJSON_IsString(item) ? item->valuestring : "");
    cJSON_AddNumberToObject(out, "limit", limit);
    cJSON_AddNumberToObject(out, "used", used);
    cJSON_AddNumberToObject(out, "remaining", limit > used ? limit - used
                                                           : 0);
    cJSON_AddNumberToObject(out, "next_reset",
                            ngx_http_q2api_usage_num(o, "nextDateReset"));

    cJSON_Delete(o);

    text = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);

    if (text == NULL) {
        ngx_str_set(&json, "{}");
        u->done(r, u->data, NGX_HTTP_INTERNAL_SERVER_ERROR, &json);
        return;
    }

    json.len = ngx_strlen(text);
    json.data = ngx_pnalloc(r->pool, json.len);

    if (json.data == NULL) {
        cJSON_free(text);
        ngx_str_set(&json, "{}");
        u->done(r, u->data, NGX_HTTP_INTERNAL_SERVER_ERROR, &json);
        return;
    }

    ngx_memcpy(json.data, text, json.len);
    cJSON_free(text);

    u->done(r, u->data, NGX_HTTP_OK, &json);
}
