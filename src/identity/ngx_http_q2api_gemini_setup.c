/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Project discovery and onboarding of Gemini accounts (gemini-cli's
 * setupUser, gemini.md 3.2): loadCodeAssist says the account's tier and
 * project; an account without a tier is onboarded with the default one,
 * and onboardUser's long-running operation is polled until it is done,
 * a bounded number of times.  Accounts Google wants verified end in
 * needs_validation with the URL kept in other.validation_url; accounts no
 * tier takes end in ineligible with Google's reasons.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_google.h"


/* polls of onboardUser's operation: two minutes at gemini-cli's pace */
#define NGX_HTTP_Q2API_ONBOARD_POLLS   24

/* a lookup holds the account this long at most (a worker may die) */
#define NGX_HTTP_Q2API_DISCOVER_STALE  180


typedef struct {
    ngx_http_request_t              *request;
    ngx_str_t                        id;
    ngx_uint_t                       flags;
    ngx_http_q2api_gemini_done_pt    done;
    void                            *data;
    ngx_http_q2api_account_data_t    d;
    const char                      *tier;
    ngx_str_t                        operation;
    ngx_uint_t                       polls;
    ngx_event_t                      poll;
    unsigned                         refreshed:1;
    unsigned                         finished:1;
} ngx_http_q2api_discover_t;


static ngx_int_t ngx_http_q2api_discover_load(ngx_http_q2api_discover_t *ds);
static void ngx_http_q2api_discover_loaded(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_discover_refreshed(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);
static ngx_int_t ngx_http_q2api_discover_onboard(
    ngx_http_q2api_discover_t *ds, cJSON *o);
static void ngx_http_q2api_discover_onboarded(ngx_http_request_t *r,
    void *data, ngx_int_t status, ngx_str_t *body);
static void ngx_http_q2api_discover_poll(ngx_event_t *ev);
static cJSON *ngx_http_q2api_discover_metadata(ngx_http_q2api_discover_t *ds,
    cJSON *body, ngx_uint_t project);
static const char *ngx_http_q2api_discover_project(cJSON *v);
static void ngx_http_q2api_discover_ineligible(ngx_http_q2api_discover_t *ds,
    cJSON *o, const char *fallback);
static void ngx_http_q2api_discover_finish(ngx_http_q2api_discover_t *ds,
    ngx_int_t rc, const char *project, const char *url, const char *reason);
static void ngx_http_q2api_discover_cleanup(void *data);


ngx_int_t
ngx_http_q2api_gemini_discover(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t flags, ngx_http_q2api_gemini_done_pt done, void *data)
{
    ngx_int_t                    rc;
    ngx_pool_cleanup_t          *cln;
    ngx_http_q2api_discover_t   *ds;
    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf == NULL || qmcf->accounts == NULL) {
        return NGX_DECLINED;
    }

    ds = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_discover_t));
    if (ds == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_q2api_accounts_get(qmcf->accounts, id, r->pool, &ds->d);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ds->d.type != NGX_HTTP_Q2API_ACCOUNT_GEMINI
        || ds->d.access_token.len == 0)
    {
        return NGX_DECLINED;
    }

    rc = ngx_http_q2api_accounts_discover_begin(qmcf->accounts, id,
                                                NGX_HTTP_Q2API_DISCOVER_STALE);
    if (rc != NGX_OK) {
        return rc;
    }

    ds->request = r;
    ds->id = ds->d.id;
    ds->flags = flags;
    ds->done = done;
    ds->data = data;
    ds->poll.handler = ngx_http_q2api_discover_poll;
    ds->poll.data = ds;
    ds->poll.log = r->connection->log;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_http_q2api_accounts_discover_end(qmcf->accounts, id);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_q2api_discover_cleanup;
    cln->data = ds;

    if (ngx_http_q2api_discover_load(ds) != NGX_OK) {
        /* the cleanup gives the account back */
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api: looking up the Code Assist project of account "
                  "\"%V\"", id);

    return NGX_OK;
}


