/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <cjson/cJSON.h>

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_login.h"
#include "ngx_http_q2api_metrics.h"


#define NGX_HTTP_Q2API_LOGIN_MAX_WAIT  300       /* q2api's 5 minutes */
#define NGX_HTTP_Q2API_LOGIN_KEEP      600       /* results stay this long */
#define NGX_HTTP_Q2API_START_URL       "https://view.awsapps.com/start"


typedef struct {
    ngx_http_request_t              *request;
    ngx_http_q2api_login_done_pt     done;
    void                            *data;
    cJSON                           *session;    /* freed by a cleanup */
    ngx_str_t                        key;
    ngx_event_t                      timer;
} ngx_http_q2api_login_t;


static ngx_http_q2api_login_t *ngx_http_q2api_login_ctx(
    ngx_http_request_t *r, ngx_http_q2api_login_done_pt done, void *data);
static void ngx_http_q2api_login_cleanup(void *data);
static void ngx_http_q2api_login_registered(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_login_authorized(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_login_poll(ngx_http_q2api_login_t *lg);
static void ngx_http_q2api_login_polled(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_login_timer(ngx_event_t *ev);
static ngx_int_t ngx_http_q2api_login_save(ngx_http_q2api_login_t *lg);
static cJSON *ngx_http_q2api_login_load(ngx_http_request_t *r,
    ngx_str_t *key);
static void ngx_http_q2api_login_answer(ngx_http_q2api_login_t *lg,
    ngx_uint_t status, cJSON *json);
static void ngx_http_q2api_login_fail(ngx_http_q2api_login_t *lg,
    ngx_uint_t status, const char *what, ngx_int_t upstream,
    ngx_str_t *body);


static ngx_http_q2api_login_t *
ngx_http_q2api_login_ctx(ngx_http_request_t *r,
    ngx_http_q2api_login_done_pt done, void *data)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_q2api_login_t  *lg;

    lg = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_login_t));
    if (lg == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_q2api_login_cleanup;
    cln->data = lg;

    lg->request = r;
    lg->done = done;
    lg->data = data;
    lg->timer.handler = ngx_http_q2api_login_timer;
    lg->timer.data = lg;
    lg->timer.log = r->connection->log;

    return lg;
}


static void
ngx_http_q2api_login_cleanup(void *data)
{
    ngx_http_q2api_login_t  *lg = data;

    if (lg->timer.timer_set) {
        ngx_del_timer(&lg->timer);
    }

    cJSON_Delete(lg->session);
}


/* start ----------------------------------------------------------------- */


ngx_int_t
ngx_http_q2api_login_start(ngx_http_request_t *r, ngx_str_t *body,
    ngx_http_q2api_login_done_pt done, void *data)
{
    cJSON                   *in, *o, *scopes, *item;
    ngx_str_t                json;
    const char              *v;
    ngx_http_q2api_login_t  *lg;

    lg = ngx_http_q2api_login_ctx(r, done, data);
    if (lg == NULL) {
        return NGX_ERROR;
    }

    lg->session = cJSON_CreateObject();
    if (lg->session == NULL) {
        return NGX_ERROR;
    }

    in = body->len ? ngx_http_q2api_identity_parse(r->pool, body)
                   : cJSON_CreateObject();

    if (!cJSON_IsObject(in)) {
        cJSON_Delete(in);
        return NGX_DECLINED;
    }

    /* what the account will be created with, kept for the claim */
    if (ngx_http_q2api_jstr_check(r->connection->log, in, "label",
                                  Q2API_CHECK_LABEL, "device login", &v)
        == NGX_OK)
    {
        cJSON_AddStringToObject(lg->session, "label", v);
    }

    item = cJSON_GetObjectItemCaseSensitive(in, "enabled");
    cJSON_AddBoolToObject(lg->session, "enabled",
                          item == NULL || !cJSON_IsFalse(item));

    /* the OIDC service's to judge, but no header or log line breaker */
    if (ngx_http_q2api_jstr_check(r->connection->log, in, "startUrl",
                                  Q2API_CHECK_TOKEN, "device login", &v)
        != NGX_OK)
    {
        v = NGX_HTTP_Q2API_START_URL;
    }

    cJSON_AddStringToObject(lg->session, "startUrl", v);
    cJSON_Delete(in);

    /* the official CLI's client registration */
    o = cJSON_CreateObject();
    scopes = cJSON_AddArrayToObject(o, "scopes");

    if (o == NULL || scopes == NULL
        || cJSON_AddStringToObject(o, "clientName",
                                   "Amazon Q Developer for command line")
           == NULL
        || cJSON_AddStringToObject(o, "clientType", "public") == NULL)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    cJSON_AddItemToArray(scopes,
                         cJSON_CreateString("codewhisperer:completions"));
    cJSON_AddItemToArray(scopes,
                         cJSON_CreateString("codewhisperer:analysis"));
    cJSON_AddItemToArray(scopes,
                         cJSON_CreateString("codewhisperer:conversations"));

    if (ngx_http_q2api_json_body(r, o, &json) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_q2api_oidc_call(r, "client/register", NULL, &json,
                                    ngx_http_q2api_login_registered, lg);
}


static void
ngx_http_q2api_login_registered(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_login_t  *lg = data;

    cJSON       *reg, *o;
    ngx_str_t    json;
    const char  *id, *secret;

    reg = ngx_http_q2api_identity_parse(r->pool, body);

    (void) ngx_http_q2api_jstr_check(r->connection->log, reg, "clientId",
                                     Q2API_CHECK_TOKEN, "RegisterClient",
                                     &id);
    (void) ngx_http_q2api_jstr_check(r->connection->log, reg, "clientSecret",
                                     Q2API_CHECK_TOKEN, "RegisterClient",
                                     &secret);

    if (status != NGX_HTTP_OK || id == NULL || secret == NULL) {
        cJSON_Delete(reg);
        ngx_http_q2api_login_fail(lg, NGX_HTTP_BAD_GATEWAY,
                                  "RegisterClient", status, body);
        return;
    }

    cJSON_AddStringToObject(lg->session, "clientId", id);
    cJSON_AddStringToObject(lg->session, "clientSecret", secret);
    cJSON_Delete(reg);

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "clientId",
               ngx_http_q2api_jstr(lg->session, "clientId")) == NULL
        || cJSON_AddStringToObject(o, "clientSecret",
               ngx_http_q2api_jstr(lg->session, "clientSecret")) == NULL
        || cJSON_AddStringToObject(o, "startUrl",
               ngx_http_q2api_jstr(lg->session, "startUrl")) == NULL)
    {
        cJSON_Delete(o);
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
        return;
    }

    /* json_body() deletes o, whatever it returns */
    if (ngx_http_q2api_json_body(r, o, &json) != NGX_OK) {
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
        return;
    }

    if (ngx_http_q2api_oidc_call(r, "device_authorization", NULL, &json,
                                 ngx_http_q2api_login_authorized, lg)
        != NGX_OK)
    {
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
    }
}


