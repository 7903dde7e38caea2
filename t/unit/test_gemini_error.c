/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Google's errors as client errors and account health: every class of
 * section 5, the one-element array, an error inside a message, reset
 * times and delays in Google's duration forms.
 */


#include <stdint.h>

#include "gemini_check.h"
#include "q2api_back.h"
#include "q2api_gemini_internal.h"


static void
classify(int status, const char *body, q2api_upstream_error_t *ue)
{
    char  *s;

    s = jq(body);
    q2api_gemini_classify(status, s, strlen(s), ue);
    free(s);
}


static void
test_durations(void)
{
    is_int(q2api_gemini_duration("13h19m1.20964964s", 17), 47942,
           "13h19m1.2s, rounded up");
    is_int(q2api_gemini_duration("900ms", 5), 1, "900ms -> 1 s");
    is_int(q2api_gemini_duration("34.074824224s", 13), 35, "34.07s -> 35");
    is_int(q2api_gemini_duration("47941.209s", 10), 47942, "RetryInfo form");
    is_int(q2api_gemini_duration("60s", 3), 60, "whole seconds");
    is_int(q2api_gemini_duration("", 0), -1, "empty: none");
    is_int(q2api_gemini_duration("soon", 4), -1, "words: none");
    is_int(q2api_gemini_duration("5x", 2), -1, "an unknown unit: none");
    is_int(q2api_gemini_duration("99999999999999h", 15), -1,
           "absurd: none");
}


