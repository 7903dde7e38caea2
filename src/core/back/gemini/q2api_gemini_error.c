/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Google's RPC errors in the canonical vocabulary: a client error, an
 * account health, and for quota the model and when it comes back.
 */


#include <stdio.h>

#include "q2api_gemini.h"
#include "q2api_gemini_internal.h"
#include "q2api_time.h"


/* a rate limit longer than this is a quota (gemini-cli's rule) */
#define Q2API_GEMINI_RATE_MAX     300

/* a message may hold an error as JSON, which may hold another */
#define Q2API_GEMINI_ERROR_DEPTH  3


typedef struct {
    const char   *message;
    const char   *reason;       /* ErrorInfo's, or "" */
    const char   *model;        /* ErrorInfo metadata's, or "" */
    time_t        reset_at;
    long long     delay;        /* -1: none given */
    unsigned      daily:1;      /* a per-day QuotaFailure */
    unsigned      per_minute:1;
} q2api_gemini_details_t;


static void q2api_gemini_error_at(int status, const cJSON *error,
    q2api_upstream_error_t *ue, int depth);
static void q2api_gemini_details(const cJSON *details,
    q2api_gemini_details_t *d);
static long long q2api_gemini_message_delay(const char *m);
static void q2api_gemini_rate(int code, const q2api_gemini_details_t *d,
    q2api_upstream_error_t *ue);


void
q2api_gemini_classify(int status, const char *body, size_t len,
    q2api_upstream_error_t *ue)
{
    cJSON        *root;
    const cJSON  *p, *error;

    root = (body && len) ? cJSON_ParseWithLength(body, len) : NULL;

    /* streaming endpoints wrap the error in a one-element array */
    p = cJSON_IsArray(root) ? cJSON_GetArrayItem(root, 0) : root;

    error = cJSON_GetObjectItemCaseSensitive(p, "error");

    q2api_gemini_error_object(status, cJSON_IsObject(error) ? error : NULL,
                              ue);

    cJSON_Delete(root);
}


void
q2api_gemini_error_object(int status, const cJSON *error,
    q2api_upstream_error_t *ue)
{
    q2api_gemini_error_at(status, error, ue, 0);
}


