/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Identity services' answers: what is taken, what is refused by name,
 * and the bounds on every number that becomes a time or a timer.
 */


#include <math.h>
#include <stdlib.h>

#include "tap.h"
#include "q2api_answer.h"


#define NOW  1700000000

/* a NULL where a string is wanted fails, it does not crash the test */
#define str_is(got, want, name)                                            \
    ok((got) != NULL && strcmp(got, want) == 0, name)


static const q2api_token_names_t  names = {
    "accessToken", "refreshToken", "expiresIn", "profileArn"
};


static cJSON *
parse(const char *text)
{
    return q2api_answer_parse(text, strlen(text));
}


static void
test_parse(void)
{
    cJSON       *o;
    const char  *v;

    ok(q2api_answer_parse("", 0) == NULL, "an empty answer is none");
    ok(parse("<html>") == NULL, "HTML is none");
    ok(parse("{\"a\":\"\\u00\"}") == NULL,
       "a short \\u escape is no JSON");

    /* cJSON alone would read "a" and the token would pass */
    o = parse("{\"accessToken\":\"a\\u0000b\"}");
    ok(o != NULL, "a NUL in a string parses");
    is_int(q2api_answer_member(o, "accessToken", Q2API_CHECK_TOKEN, &v),
           Q2API_ERROR, "and the member holding it is refused");
    ok(v == NULL, "with no value");
    cJSON_Delete(o);
}


static void
test_tokens(void)
{
    cJSON                 *o;
    q2api_token_answer_t   t;

    o = parse("{\"accessToken\":\"at\",\"refreshToken\":\"rt\","
              "\"expiresIn\":100,\"profileArn\":"
              "\"arn:aws:codewhisperer:us-east-1:123456789012:profile/X\"}");
    is_int(q2api_answer_tokens(o, &names, NOW, &t), Q2API_OK, "a token");
    str_is(t.access_token, "at", "its access token");
    str_is(t.refresh_token, "rt", "its rotated refresh token");
    ok(t.profile_arn != NULL, "its profileArn");
    ok(t.expires == NOW + 100, "expiresIn from now");
    ok(t.refused == NULL, "nothing refused");
    cJSON_Delete(o);

    o = parse("{\"accessToken\":\"evil\\r\\nX-Injected: yes\"}");
    is_int(q2api_answer_tokens(o, &names, NOW, &t), Q2API_ERROR,
           "an access token with CR/LF fails the answer");
    str_is(t.refused, "accessToken", "named");
    cJSON_Delete(o);

    o = parse("{\"accessToken\":\"at\",\"refreshToken\":\"r t\"}");
    is_int(q2api_answer_tokens(o, &names, NOW, &t), Q2API_ERROR,
           "a refused refresh token fails the answer");
    str_is(t.refused, "refreshToken", "named");
    cJSON_Delete(o);

    o = parse("{\"refreshToken\":\"rt\"}");
    is_int(q2api_answer_tokens(o, &names, NOW, &t), Q2API_ERROR,
           "no access token");
    ok(t.refused == NULL, "is no refusal");
    cJSON_Delete(o);

    is_int(q2api_answer_tokens(NULL, &names, NOW, &t), Q2API_ERROR,
           "no answer at all");

    o = parse("{\"accessToken\":\"at\",\"profileArn\":"
              "\"arn:aws:codewhisperer:evil.com/x#:1:profile/X\"}");
    is_int(q2api_answer_tokens(o, &names, NOW, &t), Q2API_OK,
           "a bad profileArn keeps the token");
    ok(t.profile_arn == NULL, "without the ARN");
    str_is(t.refused, "profileArn", "named");
    cJSON_Delete(o);

    /* a double past int64_t would be undefined as a time */
    o = parse("{\"accessToken\":\"at\",\"expiresIn\":1e300}");
    is_int(q2api_answer_tokens(o, &names, NOW, &t), Q2API_OK,
           "an absurd lifetime");
    ok(t.expires == NOW + 3600, "is an hour");
    cJSON_Delete(o);

    o = parse("{\"accessToken\":\"at\",\"expiresIn\":-5}");
    (void) q2api_answer_tokens(o, &names, NOW, &t);
    ok(t.expires == NOW + 3600, "a negative lifetime is an hour");
    cJSON_Delete(o);

    /* {"exp":1700000000} */
    o = parse("{\"accessToken\":\"eyJhbGciOiJub25lIn0."
              "eyJleHAiOjE3MDAwMDAwMDB9.\"}");
    (void) q2api_answer_tokens(o, &names, NOW + 5, &t);
    ok(t.expires == 1700000000, "without expiresIn, the JWT's exp");
    cJSON_Delete(o);
}


