/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The donate API's logins without server memory.  A state is
 * "<expires>.<flavour>.<nonce>.<mac>", the mac an HMAC-SHA256 under the
 * master secret of the admin zone (or q2api_admin_secret); the PKCE
 * verifier is another HMAC, of the whole state.  So any worker, or any
 * node sharing q2api_admin_secret, finishes a login another one began,
 * a state a client made up or kept too long is refused, and nothing
 * grows with the logins begun.  Also what a flavour's login asks Google.
 */


#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ngx_http_q2api_google.h"
#include "ngx_http_q2api_admin_donate.h"


#define NGX_HTTP_Q2API_DONATE_NONCE    16         /* bytes, 32 hex */


ngx_uint_t
ngx_http_q2api_donate_flavour(ngx_str_t *name)
{
    ngx_int_t  f;

    f = ngx_http_q2api_gemini_flavour_named(name->data, name->len);

    return f == NGX_ERROR ? NGX_HTTP_Q2API_DONATE_NO_FLAVOUR
                          : (ngx_uint_t) f;
}


ngx_str_t *
ngx_http_q2api_donate_flavour_name(ngx_uint_t flavour)
{
    return &ngx_http_q2api_gemini_flavours[
                flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS].name;
}


/* base64url(HMAC-SHA256(master, purpose NUL data)): 43 characters */
static ngx_int_t
ngx_http_q2api_donate_mac(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, const char *purpose,
    u_char *data, size_t len, u_char *out)
{
    u_char         msg[128 + NGX_HTTP_Q2API_DONATE_STATE_MAX];
    u_char         mac[EVP_MAX_MD_SIZE], *master;
    size_t         plen, mlen;
    ngx_str_t      src, dst;
    unsigned int   n;

    plen = ngx_strlen(purpose) + 1;

    if (plen + len > sizeof(msg)) {
        return NGX_DECLINED;
    }

    if (alcf->secret.len) {
        master = alcf->secret.data;
        mlen = alcf->secret.len;

    } else {
        master = ngx_http_q2api_admin_zone_key(r, &mlen);
    }

    ngx_memcpy(msg, purpose, plen);
    ngx_memcpy(msg + plen, data, len);

    if (HMAC(EVP_sha256(), master, (int) mlen, msg, plen + len, mac, &n)
        == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api donate: HMAC() failed");
        return NGX_ERROR;
    }

    src.data = mac;
    src.len = 32;
    dst.data = out;

    ngx_encode_base64url(&dst, &src);

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_donate_seal(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_uint_t flavour,
    ngx_str_t *state)
{
    u_char  *p, nonce[NGX_HTTP_Q2API_DONATE_NONCE];

    if (RAND_bytes(nonce, sizeof(nonce)) != 1) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api donate: RAND_bytes() failed");
        return NGX_ERROR;
    }

    state->data = ngx_pnalloc(r->pool, NGX_HTTP_Q2API_DONATE_STATE_MAX);
    if (state->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(state->data, "%T.%ui.",
                    ngx_time() + NGX_HTTP_Q2API_DONATE_TTL, flavour);
    p = ngx_hex_dump(p, nonce, sizeof(nonce));

    if (ngx_http_q2api_donate_mac(r, alcf, "q2api donate state v1",
                                  state->data, p - state->data, p + 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    *p++ = '.';
    state->len = p + NGX_HTTP_Q2API_DONATE_MAC - state->data;

    return NGX_OK;
}


/*
 * NGX_OK: a state this server sealed, still young (*flavour set);
 * NGX_DECLINED with *why for the donor; NGX_ERROR.
 */
ngx_int_t
ngx_http_q2api_donate_open(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *state,
    ngx_uint_t *flavour, const char **why)
{
    u_char     *p, *last, *dot, mac[NGX_HTTP_Q2API_DONATE_MAC];
    time_t      expires;
    ngx_int_t   rc;

    *why = "the address is not the answer to a login this page began: "
           "press the button and log in again";

    if (state->len < 1 + 3 + 2 * NGX_HTTP_Q2API_DONATE_NONCE + 1
                     + NGX_HTTP_Q2API_DONATE_MAC
        || state->len > NGX_HTTP_Q2API_DONATE_STATE_MAX)
    {
        return NGX_DECLINED;
    }

    last = state->data + state->len - NGX_HTTP_Q2API_DONATE_MAC - 1;

    /* <digits>.<0|1>.<32 hex>.<mac> */
    dot = ngx_strlchr(state->data, last, '.');

    if (*last != '.' || dot == NULL || dot == state->data
        || last - dot != 3 + 2 * NGX_HTTP_Q2API_DONATE_NONCE
        || (dot[1] != '0' && dot[1] != '1') || dot[2] != '.')
    {
        return NGX_DECLINED;
    }

    expires = ngx_atotm(state->data, dot - state->data);

    if (expires == NGX_ERROR) {
        return NGX_DECLINED;
    }

    for (p = dot + 3; p < last; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_q2api_donate_mac(r, alcf, "q2api donate state v1",
                                   state->data, last - state->data, mac);
    if (rc != NGX_OK) {
        return rc;
    }

    if (CRYPTO_memcmp(mac, last + 1, NGX_HTTP_Q2API_DONATE_MAC) != 0) {
        return NGX_DECLINED;
    }

    if (expires <= ngx_time()) {
        *why = "the login took too long: press the button and log in again";
        return NGX_DECLINED;
    }

    *flavour = dot[1] - '0';

    if (!(alcf->donate & (1 << *flavour))) {
        *why = "this flavour is no longer offered here";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* the PKCE verifier of a state: 43 characters of base64url */
ngx_int_t
ngx_http_q2api_donate_verifier(ngx_http_request_t *r,
    ngx_http_q2api_admin_loc_conf_t *alcf, ngx_str_t *state,
    ngx_str_t *verifier)
{
    verifier->data = ngx_pnalloc(r->pool, NGX_HTTP_Q2API_DONATE_MAC);
    if (verifier->data == NULL) {
        return NGX_ERROR;
    }

    verifier->len = NGX_HTTP_Q2API_DONATE_MAC;

    return ngx_http_q2api_donate_mac(r, alcf, "q2api donate verifier v1",
                                     state->data, state->len,
                                     verifier->data);
}


/*
 * The flavour's OAuth client as configured (q2api_gemini_client_id; the
 * application's public one else): a refresh token is bound to the client
 * that asked for it.  The scopes are the application's, with openid for
 * the id token whose subject names the Google account.  Nothing listens
 * on the loopback redirect: the donor copies the address the browser
 * fails to load.
 */
ngx_int_t
ngx_http_q2api_donate_oauth(ngx_http_request_t *r, ngx_uint_t flavour,
    ngx_http_q2api_donate_oauth_t *oauth)
{
    ngx_str_set(&oauth->auth_url,
                "https://accounts.google.com/o/oauth2/v2/auth");

    oauth->client_id = *ngx_http_q2api_google_client_id(r, flavour);

    if (flavour == NGX_HTTP_Q2API_GEMINI_CLI) {
        ngx_str_set(&oauth->scope,
                    "openid "
                    "https://www.googleapis.com/auth/cloud-platform "
                    "https://www.googleapis.com/auth/userinfo.email "
                    "https://www.googleapis.com/auth/userinfo.profile");
        ngx_str_set(&oauth->redirect_uri,
                    "http://127.0.0.1:8085/oauth2callback");
        return NGX_OK;
    }

    ngx_str_set(&oauth->scope,
                "openid "
                "https://www.googleapis.com/auth/cloud-platform "
                "https://www.googleapis.com/auth/userinfo.email "
                "https://www.googleapis.com/auth/userinfo.profile "
                "https://www.googleapis.com/auth/cclog "
                "https://www.googleapis.com/auth/experimentsandconfigs");
    ngx_str_set(&oauth->redirect_uri,
                "http://localhost:51121/oauth-callback");

    return NGX_OK;
}
