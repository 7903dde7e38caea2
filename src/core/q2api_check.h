/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The one check of values that come from outside (admin API, imports,
 * both stores, identity answers) and end up in an HTTP header, a URL, a
 * host name or a file name.  Every entry point calls it with the class of
 * the value, so a value is held to the same rule whichever way it came in.
 */

#ifndef _Q2API_CHECK_H_INCLUDED_
#define _Q2API_CHECK_H_INCLUDED_


#include "q2api_core.h"


typedef enum {
    /* credentials (tokens, secrets, client ids): headers and bodies */
    Q2API_CHECK_TOKEN = 0,
    /* an account id: a URL path segment and log lines */
    Q2API_CHECK_ID,
    /* a label: free text, but no control character */
    Q2API_CHECK_LABEL,
    /* an AWS region: part of a host name */
    Q2API_CHECK_REGION,
    /* an ARN (q2api_arn_parse): a request body, a query, a region */
    Q2API_CHECK_ARN,
    /* base64 (RFC 4648 4, padded, no line breaks): image data */
    Q2API_CHECK_BASE64,
    /* a Google Cloud project id (Code Assist's project): request bodies */
    Q2API_CHECK_PROJECT,
    /* a Code Assist endpoint, https://<one of its hosts>: a host name */
    Q2API_CHECK_ENDPOINT,
    Q2API_CHECK_NCLASSES
} q2api_check_e;


#define Q2API_CHECK_TOKEN_MAX   16384
#define Q2API_CHECK_ID_MAX      128
#define Q2API_CHECK_LABEL_MAX   256
#define Q2API_CHECK_REGION_MAX  32
#define Q2API_CHECK_ARN_MAX     2048
#define Q2API_CHECK_PROJECT_MAX 100


/* arn:<partition>:<service>:<region>:<account>:<resource> */
typedef struct {
    q2api_str_t  partition;
    q2api_str_t  service;
    q2api_str_t  region;
    q2api_str_t  account;
    q2api_str_t  resource;
} q2api_arn_t;


/*
 * Q2API_OK when s[0..len) is a value of the class; Q2API_ERROR otherwise
 * (an empty value included: the caller decides whether a value may be
 * absent).  s need not be NUL-terminated; a NUL in it is refused.
 */
int q2api_check(q2api_check_e what, const char *s, size_t len);

/* the rule of a class, for an error message ("1 to 128 characters ...") */
const char *q2api_check_rule(q2api_check_e what);

/*
 * Strict ARN parsing: partition aws or aws-<name>, a service of [a-z0-9-],
 * a region ^[a-z]{2}(-[a-z]+)+-[0-9]+$, a 12-digit account and a resource
 * of [A-Za-z0-9/_.:@+=,-].  The fields point into s.
 */
int q2api_arn_parse(const char *s, size_t len, q2api_arn_t *arn);


#endif /* _Q2API_CHECK_H_INCLUDED_ */