static void
ngx_http_q2api_login_authorized(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_login_t  *lg = data;

    char         auth_id[37];
    cJSON       *dev, *out;
    double       expires, interval;
    const char  *code, *user, *uri, *complete;

    dev = ngx_http_q2api_identity_parse(r->pool, body);

    /* what the user is shown, and what is sent back */
    (void) ngx_http_q2api_jstr_check(r->connection->log, dev, "deviceCode",
                                     Q2API_CHECK_TOKEN,
                                     "StartDeviceAuthorization", &code);
    (void) ngx_http_q2api_jstr_check(r->connection->log, dev, "userCode",
                                     Q2API_CHECK_TOKEN,
                                     "StartDeviceAuthorization", &user);
    (void) ngx_http_q2api_jstr_check(r->connection->log, dev,
                                     "verificationUri", Q2API_CHECK_TOKEN,
                                     "StartDeviceAuthorization", &uri);
    (void) ngx_http_q2api_jstr_check(r->connection->log, dev,
                                     "verificationUriComplete",
                                     Q2API_CHECK_TOKEN,
                                     "StartDeviceAuthorization", &complete);

    if (status != NGX_HTTP_OK || code == NULL || user == NULL
        || q2api_uuid4(auth_id) != Q2API_OK)
    {
        cJSON_Delete(dev);
        ngx_http_q2api_login_fail(lg, NGX_HTTP_BAD_GATEWAY,
                                  "StartDeviceAuthorization", status, body);
        return;
    }

    /* q2api's defaults when the service leaves them out */
    expires = ngx_http_q2api_jnum(dev, "expiresIn", 600);
    interval = ngx_http_q2api_jnum(dev, "interval", 1);

    cJSON_AddStringToObject(lg->session, "authId", auth_id);
    cJSON_AddStringToObject(lg->session, "deviceCode", code);
    cJSON_AddStringToObject(lg->session, "userCode", user);
    cJSON_AddStringToObject(lg->session, "verificationUri", uri ? uri : "");
    cJSON_AddStringToObject(lg->session, "verificationUriComplete",
                            complete ? complete : (uri ? uri : ""));
    cJSON_AddNumberToObject(lg->session, "interval",
                            interval < 1 ? 1 : interval);
    cJSON_AddNumberToObject(lg->session, "deadline",
                            (double) ngx_time()
                            + ngx_min(expires, NGX_HTTP_Q2API_LOGIN_MAX_WAIT));
    cJSON_AddNumberToObject(lg->session, "expiresIn", expires);
    cJSON_AddStringToObject(lg->session, "status", "pending");
    cJSON_Delete(dev);

    lg->key.len = sizeof("login:") - 1 + 36;
    lg->key.data = ngx_pnalloc(r->pool, lg->key.len);
    if (lg->key.data == NULL) {
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
        return;
    }

    ngx_sprintf(lg->key.data, "login:%s", auth_id);

    if (ngx_http_q2api_login_save(lg) != NGX_OK) {
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
        return;
    }

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "authId", auth_id);
    cJSON_AddStringToObject(out, "verificationUriComplete",
        ngx_http_q2api_jstr(lg->session, "verificationUriComplete"));
    cJSON_AddStringToObject(out, "userCode",
                            ngx_http_q2api_jstr(lg->session, "userCode"));
    cJSON_AddNumberToObject(out, "expiresIn", expires);
    cJSON_AddNumberToObject(out, "interval", interval < 1 ? 1 : interval);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api: device login %s started", auth_id);

    ngx_http_q2api_login_answer(lg, NGX_HTTP_OK, out);
}