static void
test_device(void)
{
    cJSON                  *o;
    q2api_device_answer_t   d;

    o = parse("{\"deviceCode\":\"dc\",\"userCode\":\"AB-CD\","
              "\"verificationUri\":\"https://x/\",\"expiresIn\":300,"
              "\"interval\":5}");
    is_int(q2api_answer_device(o, &d), Q2API_OK, "a device answer");
    str_is(d.device_code, "dc", "its device code");
    str_is(d.user_code, "AB-CD", "its user code");
    ok(d.complete == NULL, "no complete URI");
    ok(d.expires_in == 300 && d.interval == 5, "its numbers");
    cJSON_Delete(o);

    o = parse("{\"deviceCode\":\"dc\",\"userCode\":\"u\"}");
    (void) q2api_answer_device(o, &d);
    ok(d.expires_in == 600 && d.interval == 1, "q2api's defaults");
    cJSON_Delete(o);

    /* interval * 1000 becomes a timer: a double past it is undefined */
    o = parse("{\"deviceCode\":\"dc\",\"userCode\":\"u\","
              "\"expiresIn\":1e300,\"interval\":1e300}");
    (void) q2api_answer_device(o, &d);
    ok(d.expires_in == Q2API_ANSWER_DEVICE_LIFE, "a lifetime is bounded");
    ok(d.interval == Q2API_ANSWER_INTERVAL_MAX, "an interval is bounded");
    cJSON_Delete(o);

    o = parse("{\"deviceCode\":\"dc\",\"userCode\":\"u\","
              "\"expiresIn\":-1,\"interval\":-1}");
    (void) q2api_answer_device(o, &d);
    ok(d.expires_in == 0 && d.interval == 1, "and kept from below");
    cJSON_Delete(o);

    o = parse("{\"deviceCode\":\"d\\nc\",\"userCode\":\"u\"}");
    is_int(q2api_answer_device(o, &d), Q2API_ERROR,
           "a device code with LF is refused");
    str_is(d.refused, "deviceCode", "named");
    cJSON_Delete(o);

    o = parse("{\"deviceCode\":\"dc\"}");
    is_int(q2api_answer_device(o, &d), Q2API_ERROR, "no user code");
    cJSON_Delete(o);
}


static void
test_oauth(void)
{
    cJSON  *o;

    o = parse("{\"error\":\"invalid_grant\"}");
    ok(q2api_answer_oauth_error(o) == Q2API_OAUTH_DEAD_GRANT,
       "invalid_grant");
    cJSON_Delete(o);

    o = parse("{\"error\":\"invalid_client\"}");
    ok(q2api_answer_oauth_error(o) == Q2API_OAUTH_DEAD_CLIENT,
       "invalid_client");
    cJSON_Delete(o);

    o = parse("{\"error\":\"slow_down\"}");
    ok(q2api_answer_oauth_error(o) == Q2API_OAUTH_OTHER, "anything else");
    cJSON_Delete(o);

    ok(q2api_answer_oauth_error(NULL) == Q2API_OAUTH_OTHER, "no answer");
}


static void
test_profile(void)
{
    cJSON       *o;
    const char  *arn;

    o = parse("{\"profiles\":[{\"arn\":"
              "\"arn:aws:codewhisperer:eu-central-1:123456789012:"
              "profile/A\"},{\"arn\":\"x\"}]}");
    is_int(q2api_answer_profile(o, &arn), Q2API_OK, "a profile");
    ok(arn && strstr(arn, "profile/A"), "the first");
    cJSON_Delete(o);

    o = parse("{\"profiles\":[{\"arn\":"
              "\"arn:aws:codewhisperer:evil.com/x#:1:profile/X\"}]}");
    is_int(q2api_answer_profile(o, &arn), Q2API_ERROR,
           "a region that makes a host of its own is refused");
    ok(arn == NULL, "with no value");
    cJSON_Delete(o);

    o = parse("{\"profiles\":[]}");
    is_int(q2api_answer_profile(o, &arn), Q2API_OK, "no profile");
    ok(arn == NULL, "is none");
    cJSON_Delete(o);
}


static void
test_usage(void)
{
    cJSON                 *o;
    q2api_usage_answer_t   u;

    o = parse("{\"usageBreakdownList\":[{\"resourceType\":\"X\","
              "\"usageLimitWithPrecision\":1},{\"resourceType\":\"CREDIT\","
              "\"usageLimitWithPrecision\":50,"
              "\"currentUsageWithPrecision\":10,"
              "\"freeTrialInfo\":{\"freeTrialStatus\":\"ACTIVE\","
              "\"usageLimitWithPrecision\":500,"
              "\"currentUsageWithPrecision\":5},"
              "\"bonuses\":[{\"status\":\"ACTIVE\",\"usageLimit\":20,"
              "\"currentUsage\":2},{\"status\":\"EXPIRED\","
              "\"usageLimit\":99}]}],\"nextDateReset\":1.7e9,"
              "\"subscriptionInfo\":{\"subscriptionTitle\":\"KIRO FREE\"}}");
    is_int(q2api_answer_usage(o, &u), Q2API_OK, "a usage answer");
    ok(u.limit == 570 && u.used == 17 && u.remaining == 553,
       "the credit line, the trial and the active bonus");
    ok(u.next_reset == 1.7e9, "the next reset");
    str_is(u.title, "KIRO FREE", "the title");
    cJSON_Delete(o);

    o = parse("{\"usageBreakdownList\":[{\"usageLimitWithPrecision\":1e308,"
              "\"bonuses\":[{\"status\":\"ACTIVE\",\"usageLimit\":1e308},"
              "{\"status\":\"ACTIVE\",\"usageLimit\":1e308}]}]}");
    is_int(q2api_answer_usage(o, &u), Q2API_OK, "huge amounts");
    ok(isfinite(u.limit) && isfinite(u.used) && isfinite(u.remaining),
       "add up to no infinity");
    str_is(u.title, "", "no title is an empty one");
    cJSON_Delete(o);

    o = parse("[1]");
    is_int(q2api_answer_usage(o, &u), Q2API_ERROR, "no object");
    cJSON_Delete(o);
}


int
main(void)
{
    test_parse();
    test_tokens();
    test_device();
    test_oauth();
    test_profile();
    test_usage();

    return done_testing();
}
