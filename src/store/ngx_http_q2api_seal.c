/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * AES-256-GCM over the secret fields of account rows (OpenSSL EVP), and
 * the key files of q2api_store_key.  Runs in the worker and in the file
 * store's thread: nothing here logs or keeps state between calls.
 */


#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "ngx_http_q2api_row.h"
#include "ngx_http_q2api_seal.h"


#define NGX_HTTP_Q2API_SEAL_NONCE  12
#define NGX_HTTP_Q2API_SEAL_TAG    16
#define NGX_HTTP_Q2API_SEAL_FILE   256     /* a key file is small */


static char *ngx_http_q2api_seal_read_key(ngx_conf_t *cf, ngx_str_t *name,
    u_char *key);
static void ngx_http_q2api_seal_cleanup(void *data);
static ngx_int_t ngx_http_q2api_seal_aad(EVP_CIPHER_CTX *ctx, ngx_str_t *id,
    const char *field, ngx_uint_t encrypt);
static ngx_int_t ngx_http_q2api_seal_value(ngx_http_q2api_seal_t *seal,
    ngx_pool_t *pool, ngx_str_t *id, const char *field, ngx_str_t *v);
static ngx_int_t ngx_http_q2api_seal_open_value(u_char *key, ngx_pool_t *pool,
    ngx_str_t *id, const char *field, ngx_str_t *raw, ngx_str_t *out);


char *
ngx_http_q2api_seal_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char                   *rv;
    ngx_str_t              *value, name;
    ngx_pool_cleanup_t     *cln;
    ngx_http_q2api_seal_t  *seal, **sp;

    sp = (ngx_http_q2api_seal_t **) (p + cmd->offset);

    if (*sp != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    seal = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_seal_t));
    if (seal == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the keys leave memory with the configuration */
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_q2api_seal_cleanup;
    cln->data = seal;

    rv = ngx_http_q2api_seal_read_key(cf, &value[1], seal->key);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (cf->args->nelts == 3) {
        if (value[2].len <= 4 || ngx_strncmp(value[2].data, "old=", 4) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", it must be "
                               "\"old=FILE\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        name.data = value[2].data + 4;
        name.len = value[2].len - 4;

        rv = ngx_http_q2api_seal_read_key(cf, &name, seal->old);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

        seal->has_old = 1;
    }

    *sp = seal;

    return NGX_CONF_OK;
}


/* 32 raw bytes, or 64 hex digits and an optional end of line */
static char *
ngx_http_q2api_seal_read_key(ngx_conf_t *cf, ngx_str_t *name, u_char *key)
{
    u_char           buf[NGX_HTTP_Q2API_SEAL_FILE];
    ssize_t          n, i;
    ngx_fd_t         fd;
    ngx_int_t        hi, lo;
    ngx_str_t        path;
    ngx_file_info_t  fi;

    path = *name;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    n = -1;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &path);

    } else {
        if (fi.st_mode & (S_IRWXG | S_IRWXO)) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "q2api_store_key \"%V\" can be read by other "
                               "users than its owner; chmod 600 it", &path);
        }

        n = ngx_read_fd(fd, buf, sizeof(buf));

        if (n == -1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                               ngx_read_fd_n " \"%V\" failed", &path);
        }
    }

    (void) ngx_close_file(fd);

    if (n == -1) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return NGX_CONF_ERROR;
    }

    if (n == NGX_HTTP_Q2API_SEAL_KEY_LEN) {
        ngx_memcpy(key, buf, NGX_HTTP_Q2API_SEAL_KEY_LEN);
        OPENSSL_cleanse(buf, sizeof(buf));
        return NGX_CONF_OK;
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }

    if (n == 2 * NGX_HTTP_Q2API_SEAL_KEY_LEN) {
        for (i = 0; i < NGX_HTTP_Q2API_SEAL_KEY_LEN; i++) {
            hi = ngx_hextoi(&buf[2 * i], 1);
            lo = ngx_hextoi(&buf[2 * i + 1], 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                break;
            }

            key[i] = (u_char) (hi << 4 | lo);
        }

        if (i == NGX_HTTP_Q2API_SEAL_KEY_LEN) {
            OPENSSL_cleanse(buf, sizeof(buf));
            return NGX_CONF_OK;
        }

        OPENSSL_cleanse(key, NGX_HTTP_Q2API_SEAL_KEY_LEN);
    }

    OPENSSL_cleanse(buf, sizeof(buf));

    /* what the file holds is never printed: it is meant to be a key */
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "q2api_store_key \"%V\" must hold 32 raw bytes or 64 "
                       "hex digits (openssl rand -hex 32)", &path);

    return NGX_CONF_ERROR;
}