/* status ---------------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_login_key(ngx_http_request_t *r, ngx_str_t *auth_id,
    ngx_str_t *key)
{
    if (auth_id->len == 0 || auth_id->len > 64) {
        return NGX_DECLINED;
    }

    key->len = sizeof("login:") - 1 + auth_id->len;
    key->data = ngx_pnalloc(r->pool, key->len);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(key->data, "login:%V", auth_id);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_login_status(ngx_http_request_t *r, ngx_str_t *auth_id,
    ngx_uint_t *status, ngx_str_t *json)
{
    cJSON       *s, *out;
    double       deadline;
    ngx_int_t    rc;
    ngx_str_t    key;
    const char  *v;

    rc = ngx_http_q2api_login_key(r, auth_id, &key);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    s = rc == NGX_OK ? ngx_http_q2api_login_load(r, &key) : NULL;
    out = cJSON_CreateObject();

    if (out == NULL) {
        cJSON_Delete(s);
        return NGX_ERROR;
    }

    if (s == NULL) {
        *status = NGX_HTTP_NOT_FOUND;
        cJSON_AddStringToObject(out, "detail", "Auth session not found");
        return ngx_http_q2api_json_body(r, out, json);
    }

    deadline = ngx_http_q2api_jnum(s, "deadline", 0);

    v = ngx_http_q2api_jstr(s, "status");
    cJSON_AddStringToObject(out, "status", v ? v : "error");
    cJSON_AddNumberToObject(out, "remaining",
                            deadline > ngx_time() ? deadline - ngx_time()
                                                  : 0);

    v = ngx_http_q2api_jstr(s, "error");
    if (v) {
        cJSON_AddStringToObject(out, "error", v);

    } else {
        cJSON_AddNullToObject(out, "error");
    }

    v = ngx_http_q2api_jstr(s, "accountId");
    if (v) {
        cJSON_AddStringToObject(out, "accountId", v);

    } else {
        cJSON_AddNullToObject(out, "accountId");
    }

    cJSON_Delete(s);

    *status = NGX_HTTP_OK;

    return ngx_http_q2api_json_body(r, out, json);
}


/* claim ----------------------------------------------------------------- */


