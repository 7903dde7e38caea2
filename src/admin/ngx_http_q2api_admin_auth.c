/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Authentication of the admin API: the password (kept as its SHA-256),
 * the credentials of a request, POST /api/login and the answers to a
 * request without valid credentials.  Session tokens are in
 * ngx_http_q2api_admin_session.c, the slow-down of repeated failures in
 * ngx_http_q2api_admin_lockout.c.
 */


#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "ngx_http_q2api_admin.h"


static ngx_uint_t ngx_http_q2api_admin_password_ok(
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *password);
static ngx_int_t ngx_http_q2api_admin_credential(ngx_http_request_t *r,
    ngx_str_t *cred);
static ngx_int_t ngx_http_q2api_admin_login(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *password,
    ngx_str_t *token, time_t *expires, time_t *retry_after);


/*
 * q2api_admin_password secret | {PLAIN}secret | {SHA256}base64;
 * only the SHA-256 of the password is kept.
 */
char *
ngx_http_q2api_admin_password(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_q2api_admin_loc_conf_t *alcf = conf;

    u_char      buf[NGX_HTTP_Q2API_ADMIN_DIGEST_LEN + 4];
    ngx_str_t  *value, v, decoded;

    if (alcf->has_password != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    v = value[1];

#define q2api_scheme(lit)                                                  \
    (v.len >= sizeof(lit) - 1                                              \
     && ngx_strncasecmp(v.data, (u_char *) lit, sizeof(lit) - 1) == 0)

    if (q2api_scheme("{SHA256}")) {
        v.data += sizeof("{SHA256}") - 1;
        v.len -= sizeof("{SHA256}") - 1;

        if (ngx_base64_decoded_length(v.len) > sizeof(buf)) {
            goto bad_hash;
        }

        decoded.data = buf;

        if (ngx_decode_base64(&decoded, &v) != NGX_OK
            || decoded.len != NGX_HTTP_Q2API_ADMIN_DIGEST_LEN)
        {
            goto bad_hash;
        }

        ngx_memcpy(alcf->digest, buf, NGX_HTTP_Q2API_ADMIN_DIGEST_LEN);
        alcf->has_password = 1;

        return NGX_CONF_OK;
    }

    if (q2api_scheme("{PLAIN}")) {
        v.data += sizeof("{PLAIN}") - 1;
        v.len -= sizeof("{PLAIN}") - 1;

    } else if (v.len && v.data[0] == '{'
               && ngx_strlchr(v.data, v.data + v.len, '}') != NULL)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": unknown password scheme, use "
                           "{PLAIN} or {SHA256}", &cmd->name);
        return NGX_CONF_ERROR;
    }

#undef q2api_scheme

    if (v.len < 8) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\": the password must have at least "
                           "8 characters", &cmd->name);
        return NGX_CONF_ERROR;
    }

    SHA256(v.data, v.len, alcf->digest);
    alcf->has_password = 1;

    return NGX_CONF_OK;

bad_hash:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\": {SHA256} must be followed by the base64 "
                       "of a 32-byte SHA-256 digest", &cmd->name);
    return NGX_CONF_ERROR;
}


