/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Identity services' answers, read into checked fields.
 */


#include <math.h>
#include <stdlib.h>

#include "q2api_answer.h"
#include "q2api_jwt.h"
#include "q2api_nul.h"


static int q2api_answer_active(const cJSON *o, const char *key);


cJSON *
q2api_answer_parse(const char *text, size_t len)
{
    int     nul;
    char   *copy;
    cJSON  *o;

    if (len == 0) {
        return NULL;
    }

    nul = q2api_nul_found(text, len);

    if (nul == -1) {
        /* a \u escape cJSON would misread: no JSON */
        return NULL;
    }

    if (nul == 0) {
        return cJSON_ParseWithLength(text, len);
    }

    /* cJSON copies every string: the marked text is needed only here */
    copy = malloc(len);
    if (copy == NULL) {
        return NULL;
    }

    memcpy(copy, text, len);
    len = q2api_nul_mark(copy, len);

    o = cJSON_ParseWithLength(copy, len);

    free(copy);

    return o;
}


int
q2api_answer_member(const cJSON *o, const char *key, q2api_check_e what,
    const char **value)
{
    cJSON  *item;

    *value = NULL;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        return Q2API_OK;
    }

    if (q2api_check(what, item->valuestring, strlen(item->valuestring))
        != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    *value = item->valuestring;

    return Q2API_OK;
}


double
q2api_answer_number(const cJSON *o, const char *key, double dflt)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(item) ? item->valuedouble : dflt;
}


/*
 * The tokens go into Authorization headers and the profileArn chooses a
 * host: a value the checks refuse is not taken.  A refused token fails
 * the answer: the old refresh token may already be dead, rotated by this
 * very answer, so only a new login helps.
 */
int
q2api_answer_tokens(const cJSON *o, const q2api_token_names_t *names,
    int64_t now, q2api_token_answer_t *t)
{
    double  life;

    memset(t, 0, sizeof(q2api_token_answer_t));

    if (q2api_answer_member(o, names->access_token, Q2API_CHECK_TOKEN,
                            &t->access_token)
        != Q2API_OK)
    {
        t->refused = names->access_token;
        return Q2API_ERROR;
    }

    if (t->access_token == NULL) {
        return Q2API_ERROR;
    }

    if (names->refresh_token
        && q2api_answer_member(o, names->refresh_token, Q2API_CHECK_TOKEN,
                               &t->refresh_token)
           != Q2API_OK)
    {
        t->refused = names->refresh_token;
        return Q2API_ERROR;
    }

    /* without one (or with one refused) the account keeps its own */
    if (names->profile_arn
        && q2api_answer_member(o, names->profile_arn, Q2API_CHECK_ARN,
                               &t->profile_arn)
           != Q2API_OK)
    {
        t->refused = names->profile_arn;
    }

    life = names->expires_in ? q2api_answer_number(o, names->expires_in, 0)
                             : 0;

    if (life > 0 && life < Q2API_ANSWER_LIFE_MAX) {
        t->expires = now + (int64_t) life;

    } else if (q2api_jwt_exp(t->access_token, strlen(t->access_token),
                             &t->expires)
               != Q2API_OK)
    {
        /* the documented lifetime of an OIDC access token */
        t->expires = now + 3600;
    }

    return Q2API_OK;
}