ngx_int_t
ngx_http_q2api_login_claim(ngx_http_request_t *r, ngx_str_t *auth_id,
    ngx_http_q2api_login_done_pt done, void *data)
{
    cJSON                   *out;
    ngx_int_t                rc;
    const char              *st;
    ngx_http_q2api_login_t  *lg;

    lg = ngx_http_q2api_login_ctx(r, done, data);
    if (lg == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_q2api_login_key(r, auth_id, &lg->key);
    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    lg->session = rc == NGX_OK ? ngx_http_q2api_login_load(r, &lg->key)
                               : NULL;

    if (lg->session == NULL) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "detail", "Auth session not found");
        ngx_http_q2api_login_answer(lg, NGX_HTTP_NOT_FOUND, out);
        return NGX_OK;
    }

    st = ngx_http_q2api_jstr(lg->session, "status");

    if (st == NULL || ngx_strcmp(st, "pending") != 0) {
        /* already decided: say how, as q2api does */
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "status", st ? st : "error");
        cJSON_AddItemToObject(out, "accountId", cJSON_Duplicate(
            cJSON_GetObjectItemCaseSensitive(lg->session, "accountId"), 1));
        cJSON_AddItemToObject(out, "error", cJSON_Duplicate(
            cJSON_GetObjectItemCaseSensitive(lg->session, "error"), 1));
        ngx_http_q2api_login_answer(lg, NGX_HTTP_OK, out);
        return NGX_OK;
    }

    ngx_http_q2api_login_poll(lg);

    return NGX_OK;
}


static void
ngx_http_q2api_login_poll(ngx_http_q2api_login_t *lg)
{
    cJSON               *o, *cur, *out;
    ngx_str_t            json;
    const char          *st;
    ngx_http_request_t  *r;

    r = lg->request;

    /* another claim, perhaps on another worker, may have finished it */
    cur = ngx_http_q2api_login_load(r, &lg->key);
    st = ngx_http_q2api_jstr(cur, "status");

    if (st != NULL && ngx_strcmp(st, "pending") != 0) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "status", st);
        cJSON_AddItemToObject(out, "accountId", cJSON_Duplicate(
            cJSON_GetObjectItemCaseSensitive(cur, "accountId"), 1));
        cJSON_Delete(cur);
        ngx_http_q2api_login_answer(lg, NGX_HTTP_OK, out);
        return;
    }

    cJSON_Delete(cur);

    if (ngx_time() >= ngx_http_q2api_jnum(lg->session, "deadline", 0)) {
        cJSON_ReplaceItemInObject(lg->session, "status",
                                  cJSON_CreateString("timeout"));
        (void) ngx_http_q2api_login_save(lg);

        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "detail",
                                "Authorization timeout (5 minutes)");
        ngx_http_q2api_metrics_login(NGX_HTTP_Q2API_M_LOGIN_EXPIRED);
        ngx_http_q2api_login_answer(lg, NGX_HTTP_REQUEST_TIME_OUT, out);
        return;
    }

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "clientId",
               ngx_http_q2api_jstr(lg->session, "clientId")) == NULL
        || cJSON_AddStringToObject(o, "clientSecret",
               ngx_http_q2api_jstr(lg->session, "clientSecret")) == NULL
        || cJSON_AddStringToObject(o, "deviceCode",
               ngx_http_q2api_jstr(lg->session, "deviceCode")) == NULL
        || cJSON_AddStringToObject(o, "grantType",
               "urn:ietf:params:oauth:grant-type:device_code") == NULL)
    {
        cJSON_Delete(o);
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
        return;
    }

    /* json_body() deletes o, whatever it returns */
    if (ngx_http_q2api_json_body(r, o, &json) != NGX_OK
        || ngx_http_q2api_oidc_call(r, "token", NULL, &json,
                                    ngx_http_q2api_login_polled, lg)
           != NGX_OK)
    {
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
    }
}


