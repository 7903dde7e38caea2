/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The embedded default store: a JSON file of accounts, read into the
 * shared zone when nginx starts or reloads.  It accepts q2api's account
 * rows as they are (an array, or {"accounts": [...]}), so an export of a
 * q2api pool loads unchanged.
 */


#include <cjson/cJSON.h>

#include "ngx_http_q2api.h"


#define NGX_HTTP_Q2API_STORE_MAX_SIZE  (64 * 1024 * 1024)
#define NGX_HTTP_Q2API_ID_MAX          128


static ngx_int_t ngx_http_q2api_store_file_account(
    ngx_http_q2api_pool_t *pool, cJSON *item, ngx_uint_t i,
    ngx_uint_t generation, ngx_str_t *path, ngx_log_t *log);
static void ngx_http_q2api_json_str(cJSON *obj, const char *key,
    ngx_str_t *out);


ngx_int_t
ngx_http_q2api_store_file_load(ngx_http_q2api_pool_t *pool,
    ngx_str_t *path, ngx_log_t *log)
{
    u_char           *buf;
    ssize_t           n;
    cJSON            *root, *list, *item;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_uint_t        generation, i;
    ngx_file_info_t   fi;
    const char       *at;

    generation = ngx_http_q2api_pool_next_generation(pool);

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "q2api: no accounts file \"%V\", the pool is "
                          "empty", path);
            ngx_http_q2api_pool_prune(pool, generation);
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", path);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    buf = NULL;
    root = NULL;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_fd_info_n " \"%V\" failed", path);
        goto done;
    }

    if (ngx_file_size(&fi) > NGX_HTTP_Q2API_STORE_MAX_SIZE) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: accounts file \"%V\" is larger than %d bytes",
                      path, NGX_HTTP_Q2API_STORE_MAX_SIZE);
        goto done;
    }

    buf = ngx_alloc((size_t) ngx_file_size(&fi) + 1, log);
    if (buf == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, buf, (size_t) ngx_file_size(&fi));

    if (n == -1) {
        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_read_fd_n " \"%V\" failed", path);
        goto done;
    }

    root = cJSON_ParseWithLength((char *) buf, (size_t) n);

    if (root == NULL) {
        at = cJSON_GetErrorPtr();
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: accounts file \"%V\" is not valid JSON "
                      "(near byte %i)", path,
                      (at && at >= (char *) buf && at <= (char *) buf + n)
                      ? (ngx_int_t) (at - (char *) buf) : (ngx_int_t) 0);
        goto done;
    }

    list = cJSON_IsArray(root)
           ? root : cJSON_GetObjectItemCaseSensitive(root, "accounts");

    if (!cJSON_IsArray(list)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: accounts file \"%V\" must hold an array of "
                      "accounts or {\"accounts\": [...]}", path);
        goto done;
    }

    i = 0;

    cJSON_ArrayForEach(item, list) {
        if (ngx_http_q2api_store_file_account(pool, item, i++, generation,
                                              path, log)
            != NGX_OK)
        {
            goto done;
        }
    }

    ngx_http_q2api_pool_prune(pool, generation);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "q2api: %ui accounts loaded from \"%V\"", i, path);

    rc = NGX_OK;

done:

    cJSON_Delete(root);

    if (buf) {
        ngx_free(buf);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return rc;
}


static ngx_int_t
ngx_http_q2api_store_file_account(ngx_http_q2api_pool_t *pool, cJSON *item,
    ngx_uint_t i, ngx_uint_t generation, ngx_str_t *path, ngx_log_t *log)
{
    cJSON                  *enabled;
    ngx_str_t               label, type;
    ngx_flag_t              on;
    ngx_http_q2api_pick_t   acc;

    if (!cJSON_IsObject(item)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\" is not an object",
                      i, path);
        return NGX_ERROR;
    }

    ngx_memzero(&acc, sizeof(ngx_http_q2api_pick_t));

    ngx_http_q2api_json_str(item, "id", &acc.id);

    if (acc.id.len == 0 || acc.id.len > NGX_HTTP_Q2API_ID_MAX) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\" needs an \"id\" string "
                      "of 1 to %d bytes", i, path, NGX_HTTP_Q2API_ID_MAX);
        return NGX_ERROR;
    }

    ngx_http_q2api_json_str(item, "accessToken", &acc.access_token);
    ngx_http_q2api_json_str(item, "profileArn", &acc.profile_arn);
    ngx_http_q2api_json_str(item, "label", &label);
    ngx_http_q2api_json_str(item, "type", &type);

    if (type.len == 0 || ngx_strcmp(type.data, "amazonq") == 0) {
        acc.type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;

    } else if (ngx_strcmp(type.data, "kiro") == 0) {
        acc.type = NGX_HTTP_Q2API_ACCOUNT_KIRO;

    } else {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account \"%V\" in \"%V\" has an unknown "
                      "type \"%V\"", &acc.id, path, &type);
        return NGX_ERROR;
    }

    /* q2api stores enabled as 0/1, amq2api as a boolean */
    enabled = cJSON_GetObjectItemCaseSensitive(item, "enabled");

    on = enabled == NULL || cJSON_IsNull(enabled) || cJSON_IsTrue(enabled)
         || (cJSON_IsNumber(enabled) && enabled->valuedouble != 0);

    if (ngx_http_q2api_pool_upsert(pool, &acc, &label, on, generation)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &acc.id);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_q2api_json_str(cJSON *obj, const char *key, ngx_str_t *out)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsString(item)) {
        out->data = (u_char *) item->valuestring;
        out->len = ngx_strlen(item->valuestring);

    } else {
        out->data = NULL;
        out->len = 0;
    }
}