/*
 * loadCodeAssist with the client's metadata; a project the account has
 * goes with it (standard tiers need one), unless it was just refused.
 */
static ngx_int_t
ngx_http_q2api_discover_load(ngx_http_q2api_discover_t *ds)
{
    cJSON      *o;
    ngx_str_t   body, rpc;

    o = cJSON_CreateObject();

    if (ngx_http_q2api_discover_metadata(ds, o,
            !(ds->flags & NGX_HTTP_Q2API_GEMINI_REDISCOVER))
        == NULL
        || ngx_http_q2api_json_body(ds->request, o, &body) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&rpc, "loadCodeAssist");

    return ngx_http_q2api_code_assist_call(ds->request, &ds->d, "POST", &rpc,
                                           &body,
                                           ngx_http_q2api_discover_loaded,
                                           ds);
}


static void
ngx_http_q2api_discover_loaded(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_discover_t  *ds = data;

    cJSON       *o, *tier, *list, *item;
    const char  *project, *code, *url;

    if (status == NGX_HTTP_UNAUTHORIZED && !ds->refreshed) {
        ds->refreshed = 1;

        if (ngx_http_q2api_token_refresh(r, &ds->id,
                                         ngx_http_q2api_discover_refreshed,
                                         ds)
            == NGX_OK)
        {
            return;
        }
    }

    if (status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: loadCodeAssist for account \"%V\" answered "
                      "%i", &ds->id, status);
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       "loadCodeAssist failed");
        return;
    }

    o = ngx_http_q2api_identity_parse(r->pool, body);

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       "loadCodeAssist answered no JSON");
        return;
    }

    tier = cJSON_GetObjectItemCaseSensitive(o, "currentTier");

    if (!cJSON_IsObject(tier)) {
        /* a human must verify the account first (phone, identity) */
        list = cJSON_GetObjectItemCaseSensitive(o, "ineligibleTiers");

        cJSON_ArrayForEach(item, list) {
            code = ngx_http_q2api_jstr(item, "reasonCode");
            url = ngx_http_q2api_jstr(item, "validationUrl");

            if (code && url && ngx_strcmp(code, "VALIDATION_REQUIRED") == 0) {
                ngx_http_q2api_discover_finish(ds, NGX_DECLINED, NULL, url,
                    "VALIDATION_REQUIRED: Google asks the account holder to "
                    "verify the account at the validation URL");
                cJSON_Delete(o);
                return;
            }
        }

        if (ngx_http_q2api_discover_onboard(ds, o) != NGX_OK) {
            ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                           "onboardUser could not start");
        }

        cJSON_Delete(o);
        return;
    }

    ds->tier = ngx_http_q2api_jstr(tier, "id");

    project = ngx_http_q2api_discover_project(
                  cJSON_GetObjectItemCaseSensitive(o,
                                                   "cloudaicompanionProject"));

    if (project == NULL && ds->d.project.len
        && !(ds->flags & NGX_HTTP_Q2API_GEMINI_REDISCOVER))
    {
        project = ngx_http_q2api_cstr(r->pool, &ds->d.project);
    }

    if (project != NULL) {
        ngx_http_q2api_discover_finish(ds, NGX_OK, project, NULL, NULL);

    } else {
        ngx_http_q2api_discover_ineligible(ds, o,
            "the account's tier needs a Google Cloud project: set "
            "other.project");
    }

    cJSON_Delete(o);
}


static void
ngx_http_q2api_discover_refreshed(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message)
{
    ngx_http_q2api_discover_t  *ds = data;

    ngx_http_q2api_main_conf_t  *qmcf;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    /* the zone has the new token (or the reason it has none) */
    if ((rc != NGX_OK && rc != NGX_BUSY)
        || ngx_http_q2api_accounts_get(qmcf->accounts, &ds->id, r->pool,
                                       &ds->d)
           != NGX_OK
        || ngx_http_q2api_discover_load(ds) != NGX_OK)
    {
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       "the token was refused and could "
                                       "not be refreshed");
    }
}