static void
ngx_http_q2api_login_polled(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_login_t  *lg = data;

    char                           id[37];
    cJSON                         *tok, *out, *acc;
    double                         interval;
    ngx_int_t                      rc;
    const char                    *err, *access, *refresh, *label;
    ngx_http_q2api_main_conf_t    *qmcf;
    ngx_http_q2api_account_data_t  d;

    tok = ngx_http_q2api_identity_parse(r->pool, body);
    err = ngx_http_q2api_jstr(tok, "error");

    if (status != NGX_HTTP_OK && err != NULL
        && (ngx_strcmp(err, "authorization_pending") == 0
            || ngx_strcmp(err, "slow_down") == 0))
    {
        interval = ngx_http_q2api_jnum(lg->session, "interval", 1);

        if (ngx_strcmp(err, "slow_down") == 0) {
            /* RFC 8628: five more seconds between polls from now on */
            interval += 5;
            cJSON_ReplaceItemInObject(lg->session, "interval",
                                      cJSON_CreateNumber(interval));
            (void) ngx_http_q2api_login_save(lg);
        }

        cJSON_Delete(tok);
        ngx_add_timer(&lg->timer, (ngx_msec_t) (interval * 1000));
        return;
    }

    rc = ngx_http_q2api_jstr_check(r->connection->log, tok, "accessToken",
                                   Q2API_CHECK_TOKEN, "CreateToken",
                                   &access);

    if (ngx_http_q2api_jstr_check(r->connection->log, tok, "refreshToken",
                                  Q2API_CHECK_TOKEN, "CreateToken", &refresh)
        == NGX_ERROR)
    {
        rc = NGX_ERROR;
    }

    if (status == NGX_HTTP_OK && rc == NGX_ERROR) {
        err = "a token in the answer was refused";
    }

    if (status != NGX_HTTP_OK || rc != NGX_OK
        || q2api_uuid4(id) != Q2API_OK)
    {
        cJSON_ReplaceItemInObject(lg->session, "status",
                                  cJSON_CreateString("error"));
        cJSON_AddStringToObject(lg->session, "error",
                                err ? err : "no accessToken returned");
        (void) ngx_http_q2api_login_save(lg);
        cJSON_Delete(tok);

        ngx_http_q2api_metrics_login(NGX_HTTP_Q2API_M_LOGIN_REFUSED);
        ngx_http_q2api_login_fail(lg, NGX_HTTP_BAD_GATEWAY, "CreateToken",
                                  status, body);
        return;
    }

    /* the user approved: the account exists from now on */
    ngx_memzero(&d, sizeof(ngx_http_q2api_account_data_t));

    label = ngx_http_q2api_jstr(lg->session, "label");

    d.id.data = (u_char *) id;
    d.id.len = 36;
    d.label.data = (u_char *) (label ? label : "device login");
    d.label.len = ngx_strlen(d.label.data);
    d.client_id.data = (u_char *) ngx_http_q2api_jstr(lg->session,
                                                      "clientId");
    d.client_id.len = ngx_strlen(d.client_id.data);
    d.client_secret.data = (u_char *) ngx_http_q2api_jstr(lg->session,
                                                          "clientSecret");
    d.client_secret.len = ngx_strlen(d.client_secret.data);
    d.access_token.data = (u_char *) access;
    d.access_token.len = ngx_strlen(access);

    if (refresh) {
        d.refresh_token.data = (u_char *) refresh;
        d.refresh_token.len = ngx_strlen(refresh);
    }

    d.type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
    d.enabled = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(lg->session,
                                                              "enabled"));
    d.token_expires = ngx_time()
                      + (time_t) ngx_http_q2api_jnum(tok, "expiresIn", 3600);
    d.created_at = ngx_time();

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf->accounts == NULL
        || ngx_http_q2api_accounts_upsert(qmcf->accounts, &d,
               NGX_HTTP_Q2API_SET_ALL|NGX_HTTP_Q2API_SET_DIRTY,
               ngx_http_q2api_accounts_next_generation(qmcf->accounts))
           != NGX_OK)
    {
        cJSON_Delete(tok);
        ngx_http_q2api_metrics_login(NGX_HTTP_Q2API_M_LOGIN_ERROR);
        ngx_http_q2api_login_answer(lg, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                    NULL);
        return;
    }

    cJSON_Delete(tok);

    cJSON_ReplaceItemInObject(lg->session, "status",
                              cJSON_CreateString("completed"));
    cJSON_AddStringToObject(lg->session, "accountId", id);
    (void) ngx_http_q2api_login_save(lg);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api: device login created account \"%s\"", id);

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "completed");
    cJSON_AddStringToObject(out, "accountId", id);

    acc = cJSON_AddObjectToObject(out, "account");
    cJSON_AddStringToObject(acc, "id", id);
    cJSON_AddStringToObject(acc, "label", (char *) d.label.data);
    cJSON_AddBoolToObject(acc, "enabled", d.enabled);

    ngx_http_q2api_metrics_login(NGX_HTTP_Q2API_M_LOGIN_OK);
    ngx_http_q2api_login_answer(lg, NGX_HTTP_OK, out);
}