static void
q2api_gemini_error_at(int status, const cJSON *error,
    q2api_upstream_error_t *ue, int depth)
{
    int                      code;
    cJSON                   *inner, *p;
    const cJSON             *item;
    const char              *m, *st;
    q2api_gemini_details_t   d;

    memset(ue, 0, sizeof(q2api_upstream_error_t));
    memset(&d, 0, sizeof(q2api_gemini_details_t));
    d.reason = "";
    d.model = "";
    d.delay = -1;

    item = cJSON_GetObjectItemCaseSensitive(error, "message");
    m = cJSON_IsString(item) ? item->valuestring : "";

    /* gemini-cli drills into a message that is itself an error */
    if ((m[0] == '{' || m[0] == '[') && depth < Q2API_GEMINI_ERROR_DEPTH) {
        inner = cJSON_Parse(m);
        p = cJSON_IsArray(inner) ? cJSON_GetArrayItem(inner, 0) : inner;
        p = cJSON_GetObjectItemCaseSensitive(p, "error");

        if (cJSON_IsObject(p)) {
            q2api_gemini_error_at(status, p, ue, depth + 1);
            cJSON_Delete(inner);
            return;
        }

        cJSON_Delete(inner);
    }

    d.message = m;

    item = cJSON_GetObjectItemCaseSensitive(error, "code");
    code = status ? status
                  : (cJSON_IsNumber(item) && item->valueint >= 100
                     && item->valueint < 600) ? item->valueint : 500;

    item = cJSON_GetObjectItemCaseSensitive(error, "status");
    st = cJSON_IsString(item) ? item->valuestring : "";

    q2api_gemini_details(cJSON_GetObjectItemCaseSensitive(error, "details"),
                         &d);

    if (d.reason[0]) {
        snprintf(ue->reason, sizeof(ue->reason), "%s", d.reason);

    } else if (st[0]) {
        snprintf(ue->reason, sizeof(ue->reason), "%s", st);

    } else {
        snprintf(ue->reason, sizeof(ue->reason), "HTTP %d", code);
    }

    snprintf(ue->model, sizeof(ue->model), "%s", d.model);

    if (code == 400 || code == 413) {
        ue->health = Q2API_HEALTH_CLIENT;

        if (strstr(m, "input token count") != NULL
            || strstr(m, "exceeds the maximum number of tokens") != NULL)
        {
            ue->client_error = Q2API_ERR_CONTEXT_EXCEEDED;
            snprintf(ue->message, sizeof(ue->message),
                     "the conversation exceeds what the backend accepts "
                     "(%.300s)", m);

        } else {
            ue->client_error = Q2API_ERR_INVALID_REQUEST;
            snprintf(ue->message, sizeof(ue->message),
                     "Gemini rejected the request: %.300s",
                     m[0] ? m : "no message");
        }

    } else if (code == 401) {
        /* Google's word on our token is no business of the client's */
        ue->health = Q2API_HEALTH_AUTH;
        ue->client_error = Q2API_ERR_UNAVAILABLE;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account's token was rejected");

    } else if (code == 403) {
        if (strcmp(d.reason, "VALIDATION_REQUIRED") == 0) {
            ue->health = Q2API_HEALTH_FORBIDDEN;

        } else if (strstr(m, "Terms of Service") != NULL
                   || strstr(m, "violation") != NULL)
        {
            ue->health = Q2API_HEALTH_SUSPENDED;
            snprintf(ue->reason, sizeof(ue->reason), "TOS_VIOLATION");

        } else if (strstr(m, "roject") != NULL
                   || strcmp(d.reason, "SERVICE_DISABLED") == 0
                   || strcmp(d.reason, "CONSUMER_INVALID") == 0
                   || strcmp(d.reason, "USER_PROJECT_DENIED") == 0)
        {
            ue->health = Q2API_HEALTH_PROJECT;

        } else {
            ue->health = Q2API_HEALTH_FORBIDDEN;
        }

        ue->client_error = Q2API_ERR_UNAVAILABLE;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account was refused (%s)", ue->reason);

    } else if (code == 404) {
        ue->health = Q2API_HEALTH_MODEL_UNSERVED;
        ue->client_error = Q2API_ERR_NOT_FOUND;
        snprintf(ue->message, sizeof(ue->message),
                 "the model is not served by the backend account: %.300s",
                 m[0] ? m : "not found");

    } else if (code == 429) {
        q2api_gemini_rate(code, &d, ue);

    } else if (code == 499 || code >= 500) {
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = (code == 504) ? Q2API_ERR_TIMEOUT
                         : (code == 499) ? Q2API_ERR_API
                         : Q2API_ERR_OVERLOADED;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend failed (HTTP %d): %.300s", code,
                 m[0] ? m : "no message");

    } else {
        ue->health = Q2API_HEALTH_CLIENT;
        ue->client_error = Q2API_ERR_API;
        snprintf(ue->message, sizeof(ue->message),
                 "unexpected backend status %d", code);
    }
}


/* 429: capacity, a per-model quota, or a rate limit */
static void
q2api_gemini_rate(int code, const q2api_gemini_details_t *d,
    q2api_upstream_error_t *ue)
{
    long long  delay;

    delay = d->delay >= 0 ? d->delay : q2api_gemini_message_delay(d->message);

    if (strncmp(d->reason, "MODEL_CAPACITY_", 15) == 0
        || strstr(d->message, "No capacity available") != NULL)
    {
        /* Google's side, not the account's: another account, no penalty */
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = Q2API_ERR_OVERLOADED;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend has no capacity for the model now");
        return;
    }

    ue->client_error = Q2API_ERR_RATE_LIMIT;
    ue->reset_at = d->reset_at;
    ue->retry_after = delay > 0 ? delay : 0;

    if (strcmp(d->reason, "QUOTA_EXHAUSTED") == 0
        || strcmp(d->reason, "INSUFFICIENT_G1_CREDITS_BALANCE") == 0
        || d->daily
        || strstr(d->message, "limit: 0") != NULL
        || (strcmp(d->reason, "RATE_LIMIT_EXCEEDED") == 0
            && delay > Q2API_GEMINI_RATE_MAX))
    {
        ue->health = Q2API_HEALTH_MODEL_QUOTA;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account's quota%s%s is used up",
                 d->model[0] ? " for " : "", d->model);
        return;
    }

    if (ue->retry_after == 0 && d->per_minute) {
        ue->retry_after = 60;
    }

    ue->health = Q2API_HEALTH_THROTTLED;
    snprintf(ue->message, sizeof(ue->message),
             "the backend is rate limiting requests");
}