/*
 * The default tier of allowedTiers (legacy-tier without one), unless
 * Google lists that tier as ineligible (UNSUPPORTED_CLIENT, regions,
 * ages): then the account is ineligible.  free-tier is onboarded
 * without a project (Google makes one); the others with the account's.
 */
static ngx_int_t
ngx_http_q2api_discover_onboard(ngx_http_q2api_discover_t *ds, cJSON *o)
{
    cJSON       *list, *item, *body;
    ngx_str_t    text, rpc, s;
    ngx_uint_t   free_tier;
    const char  *id;

    ds->tier = "legacy-tier";

    list = cJSON_GetObjectItemCaseSensitive(o, "allowedTiers");

    cJSON_ArrayForEach(item, list) {
        id = ngx_http_q2api_jstr(item, "id");

        if (id && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item,
                                                                "isDefault")))
        {
            /* kept across the calls that follow */
            s.data = (u_char *) id;
            s.len = ngx_strlen(id);
            ds->tier = ngx_http_q2api_cstr(ds->request->pool, &s);
            break;
        }
    }

    if (ds->tier == NULL) {
        return NGX_ERROR;
    }

    list = cJSON_GetObjectItemCaseSensitive(o, "ineligibleTiers");

    cJSON_ArrayForEach(item, list) {
        id = ngx_http_q2api_jstr(item, "tierId");

        if (id && ngx_strcmp(id, ds->tier) == 0) {
            ngx_http_q2api_discover_ineligible(ds, o, NULL);
            return NGX_OK;
        }
    }

    free_tier = ngx_strcmp(ds->tier, "free-tier") == 0;

    if (!free_tier && ds->d.project.len == 0) {
        ngx_http_q2api_discover_ineligible(ds, o,
            "the account's default tier needs a Google Cloud project: set "
            "other.project");
        return NGX_OK;
    }

    body = cJSON_CreateObject();

    if (body == NULL
        || cJSON_AddStringToObject(body, "tierId", ds->tier) == NULL
        || ngx_http_q2api_discover_metadata(ds, body, !free_tier) == NULL
        || ngx_http_q2api_json_body(ds->request, body, &text) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&rpc, "onboardUser");

    ngx_log_error(NGX_LOG_NOTICE, ds->request->connection->log, 0,
                  "q2api: onboarding account \"%V\" to tier %s", &ds->id,
                  ds->tier);

    return ngx_http_q2api_code_assist_call(ds->request, &ds->d, "POST", &rpc,
                                           &text,
                                           ngx_http_q2api_discover_onboarded,
                                           ds);
}


/* onboardUser's answer and its operation's: done, or polled again */
static void
ngx_http_q2api_discover_onboarded(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_discover_t  *ds = data;

    u_char                     *p;
    cJSON                      *o, *resp;
    const char                 *project, *name;
    ngx_http_q2api_loc_conf_t  *qlcf;

    if (status != NGX_HTTP_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: onboarding account \"%V\": Code Assist "
                      "answered %i", &ds->id, status);
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       "onboardUser failed");
        return;
    }

    o = ngx_http_q2api_identity_parse(r->pool, body);

    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "done"))) {
        resp = cJSON_GetObjectItemCaseSensitive(o, "response");
        project = ngx_http_q2api_discover_project(
                      cJSON_GetObjectItemCaseSensitive(resp,
                                                 "cloudaicompanionProject"));

        if (project == NULL && ds->d.project.len) {
            project = ngx_http_q2api_cstr(r->pool, &ds->d.project);
        }

        if (project != NULL) {
            ngx_http_q2api_discover_finish(ds, NGX_OK, project, NULL, NULL);

        } else {
            ngx_http_q2api_discover_finish(ds, NGX_DECLINED, NULL, NULL,
                "onboarding gave no project: the account's tier needs a "
                "Google Cloud project (other.project)");
        }

        cJSON_Delete(o);
        return;
    }

    name = ngx_http_q2api_jstr(o, "name");

    /* the name goes into a URL path: operations/ and a plain tail */
    if (name == NULL || ngx_strncmp(name, "operations/", 11) != 0
        || ngx_strlen(name) > 256)
    {
        name = NULL;

    } else {
        for (p = (u_char *) name + 11; *p; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'
                  || *p == '.'))
            {
                name = NULL;
                break;
            }
        }
    }

    if (name == NULL || ++ds->polls > NGX_HTTP_Q2API_ONBOARD_POLLS) {
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       name ? "onboarding did not finish in "
                                              "time"
                                            : "onboardUser answered no "
                                              "operation");
        cJSON_Delete(o);
        return;
    }

    ds->operation.len = ngx_strlen(name);
    ds->operation.data = ngx_pnalloc(r->pool, ds->operation.len);

    if (ds->operation.data == NULL) {
        cJSON_Delete(o);
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       "out of memory");
        return;
    }

    ngx_memcpy(ds->operation.data, name, ds->operation.len);
    cJSON_Delete(o);

    qlcf = ngx_http_get_module_loc_conf(r, ngx_http_q2api_module);

    ngx_add_timer(&ds->poll, qlcf->gemini_onboard_poll);
}


