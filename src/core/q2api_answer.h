/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What identity services answer (AWS SSO OIDC's RegisterClient,
 * StartDeviceAuthorization and CreateToken, Kiro's /refreshToken,
 * ListAvailableProfiles and getUsageLimits), read into checked fields.
 * Every value that goes on into a header, a URL or a host passes its
 * q2api_check class here; every number that becomes a time or a timer is
 * bounded here.  The glue (src/identity) makes the calls, logs a refused
 * member by its name (never its value) and decides what the answer does
 * to the account.
 */

#ifndef _Q2API_ANSWER_H_INCLUDED_
#define _Q2API_ANSWER_H_INCLUDED_


#include <cjson/cJSON.h>

#include "q2api_core.h"
#include "q2api_check.h"


/* a year: a longer token lifetime is no lifetime but a mistake */
#define Q2API_ANSWER_LIFE_MAX      (86400 * 365)
/* what a device authorization may ask for: its lifetime, a poll's wait */
#define Q2API_ANSWER_DEVICE_LIFE   86400
#define Q2API_ANSWER_INTERVAL_MAX  600


/* the members of a token answer; NULL: the service has no such member */
typedef struct {
    const char  *access_token;
    const char  *refresh_token;
    const char  *expires_in;
    const char  *profile_arn;
} q2api_token_names_t;


/* the strings point into the cJSON tree */
typedef struct {
    const char  *access_token;     /* set when Q2API_OK */
    const char  *refresh_token;    /* NULL: not rotated */
    const char  *profile_arn;      /* NULL: none given, or refused */
    int64_t      expires;          /* epoch seconds */
    const char  *refused;          /* the member refused, or NULL */
} q2api_token_answer_t;


typedef struct {
    const char  *device_code;      /* set when Q2API_OK */
    const char  *user_code;        /* set when Q2API_OK */
    const char  *uri;              /* NULL: none */
    const char  *complete;         /* NULL: none */
    double       expires_in;       /* 0 .. Q2API_ANSWER_DEVICE_LIFE */
    double       interval;         /* 1 .. Q2API_ANSWER_INTERVAL_MAX */
    const char  *refused;
} q2api_device_answer_t;


/* a Kiro account's credits, as Kiro's own clients add them up */
typedef struct {
    const char  *title;            /* never NULL */
    double       limit;            /* all finite */
    double       used;
    double       remaining;
    double       next_reset;
} q2api_usage_answer_t;


typedef enum {
    Q2API_OAUTH_OTHER = 0,         /* transient, or unknown */
    Q2API_OAUTH_DEAD_GRANT,        /* invalid_grant, unauthorized_client */
    Q2API_OAUTH_DEAD_CLIENT        /* invalid_client */
} q2api_oauth_error_e;


/*
 * An answer's body as JSON, NULL when it is none (empty, not JSON).  A NUL
 * in a string is kept as a mark (q2api_nul.h) that every check refuses,
 * rather than cutting the value as cJSON would.  The tree is the caller's
 * to cJSON_Delete().
 */
cJSON *q2api_answer_parse(const char *text, size_t len);

/*
 * o's member "key" when it is a non-empty string of class what: Q2API_OK
 * with *value (NULL when absent, not a string, or empty), Q2API_ERROR
 * when the check refuses it (*value NULL).  o may be NULL.
 */
int q2api_answer_member(const cJSON *o, const char *key, q2api_check_e what,
    const char **value);

/* o's member "key" when it is a number, or dflt */
double q2api_answer_number(const cJSON *o, const char *key, double dflt);

/*
 * A token answer (o may be NULL): the access token (required), a rotated
 * refresh token, the profileArn, and the expiry (expires_in seconds, else
 * the access token's JWT "exp", else an hour from now).  Q2API_OK: the
 * fields, with t->refused naming a refused profileArn, which is left out.
 * Q2API_ERROR: t->refused names the token refused (the account needs a
 * new login), or is NULL when there is no access token.
 */
int q2api_answer_tokens(const cJSON *o, const q2api_token_names_t *names,
    int64_t now, q2api_token_answer_t *t);

/*
 * StartDeviceAuthorization's answer: Q2API_OK with the codes and URIs;
 * Q2API_ERROR without a device or user code, or with a member refused
 * (d->refused names it).  q2api's defaults when the service leaves the
 * numbers out: 600 s to complete, a poll a second.
 */
int q2api_answer_device(const cJSON *o, q2api_device_answer_t *d);

/* OAuth 2.0's error codes (RFC 6749 5.2) in an error answer */
q2api_oauth_error_e q2api_answer_oauth_error(const cJSON *o);

/*
 * ListAvailableProfiles: the first profile's ARN, the one the Kiro IDE
 * selects by itself.  Q2API_OK with *arn (NULL: no profile), Q2API_ERROR
 * when it is not an ARN.
 */
int q2api_answer_profile(const cJSON *o, const char **arn);

/*
 * getUsageLimits: the credit line (or the first line), an active free
 * trial and active bonuses added up.  Q2API_ERROR when o is no object.
 */
int q2api_answer_usage(const cJSON *o, q2api_usage_answer_t *u);


#endif /* _Q2API_ANSWER_H_INCLUDED_ */
