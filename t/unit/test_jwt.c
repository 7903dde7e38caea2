/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Reading the expiry out of a JWT-shaped token, and refusing everything
 * else without reading past its end.
 */


#include <stdint.h>
#include <stdlib.h>

#include "tap.h"
#include <cjson/cJSON.h>

#include "q2api_jwt.h"


static void
exp_is(const char *token, int64_t want, const char *name)
{
    int      rc;
    int64_t  exp;

    exp = -1;
    rc = q2api_jwt_exp(token, strlen(token), &exp);

    is_int(rc, Q2API_OK, name);
    ok(exp == want, name);

    if (exp != want) {
        diag("exp %lld, want %lld", (long long) exp, (long long) want);
    }
}


static void
refused(const char *token, size_t len, const char *name)
{
    int64_t  exp;

    exp = -1;
    is_int(q2api_jwt_exp(token, len, &exp), Q2API_ERROR, name);
    ok(exp == -1, name);
}


/* Google's id token: sub and email read, nothing verified */
static void
test_claims(void)
{
    cJSON       *c;
    const char  *t;

    /* {"sub":"1234567890","email":"a@b.c"} */
    t = "h.eyJzdWIiOiIxMjM0NTY3ODkwIiwiZW1haWwiOiJhQGIuYyJ9.s";
    c = q2api_jwt_claims(t, strlen(t));
    ok(cJSON_IsObject(c), "claims: an object");
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(c, "sub")), "1234567890",
           "claims: sub");
    is_str(cJSON_GetStringValue(cJSON_GetObjectItem(c, "email")), "a@b.c",
           "claims: email");
    cJSON_Delete(c);

    ok(q2api_jwt_claims("h.WzFd.s", 8) == NULL, "claims: [1] is none");
    ok(q2api_jwt_claims("opaque", 6) == NULL, "claims: not a JWT");
}


int
main(void)
{
    char    *copy;
    size_t   len;

    /* {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890","exp":1767225600} */
    exp_is("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
           ".eyJzdWIiOiIxMjM0NTY3ODkwIiwiZXhwIjoxNzY3MjI1NjAwfQ"
           ".c2lnbmF0dXJl", 1767225600, "a signed JWT");

    /* {"exp":1700000000} with base64url characters - and _ elsewhere */
    exp_is("eyJhbGciOiJub25lIn0.eyJleHAiOjE3MDAwMDAwMDB9.", 1700000000,
           "an unsigned JWT (empty signature)");

    /* {"a":"??>","exp":2000000000}: '?' and '>' encode to '_' and '-' */
    exp_is("x.eyJhIjoiPz8-IiwiZXhwIjoyMDAwMDAwMDAwfQ.y", 2000000000,
           "url-safe alphabet");

    /* {"exp":1.7e9} */
    exp_is("h.eyJleHAiOjEuN2U5fQ.s", 1700000000, "exponent notation");

    refused("aoaAAAAAGk1opaque-token", 23, "an opaque Amazon Q token");
    refused("", 0, "an empty token");
    refused(NULL, 0, "no token");
    refused("a.b", 3, "two parts");
    refused("a.b.c.d", 7, "four parts");
    refused(".eyJleHAiOjE3MDAwMDAwMDB9.s", 27, "no header");
    refused("h..s", 4, "empty claims");
    refused("h.eyJleHAiOjE3MDAwMDAwMDB9=.s", 29, "padding is not base64url");
    refused("h.e.s", 5, "one character cannot be base64");
    refused("h.eyJleHAiOiIxNzAwMDAwMDAwIn0.s", 31, "exp as a string");
    refused("h.eyJpYXQiOjE3MDAwMDAwMDB9.s", 28, "no exp");
    refused("h.eyJleHAiOi0xfQ.s", 18, "negative exp");
    refused("h.WzFd.s", 8, "claims not an object ([1])");
    refused("h.bm90IGpzb24.s", 15, "claims not JSON");

    /* the decoder stays inside len: a valid token cut before its end */
    copy = strdup("h.eyJleHAiOjE3MDAwMDAwMDB9.s");
    len = strlen(copy);
    refused(copy, len - 2, "cut inside: not three parts");
    free(copy);

    /* an enormous middle part is not decoded onto the stack */
    len = 3 + 20000;
    copy = malloc(len + 1);
    memset(copy, 'A', len);
    copy[0] = 'h';
    copy[1] = '.';
    copy[len - 1] = 's';
    copy[len - 2] = '.';
    copy[len] = '\0';
    refused(copy, len, "an oversized claims part");
    free(copy);

    test_claims();

    return done_testing();
}