static void
ngx_http_q2api_discover_poll(ngx_event_t *ev)
{
    ngx_http_q2api_discover_t  *ds = ev->data;

    ngx_connection_t  *c;

    c = ds->request->connection;

    if (ngx_http_q2api_code_assist_call(ds->request, &ds->d, "GET",
                                        &ds->operation, NULL,
                                        ngx_http_q2api_discover_onboarded,
                                        ds)
        != NGX_OK)
    {
        ngx_http_q2api_discover_finish(ds, NGX_ERROR, NULL, NULL,
                                       "the operation could not be polled");
    }

    ngx_http_run_posted_requests(c);
}


/* metadata of the flavour's client; with "project", the account's */
static cJSON *
ngx_http_q2api_discover_metadata(ngx_http_q2api_discover_t *ds, cJSON *body,
    ngx_uint_t project)
{
    char                             *p;
    cJSON                            *m;
    ngx_http_q2api_gemini_flavour_t  *f;

    f = &ngx_http_q2api_gemini_flavours[
            ds->d.flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS];

    m = cJSON_AddObjectToObject(body, "metadata");

    if (m == NULL
        || cJSON_AddStringToObject(m, "ideType", f->ide_type) == NULL
        || cJSON_AddStringToObject(m, "platform", "PLATFORM_UNSPECIFIED")
           == NULL
        || cJSON_AddStringToObject(m, "pluginType", "GEMINI") == NULL)
    {
        cJSON_Delete(body);
        return NULL;
    }

    if (!project || ds->d.project.len == 0) {
        return body;
    }

    p = ngx_http_q2api_cstr(ds->request->pool, &ds->d.project);

    if (p == NULL
        || cJSON_AddStringToObject(m, "duetProject", p) == NULL
        || cJSON_AddStringToObject(body, "cloudaicompanionProject", p)
           == NULL)
    {
        cJSON_Delete(body);
        return NULL;
    }

    return body;
}


/* a string, or {"id": ...}: held to the project rule, else NULL */
static const char *
ngx_http_q2api_discover_project(cJSON *v)
{
    const char  *s;

    s = cJSON_IsString(v) ? v->valuestring : ngx_http_q2api_jstr(v, "id");

    if (s == NULL || *s == '\0'
        || q2api_check(Q2API_CHECK_PROJECT, s, ngx_strlen(s)) != Q2API_OK)
    {
        return NULL;
    }

    return s;
}


/* Google's reasons (reasonCode: reasonMessage, ...), else fallback */
static void
ngx_http_q2api_discover_ineligible(ngx_http_q2api_discover_t *ds, cJSON *o,
    const char *fallback)
{
    u_char      *p, *last, buf[512];
    cJSON       *item;
    const char  *code, *msg;

    p = buf;
    last = buf + sizeof(buf) - 1;

    cJSON_ArrayForEach(item,
                       cJSON_GetObjectItemCaseSensitive(o, "ineligibleTiers"))
    {
        code = ngx_http_q2api_jstr(item, "reasonCode");
        msg = ngx_http_q2api_jstr(item, "reasonMessage");

        p = ngx_slprintf(p, last, "%s%s%s%s", p == buf ? "" : "; ",
                         code ? code : "UNKNOWN", msg ? ": " : "",
                         msg ? msg : "");
    }

    if (p == buf) {
        p = ngx_slprintf(p, last, "%s",
                         fallback ? fallback : "no Code Assist tier");
    }

    *p = '\0';

    ngx_http_q2api_discover_finish(ds, NGX_DECLINED, NULL, NULL,
                                   (const char *) buf);
}


