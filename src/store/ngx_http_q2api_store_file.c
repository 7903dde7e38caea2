/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The embedded default store: one JSON file of accounts.  It accepts
 * q2api's account rows as they are (an array, or {"accounts": [...]}), so
 * an export of a q2api pool loads unchanged, and it writes the same shape
 * back with this module's state added.  The master reads it when nginx
 * starts or reloads; the lease worker rewrites it, atomically (a temporary
 * file renamed over it), whenever accounts changed.
 */


#include <cjson/cJSON.h>

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_row.h"
#include "q2api_json.h"
#include "q2api_nul.h"


#define NGX_HTTP_Q2API_STORE_MAX_SIZE  (256 * 1024 * 1024)
#define NGX_HTTP_Q2API_ID_MAX          128


static ngx_int_t ngx_http_q2api_store_file_load(ngx_http_q2api_store_t *st,
    ngx_uint_t reload, ngx_log_t *log);
static void ngx_http_q2api_store_file_tick(ngx_http_q2api_store_t *st);
static ngx_int_t ngx_http_q2api_store_file_account(
    ngx_http_q2api_accounts_t *accounts, cJSON *item, ngx_uint_t i,
    ngx_uint_t fields, ngx_uint_t generation, ngx_str_t *path,
    ngx_log_t *log);
static ngx_int_t ngx_http_q2api_store_file_write(ngx_http_q2api_store_t *st,
    ngx_array_t *accounts, ngx_log_t *log);


ngx_http_q2api_store_ops_t  ngx_http_q2api_store_file_ops = {
    "file",
    ngx_http_q2api_store_file_load,
    ngx_http_q2api_store_file_tick,
    ngx_http_q2api_store_file_tick
};


/*
 * Fresh zone: everything the file says.  Kept zone (reload): the file's
 * configuration (credentials, labels, enabled) over the zone's, whose
 * state and counters are newer than the file's; accounts gone from the
 * file go from the zone.
 */
static ngx_int_t
ngx_http_q2api_store_file_load(ngx_http_q2api_store_t *st, ngx_uint_t reload,
    ngx_log_t *log)
{
    u_char           *buf;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_int_t         rc;
    ngx_str_t        *path;
    ngx_file_info_t   fi;

    path = &st->target;

    fd = ngx_open_file(path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        if (ngx_errno == NGX_ENOENT) {
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "q2api: no accounts file \"%V\" yet, the pool "
                          "starts empty", path);
            ngx_http_q2api_accounts_prune(st->accounts,
                ngx_http_q2api_accounts_next_generation(st->accounts));
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_EMERG, log, ngx_errno,
                      ngx_open_file_n " \"%V\" failed", path);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    buf = NULL;

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

    rc = ngx_http_q2api_store_file_parse(st->accounts, buf, (size_t) n,
                                         reload ? NGX_HTTP_Q2API_SET_CONFIG
                                                : NGX_HTTP_Q2API_SET_ALL,
                                         path, log);

done:

    if (buf) {
        ngx_free(buf);
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", path);
    }

    return rc;
}


ngx_int_t
ngx_http_q2api_store_file_parse(ngx_http_q2api_accounts_t *accounts,
    u_char *text, size_t len, ngx_uint_t fields, ngx_str_t *path,
    ngx_log_t *log)
{
    cJSON       *root, *list, *item;
    ngx_int_t    rc;
    ngx_uint_t   generation, i;
    const char  *at;

    /* a NUL in a value fails the row checks, where cJSON would cut it
     * ("a\u0000b" would load as account "a"); marks need valid UTF-8 */
    if (q2api_utf8_valid((char *) text, len)
        && q2api_nul_found((char *) text, len) == 1)
    {
        len = q2api_nul_mark((char *) text, len);
    }

    root = cJSON_ParseWithLength((char *) text, len);

    if (root == NULL) {
        at = cJSON_GetErrorPtr();
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: accounts file \"%V\" is not valid JSON "
                      "(near byte %i)", path,
                      (at && at >= (char *) text && at <= (char *) text + len)
                      ? (ngx_int_t) (at - (char *) text) : (ngx_int_t) 0);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    list = cJSON_IsArray(root)
           ? root : cJSON_GetObjectItemCaseSensitive(root, "accounts");

    if (!cJSON_IsArray(list)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: accounts file \"%V\" must hold an array of "
                      "accounts or {\"accounts\": [...]}", path);
        goto done;
    }

    generation = ngx_http_q2api_accounts_next_generation(accounts);
    i = 0;

    cJSON_ArrayForEach(item, list) {
        if (ngx_http_q2api_store_file_account(accounts, item, i++, fields,
                                              generation, path, log)
            != NGX_OK)
        {
            goto done;
        }
    }

    ngx_http_q2api_accounts_prune(accounts, generation);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "q2api: %ui accounts loaded from \"%V\"", i, path);

    rc = NGX_OK;

done:

    cJSON_Delete(root);

    return rc;
}


