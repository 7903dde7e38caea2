/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdlib.h>

#include <cjson/cJSON.h>

#include "q2api_jwt.h"


/* a JWT's claims are small; anything larger is not what we look for */
#define Q2API_JWT_MAX_PAYLOAD  8192


static int
q2api_base64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


/* unpadded base64url into out (at least len * 3 / 4 bytes); -1 if bad */
static long
q2api_base64url_decode(const char *in, size_t len, unsigned char *out)
{
    int            v;
    size_t         i, n;
    unsigned int   acc, bits;

    if (len % 4 == 1) {
        return -1;
    }

    acc = 0;
    bits = 0;
    n = 0;

    for (i = 0; i < len; i++) {
        v = q2api_base64url_value((unsigned char) in[i]);

        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (unsigned int) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char) (acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }

    return (long) n;
}


void *
q2api_jwt_claims(const char *token, size_t len)
{
    long           n;
    cJSON         *claims;
    const char    *dot1, *dot2;
    unsigned char  payload[Q2API_JWT_MAX_PAYLOAD];

    if (token == NULL) {
        return NULL;
    }

    dot1 = memchr(token, '.', len);

    if (dot1 == NULL) {
        return NULL;
    }

    dot2 = memchr(dot1 + 1, '.', len - (size_t) (dot1 + 1 - token));

    if (dot2 == NULL || dot1 == token
        || memchr(dot2 + 1, '.', len - (size_t) (dot2 + 1 - token)) != NULL
        || (size_t) (dot2 - dot1 - 1) * 3 / 4 >= sizeof(payload))
    {
        return NULL;
    }

    n = q2api_base64url_decode(dot1 + 1, (size_t) (dot2 - dot1 - 1), payload);

    if (n <= 0) {
        return NULL;
    }

    claims = cJSON_ParseWithLength((const char *) payload, (size_t) n);

    if (!cJSON_IsObject(claims)) {
        cJSON_Delete(claims);
        return NULL;
    }

    return claims;
}


int
q2api_jwt_exp(const char *token, size_t len, int64_t *exp)
{
    int     rc;
    cJSON  *claims, *item;

    claims = q2api_jwt_claims(token, len);

    item = cJSON_GetObjectItemCaseSensitive(claims, "exp");

    rc = Q2API_ERROR;

    /* beyond year 9999 is not an expiry anyone meant */
    if (cJSON_IsNumber(item)
        && item->valuedouble >= 1 && item->valuedouble < 253402300800.0)
    {
        *exp = (int64_t) item->valuedouble;
        rc = Q2API_OK;
    }

    cJSON_Delete(claims);

    return rc;
}