static void
ngx_http_q2api_seal_cleanup(void *data)
{
    OPENSSL_cleanse(data, sizeof(ngx_http_q2api_seal_t));
}


ngx_int_t
ngx_http_q2api_seal_row(ngx_http_q2api_seal_t *seal, ngx_pool_t *pool,
    ngx_http_q2api_account_data_t *d)
{
    ngx_uint_t                   i;
    ngx_http_q2api_row_field_t  *f;

    for (i = 0; i < NGX_HTTP_Q2API_ROW_NFIELDS; i++) {
        f = &ngx_http_q2api_row_fields[i];

        if (!f->secret) {
            continue;
        }

        if (ngx_http_q2api_seal_value(seal, pool, &d->id, f->name,
                                      (ngx_str_t *) ((u_char *) d + f->offset))
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_seal_open_row(ngx_http_q2api_seal_t *seal, ngx_pool_t *pool,
    ngx_http_q2api_account_data_t *d, ngx_uint_t *plain, const char **bad)
{
    ngx_int_t                    rc;
    ngx_str_t                   *v, raw;
    ngx_uint_t                   i;
    ngx_http_q2api_row_field_t  *f;

    for (i = 0; i < NGX_HTTP_Q2API_ROW_NFIELDS; i++) {
        f = &ngx_http_q2api_row_fields[i];
        v = (ngx_str_t *) ((u_char *) d + f->offset);

        if (!f->secret || v->len == 0) {
            continue;
        }

        if (v->len < sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1
            || ngx_strncmp(v->data, NGX_HTTP_Q2API_SEAL_PREFIX,
                           sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1)
               != 0)
        {
            if (plain) {
                *plain = 1;
            }

            continue;
        }

        *bad = f->name;

        if (seal == NULL) {
            return NGX_DECLINED;
        }

        raw.data = v->data + sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1;
        raw.len = v->len - (sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1);

        rc = ngx_http_q2api_seal_open_value(seal->key, pool, &d->id, f->name,
                                            &raw, v);

        if (rc == NGX_DECLINED && seal->has_old) {
            rc = ngx_http_q2api_seal_open_value(seal->old, pool, &d->id,
                                                f->name, &raw, v);
            if (rc == NGX_OK && plain) {
                /* under the old key: sealed again under the new one */
                *plain = 1;
            }
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/* the account id and the field name, so that a value opens only there */
static ngx_int_t
ngx_http_q2api_seal_aad(EVP_CIPHER_CTX *ctx, ngx_str_t *id, const char *field,
    ngx_uint_t encrypt)
{
    int  len;

    if (encrypt) {
        return (EVP_EncryptUpdate(ctx, NULL, &len, id->data, (int) id->len)
                == 1
                && EVP_EncryptUpdate(ctx, NULL, &len, (u_char *) field,
                                     (int) ngx_strlen(field) + 1)
                   == 1)
               ? NGX_OK : NGX_ERROR;
    }

    return (EVP_DecryptUpdate(ctx, NULL, &len, id->data, (int) id->len) == 1
            && EVP_DecryptUpdate(ctx, NULL, &len, (u_char *) field,
                                 (int) ngx_strlen(field) + 1)
               == 1)
           ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_q2api_seal_value(ngx_http_q2api_seal_t *seal, ngx_pool_t *pool,
    ngx_str_t *id, const char *field, ngx_str_t *v)
{
    int              len, fin;
    u_char          *bin, *out;
    ngx_int_t        rc;
    ngx_str_t        src, dst;
    EVP_CIPHER_CTX  *ctx;

    if (v->len == 0 || v->len > NGX_MAX_INT32_VALUE / 2) {
        return (v->len == 0) ? NGX_OK : NGX_ERROR;
    }

    bin = ngx_pnalloc(pool, NGX_HTTP_Q2API_SEAL_NONCE + v->len
                            + NGX_HTTP_Q2API_SEAL_TAG);
    if (bin == NULL) {
        return NGX_ERROR;
    }

    if (RAND_bytes(bin, NGX_HTTP_Q2API_SEAL_NONCE) != 1) {
        return NGX_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, seal->key, bin) != 1
        || ngx_http_q2api_seal_aad(ctx, id, field, 1) != NGX_OK
        || EVP_EncryptUpdate(ctx, bin + NGX_HTTP_Q2API_SEAL_NONCE, &len,
                             v->data, (int) v->len)
           != 1
        || EVP_EncryptFinal_ex(ctx, bin + NGX_HTTP_Q2API_SEAL_NONCE + len,
                               &fin)
           != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                               NGX_HTTP_Q2API_SEAL_TAG,
                               bin + NGX_HTTP_Q2API_SEAL_NONCE + len + fin)
           != 1)
    {
        goto done;
    }

    src.data = bin;
    src.len = NGX_HTTP_Q2API_SEAL_NONCE + len + fin + NGX_HTTP_Q2API_SEAL_TAG;

    out = ngx_pnalloc(pool, sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1
                            + ngx_base64_encoded_length(src.len));
    if (out == NULL) {
        goto done;
    }

    dst.data = ngx_cpymem(out, NGX_HTTP_Q2API_SEAL_PREFIX,
                          sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1);
    ngx_encode_base64(&dst, &src);

    v->data = out;
    v->len = sizeof(NGX_HTTP_Q2API_SEAL_PREFIX) - 1 + dst.len;

    rc = NGX_OK;

done:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}


/* NGX_DECLINED: not this key's, or damaged */
static ngx_int_t
ngx_http_q2api_seal_open_value(u_char *key, ngx_pool_t *pool, ngx_str_t *id,
    const char *field, ngx_str_t *raw, ngx_str_t *out)
{
    int              len, fin;
    u_char          *plain;
    ngx_int_t        rc;
    ngx_str_t        bin;
    EVP_CIPHER_CTX  *ctx;

    if (raw->len > NGX_MAX_INT32_VALUE / 2) {
        return NGX_DECLINED;
    }

    bin.data = ngx_pnalloc(pool, ngx_base64_decoded_length(raw->len));
    if (bin.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64(&bin, raw) != NGX_OK
        || bin.len < NGX_HTTP_Q2API_SEAL_NONCE + NGX_HTTP_Q2API_SEAL_TAG)
    {
        return NGX_DECLINED;
    }

    len = (int) (bin.len - NGX_HTTP_Q2API_SEAL_NONCE
                 - NGX_HTTP_Q2API_SEAL_TAG);

    /* one byte more, so that an empty text has somewhere to point */
    plain = ngx_pnalloc(pool, len + 1);
    if (plain == NULL) {
        return NGX_ERROR;
    }

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, bin.data) != 1
        || ngx_http_q2api_seal_aad(ctx, id, field, 0) != NGX_OK
        || EVP_DecryptUpdate(ctx, plain, &len,
                             bin.data + NGX_HTTP_Q2API_SEAL_NONCE, len)
           != 1
        || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                               NGX_HTTP_Q2API_SEAL_TAG,
                               bin.data + bin.len - NGX_HTTP_Q2API_SEAL_TAG)
           != 1
        || EVP_DecryptFinal_ex(ctx, plain + len, &fin) != 1)
    {
        OPENSSL_cleanse(plain, len + 1);
        goto done;
    }

    out->data = plain;
    out->len = len + fin;

    rc = NGX_OK;

done:

    EVP_CIPHER_CTX_free(ctx);

    return rc;
}
