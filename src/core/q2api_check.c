/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Checks of values from outside.  The rules are allow-lists: what a
 * header, a URL path segment or a host name can carry as it is, so that
 * nothing downstream needs to escape or guess.
 */


#include "q2api_check.h"
#include "q2api_json.h"


static int q2api_check_token(const unsigned char *p, size_t len);
static int q2api_check_id(const unsigned char *p, size_t len);
static int q2api_check_label(const unsigned char *p, size_t len);
static int q2api_check_region(const unsigned char *p, size_t len);
static int q2api_check_base64(const unsigned char *p, size_t len);
static int q2api_check_project(const unsigned char *p, size_t len);
static int q2api_check_endpoint(const char *s, size_t len);
static int q2api_arn_field(const char **p, const char *end, q2api_str_t *f);
static int q2api_arn_partition(q2api_str_t *f);
static int q2api_arn_service(q2api_str_t *f);
static int q2api_arn_account(q2api_str_t *f);
static int q2api_arn_resource(q2api_str_t *f);


static const char  *q2api_check_rules[] = {
    "must be 1 to 16384 printable ASCII characters without spaces",
    "must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~ : @, "
        "and not \".\" or \"..\"",
    "must be at most 256 bytes of UTF-8 without control characters",
    "must be an AWS region such as us-east-1",
    "must be an ARN such as "
        "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC",
    "must be base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4)",
    "must be a Google Cloud project id: a lower-case letter, then up to 99 "
        "of a-z 0-9 - . :, not ending in - . or :",
    "must be https:// and a Code Assist host (cloudcode-pa.googleapis.com, "
        "daily-cloudcode-pa.googleapis.com, "
        "daily-cloudcode-pa.sandbox.googleapis.com, ...)"
};


/* the hosts of Code Assist known to answer (gemini.md 0.2, 2) */
static const char  *q2api_check_endpoints[] = {
    "cloudcode-pa.googleapis.com",
    "daily-cloudcode-pa.googleapis.com",
    "daily-cloudcode-pa.sandbox.googleapis.com",
    "staging-cloudcode-pa.googleapis.com",
    "autopush-cloudcode-pa.googleapis.com",
    "autopush-cloudcode-pa.sandbox.googleapis.com",
    NULL
};


int
q2api_check(q2api_check_e what, const char *s, size_t len)
{
    q2api_arn_t           arn;
    const unsigned char  *p;

    p = (const unsigned char *) s;

    if (len == 0 || s == NULL) {
        return Q2API_ERROR;
    }

    switch (what) {

    case Q2API_CHECK_TOKEN:
        return q2api_check_token(p, len);

    case Q2API_CHECK_ID:
        return q2api_check_id(p, len);

    case Q2API_CHECK_LABEL:
        return q2api_check_label(p, len);

    case Q2API_CHECK_REGION:
        return q2api_check_region(p, len);

    case Q2API_CHECK_ARN:
        return q2api_arn_parse(s, len, &arn);

    case Q2API_CHECK_BASE64:
        return q2api_check_base64(p, len);

    case Q2API_CHECK_PROJECT:
        return q2api_check_project(p, len);

    case Q2API_CHECK_ENDPOINT:
        return q2api_check_endpoint(s, len);

    default:
        return Q2API_ERROR;
    }
}


const char *
q2api_check_rule(q2api_check_e what)
{
    if ((unsigned) what >= Q2API_CHECK_NCLASSES) {
        return "is not acceptable";
    }

    return q2api_check_rules[what];
}


/* what a header value carries as it is: 0x21-0x7e */
static int
q2api_check_token(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len > Q2API_CHECK_TOKEN_MAX) {
        return Q2API_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/*
 * RFC 3986 unreserved characters and ':' '@': a path segment without
 * escapes.  "." and ".." are segments a client or proxy normalizes away,
 * so an account with such an id could never be addressed.
 */
static int
q2api_check_id(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len > Q2API_CHECK_ID_MAX
        || (len == 1 && p[0] == '.')
        || (len == 2 && p[0] == '.' && p[1] == '.'))
    {
        return Q2API_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '-' || p[i] == '.'
              || p[i] == '_' || p[i] == '~' || p[i] == ':' || p[i] == '@'))
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/*
 * Project ids are lower-case letters, digits and hyphens; older ones are
 * scoped by a domain ("example.com:proj").  Such a value goes into JSON
 * bodies and, for quota, into no URL: the allow-list keeps it that way.
 */
static int
q2api_check_project(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len > Q2API_CHECK_PROJECT_MAX || p[0] < 'a' || p[0] > 'z'
        || p[len - 1] == '-' || p[len - 1] == '.' || p[len - 1] == ':')
    {
        return Q2API_ERROR;
    }

    for (i = 1; i < len; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9')
              || p[i] == '-' || p[i] == '.' || p[i] == ':'))
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/*
 * An account's endpoint picks the host its token is sent to: only the
 * hosts of the service itself, https, nothing after the host but one
 * slash, so that no row can send a Google token elsewhere.
 */
static int
q2api_check_endpoint(const char *s, size_t len)
{
    size_t        n;
    const char  **host;

    if (len < sizeof("https://") - 1
        || memcmp(s, "https://", sizeof("https://") - 1) != 0)
    {
        return Q2API_ERROR;
    }

    s += sizeof("https://") - 1;
    len -= sizeof("https://") - 1;

    if (len && s[len - 1] == '/') {
        len--;
    }

    for (host = q2api_check_endpoints; *host; host++) {
        n = strlen(*host);

        if (n == len && memcmp(s, *host, n) == 0) {
            return Q2API_OK;
        }
    }

    return Q2API_ERROR;
}