static ngx_int_t
ngx_http_q2api_store_file_account(ngx_http_q2api_accounts_t *accounts,
    cJSON *item, ngx_uint_t i, ngx_uint_t fields, ngx_uint_t generation,
    ngx_str_t *path, ngx_log_t *log)
{
    cJSON                          *type;
    ngx_int_t                       rc;
    ngx_pool_t                     *pool;
    ngx_http_q2api_row_field_e      bad;
    ngx_http_q2api_account_data_t   d;

    if (!cJSON_IsObject(item)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\" is not an object",
                      i, path);
        return NGX_ERROR;
    }

    /* for "other", printed from its object */
    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&d, sizeof(ngx_http_q2api_account_data_t));

    rc = ngx_http_q2api_row_from_json(item, ngx_http_q2api_row_file, pool,
                                      &d, &bad);

    if (rc == NGX_ERROR) {
        goto done;
    }

    if (rc == NGX_DECLINED && bad != NGX_HTTP_Q2API_ROW_TYPE) {
        /* by its name: the value may be a credential, or forge lines */
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\": \"%s\" refused: it "
                      "%s", i, path, ngx_http_q2api_row_fields[bad].name,
                      ngx_http_q2api_row_rule(bad));
        rc = NGX_ERROR;
        goto done;
    }

    if (d.id.len == 0 || d.id.len > NGX_HTTP_Q2API_ID_MAX) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\" needs an \"id\" string "
                      "of 1 to %d bytes", i, path, NGX_HTTP_Q2API_ID_MAX);
        rc = NGX_ERROR;
        goto done;
    }

    if (rc == NGX_DECLINED) {
        type = cJSON_GetObjectItemCaseSensitive(item, "type");

        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account \"%V\" in \"%V\" has an unknown "
                      "type \"%s\"", &d.id, path, type->valuestring);
        rc = NGX_ERROR;
        goto done;
    }

    rc = ngx_http_q2api_accounts_upsert(accounts, &d, fields, generation);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d.id);
        rc = NGX_ERROR;
    }

done:

    ngx_destroy_pool(pool);

    return rc;
}


/* the lease worker: rewrite the file when anything changed */
static void
ngx_http_q2api_store_file_tick(ngx_http_q2api_store_t *st)
{
    ngx_pool_t   *p;
    ngx_array_t   dirty, all;

    p = ngx_create_pool(4096, st->log);
    if (p == NULL) {
        return;
    }

    if (ngx_array_init(&dirty, p, 16, sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK
        || ngx_array_init(&all, p, 64, sizeof(ngx_http_q2api_account_data_t))
           != NGX_OK)
    {
        goto done;
    }

    if (ngx_http_q2api_accounts_take_dirty(st->accounts, p, &dirty)
        != NGX_OK)
    {
        ngx_http_q2api_accounts_return_dirty(st->accounts, &dirty);
        goto done;
    }

    if (dirty.nelts == 0) {
        goto done;
    }

    if (ngx_http_q2api_accounts_export(st->accounts, p, &all) != NGX_OK
        || ngx_http_q2api_store_file_write(st, &all, st->log) != NGX_OK)
    {
        /* written next time: nothing is lost */
        ngx_http_q2api_accounts_return_dirty(st->accounts, &dirty);

        if (!st->failing) {
            ngx_log_error(NGX_LOG_ERR, st->log, 0,
                          "q2api: accounts file \"%V\" cannot be written; "
                          "changes are kept in memory and retried",
                          &st->target);
            st->failing = 1;
        }

        goto done;
    }

    if (st->failing) {
        ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                      "q2api: accounts file \"%V\" is written again",
                      &st->target);
        st->failing = 0;
    }

done:

    ngx_destroy_pool(p);
}


#define q2api_put(b, lit)  q2api_buf_append(b, "" lit, sizeof(lit) - 1)


static ngx_int_t
ngx_http_q2api_store_file_write(ngx_http_q2api_store_t *st,
    ngx_array_t *accounts, ngx_log_t *log)
{
    u_char                         *tmp;
    ssize_t                         n;
    ngx_fd_t                        fd;
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    q2api_buf_t                     b;
    ngx_http_q2api_account_data_t  *d;

    q2api_buf_init(&b, 0);
    rc = NGX_ERROR;
    fd = NGX_INVALID_FILE;
    tmp = NULL;

    d = accounts->elts;

    if (q2api_put(&b, "{\"accounts\":[") != Q2API_OK) {
        goto done;
    }

    for (i = 0; i < accounts->nelts; i++) {
        if ((i && q2api_put(&b, ",\n") != Q2API_OK)
            || ngx_http_q2api_row_to_json(&b, &d[i], ngx_http_q2api_row_file,
                                          0)
               != NGX_OK)
        {
            goto done;
        }
    }

    if (q2api_put(&b, "]}\n") != Q2API_OK) {
        goto done;
    }

    tmp = ngx_alloc(st->target.len + sizeof(".tmp"), log);
    if (tmp == NULL) {
        goto done;
    }

    ngx_sprintf(tmp, "%V.tmp%Z", &st->target);

    /* the secrets are in there: readable by nginx's user only */
    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0600);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", tmp);
        goto done;
    }

    n = ngx_write_fd(fd, b.data, b.len);

    if (n != (ssize_t) b.len) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_write_fd_n " \"%s\" failed", tmp);
        goto done;
    }

    if (fsync(fd) == -1) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "fsync() \"%s\" failed", tmp);
        goto done;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        fd = NGX_INVALID_FILE;
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_close_file_n " \"%s\" failed", tmp);
        goto done;
    }

    fd = NGX_INVALID_FILE;

    if (ngx_rename_file(tmp, st->target.data) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      ngx_rename_file_n " \"%s\" to \"%V\" failed",
                      tmp, &st->target);
        goto done;
    }

    rc = NGX_OK;

done:

    if (fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(fd);
    }

    if (rc != NGX_OK && tmp != NULL) {
        (void) ngx_delete_file(tmp);
    }

    if (tmp) {
        ngx_free(tmp);
    }

    q2api_buf_free(&b);

    return rc;
}