static void
test_classes(void)
{
    q2api_upstream_error_t  ue;

    classify(400, "{'error':{'code':400,'message':'Invalid JSON payload',"
                  "'status':'INVALID_ARGUMENT'}}", &ue);
    ok(ue.health == Q2API_HEALTH_CLIENT
       && ue.client_error == Q2API_ERR_INVALID_REQUEST
       && strstr(ue.message, "Invalid JSON payload") != NULL
       && strcmp(ue.reason, "INVALID_ARGUMENT") == 0,
       "400: the client's 400, no penalty");

    classify(400, "{'error':{'code':400,'message':'The input token count "
                  "(1200000) exceeds the maximum number of tokens allowed "
                  "(1048576).'}}", &ue);
    is_int(ue.client_error, Q2API_ERR_CONTEXT_EXCEEDED,
           "400 too many tokens: context exceeded");

    classify(401, "{'error':{'code':401,'message':'Request had invalid "
                  "authentication credentials.','status':"
                  "'UNAUTHENTICATED'}}", &ue);
    ok(ue.health == Q2API_HEALTH_AUTH
       && ue.client_error != Q2API_ERR_AUTHENTICATION
       && ue.client_error != Q2API_ERR_PERMISSION,
       "401: refresh; never the client's own auth error");

    classify(403, "{'error':{'code':403,'message':'This service has been "
                  "disabled in this account for violation of Terms of "
                  "Service.','status':'PERMISSION_DENIED'}}", &ue);
    ok(ue.health == Q2API_HEALTH_SUSPENDED
       && ue.client_error == Q2API_ERR_UNAVAILABLE,
       "403 Terms of Service: suspended, a 503 for the client");

    classify(403, "{'error':{'code':403,'message':'Cloud Code Private API "
                  "has not been used in project 123 before or it is "
                  "disabled.','status':'PERMISSION_DENIED','details':[{"
                  "'@type':'type.googleapis.com/google.rpc.ErrorInfo',"
                  "'reason':'SERVICE_DISABLED'}]}}", &ue);
    ok(ue.health == Q2API_HEALTH_PROJECT
       && ue.client_error == Q2API_ERR_UNAVAILABLE,
       "403 about the project: discover it again");

    classify(403, "{'error':{'code':403,'message':'Verify your account',"
                  "'details':[{'@type':'type.googleapis.com/"
                  "google.rpc.ErrorInfo','reason':'VALIDATION_REQUIRED'}]}}",
             &ue);
    ok(ue.health == Q2API_HEALTH_FORBIDDEN
       && strcmp(ue.reason, "VALIDATION_REQUIRED") == 0,
       "403 VALIDATION_REQUIRED: out, the reason named");

    classify(403, "{'error':{'code':403,'message':'The caller does not "
                  "have permission'}}", &ue);
    ok(ue.health == Q2API_HEALTH_FORBIDDEN
       && ue.client_error == Q2API_ERR_UNAVAILABLE, "another 403");

    classify(404, "{'error':{'code':404,'message':'Requested entity was "
                  "not found.','status':'NOT_FOUND'}}", &ue);
    ok(ue.health == Q2API_HEALTH_MODEL_UNSERVED
       && ue.client_error == Q2API_ERR_NOT_FOUND,
       "404: the model is not served by this account");

    classify(429, "{'error':{'code':429,'message':'You have exhausted your "
                  "capacity on this model. Your quota will reset after "
                  "13h19m1s.','status':'RESOURCE_EXHAUSTED','details':[{"
                  "'@type':'type.googleapis.com/google.rpc.ErrorInfo',"
                  "'reason':'QUOTA_EXHAUSTED','domain':"
                  "'cloudcode-pa.googleapis.com','metadata':{'uiMessage':"
                  "'true','model':'gemini-2.5-pro','quotaResetDelay':"
                  "'13h19m1.20964964s','quotaResetTimeStamp':"
                  "'2025-11-30T14:57:24Z'}},{'@type':"
                  "'type.googleapis.com/google.rpc.RetryInfo',"
                  "'retryDelay':'47941.209s'}]}}", &ue);
    ok(ue.health == Q2API_HEALTH_MODEL_QUOTA
       && ue.client_error == Q2API_ERR_RATE_LIMIT,
       "429 QUOTA_EXHAUSTED: that model out on that account");
    ok(strcmp(ue.model, "gemini-2.5-pro") == 0, "the model named");
    is_int(ue.reset_at, 1764514644, "until quotaResetTimeStamp");
    is_int(ue.retry_after, 47942, "or the delay given");
    ok(strcmp(ue.reason, "QUOTA_EXHAUSTED") == 0, "reason");

    /* the one-element array of streaming endpoints */
    classify(429, "[{'error':{'code':429,'message':'Resource exhausted. "
                  "Please retry in 0.539477544s.','status':"
                  "'RESOURCE_EXHAUSTED','details':[{'@type':"
                  "'type.googleapis.com/google.rpc.ErrorInfo','reason':"
                  "'RATE_LIMIT_EXCEEDED','metadata':{'quotaResetDelay':"
                  "'539.477544ms'}},{'@type':'type.googleapis.com/"
                  "google.rpc.RetryInfo','retryDelay':'0.539477544s'}]}}]",
             &ue);
    ok(ue.health == Q2API_HEALTH_THROTTLED
       && ue.client_error == Q2API_ERR_RATE_LIMIT,
       "429 RATE_LIMIT_EXCEEDED in an array: a short cooldown");
    is_int(ue.retry_after, 1, "its delay");

    classify(429, "{'error':{'code':429,'message':'slow down','details':[{"
                  "'@type':'type.googleapis.com/google.rpc.ErrorInfo',"
                  "'reason':'RATE_LIMIT_EXCEEDED','metadata':{"
                  "'quotaResetDelay':'3600s'}}]}}", &ue);
    is_int(ue.health, Q2API_HEALTH_MODEL_QUOTA,
           "a rate limit of an hour is a quota");

    classify(429, "{'error':{'code':429,'message':'No capacity available "
                  "for model gemini-2.5-pro on the server','details':[{"
                  "'@type':'type.googleapis.com/google.rpc.ErrorInfo',"
                  "'reason':'MODEL_CAPACITY_EXHAUSTED'}]}}", &ue);
    ok(ue.health == Q2API_HEALTH_CAPACITY
       && ue.client_error == Q2API_ERR_OVERLOADED,
       "429 capacity: the next account, no penalty");

    classify(429, "{'error':{'code':429,'message':'quota','details':[{"
                  "'@type':'type.googleapis.com/google.rpc.QuotaFailure',"
                  "'violations':[{'quotaId':'RequestsPerDayPerUser'}]}]}}",
             &ue);
    is_int(ue.health, Q2API_HEALTH_MODEL_QUOTA, "a per-day QuotaFailure");

    classify(429, "{'error':{'code':429,'message':'Resource has been "
                  "exhausted (e.g. check quota).'}}", &ue);
    ok(ue.health == Q2API_HEALTH_THROTTLED && ue.retry_after == 0,
       "a bare 429: throttled, the pool's default delay");

    classify(503, "{'error':{'code':503,'message':'The service is "
                  "currently unavailable.'}}", &ue);
    ok(ue.health == Q2API_HEALTH_CAPACITY
       && ue.client_error == Q2API_ERR_OVERLOADED, "5xx: the next account");

    classify(504, "", &ue);
    is_int(ue.client_error, Q2API_ERR_TIMEOUT, "504 without a body");

    classify(500, "<html>oops</html>", &ue);
    ok(ue.health == Q2API_HEALTH_CAPACITY && strcmp(ue.reason, "HTTP 500")
       == 0, "a body that is not JSON");

    classify(403, "{'error':{'code':403,'message':'{\\'error\\':{\\'code\\':"
                  "403,\\'message\\':\\'violation of Terms of Service\\'}}'}}",
             &ue);
    /* jq turns every ' into ", the escaped ones too */
    is_int(ue.health, Q2API_HEALTH_SUSPENDED,
           "an error inside the message is read");

    classify(418, "{}", &ue);
    ok(ue.health == Q2API_HEALTH_CLIENT && ue.client_error == Q2API_ERR_API,
       "an unexpected status");
}


static void
test_table(void)
{
    const q2api_back_t      *b;
    q2api_upstream_error_t   ue;

    b = q2api_back_find("gemini", 6);
    ok(b != NULL && b->classify == q2api_gemini_classify,
       "the table's classify");

    if (b != NULL) {
        b->classify(401, NULL, 0, &ue);
        is_int(ue.health, Q2API_HEALTH_AUTH, "a 401 without a body");
    }
}


int
main(void)
{
    test_durations();
    test_classes();
    test_table();

    return done_testing();
}