int
q2api_answer_device(const cJSON *o, q2api_device_answer_t *d)
{
    size_t  i;

    static const char  *names[] = {
        "deviceCode", "userCode", "verificationUri",
        "verificationUriComplete"
    };

    memset(d, 0, sizeof(q2api_device_answer_t));

    /* what the user is shown, and what is sent back */
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (q2api_answer_member(o, names[i], Q2API_CHECK_TOKEN,
                                i == 0 ? &d->device_code
                                : i == 1 ? &d->user_code
                                : i == 2 ? &d->uri : &d->complete)
            != Q2API_OK)
        {
            d->refused = names[i];
        }
    }

    d->expires_in = q2api_answer_number(o, "expiresIn", 600);
    d->interval = q2api_answer_number(o, "interval", 1);

    /* they become a deadline and a timer: bounded, or out of range */
    if (d->expires_in < 0) {
        d->expires_in = 0;

    } else if (d->expires_in > Q2API_ANSWER_DEVICE_LIFE) {
        d->expires_in = Q2API_ANSWER_DEVICE_LIFE;
    }

    if (d->interval < 1) {
        d->interval = 1;

    } else if (d->interval > Q2API_ANSWER_INTERVAL_MAX) {
        d->interval = Q2API_ANSWER_INTERVAL_MAX;
    }

    if (d->device_code == NULL || d->user_code == NULL) {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


q2api_oauth_error_e
q2api_answer_oauth_error(const cJSON *o)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, "error");

    if (!cJSON_IsString(item)) {
        return Q2API_OAUTH_OTHER;
    }

    if (strcmp(item->valuestring, "invalid_client") == 0) {
        return Q2API_OAUTH_DEAD_CLIENT;
    }

    if (strcmp(item->valuestring, "invalid_grant") == 0
        || strcmp(item->valuestring, "unauthorized_client") == 0)
    {
        return Q2API_OAUTH_DEAD_GRANT;
    }

    return Q2API_OAUTH_OTHER;
}


/* it chooses the host and goes into every chat body: an ARN or none */
int
q2api_answer_profile(const cJSON *o, const char **arn)
{
    cJSON  *profiles;

    profiles = cJSON_GetObjectItemCaseSensitive(o, "profiles");

    return q2api_answer_member(cJSON_GetArrayItem(profiles, 0), "arn",
                               Q2API_CHECK_ARN, arn);
}


int
q2api_answer_usage(const cJSON *o, q2api_usage_answer_t *u)
{
    cJSON  *list, *line, *item, *type, *trial, *bonus;

    memset(u, 0, sizeof(q2api_usage_answer_t));
    u->title = "";

    if (!cJSON_IsObject(o)) {
        return Q2API_ERROR;
    }

    list = cJSON_GetObjectItemCaseSensitive(o, "usageBreakdownList");
    line = NULL;

    cJSON_ArrayForEach(item, list) {
        if (line == NULL) {
            line = item;
        }

        type = cJSON_GetObjectItemCaseSensitive(item, "resourceType");

        if (cJSON_IsString(type) && strcmp(type->valuestring, "CREDIT") == 0)
        {
            line = item;
            break;
        }
    }

    u->limit = q2api_answer_number(line, "usageLimitWithPrecision", 0);
    u->used = q2api_answer_number(line, "currentUsageWithPrecision", 0);

    trial = cJSON_GetObjectItemCaseSensitive(line, "freeTrialInfo");

    if (q2api_answer_active(trial, "freeTrialStatus")) {
        u->limit += q2api_answer_number(trial, "usageLimitWithPrecision", 0);
        u->used += q2api_answer_number(trial, "currentUsageWithPrecision", 0);
    }

    cJSON_ArrayForEach(bonus, cJSON_GetObjectItemCaseSensitive(line,
                                                               "bonuses"))
    {
        if (q2api_answer_active(bonus, "status")) {
            u->limit += q2api_answer_number(bonus, "usageLimit", 0);
            u->used += q2api_answer_number(bonus, "currentUsage", 0);
        }
    }

    /* sums of huge amounts: no infinity reaches a JSON answer */
    u->limit = isfinite(u->limit) ? u->limit : 0;
    u->used = isfinite(u->used) ? u->used : 0;
    u->remaining = u->limit > u->used ? u->limit - u->used : 0;
    u->remaining = isfinite(u->remaining) ? u->remaining : 0;
    u->next_reset = q2api_answer_number(o, "nextDateReset", 0);

    item = cJSON_GetObjectItemCaseSensitive(
               cJSON_GetObjectItemCaseSensitive(o, "subscriptionInfo"),
               "subscriptionTitle");

    if (cJSON_IsString(item)) {
        u->title = item->valuestring;
    }

    return Q2API_OK;
}


static int
q2api_answer_active(const cJSON *o, const char *key)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(item) && strcmp(item->valuestring, "ACTIVE") == 0;
}

