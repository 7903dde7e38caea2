/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Signed expiring session tokens.
 *
 * A session token is "q2a1.<expires>.<nonce>.<mac>", the mac being
 * HMAC-SHA256 over the rest with a key derived from a master secret and
 * the password's digest.  The master secret is q2api_admin_secret when
 * set (tokens then survive restarts and are valid on every node sharing
 * the setting), else 32 random bytes drawn once in the admin zone (the
 * same for every worker, kept across reloads, new at each start).  Since
 * the password is part of the key, changing it ends every session.
 */


#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ngx_http_q2api_admin.h"


#define NGX_HTTP_Q2API_TOKEN_PREFIX      "q2a1."
#define NGX_HTTP_Q2API_TOKEN_NONCE       8        /* bytes, 16 hex */
#define NGX_HTTP_Q2API_TOKEN_MAC         43       /* base64url of 32 */


static ngx_int_t ngx_http_q2api_admin_session_key(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *key);
static ngx_int_t ngx_http_q2api_admin_mac(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *data, size_t len,
    u_char *out);


static ngx_int_t
ngx_http_q2api_admin_session_key(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *key)
{
    u_char        msg[64];
    u_char       *master;
    size_t        mlen;
    unsigned int  len;

    if (alcf->secret.len) {
        master = alcf->secret.data;
        mlen = alcf->secret.len;

    } else {
        master = ngx_http_q2api_admin_zone_key(r, &mlen);
    }

    ngx_memcpy(msg, "q2api admin session v1", 22);
    ngx_memcpy(msg + 22, alcf->digest, NGX_HTTP_Q2API_ADMIN_DIGEST_LEN);

    if (HMAC(EVP_sha256(), master, (int) mlen, msg,
             22 + NGX_HTTP_Q2API_ADMIN_DIGEST_LEN, key, &len)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: HMAC() failed");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the base64url mac of data, 43 characters into out */
static ngx_int_t
ngx_http_q2api_admin_mac(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, u_char *data, size_t len,
    u_char *out)
{
    u_char        key[32], mac[EVP_MAX_MD_SIZE];
    ngx_str_t     src, dst;
    unsigned int  n;

    if (ngx_http_q2api_admin_session_key(r, alcf, key) != NGX_OK) {
        return NGX_ERROR;
    }

    if (HMAC(EVP_sha256(), key, sizeof(key), data, len, mac, &n) == NULL) {
        ngx_explicit_memzero(key, sizeof(key));
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: HMAC() failed");
        return NGX_ERROR;
    }

    ngx_explicit_memzero(key, sizeof(key));

    src.data = mac;
    src.len = 32;
    dst.data = out;

    ngx_encode_base64url(&dst, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_admin_session_verify(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *token)
{
    u_char   *p, *last, *dot, mac[NGX_HTTP_Q2API_TOKEN_MAC];
    time_t    expires;
    size_t    plen;

    plen = sizeof(NGX_HTTP_Q2API_TOKEN_PREFIX) - 1;

    if (token->len < plen + 1 + 1 + 2 * NGX_HTTP_Q2API_TOKEN_NONCE + 1
                     + NGX_HTTP_Q2API_TOKEN_MAC
        || ngx_strncmp(token->data, NGX_HTTP_Q2API_TOKEN_PREFIX, plen) != 0)
    {
        return NGX_DECLINED;
    }

    last = token->data + token->len - NGX_HTTP_Q2API_TOKEN_MAC - 1;

    if (*last != '.') {
        return NGX_DECLINED;
    }

    /* q2a1.<digits>.<16 hex> */
    p = token->data + plen;
    dot = ngx_strlchr(p, last, '.');

    if (dot == NULL || dot == p || dot - p > (ssize_t) NGX_TIME_T_LEN
        || last - dot - 1 != 2 * NGX_HTTP_Q2API_TOKEN_NONCE)
    {
        return NGX_DECLINED;
    }

    expires = ngx_atotm(p, dot - p);

    if (expires == NGX_ERROR) {
        return NGX_DECLINED;
    }

    for (p = dot + 1; p < last; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return NGX_DECLINED;
        }
    }

    if (ngx_http_q2api_admin_mac(r, alcf, token->data, last - token->data,
                                 mac)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (CRYPTO_memcmp(mac, last + 1, NGX_HTTP_Q2API_TOKEN_MAC) != 0) {
        return NGX_ABORT;
    }

    if (expires <= ngx_time()) {
        return NGX_AGAIN;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_admin_session_new(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *token,
    time_t *expires)
{
    u_char  *p, nonce[NGX_HTTP_Q2API_TOKEN_NONCE];
    size_t   len;

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: RAND_bytes() failed");
        return NGX_ERROR;
    }

    *expires = ngx_time() + alcf->session_timeout;

    len = sizeof(NGX_HTTP_Q2API_TOKEN_PREFIX) - 1 + NGX_TIME_T_LEN + 1
          + 2 * sizeof(nonce) + 1 + NGX_HTTP_Q2API_TOKEN_MAC;

    token->data = ngx_pnalloc(r->pool, len);
    if (token->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(token->data, NGX_HTTP_Q2API_TOKEN_PREFIX "%T.",
                    *expires);
    p = ngx_hex_dump(p, nonce, sizeof(nonce));

    if (ngx_http_q2api_admin_mac(r, alcf, token->data, p - token->data,
                                 p + 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *p++ = '.';
    token->len = p + NGX_HTTP_Q2API_TOKEN_MAC - token->data;

    return NGX_OK;
}
