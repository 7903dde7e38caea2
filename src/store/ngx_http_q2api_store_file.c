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
#include "q2api_json.h"


#define NGX_HTTP_Q2API_STORE_MAX_SIZE  (256 * 1024 * 1024)
#define NGX_HTTP_Q2API_ID_MAX          128


static ngx_int_t ngx_http_q2api_store_file_load(ngx_http_q2api_store_t *st,
    ngx_uint_t reload, ngx_log_t *log);
static void ngx_http_q2api_store_file_tick(ngx_http_q2api_store_t *st);
static ngx_int_t ngx_http_q2api_store_file_account(
    ngx_http_q2api_accounts_t *pool, cJSON *item, ngx_uint_t i,
    ngx_uint_t fields, ngx_uint_t generation, ngx_str_t *path,
    ngx_log_t *log);
static ngx_int_t ngx_http_q2api_store_file_write(ngx_http_q2api_store_t *st,
    ngx_array_t *accounts, ngx_log_t *log);
static void ngx_http_q2api_json_str(cJSON *obj, const char *key,
    ngx_str_t *out);
static time_t ngx_http_q2api_json_time(cJSON *obj, const char *key);
static uint64_t ngx_http_q2api_json_u64(cJSON *obj, const char *key);


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
            ngx_http_q2api_accounts_prune(st->pool,
                ngx_http_q2api_accounts_next_generation(st->pool));
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

    rc = ngx_http_q2api_store_file_parse(st->pool, buf, (size_t) n,
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
ngx_http_q2api_store_file_parse(ngx_http_q2api_accounts_t *pool, u_char *text,
    size_t len, ngx_uint_t fields, ngx_str_t *path, ngx_log_t *log)
{
    cJSON       *root, *list, *item;
    ngx_int_t    rc;
    ngx_uint_t   generation, i;
    const char  *at;

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

    generation = ngx_http_q2api_accounts_next_generation(pool);
    i = 0;

    cJSON_ArrayForEach(item, list) {
        if (ngx_http_q2api_store_file_account(pool, item, i++, fields,
                                              generation, path, log)
            != NGX_OK)
        {
            goto done;
        }
    }

    ngx_http_q2api_accounts_prune(pool, generation);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "q2api: %ui accounts loaded from \"%V\"", i, path);

    rc = NGX_OK;

done:

    cJSON_Delete(root);

    return rc;
}


