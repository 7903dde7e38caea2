/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The quota of Gemini accounts (gemini.md 6.1, 6.3): one call returns
 * every model's remaining fraction and reset time; it is kept in other in
 * amq2api's shape, so that its donate page and the console read it the
 * same way, and a reset time survives a restart.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_identity.h"
#include "ngx_http_q2api_google.h"
#include "q2api_time.h"


/* more models than any account has: the rest are not kept */
#define NGX_HTTP_Q2API_QUOTA_MODELS  256


typedef struct {
    ngx_str_t                        id;
    ngx_uint_t                       flavour;
    ngx_http_q2api_gemini_done_pt    done;
    void                            *data;
} ngx_http_q2api_quota_t;


static void ngx_http_q2api_quota_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body);
static cJSON *ngx_http_q2api_quota_credits(cJSON *o, ngx_uint_t flavour,
    const char **reset);
static ngx_int_t ngx_http_q2api_quota_model(cJSON *models, const char *id,
    cJSON *info, cJSON *entry, double *sum, time_t *earliest,
    const char **reset);
static ngx_int_t ngx_http_q2api_quota_store(ngx_http_request_t *r,
    ngx_http_q2api_quota_t *qt, cJSON *credits, const char *reset,
    ngx_str_t *text);


ngx_int_t
ngx_http_q2api_gemini_quota(ngx_http_request_t *r, ngx_str_t *id,
    ngx_http_q2api_gemini_done_pt done, void *data)
{
    cJSON                          *o;
    ngx_int_t                       rc;
    ngx_str_t                       body, rpc;
    ngx_http_q2api_quota_t         *qt;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t   d;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (qmcf == NULL || qmcf->accounts == NULL) {
        return NGX_DECLINED;
    }

    rc = ngx_http_q2api_accounts_get(qmcf->accounts, id, r->pool, &d);

    if (rc != NGX_OK) {
        return rc;
    }

    if (d.type != NGX_HTTP_Q2API_ACCOUNT_GEMINI || d.access_token.len == 0
        || d.project.len == 0)
    {
        return NGX_DECLINED;
    }

    qt = ngx_palloc(r->pool, sizeof(ngx_http_q2api_quota_t));
    if (qt == NULL) {
        return NGX_ERROR;
    }

    qt->id = d.id;
    qt->flavour = d.flavour;
    qt->done = done;
    qt->data = data;

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "project",
                                   ngx_http_q2api_cstr(r->pool, &d.project))
           == NULL
        || ngx_http_q2api_json_body(r, o, &body) != NGX_OK)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    if (d.flavour == NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY) {
        ngx_str_set(&rpc, "fetchAvailableModels");

    } else {
        ngx_str_set(&rpc, "retrieveUserQuota");
    }

    /* with no one waiting, r's own answer need not wait for it either */
    return ngx_http_q2api_code_assist_call(r, &d, "POST", &rpc, &body,
                                           done == NULL,
                                           ngx_http_q2api_quota_answer, qt);
}


static void
ngx_http_q2api_quota_answer(ngx_http_request_t *r, void *data,
    ngx_int_t status, ngx_str_t *body)
{
    ngx_http_q2api_quota_t  *qt = data;

    cJSON       *o, *credits;
    ngx_int_t    rc;
    ngx_str_t    text;
    const char  *reset, *err;

    o = NULL;
    credits = NULL;
    reset = NULL;
    rc = NGX_ERROR;
    err = "the quota call failed";

    if (status == NGX_HTTP_OK) {
        o = ngx_http_q2api_identity_parse(r->pool, body);
        credits = ngx_http_q2api_quota_credits(o, qt->flavour, &reset);
        err = "the quota answer is not what Code Assist sends";

        if (credits != NULL
            && ngx_http_q2api_quota_store(r, qt, credits, reset, &text)
               == NGX_OK)
        {
            rc = NGX_OK;
        }

    } else {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "q2api: the quota of account \"%V\": Code Assist "
                      "answered %i", &qt->id, status);
    }

    cJSON_Delete(credits);
    cJSON_Delete(o);

    if (rc != NGX_OK) {
        text.data = (u_char *) err;
        text.len = ngx_strlen(err);
    }

    if (qt->done) {
        qt->done(r, qt->data, rc, &text);
    }
}