static void
ngx_http_q2api_login_timer(ngx_event_t *ev)
{
    ngx_http_q2api_login_t  *lg = ev->data;

    ngx_connection_t  *c;

    c = lg->request->connection;

    ngx_http_q2api_login_poll(lg);

    ngx_http_run_posted_requests(c);
}


/* helpers --------------------------------------------------------------- */


static ngx_int_t
ngx_http_q2api_login_save(ngx_http_q2api_login_t *lg)
{
    char                        *text;
    ngx_int_t                    rc;
    ngx_str_t                    value;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(lg->request, ngx_http_q2api_module);

    if (qmcf->accounts == NULL) {
        return NGX_ERROR;
    }

    text = cJSON_PrintUnformatted(lg->session);
    if (text == NULL) {
        return NGX_ERROR;
    }

    value.data = (u_char *) text;
    value.len = ngx_strlen(text);

    rc = ngx_http_q2api_accounts_kv_set(qmcf->accounts, &lg->key, &value,
             (time_t) ngx_http_q2api_jnum(lg->session, "deadline", 0)
             + NGX_HTTP_Q2API_LOGIN_KEEP);

    cJSON_free(text);

    return rc;
}


static cJSON *
ngx_http_q2api_login_load(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_str_t                    value;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf->accounts == NULL
        || ngx_http_q2api_accounts_kv_get(qmcf->accounts, key, r->pool, &value)
           != NGX_OK)
    {
        return NULL;
    }

    return cJSON_ParseWithLength((char *) value.data, value.len);
}


/* hands the answer over and frees the JSON */
static void
ngx_http_q2api_login_answer(ngx_http_q2api_login_t *lg, ngx_uint_t status,
    cJSON *json)
{
    ngx_str_t  text;

    if (json == NULL) {
        json = cJSON_CreateObject();
        cJSON_AddStringToObject(json, "detail", "internal error");
    }

    if (ngx_http_q2api_json_body(lg->request, json, &text) != NGX_OK) {
        ngx_str_set(&text, "{\"detail\":\"internal error\"}");
        status = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lg->done(lg->request, lg->data, status, &text);
}


/* the identity service said no: q2api's "OIDC error: ..." */
static void
ngx_http_q2api_login_fail(ngx_http_q2api_login_t *lg, ngx_uint_t status,
    const char *what, ngx_int_t upstream, ngx_str_t *body)
{
    u_char      msg[256];
    cJSON      *o, *out;
    const char  *err;

    o = body->len ? cJSON_ParseWithLength((char *) body->data, body->len)
                  : NULL;
    /* an OAuth error code, or nothing: it goes into a log line */
    (void) ngx_http_q2api_jstr_check(lg->request->connection->log, o,
                                     "error", Q2API_CHECK_TOKEN, what, &err);

    ngx_snprintf(msg, sizeof(msg) - 1, "OIDC error: %s failed with status "
                 "%i%s%s%Z", what, upstream, err ? ": " : "",
                 err ? err : "");
    cJSON_Delete(o);

    ngx_log_error(NGX_LOG_ERR, lg->request->connection->log, 0,
                  "q2api: device login: %s", msg);

    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "detail", (char *) msg);

    ngx_http_q2api_login_answer(lg, status, out);
}