/* q2api_admin_login_limit number time | off; */
char *
ngx_http_q2api_admin_login_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_q2api_admin_loc_conf_t *alcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (alcf->max_failures != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "off") != 0) {
            return "takes \"off\" or a number and a time";
        }

        alcf->max_failures = 0;
        alcf->lockout = 0;

        return NGX_CONF_OK;
    }

    n = ngx_atoi(value[1].data, value[1].len);

    if (n <= 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of failures \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    alcf->max_failures = n;
    alcf->lockout = ngx_parse_time(&value[2], 1);

    if (alcf->lockout == (time_t) NGX_ERROR || alcf->lockout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid lockout time \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* constant time whatever the length: both sides are digests */
static ngx_uint_t
ngx_http_q2api_admin_password_ok(ngx_http_q2api_admin_loc_conf_t *alcf,
    ngx_str_t *password)
{
    u_char  digest[NGX_HTTP_Q2API_ADMIN_DIGEST_LEN];

    SHA256(password->data, password->len, digest);

    return CRYPTO_memcmp(digest, alcf->digest,
                         NGX_HTTP_Q2API_ADMIN_DIGEST_LEN) == 0;
}


/*
 * "Authorization: Bearer <token or password>" (q2api's clients send the
 * password itself), else "X-Admin-Key: <...>" (amq2api's header).
 */
static ngx_int_t
ngx_http_q2api_admin_credential(ngx_http_request_t *r, ngx_str_t *cred)
{
    ngx_str_t  v, *h;

    if (ngx_http_q2api_bearer_value(r, &v) == NGX_OK) {

        while (v.len && v.data[0] == ' ') {
            v.data++;
            v.len--;
        }

        while (v.len && v.data[v.len - 1] == ' ') {
            v.len--;
        }

        if (v.len) {
            *cred = v;
            return NGX_OK;
        }
    }

    h = ngx_http_q2api_header(r, "X-Admin-Key");

    if (h == NULL) {
        return NGX_DECLINED;
    }

    *cred = *h;

    return NGX_OK;
}


ngx_http_q2api_auth_e
ngx_http_q2api_admin_authenticate(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, time_t *retry_after)
{
    ngx_int_t  rc;
    ngx_str_t  cred;

    *retry_after = 0;

    if (ngx_http_q2api_admin_credential(r, &cred) != NGX_OK) {
        return NGX_HTTP_Q2API_AUTH_MISSING;
    }

    rc = ngx_http_q2api_admin_session_verify(r, alcf, &cred);

    switch (rc) {

    case NGX_OK:
        return NGX_HTTP_Q2API_AUTH_OK;

    case NGX_AGAIN:
        /* genuine, just old: not an attack */
        return NGX_HTTP_Q2API_AUTH_EXPIRED;

    case NGX_ERROR:
        return NGX_HTTP_Q2API_AUTH_ERROR;

    default:
        break;
    }

    /* while a client is locked out only a valid session gets through */
    *retry_after = ngx_http_q2api_admin_locked(r);

    if (*retry_after) {
        return NGX_HTTP_Q2API_AUTH_LOCKED;
    }

    if (rc == NGX_DECLINED && ngx_http_q2api_admin_password_ok(alcf, &cred)) {
        ngx_http_q2api_admin_succeeded(r);
        return NGX_HTTP_Q2API_AUTH_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api admin: %s", rc == NGX_ABORT
                                     ? "invalid session token"
                                     : "wrong admin password");

    (void) ngx_http_q2api_admin_failed(r, alcf);

    return rc == NGX_ABORT ? NGX_HTTP_Q2API_AUTH_BAD_TOKEN
                           : NGX_HTTP_Q2API_AUTH_BAD_PASSWORD;
}


/*
 * NGX_OK and a fresh token, NGX_DECLINED (wrong password), NGX_BUSY
 * (locked out: *retry_after), NGX_ERROR.
 */
static ngx_int_t
ngx_http_q2api_admin_login(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *password,
    ngx_str_t *token, time_t *expires, time_t *retry_after)
{
    *retry_after = ngx_http_q2api_admin_locked(r);

    if (*retry_after) {
        return NGX_BUSY;
    }

    if (!ngx_http_q2api_admin_password_ok(alcf, password)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "q2api admin: wrong password at login");

        (void) ngx_http_q2api_admin_failed(r, alcf);

        return NGX_DECLINED;
    }

    ngx_http_q2api_admin_succeeded(r);

    if (ngx_http_q2api_admin_session_new(r, alcf, token, expires) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: login, session until %T", *expires);

    return NGX_OK;
}


/*
 * POST /api/login {"password"}: q2api's answer, plus a session token.  A
 * wrong password is q2api's 200 {"success":false}; a client locked out
 * for its failures gets a 429.
 */
ngx_int_t
ngx_http_q2api_admin_login_route(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                        err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    time_t                        expires, retry_after;
    cJSON                        *root, *v;
    ngx_int_t                     rc;
    ngx_str_t                     password, token;
    ngx_http_q2api_admin_json_t  *j;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    v = cJSON_GetObjectItemCaseSensitive(root, "password");

    if (!cJSON_IsString(v)) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "password: expected a string");
    }

    password.data = (u_char *) v->valuestring;
    password.len = ngx_strlen(v->valuestring);

    r->connection->log->action = "logging in to the admin API";

    rc = ngx_http_q2api_admin_login(r, ctx->conf, &password, &token,
                                    &expires, &retry_after);

    if (rc == NGX_BUSY) {
        return ngx_http_q2api_admin_refuse(r, NGX_HTTP_Q2API_AUTH_LOCKED,
                                           retry_after);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_http_q2api_admin_lit(j, "{\"success\":false,"
                                    "\"message\":\"Invalid password\"}");
        return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
    }

    ngx_http_q2api_admin_lit(j, "{\"success\":true,"
                                "\"message\":\"Login successful\","
                                "\"token\":");
    ngx_http_q2api_admin_string(j, token.data, token.len);
    ngx_http_q2api_admin_lit(j, ",\"expires_at\":");
    ngx_http_q2api_admin_int(j, expires);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/* q2api's answers to a request without valid credentials */
ngx_int_t
ngx_http_q2api_admin_refuse(ngx_http_request_t *r, ngx_http_q2api_auth_e auth,
    time_t retry_after)
{
    u_char                       *p, *last;
    ngx_http_q2api_admin_json_t  *j;

    if (auth == NGX_HTTP_Q2API_AUTH_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (auth == NGX_HTTP_Q2API_AUTH_LOCKED) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        last = ngx_sprintf(p, "%T", retry_after);

        if (ngx_http_q2api_add_header(r, "Retry-After", p, last - p)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Too many failed attempts, "
                    "retry later\",\"code\":\"TOO_MANY_ATTEMPTS\"}}");

        return ngx_http_q2api_admin_send(r, NGX_HTTP_TOO_MANY_REQUESTS, j);
    }

    if (ngx_http_q2api_add_header(r, "WWW-Authenticate",
                                    (u_char *) "Bearer", 6)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    switch (auth) {

    case NGX_HTTP_Q2API_AUTH_BAD_PASSWORD:
        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Invalid password\","
                    "\"code\":\"INVALID_PASSWORD\"}}");
        break;

    case NGX_HTTP_Q2API_AUTH_EXPIRED:
        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Session expired\","
                    "\"code\":\"UNAUTHORIZED\"}}");
        break;

    default:
        j->rc = q2api_buf_append_str(&j->b,
                    "{\"detail\":{\"error\":\"Unauthorized access\","
                    "\"code\":\"UNAUTHORIZED\"}}");
    }

    return ngx_http_q2api_admin_send(r, NGX_HTTP_UNAUTHORIZED, j);
}
