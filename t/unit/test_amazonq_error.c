/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Amazon Q's upstream error answers classified: account health, the
 * client's error, and the message as the client reads it.
 */


#include <stdint.h>
#include <stdarg.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "jq.h"
#include "q2api_amazonq.h"
#include "q2api_claude.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


static void
test_classify(void)
{
    size_t                  i;
    char                    name[128];
    q2api_buf_t             client;
    q2api_upstream_error_t  ue;

    static const struct {
        int              status;
        const char      *body;
        q2api_health_e   health;
        q2api_err_e      client;
        const char      *message;     /* a part of it */
        const char      *reason;
    } cases[] = {
        { 400, "{'__type':'com.amazon.aws.codewhisperer#ValidationException',"
               "'message':'Input is too long.',"
               "'reason':'CONTENT_LENGTH_EXCEEDS_THRESHOLD'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_CONTEXT_EXCEEDED,
          "prompt is too long", "CONTENT_LENGTH_EXCEEDS_THRESHOLD" },
        { 400, "{'__type':'ValidationException',"
               "'message':'Input is too long.'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_CONTEXT_EXCEEDED,
          "prompt is too long", "ValidationException" },
        { 400, "{'__type':'com.amazon#ValidationException',"
               "'message':'Improperly formed request.'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_INVALID_REQUEST,
          "Amazon Q rejected the request: Improperly formed request.",
          "ValidationException" },
        { 400, "{}", Q2API_HEALTH_CLIENT, Q2API_ERR_INVALID_REQUEST,
          "no message", "" },
        { 413, "", Q2API_HEALTH_CLIENT, Q2API_ERR_INVALID_REQUEST,
          "rejected", "" },
        { 401, "{'message':'The bearer token included in the request is "
               "invalid.'}",
          Q2API_HEALTH_AUTH, Q2API_ERR_UNAVAILABLE, "token was rejected",
          "" },
        { 403, "{'__type':'AccessDeniedException','reason':"
               "'TEMPORARILY_SUSPENDED','message':'Your User ID temporarily "
               "is suspended.'}",
          Q2API_HEALTH_SUSPENDED, Q2API_ERR_UNAVAILABLE,
          "TEMPORARILY_SUSPENDED", "TEMPORARILY_SUSPENDED" },
        { 403, "{'__type':'AccessDeniedException','message':"
               "'The bearer token has expired'}",
          Q2API_HEALTH_AUTH, Q2API_ERR_UNAVAILABLE, "AccessDeniedException",
          "AccessDeniedException" },
        { 403, "{'__type':'AccessDeniedException','reason':"
               "'FEATURE_NOT_SUPPORTED','message':'no'}",
          Q2API_HEALTH_FORBIDDEN, Q2API_ERR_UNAVAILABLE,
          "FEATURE_NOT_SUPPORTED", "FEATURE_NOT_SUPPORTED" },
        { 429, "{'__type':'ThrottlingException','message':'Rate exceeded'}",
          Q2API_HEALTH_THROTTLED, Q2API_ERR_RATE_LIMIT, "rate limiting",
          "ThrottlingException" },
        { 429, "{'__type':'ThrottlingException','reason':"
               "'INSUFFICIENT_MODEL_CAPACITY','message':'I am experiencing "
               "high traffic'}",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED, "Overloaded",
          "INSUFFICIENT_MODEL_CAPACITY" },
        { 429, "{'__type':'ThrottlingException','reason':"
               "'MONTHLY_REQUEST_COUNT','message':'limit'}",
          Q2API_HEALTH_QUOTA, Q2API_ERR_RATE_LIMIT, "MONTHLY_REQUEST_COUNT",
          "MONTHLY_REQUEST_COUNT" },
        { 429, "{'reason':'DAILY_REQUEST_COUNT'}",
          Q2API_HEALTH_QUOTA, Q2API_ERR_RATE_LIMIT, "quota",
          "DAILY_REQUEST_COUNT" },
        { 402, "{'__type':'ServiceQuotaExceededException','reason':"
               "'CONVERSATION_LIMIT_EXCEEDED'}",
          Q2API_HEALTH_CLIENT, Q2API_ERR_CONTEXT_EXCEEDED,
          "prompt is too long", "CONVERSATION_LIMIT_EXCEEDED" },
        { 402, "{'reason':'OVERAGE_REQUEST_LIMIT_EXCEEDED'}",
          Q2API_HEALTH_QUOTA, Q2API_ERR_RATE_LIMIT, "quota",
          "OVERAGE_REQUEST_LIMIT_EXCEEDED" },
        { 500, "{'__type':'InternalServerException','message':"
               "'Encountered unexpectedly high load'}",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED,
          "the backend failed: Encountered unexpectedly high load",
          "InternalServerException" },
        { 500, "{'__type':'InternalServerException','reason':"
               "'MODEL_TEMPORARILY_UNAVAILABLE'}",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED, "internal error",
          "MODEL_TEMPORARILY_UNAVAILABLE" },
        { 502, "<html>Bad Gateway</html>",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED,
          "unavailable (HTTP 502)", "" },
        { 503, "", Q2API_HEALTH_CAPACITY, Q2API_ERR_OVERLOADED,
          "unavailable (HTTP 503)", "" },
        { 504, "upstream timed out",
          Q2API_HEALTH_CAPACITY, Q2API_ERR_TIMEOUT, "did not answer in time",
          "" },
        { 400, "this is not json", Q2API_HEALTH_CLIENT,
          Q2API_ERR_INVALID_REQUEST, "no message", "" },
        { 409, "{'__type':'ConflictException'}", Q2API_HEALTH_CLIENT,
          Q2API_ERR_API, "unexpected backend status 409",
          "ConflictException" }
    };

    q2api_buf_init(&client, 0);

    for (i = 0; i < nelts(cases); i++) {
        char  *body;

        body = jq(cases[i].body);
        q2api_amazonq_classify(cases[i].status, body, strlen(body), &ue);
        free(body);

        snprintf(name, sizeof(name), "classify %d #%zu: health",
                 cases[i].status, i);
        is_int(ue.health, cases[i].health, name);

        snprintf(name, sizeof(name), "classify %d #%zu: client error",
                 cases[i].status, i);
        is_int(ue.client_error, cases[i].client, name);

        /* the message as the client reads it: the front end may add
         * words of its own to a kind (prompt is too long) */
        q2api_buf_reset(&client);
        q2api_claude_error_body(&client, ue.client_error, ue.message, NULL);
        q2api_buf_append_byte(&client, '\0');

        snprintf(name, sizeof(name), "classify %d #%zu: message has '%s'",
                 cases[i].status, i, cases[i].message);
        if (!ok(strstr((char *) client.data, cases[i].message) != NULL,
                name))
        {
            diag("message: %s", (char *) client.data);
        }

        snprintf(name, sizeof(name), "classify %d #%zu: reason",
                 cases[i].status, i);
        is_str(ue.reason, cases[i].reason, name);
    }

    /* no body at all */
    q2api_amazonq_classify(500, NULL, 0, &ue);
    ok(ue.health == Q2API_HEALTH_CAPACITY
       && ue.client_error == Q2API_ERR_OVERLOADED
       && strstr(ue.message, "internal error") != NULL,
       "classify without a body");

    /* a huge message is cut, never overflows */
    {
        char    *big;
        size_t   n;

        n = 100000;
        big = malloc(n + 40);
        memcpy(big, "{\"message\":\"", 12);
        memset(big + 12, 'A', n);
        memcpy(big + 12 + n, "Input is too long.\"}", 21);

        q2api_amazonq_classify(400, big, strlen(big), &ue);

        q2api_buf_reset(&client);
        q2api_claude_error_body(&client, ue.client_error, ue.message, NULL);
        q2api_buf_append_byte(&client, '\0');

        ok(strlen(ue.message) < sizeof(ue.message)
           && client.len < sizeof(ue.message) + 100
           && strstr((char *) client.data,
                     "\"message\":\"prompt is too long") != NULL,
           "classify: a huge message is cut");
        free(big);
    }

    q2api_buf_free(&client);
}


int
main(void)
{
    test_classify();

    return done_testing();
}