static ngx_int_t
ngx_http_q2api_store_file_account(ngx_http_q2api_accounts_t *pool, cJSON *item,
    ngx_uint_t i, ngx_uint_t fields, ngx_uint_t generation, ngx_str_t *path,
    ngx_log_t *log)
{
    char                           *printed;
    cJSON                          *v;
    ngx_str_t                       type, status;
    ngx_int_t                       rc;
    ngx_http_q2api_account_data_t   d;

    if (!cJSON_IsObject(item)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\" is not an object",
                      i, path);
        return NGX_ERROR;
    }

    ngx_memzero(&d, sizeof(ngx_http_q2api_account_data_t));

    ngx_http_q2api_json_str(item, "id", &d.id);

    if (d.id.len == 0 || d.id.len > NGX_HTTP_Q2API_ID_MAX) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account #%ui in \"%V\" needs an \"id\" string "
                      "of 1 to %d bytes", i, path, NGX_HTTP_Q2API_ID_MAX);
        return NGX_ERROR;
    }

    ngx_http_q2api_json_str(item, "label", &d.label);
    ngx_http_q2api_json_str(item, "clientId", &d.client_id);
    ngx_http_q2api_json_str(item, "clientSecret", &d.client_secret);
    ngx_http_q2api_json_str(item, "refreshToken", &d.refresh_token);
    ngx_http_q2api_json_str(item, "accessToken", &d.access_token);
    ngx_http_q2api_json_str(item, "profileArn", &d.profile_arn);
    ngx_http_q2api_json_str(item, "type", &type);

    if (type.len == 0 || ngx_strcmp(type.data, "amazonq") == 0) {
        d.type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;

    } else if (ngx_strcmp(type.data, "kiro") == 0) {
        d.type = NGX_HTTP_Q2API_ACCOUNT_KIRO;

    } else {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account \"%V\" in \"%V\" has an unknown "
                      "type \"%V\"", &d.id, path, &type);
        return NGX_ERROR;
    }

    /* q2api stores enabled as 0/1, amq2api as a boolean */
    v = cJSON_GetObjectItemCaseSensitive(item, "enabled");

    d.enabled = v == NULL || cJSON_IsNull(v) || cJSON_IsTrue(v)
                || (cJSON_IsNumber(v) && v->valuedouble != 0);

    /* "other" is q2api's free-form object: kept, as text */
    printed = NULL;
    v = cJSON_GetObjectItemCaseSensitive(item, "other");

    if (cJSON_IsObject(v)) {
        printed = cJSON_PrintUnformatted(v);
        if (printed == NULL) {
            return NGX_ERROR;
        }

        d.other.data = (u_char *) printed;
        d.other.len = ngx_strlen(printed);

    } else if (cJSON_IsString(v)) {
        ngx_http_q2api_json_str(item, "other", &d.other);
    }

    ngx_http_q2api_json_str(item, "status", &status);

    d.status = ngx_http_q2api_status_from_name(status.data, status.len);

    ngx_http_q2api_json_str(item, "status_reason", &d.reason);
    ngx_http_q2api_json_str(item, "last_error", &d.last_error);
    d.status_since = ngx_http_q2api_json_time(item, "status_since");
    d.until = ngx_http_q2api_json_time(item, "status_until");
    d.token_expires = ngx_http_q2api_json_time(item, "expires_at");
    d.last_used = ngx_http_q2api_json_time(item, "last_used");
    d.created_at = ngx_http_q2api_json_time(item, "created_at");
    d.updated_at = ngx_http_q2api_json_time(item, "updated_at");

    d.successes = ngx_http_q2api_json_u64(item, "success_count");
    d.consecutive_errors = ngx_http_q2api_json_u64(item, "error_count");
    d.errors = ngx_http_q2api_json_u64(item, "total_errors");
    d.tokens_in = ngx_http_q2api_json_u64(item, "tokens_in");
    d.tokens_out = ngx_http_q2api_json_u64(item, "tokens_out");

    rc = ngx_http_q2api_accounts_upsert(pool, &d, fields, generation);

    if (printed) {
        cJSON_free(printed);
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: no room in the shared zone for account "
                      "\"%V\"; make q2api_zone larger", &d.id);
        return NGX_ERROR;
    }

    return NGX_OK;
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

    if (ngx_http_q2api_accounts_take_dirty(st->pool, p, &dirty) != NGX_OK) {
        ngx_http_q2api_accounts_return_dirty(st->pool, &dirty);
        goto done;
    }

    if (dirty.nelts == 0) {
        goto done;
    }

    if (ngx_http_q2api_accounts_export(st->pool, p, &all) != NGX_OK
        || ngx_http_q2api_store_file_write(st, &all, st->log) != NGX_OK)
    {
        /* written next time: nothing is lost */
        ngx_http_q2api_accounts_return_dirty(st->pool, &dirty);

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
ngx_http_q2api_store_file_field(q2api_buf_t *b, const char *key,
    ngx_str_t *value)
{
    if (q2api_buf_append_byte(b, ',') != Q2API_OK
        || q2api_json_append_string(b, key, ngx_strlen(key)) != Q2API_OK
        || q2api_buf_append_byte(b, ':') != Q2API_OK)
    {
        return NGX_ERROR;
    }

    if (value->len == 0) {
        return q2api_put(b, "null") == Q2API_OK ? NGX_OK : NGX_ERROR;
    }

    return q2api_json_append_string(b, (char *) value->data, value->len)
           == Q2API_OK ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_http_q2api_store_file_num(q2api_buf_t *b, const char *key, uint64_t v)
{
    if (q2api_buf_append_byte(b, ',') != Q2API_OK
        || q2api_json_append_string(b, key, ngx_strlen(key)) != Q2API_OK
        || q2api_buf_append_byte(b, ':') != Q2API_OK
        || q2api_json_append_int(b, (long long) v) != Q2API_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_store_file_write(ngx_http_q2api_store_t *st,
    ngx_array_t *accounts, ngx_log_t *log)
{
    u_char                         *tmp;
    ssize_t                         n;
    ngx_fd_t                        fd;
    ngx_int_t                       rc;
    ngx_str_t                       status;
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
        status.data = (u_char *) ngx_http_q2api_status_name(d[i].status);
        status.len = ngx_strlen(status.data);

        if ((i && q2api_put(&b, ",\n") != Q2API_OK)
            || q2api_put(&b, "{\"id\":") != Q2API_OK
            || q2api_json_append_string(&b, (char *) d[i].id.data,
                                        d[i].id.len) != Q2API_OK
            || ngx_http_q2api_store_file_field(&b, "label", &d[i].label)
               != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "clientId",
                                               &d[i].client_id) != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "clientSecret",
                                               &d[i].client_secret) != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "refreshToken",
                                               &d[i].refresh_token) != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "accessToken",
                                               &d[i].access_token) != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "profileArn",
                                               &d[i].profile_arn) != NGX_OK
            || q2api_put(&b, ",\"type\":") != Q2API_OK
            || q2api_buf_append_str(&b, d[i].type == NGX_HTTP_Q2API_ACCOUNT_KIRO
                                        ? "\"kiro\"" : "\"amazonq\"")
               != Q2API_OK
            || q2api_put(&b, ",\"enabled\":") != Q2API_OK
            || q2api_buf_append_str(&b, d[i].enabled ? "true" : "false")
               != Q2API_OK
            || q2api_put(&b, ",\"other\":") != Q2API_OK
            || (d[i].other.len
                ? q2api_buf_append(&b, d[i].other.data, d[i].other.len)
                : q2api_put(&b, "null")) != Q2API_OK
            || ngx_http_q2api_store_file_field(&b, "status", &status)
               != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "status_reason",
                                               &d[i].reason) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "status_since",
                                             d[i].status_since) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "status_until", d[i].until)
               != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "expires_at",
                                             d[i].token_expires) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "success_count",
                                             d[i].successes) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "error_count",
                                             d[i].consecutive_errors)
               != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "total_errors", d[i].errors)
               != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "tokens_in", d[i].tokens_in)
               != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "tokens_out",
                                             d[i].tokens_out) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "last_used", d[i].last_used)
               != NGX_OK
            || ngx_http_q2api_store_file_field(&b, "last_error",
                                               &d[i].last_error) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "created_at",
                                             d[i].created_at) != NGX_OK
            || ngx_http_q2api_store_file_num(&b, "updated_at",
                                             d[i].updated_at) != NGX_OK
            || q2api_buf_append_byte(&b, '}') != Q2API_OK)
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


/* epoch seconds, or q2api's "%Y-%m-%dT%H:%M:%S" UTC text */
static time_t
ngx_http_q2api_json_time(cJSON *obj, const char *key)
{
    int         n;
    cJSON      *item;
    struct tm   tm;

    item = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsNumber(item) && item->valuedouble > 0) {
        return (time_t) item->valuedouble;
    }

    if (!cJSON_IsString(item)) {
        return 0;
    }

    ngx_memzero(&tm, sizeof(struct tm));

    n = sscanf(item->valuestring, "%d-%d-%dT%d:%d:%d", &tm.tm_year,
               &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);

    if (n != 6) {
        return 0;
    }

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;

    return timegm(&tm);
}


static uint64_t
ngx_http_q2api_json_u64(cJSON *obj, const char *key)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (cJSON_IsNumber(item) && item->valuedouble > 0) {
        return (uint64_t) item->valuedouble;
    }

    return 0;
}
