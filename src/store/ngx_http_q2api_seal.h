/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Secrets at rest: the credentials of an account (the row fields marked
 * secret: client secret, refresh and access tokens) are sealed with
 * AES-256-GCM before a store writes them, under the key of
 * q2api_store_key, and opened when it reads them.  A sealed value is
 *
 *   enc:v1:<base64(nonce[12] | ciphertext | tag[16])>
 *
 * with a fresh random nonce per write, and the account id and field name
 * as associated data, so that a value copied to another account or field
 * does not open.  A value without the prefix is plaintext, as rows written
 * before the key was set are: it is read as it is and sealed when the row
 * is next written.
 */

#ifndef _NGX_HTTP_Q2API_SEAL_H_INCLUDED_
#define _NGX_HTTP_Q2API_SEAL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_store.h"


#define NGX_HTTP_Q2API_SEAL_KEY_LEN  32
#define NGX_HTTP_Q2API_SEAL_PREFIX   "enc:v1:"


struct ngx_http_q2api_seal_s {
    u_char                      key[NGX_HTTP_Q2API_SEAL_KEY_LEN];
    u_char                      old[NGX_HTTP_Q2API_SEAL_KEY_LEN];
    unsigned                    has_old:1;   /* opens with either */
};


/* "q2api_store_key FILE [old=FILE]": the keys read and checked */
char *ngx_http_q2api_seal_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* the secret fields of d sealed, in place, into pool (seal not NULL) */
ngx_int_t ngx_http_q2api_seal_row(ngx_http_q2api_seal_t *seal,
    ngx_pool_t *pool, ngx_http_q2api_account_data_t *d);

/*
 * The secret fields of d opened in place (into pool).  seal may be NULL: a
 * plaintext row reads as it is.  *plain (when not NULL) is set when a
 * secret was plaintext, so the row is to be sealed at its next write.
 * NGX_DECLINED: a field does not open (*bad names it): another key, a
 * damaged value, or no key at all; NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_q2api_seal_open_row(ngx_http_q2api_seal_t *seal,
    ngx_pool_t *pool, ngx_http_q2api_account_data_t *d, ngx_uint_t *plain,
    const char **bad);


#endif /* _NGX_HTTP_Q2API_SEAL_H_INCLUDED_ */
