/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for what identity services answer (q2api_answer.h):
 * OIDC RegisterClient, StartDeviceAuthorization and CreateToken, Kiro's
 * /refreshToken, ListAvailableProfiles and getUsageLimits.  Input: an
 * answer's body, any bytes.  Every value taken passes its check class
 * (so no CR/LF reaches a header, no host is built from a stranger's
 * region), a refused value is never handed on, and every number is in
 * its bounds (UBSan checks the conversions on the way).
 */


#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_answer.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)

#define NOW  1700000000


static const q2api_token_names_t  refresh_names = {
    "accessToken", "refreshToken", "expiresIn", "profileArn"
};

static const q2api_token_names_t  device_names = {
    "accessToken", "refreshToken", "expiresIn", NULL
};


static void
checked(const char *v, q2api_check_e what)
{
    check(v == NULL || q2api_check(what, v, strlen(v)) == Q2API_OK);
}


static void
tokens(cJSON *o, const q2api_token_names_t *names)
{
    int                   rc;
    q2api_token_answer_t  t;

    rc = q2api_answer_tokens(o, names, NOW, &t);

    if (rc != Q2API_OK) {
        check(t.access_token == NULL || t.refused != NULL);
        return;
    }

    check(t.access_token != NULL);
    checked(t.access_token, Q2API_CHECK_TOKEN);
    checked(t.refresh_token, Q2API_CHECK_TOKEN);
    checked(t.profile_arn, Q2API_CHECK_ARN);
    check(names->profile_arn != NULL || t.profile_arn == NULL);
    check(t.profile_arn == NULL || t.refused == NULL);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                   *s;
    cJSON                  *o;
    const char             *v;
    q2api_usage_answer_t    u;
    q2api_device_answer_t   d;

    /* exactly size bytes: ASan sees a read past the end */
    s = malloc(size ? size : 1);
    check(s != NULL);
    memcpy(s, data, size);

    o = q2api_answer_parse(s, size);

    tokens(o, &refresh_names);
    tokens(o, &device_names);

    if (q2api_answer_device(o, &d) == Q2API_OK) {
        check(d.device_code && d.user_code);
    }

    checked(d.device_code, Q2API_CHECK_TOKEN);
    checked(d.user_code, Q2API_CHECK_TOKEN);
    checked(d.uri, Q2API_CHECK_TOKEN);
    checked(d.complete, Q2API_CHECK_TOKEN);
    check(d.expires_in >= 0 && d.expires_in <= Q2API_ANSWER_DEVICE_LIFE);
    check(d.interval >= 1 && d.interval <= Q2API_ANSWER_INTERVAL_MAX);

    /* what becomes a timer in the glue, within its type */
    check((uint64_t) (d.interval * 1000) >= 1000);

    (void) q2api_answer_member(o, "clientId", Q2API_CHECK_TOKEN, &v);
    checked(v, Q2API_CHECK_TOKEN);

    (void) q2api_answer_member(o, "error", Q2API_CHECK_TOKEN, &v);
    checked(v, Q2API_CHECK_TOKEN);

    check(q2api_answer_oauth_error(o) <= Q2API_OAUTH_DEAD_CLIENT);

    if (q2api_answer_profile(o, &v) != Q2API_OK) {
        check(v == NULL);
    }

    checked(v, Q2API_CHECK_ARN);

    if (q2api_answer_usage(o, &u) == Q2API_OK) {
        check(u.title != NULL);
        check(isfinite(u.limit) && isfinite(u.used)
              && isfinite(u.remaining) && u.remaining >= 0);
    }

    cJSON_Delete(o);
    free(s);

    return 0;
}