/* C0, DEL and C1 (U+0080-U+009F, 0xc2 0x80-0x9f in UTF-8) */
static int
q2api_check_label(const unsigned char *p, size_t len)
{
    size_t  i;

    if (len > Q2API_CHECK_LABEL_MAX
        || !q2api_utf8_valid((const char *) p, len))
    {
        return Q2API_ERROR;
    }

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f
            || (p[i] == 0xc2 && i + 1 < len && p[i + 1] < 0xa0))
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* ^[a-z]{2}(-[a-z]+)+-[0-9]+$ */
static int
q2api_check_region(const unsigned char *p, size_t len)
{
    size_t  i, words;

    if (len > Q2API_CHECK_REGION_MAX || len < 6
        || !(p[0] >= 'a' && p[0] <= 'z') || !(p[1] >= 'a' && p[1] <= 'z'))
    {
        return Q2API_ERROR;
    }

    i = 2;
    words = 0;

    /* the (-[a-z]+)+ groups, up to the last dash */
    while (i + 1 < len && p[i] == '-' && p[i + 1] >= 'a' && p[i + 1] <= 'z') {
        i++;

        while (i < len && p[i] >= 'a' && p[i] <= 'z') {
            i++;
        }

        words++;
    }

    if (words == 0 || i + 1 >= len || p[i] != '-') {
        return Q2API_ERROR;
    }

    for (i++; i < len; i++) {
        if (!(p[i] >= '0' && p[i] <= '9')) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/*
 * A check, not a decoder: the data goes on as it came, and whoever uses
 * it decodes it.  Padding is where a decoder expects it, and nowhere else.
 */
static int
q2api_check_base64(const unsigned char *p, size_t len)
{
    size_t  i, pad;

    if (len % 4 != 0) {
        return Q2API_ERROR;
    }

    pad = (p[len - 1] == '=') + (p[len - 2] == '=');

    if (pad == 1 && p[len - 2] == '=') {
        return Q2API_ERROR;
    }

    for (i = 0; i < len - pad; i++) {
        if (!((p[i] >= 'A' && p[i] <= 'Z') || (p[i] >= 'a' && p[i] <= 'z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '+' || p[i] == '/'))
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


int
q2api_arn_parse(const char *s, size_t len, q2api_arn_t *arn)
{
    const char  *p, *end;

    if (s == NULL || len > Q2API_CHECK_ARN_MAX || len < sizeof("arn:") - 1
        || memcmp(s, "arn:", sizeof("arn:") - 1) != 0)
    {
        return Q2API_ERROR;
    }

    p = s + sizeof("arn:") - 1;
    end = s + len;

    if (q2api_arn_field(&p, end, &arn->partition) != Q2API_OK
        || q2api_arn_field(&p, end, &arn->service) != Q2API_OK
        || q2api_arn_field(&p, end, &arn->region) != Q2API_OK
        || q2api_arn_field(&p, end, &arn->account) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    /* the resource is the rest, colons included */
    arn->resource.data = p;
    arn->resource.len = end - p;

    if (q2api_arn_partition(&arn->partition) != Q2API_OK
        || q2api_arn_service(&arn->service) != Q2API_OK
        || q2api_check_region((const unsigned char *) arn->region.data,
                              arn->region.len) != Q2API_OK
        || q2api_arn_account(&arn->account) != Q2API_OK
        || q2api_arn_resource(&arn->resource) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/* the text up to the next ':', which is skipped; there must be one */
static int
q2api_arn_field(const char **p, const char *end, q2api_str_t *f)
{
    const char  *colon;

    colon = memchr(*p, ':', end - *p);
    if (colon == NULL) {
        return Q2API_ERROR;
    }

    f->data = *p;
    f->len = colon - *p;

    *p = colon + 1;

    return Q2API_OK;
}


/* aws, aws-cn, aws-us-gov, aws-iso-b...: "aws" and dashed words */
static int
q2api_arn_partition(q2api_str_t *f)
{
    size_t  i;

    if (f->len < 3 || f->len > 32 || memcmp(f->data, "aws", 3) != 0) {
        return Q2API_ERROR;
    }

    for (i = 3; i < f->len; i++) {
        if (f->data[i] == '-'
            && i + 1 < f->len && f->data[i + 1] >= 'a'
            && f->data[i + 1] <= 'z')
        {
            continue;
        }

        if (!(f->data[i] >= 'a' && f->data[i] <= 'z') || i == 3) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


static int
q2api_arn_service(q2api_str_t *f)
{
    size_t  i;

    if (f->len == 0 || f->len > 64
        || !(f->data[0] >= 'a' && f->data[0] <= 'z'))
    {
        return Q2API_ERROR;
    }

    for (i = 1; i < f->len; i++) {
        if (!((f->data[i] >= 'a' && f->data[i] <= 'z')
              || (f->data[i] >= '0' && f->data[i] <= '9')
              || f->data[i] == '-'))
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


static int
q2api_arn_account(q2api_str_t *f)
{
    size_t  i;

    if (f->len != 12) {
        return Q2API_ERROR;
    }

    for (i = 0; i < f->len; i++) {
        if (!(f->data[i] >= '0' && f->data[i] <= '9')) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* nothing a query string, a JSON body or a header would read otherwise */
static int
q2api_arn_resource(q2api_str_t *f)
{
    size_t  i;
    char    c;

    if (f->len == 0) {
        return Q2API_ERROR;
    }

    for (i = 0; i < f->len; i++) {
        c = f->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '.'
              || c == ':' || c == '@' || c == '+' || c == '=' || c == ','
              || c == '-'))
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}