/* amq2api's creditsInfo out of either answer; NULL when it is neither */
static cJSON *
ngx_http_q2api_quota_credits(cJSON *o, ngx_uint_t flavour,
    const char **reset)
{
    cJSON       *credits, *models, *summary, *item, *info, *entry;
    double       sum;
    time_t       earliest;
    ngx_int_t    rc;
    ngx_uint_t   n;

    credits = cJSON_CreateObject();
    models = cJSON_AddObjectToObject(credits, "models");

    if (models == NULL || !cJSON_IsObject(o)) {
        cJSON_Delete(credits);
        return NULL;
    }

    sum = 0;
    n = 0;
    earliest = 0;

    if (flavour == NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY) {
        /* {"models": {id: {displayName, recommended, quotaInfo}}} */
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o,
                                                                  "models"))
        {
            info = cJSON_GetObjectItemCaseSensitive(item, "quotaInfo");

            if (n == NGX_HTTP_Q2API_QUOTA_MODELS || !cJSON_IsObject(info)) {
                continue;
            }

            entry = cJSON_CreateObject();

            if (entry == NULL
                || (ngx_http_q2api_jstr(item, "displayName")
                    && cJSON_AddStringToObject(entry, "displayName",
                           ngx_http_q2api_jstr(item, "displayName")) == NULL)
                || cJSON_AddBoolToObject(entry, "recommended",
                       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(item,
                                                       "recommended"))) == NULL
                || (rc = ngx_http_q2api_quota_model(models, item->string,
                                                    info, entry, &sum,
                                                    &earliest, reset))
                   == NGX_ERROR)
            {
                cJSON_Delete(entry);
                cJSON_Delete(credits);
                return NULL;
            }

            n += (rc == NGX_OK);
        }

    } else {
        /* {"buckets": [{modelId, remainingFraction, resetTime, ...}]} */
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(o,
                                                                 "buckets"))
        {
            if (n == NGX_HTTP_Q2API_QUOTA_MODELS
                || ngx_http_q2api_jstr(item, "modelId") == NULL)
            {
                continue;
            }

            entry = cJSON_CreateObject();

            if (entry == NULL
                || (ngx_http_q2api_jstr(item, "remainingAmount")
                    && cJSON_AddStringToObject(entry, "remainingAmount",
                           ngx_http_q2api_jstr(item, "remainingAmount"))
                       == NULL)
                || (rc = ngx_http_q2api_quota_model(models,
                         ngx_http_q2api_jstr(item, "modelId"), item, entry,
                         &sum, &earliest, reset))
                   == NGX_ERROR)
            {
                cJSON_Delete(entry);
                cJSON_Delete(credits);
                return NULL;
            }

            n += (rc == NGX_OK);
        }
    }

    summary = cJSON_AddObjectToObject(credits, "summary");

    if (summary == NULL
        || cJSON_AddNumberToObject(summary, "totalModels", (double) n) == NULL
        || cJSON_AddNumberToObject(summary, "averageRemaining",
                                   n ? sum / n : 0) == NULL)
    {
        cJSON_Delete(credits);
        return NULL;
    }

    return credits;
}


/*
 * One model's remaining fraction and reset time, entry added to models
 * (NGX_OK); NGX_DONE: a model without an id, or twice, left out.
 */
static ngx_int_t
ngx_http_q2api_quota_model(cJSON *models, const char *id, cJSON *info,
    cJSON *entry, double *sum, time_t *earliest, const char **reset)
{
    cJSON       *f;
    double       fraction;
    time_t       t;
    const char  *at;

    f = cJSON_GetObjectItemCaseSensitive(info, "remainingFraction");

    /* absent: none left (Google leaves zero out of proto3 JSON) */
    fraction = cJSON_IsNumber(f) ? f->valuedouble : 0;
    fraction = ngx_max(0, ngx_min(1, fraction));

    at = ngx_http_q2api_jstr(info, "resetTime");

    if (cJSON_AddNumberToObject(entry, "remainingFraction", fraction) == NULL
        || cJSON_AddNumberToObject(entry, "remainingPercent",
                                   (double) (int) (fraction * 100)) == NULL)
    {
        return NGX_ERROR;
    }

    if (at && q2api_time_parse(at, ngx_strlen(at), &t) == Q2API_OK) {
        if (cJSON_AddStringToObject(entry, "resetTime", at) == NULL) {
            return NGX_ERROR;
        }

        if (*earliest == 0 || t < *earliest) {
            *earliest = t;
            *reset = at;
        }
    }

    if (id == NULL || cJSON_GetObjectItemCaseSensitive(models, id) != NULL) {
        cJSON_Delete(entry);
        return NGX_DONE;
    }

    cJSON_AddItemToObject(models, id, entry);

    *sum += fraction;

    return NGX_OK;
}


/* other.creditsInfo, other.resetTime, other.quotaCheckedAt */
static ngx_int_t
ngx_http_q2api_quota_store(ngx_http_request_t *r, ngx_http_q2api_quota_t *qt,
    cJSON *credits, const char *reset, ngx_str_t *text)
{
    char                           *printed;
    cJSON                          *o, *copy;
    ngx_str_t                       other;
    ngx_http_q2api_main_conf_t     *qmcf;
    ngx_http_q2api_account_data_t   cur;

    qmcf = ngx_http_get_module_main_conf(r, ngx_http_q2api_module);

    if (ngx_http_q2api_accounts_get(qmcf->accounts, &qt->id, r->pool, &cur)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    o = ngx_http_q2api_identity_parse(r->pool, &cur.other);

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }

    copy = cJSON_Duplicate(credits, 1);

    if (o == NULL || copy == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(copy);
        return NGX_ERROR;
    }

    cJSON_DeleteItemFromObjectCaseSensitive(o, "creditsInfo");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "resetTime");
    cJSON_DeleteItemFromObjectCaseSensitive(o, "quotaCheckedAt");
    cJSON_AddItemToObject(o, "creditsInfo", copy);

    if ((reset && cJSON_AddStringToObject(o, "resetTime", reset) == NULL)
        || cJSON_AddNumberToObject(o, "quotaCheckedAt", (double) ngx_time())
           == NULL)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    if (ngx_http_q2api_json_body(r, o, &other) != NGX_OK) {
        return NGX_ERROR;
    }

    (void) ngx_http_q2api_accounts_learn_other(qmcf->accounts, &qt->id,
                                               &other, NULL,
                                               NGX_HTTP_Q2API_ST_ACTIVE, NULL);

    printed = cJSON_PrintUnformatted(credits);
    if (printed == NULL) {
        return NGX_ERROR;
    }

    text->len = ngx_strlen(printed);
    text->data = ngx_pnalloc(r->pool, text->len);

    if (text->data != NULL) {
        ngx_memcpy(text->data, printed, text->len);
    }

    cJSON_free(printed);

    return text->data ? NGX_OK : NGX_ERROR;
}