/*
 * Persists what was learnt in other (project and tier; the validation
 * URL while one is needed) and the account's state, then answers.
 */
static void
ngx_http_q2api_discover_finish(ngx_http_q2api_discover_t *ds, ngx_int_t rc,
    const char *project, const char *url, const char *reason)
{
    char                           *printed;
    cJSON                          *o;
    ngx_str_t                       message, other, proj;
    ngx_uint_t                      status, level;
    ngx_http_request_t             *r;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t   cur;

    r = ds->request;
    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    ds->finished = 1;

    if (rc != NGX_ERROR
        && ngx_http_q2api_accounts_get(qmcf->accounts, &ds->id, r->pool,
                                       &cur)
           == NGX_OK)
    {
        o = cur.other.len ? ngx_http_q2api_identity_parse(r->pool, &cur.other)
                          : NULL;

        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            o = cJSON_CreateObject();
        }

        if (o != NULL) {
            cJSON_DeleteItemFromObjectCaseSensitive(o, "validation_url");

            if (project) {
                cJSON_DeleteItemFromObjectCaseSensitive(o, "project");
                cJSON_AddStringToObject(o, "project", project);
            }

            if (ds->tier) {
                cJSON_DeleteItemFromObjectCaseSensitive(o, "tier");
                cJSON_AddStringToObject(o, "tier", ds->tier);
            }

            if (url) {
                cJSON_AddStringToObject(o, "validation_url", url);
            }

            printed = cJSON_PrintUnformatted(o);
            cJSON_Delete(o);

            if (printed != NULL) {
                other.len = ngx_strlen(printed);
                other.data = ngx_pnalloc(r->pool, other.len);

                if (other.data != NULL) {
                    ngx_memcpy(other.data, printed, other.len);

                    proj.data = (u_char *) project;
                    proj.len = project ? ngx_strlen(project) : 0;

                    status = (rc == NGX_OK) ? NGX_HTTP_Q2API_ST_ACTIVE
                             : url ? NGX_HTTP_Q2API_ST_NEEDS_VALIDATION
                             : NGX_HTTP_Q2API_ST_INELIGIBLE;

                    (void) ngx_http_q2api_accounts_learn_other(
                               qmcf->accounts, &ds->id, &other,
                               project ? &proj : NULL, status, reason);
                }

                cJSON_free(printed);
            }
        }
    }

    ngx_http_q2api_accounts_discover_end(qmcf->accounts, &ds->id);

    if (rc == NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api: account \"%V\" uses Code Assist project %s",
                      &ds->id, project);

    } else {
        level = (rc == NGX_DECLINED) ? NGX_LOG_WARN : NGX_LOG_ERR;

        ngx_log_error(level, r->connection->log, 0,
                      "q2api: account \"%V\": %s", &ds->id, reason);
    }

    message.data = (u_char *) (project ? project : reason);
    message.len = ngx_strlen(message.data);

    ds->done(r, ds->data, rc, &message);
}


static void
ngx_http_q2api_discover_cleanup(void *data)
{
    ngx_http_q2api_discover_t  *ds = data;

    ngx_http_q2api_main_conf_t  *qmcf;

    if (ds->poll.timer_set) {
        ngx_del_timer(&ds->poll);
    }

    if (!ds->finished) {
        /* the request went away mid-way: the next one may look it up */
        qmcf = ngx_http_get_module_main_conf(ds->request,
                                             ngx_http_q2api_module);
        ngx_http_q2api_accounts_discover_end(qmcf->accounts, &ds->id);
    }
}