static void
q2api_gemini_details(const cJSON *details, q2api_gemini_details_t *d)
{
    long long     v;
    const char   *type, *id;
    const cJSON  *e, *q, *item, *meta, *viol;

    cJSON_ArrayForEach(e, details) {
        item = cJSON_GetObjectItemCaseSensitive(e, "@type");
        type = cJSON_IsString(item) ? item->valuestring : "";

        if (strstr(type, "ErrorInfo") != NULL) {
            item = cJSON_GetObjectItemCaseSensitive(e, "reason");
            if (cJSON_IsString(item)) {
                d->reason = item->valuestring;
            }

            meta = cJSON_GetObjectItemCaseSensitive(e, "metadata");

            item = cJSON_GetObjectItemCaseSensitive(meta, "model");
            if (cJSON_IsString(item)) {
                d->model = item->valuestring;
            }

            item = cJSON_GetObjectItemCaseSensitive(meta,
                                                    "quotaResetTimeStamp");
            if (cJSON_IsString(item)
                && q2api_time_parse(item->valuestring,
                                    strlen(item->valuestring), &d->reset_at)
                   != Q2API_OK)
            {
                d->reset_at = 0;
            }

            item = cJSON_GetObjectItemCaseSensitive(meta, "quotaResetDelay");
            if (cJSON_IsString(item)) {
                v = q2api_gemini_duration(item->valuestring,
                                          strlen(item->valuestring));
                if (v >= 0) {
                    d->delay = v;
                }
            }

            item = cJSON_GetObjectItemCaseSensitive(meta, "quota_limit");
            if (cJSON_IsString(item)
                && strstr(item->valuestring, "PerMinute") != NULL)
            {
                d->per_minute = 1;
            }

        } else if (strstr(type, "RetryInfo") != NULL) {
            item = cJSON_GetObjectItemCaseSensitive(e, "retryDelay");
            if (cJSON_IsString(item) && d->delay < 0) {
                d->delay = q2api_gemini_duration(item->valuestring,
                                                 strlen(item->valuestring));
            }

        } else if (strstr(type, "QuotaFailure") != NULL) {
            viol = cJSON_GetObjectItemCaseSensitive(e, "violations");

            cJSON_ArrayForEach(q, viol) {
                item = cJSON_GetObjectItemCaseSensitive(q, "quotaId");
                id = cJSON_IsString(item) ? item->valuestring : "";

                if (strstr(id, "PerDay") != NULL
                    || strstr(id, "Daily") != NULL)
                {
                    d->daily = 1;

                } else if (strstr(id, "PerMinute") != NULL) {
                    d->per_minute = 1;
                }
            }
        }
    }
}


long long
q2api_gemini_duration(const char *s, size_t len)
{
    double       total, v, frac, scale;
    size_t       i;
    unsigned     any;

    total = 0;
    i = 0;
    any = 0;

    while (i < len) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        v = 0;

        while (i < len && s[i] >= '0' && s[i] <= '9' && v < 1e12) {
            v = v * 10 + (s[i++] - '0');
        }

        if (i < len && s[i] == '.') {
            i++;
            frac = 0.1;

            while (i < len && s[i] >= '0' && s[i] <= '9') {
                v += (s[i++] - '0') * frac;
                frac /= 10;
            }
        }

        if (i < len && s[i] == 'h') {
            scale = 3600;
            i++;

        } else if (i + 1 < len && s[i] == 'm' && s[i + 1] == 's') {
            scale = 0.001;
            i += 2;

        } else if (i < len && s[i] == 'm') {
            scale = 60;
            i++;

        } else if (i < len && s[i] == 's') {
            scale = 1;
            i++;

        } else {
            return -1;
        }

        total += v * scale;
        any = 1;

        if (total > 1e9) {
            return -1;
        }
    }

    if (!any) {
        return -1;
    }

    return (long long) total + ((double) (long long) total < total);
}


/* "Please retry in 1.5s", "will reset after 13h19m1s", "after 30s" */
static long long
q2api_gemini_message_delay(const char *m)
{
    size_t       n;
    const char  *p;

    p = strstr(m, "retry in ");
    p = p ? p + 9 : NULL;

    if (p == NULL) {
        p = strstr(m, "after ");
        p = p ? p + 6 : NULL;
    }

    if (p == NULL) {
        return -1;
    }

    for (n = 0; (p[n] >= '0' && p[n] <= '9') || p[n] == '.' || p[n] == 'h'
                || p[n] == 'm' || p[n] == 's'; n++)
    {
        /* void */
    }

    /* a sentence's full stop is not part of the duration */
    while (n && p[n - 1] == '.') {
        n--;
    }

    return q2api_gemini_duration(p, n);
}
