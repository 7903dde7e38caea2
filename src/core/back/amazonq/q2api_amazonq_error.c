/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Amazon Q's failures in the canonical vocabulary: an upstream error
 * answer (status and body) and an exception inside the stream, as a
 * client error and an account health.
 */


#include <stdio.h>

#include <cjson/cJSON.h>

#include "q2api_amazonq.h"
#include "q2api_amazonq_internal.h"


q2api_err_e
q2api_amazonq_exception_error(const q2api_str_t *type, const char *detail,
    char *text, size_t size)
{
    q2api_err_e  kind;

    if (q2api_str_eq_lit(type, "ContentLengthExceededException")) {
        /* the answer hit the output limit: a stop, not a failure */
        return Q2API_ERR_NONE;
    }

    if (q2api_str_eq_lit(type, "ThrottlingException")) {
        kind = strstr(detail, "capacity") || strstr(detail, "high traffic")
               ? Q2API_ERR_OVERLOADED : Q2API_ERR_RATE_LIMIT;

    } else if (q2api_str_eq_lit(type, "InternalServerException")) {
        kind = Q2API_ERR_OVERLOADED;

    } else if (q2api_str_eq_lit(type, "ValidationException")) {
        kind = Q2API_ERR_INVALID_REQUEST;

    } else if (q2api_str_eq_lit(type, "AccessDeniedException")) {
        kind = Q2API_ERR_PERMISSION;

    } else if (q2api_str_eq_lit(type, "ServiceQuotaExceededException")) {
        kind = Q2API_ERR_RATE_LIMIT;

    } else {
        kind = Q2API_ERR_API;
    }

    if (kind == Q2API_ERR_INVALID_REQUEST
        && strstr(detail, "Input is too long") != NULL)
    {
        snprintf(text, size, "%s", detail);
        return Q2API_ERR_CONTEXT_EXCEEDED;
    }

    snprintf(text, size, "Amazon Q %.*s%s%.300s",
             (int) (type->len > 80 ? 80 : type->len), type->data,
             detail[0] ? ": " : "", detail);

    return kind;
}


void
q2api_amazonq_classify(int status, const char *body, size_t len,
    q2api_upstream_error_t *ue)
{
    cJSON       *p, *item;
    const char  *type, *message, *reason, *hash;

    memset(ue, 0, sizeof(q2api_upstream_error_t));

    p = (body && len) ? cJSON_ParseWithLength(body, len) : NULL;

    item = cJSON_GetObjectItemCaseSensitive(p, "__type");
    type = cJSON_IsString(item) ? item->valuestring : "";

    hash = strrchr(type, '#');
    if (hash != NULL) {
        type = hash + 1;
    }

    item = cJSON_GetObjectItemCaseSensitive(p, "message");
    if (!cJSON_IsString(item)) {
        item = cJSON_GetObjectItemCaseSensitive(p, "Message");
    }

    message = cJSON_IsString(item) ? item->valuestring : "";

    item = cJSON_GetObjectItemCaseSensitive(p, "reason");
    reason = cJSON_IsString(item) ? item->valuestring : "";

    snprintf(ue->reason, sizeof(ue->reason), "%s",
             reason[0] ? reason : type);

    if (status == 400 || status == 413) {
        ue->health = Q2API_HEALTH_CLIENT;
        ue->client_error = Q2API_ERR_INVALID_REQUEST;

        if (strcmp(reason, "CONTENT_LENGTH_EXCEEDS_THRESHOLD") == 0
            || strstr(message, "Input is too long") != NULL)
        {
            ue->client_error = Q2API_ERR_CONTEXT_EXCEEDED;
            snprintf(ue->message, sizeof(ue->message),
                     "the conversation exceeds what the backend accepts "
                     "(%s)", message);

        } else {
            snprintf(ue->message, sizeof(ue->message),
                     "Amazon Q rejected the request: %.300s",
                     message[0] ? message : "no message");
        }

    } else if (status == 401) {
        ue->health = Q2API_HEALTH_AUTH;
        ue->client_error = Q2API_ERR_UNAVAILABLE;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account's token was rejected");

    } else if (status == 403) {
        if (strcmp(reason, "TEMPORARILY_SUSPENDED") == 0
            || strstr(message, "suspended") != NULL)
        {
            ue->health = Q2API_HEALTH_SUSPENDED;

        } else if (strstr(message, "token") != NULL
                   || strstr(message, "Token") != NULL)
        {
            ue->health = Q2API_HEALTH_AUTH;

        } else {
            ue->health = Q2API_HEALTH_FORBIDDEN;
        }

        ue->client_error = Q2API_ERR_UNAVAILABLE;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account was refused (%s)", ue->reason);

    } else if (status == 429 || status == 402) {
        if (strstr(reason, "REQUEST_COUNT") != NULL
            || strcmp(reason, "OVERAGE_REQUEST_LIMIT_EXCEEDED") == 0)
        {
            ue->health = Q2API_HEALTH_QUOTA;
            ue->client_error = Q2API_ERR_RATE_LIMIT;
            snprintf(ue->message, sizeof(ue->message),
                     "the backend account's quota is used up (%s)", reason);

        } else if (strcmp(reason, "CONVERSATION_LIMIT_EXCEEDED") == 0) {
            ue->health = Q2API_HEALTH_CLIENT;
            ue->client_error = Q2API_ERR_CONTEXT_EXCEEDED;
            snprintf(ue->message, sizeof(ue->message),
                     "the conversation exceeds the backend's limit");

        } else if (strcmp(reason, "INSUFFICIENT_MODEL_CAPACITY") == 0) {
            ue->health = Q2API_HEALTH_CAPACITY;
            ue->client_error = Q2API_ERR_OVERLOADED;
            snprintf(ue->message, sizeof(ue->message), "Overloaded");

        } else {
            ue->health = Q2API_HEALTH_THROTTLED;
            ue->client_error = Q2API_ERR_RATE_LIMIT;
            snprintf(ue->message, sizeof(ue->message),
                     "the backend is rate limiting requests");
        }

    } else if (status == 504) {
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = Q2API_ERR_TIMEOUT;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend did not answer in time");

    } else if (status == 502 || status == 503) {
        /*
         * The service (or a balancer in front of it) answered that it
         * cannot serve now: overloaded, which clients retry with backoff.
         * A backend that cannot be reached at all is the glue's to name.
         */
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = Q2API_ERR_OVERLOADED;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend is unavailable (HTTP %d)", status);

    } else if (status >= 500) {
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = Q2API_ERR_OVERLOADED;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend failed: %.300s",
                 message[0] ? message : "internal error");

    } else {
        ue->health = Q2API_HEALTH_CLIENT;
        ue->client_error = Q2API_ERR_API;
        snprintf(ue->message, sizeof(ue->message),
                 "unexpected backend status %d", status);
    }

    cJSON_Delete(p);
}
