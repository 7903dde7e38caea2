/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The embedded default store: one JSON file of accounts.  It accepts
 * q2api's account rows as they are (an array, or {"accounts": [...]}), so
 * an export of a q2api pool loads unchanged.  The master reads it when
 * nginx starts or reloads, and notes its shape (a bare array or an
 * object, q2api's text times or epoch seconds, enabled as 0/1 or a
 * boolean) so that it is written back the same, with this module's state
 * added.  The lease worker rewrites it when accounts changed, at most once
 * per q2api_store_interval, in a thread (ngx_http_q2api_store_file_write.c);
 * when it cannot, it tries again after a back-off that doubles up to a
 * minute, saying so once per try.
 */


#include <cjson/cJSON.h>

#include "ngx_http_q2api_store_file.h"
#include "ngx_http_q2api_row.h"
#include "q2api_json.h"
#include "q2api_nul.h"
#include "ngx_http_q2api_seal.h"
#include "ngx_http_q2api_metrics.h"


#define NGX_HTTP_Q2API_STORE_MAX_SIZE  (256 * 1024 * 1024)
#define NGX_HTTP_Q2API_ID_MAX          128


static ngx_int_t ngx_http_q2api_store_file_load(ngx_http_q2api_store_t *st,
    ngx_uint_t reload, ngx_log_t *log);
static void ngx_http_q2api_store_file_tick(ngx_http_q2api_store_t *st);
static void ngx_http_q2api_store_file_stop(ngx_http_q2api_store_t *st);
static void ngx_http_q2api_store_file_write(ngx_http_q2api_store_file_t *fs,
    ngx_uint_t sync);
static void ngx_http_q2api_store_file_wait(ngx_event_t *ev);
static ngx_int_t ngx_http_q2api_store_file_account(ngx_http_q2api_store_t *st,
    cJSON *item, ngx_uint_t i, ngx_uint_t fields, ngx_uint_t generation,
    ngx_log_t *log);
static void ngx_http_q2api_store_file_shape(ngx_http_q2api_store_t *st,
    cJSON *item);


ngx_http_q2api_store_ops_t  ngx_http_q2api_store_file_ops = {
    "file",
    ngx_http_q2api_store_file_load,
    ngx_http_q2api_store_file_tick,
    ngx_http_q2api_store_file_stop
};


ngx_int_t
ngx_http_q2api_store_file_conf(ngx_conf_t *cf, ngx_http_q2api_store_t *st)
{
    ngx_http_q2api_store_file_t  *fs;

    fs = ngx_pcalloc(cf->pool, sizeof(ngx_http_q2api_store_file_t));
    if (fs == NULL) {
        return NGX_ERROR;
    }

    fs->st = st;

#if (NGX_THREADS)
    /* nginx's default pool, as "aio threads" uses it */
    fs->thread_pool = ngx_thread_pool_add(cf, NULL);
    if (fs->thread_pool == NULL) {
        return NGX_ERROR;
    }
#endif

    fs->wait.handler = ngx_http_q2api_store_file_wait;
    fs->wait.data = fs;
    fs->wait.log = cf->cycle->log;

    st->data = fs;

    return NGX_OK;
}


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

    rc = ngx_http_q2api_store_file_parse(st, buf, (size_t) n,
                                         reload ? NGX_HTTP_Q2API_SET_CONFIG
                                                : NGX_HTTP_Q2API_SET_ALL,
                                         log);

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
ngx_http_q2api_store_file_parse(ngx_http_q2api_store_t *st, u_char *text,
    size_t len, ngx_uint_t fields, ngx_log_t *log)
{
    cJSON       *root, *list, *item;
    ngx_int_t    rc;
    ngx_str_t   *path;
    ngx_uint_t   generation, i;
    const char  *at;

    path = &st->target;

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

    st->shape = cJSON_IsArray(root) ? NGX_HTTP_Q2API_SHAPE_ARRAY : 0;

    if (!cJSON_IsArray(list)) {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: accounts file \"%V\" must hold an array of "
                      "accounts or {\"accounts\": [...]}", path);
        goto done;
    }

    generation = ngx_http_q2api_accounts_next_generation(st->accounts);
    i = 0;

    cJSON_ArrayForEach(item, list) {
        if (ngx_http_q2api_store_file_account(st, item, i++, fields,
                                              generation, log)
            != NGX_OK)
        {
            goto done;
        }
    }

    ngx_http_q2api_accounts_prune(st->accounts, generation);

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "q2api: %ui accounts loaded from \"%V\"", i, path);

    rc = NGX_OK;

done:

    cJSON_Delete(root);

    return rc;
}


static ngx_int_t
ngx_http_q2api_store_file_account(ngx_http_q2api_store_t *st, cJSON *item,
    ngx_uint_t i, ngx_uint_t fields, ngx_uint_t generation, ngx_log_t *log)
{
    cJSON                          *type;
    ngx_int_t                       rc;
    ngx_str_t                      *path;
    ngx_pool_t                     *pool;
    ngx_http_q2api_row_field_e      bad;
    const char                     *sealing;
    ngx_http_q2api_account_data_t   d;

    path = &st->target;

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
                      "type \"%s\"", &d.id, path,
                      cJSON_IsString(type) ? type->valuestring : "");
        rc = NGX_ERROR;
        goto done;
    }

    if (ngx_http_q2api_seal_open_row(st->seal, pool, &d, NULL, &sealing)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, log, 0,
                      "q2api: account \"%V\" in \"%V\": \"%s\" cannot be "
                      "opened with q2api_store_key (%s)", &d.id, path, sealing,
                      st->seal ? "another key, or a damaged value"
                               : "it is sealed and no key is set");
        rc = NGX_ERROR;
        goto done;
    }

    ngx_http_q2api_store_file_shape(st, item);

    rc = ngx_http_q2api_accounts_upsert(st->accounts, &d, fields, generation);

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


/* the shape, from the first account that has the fields that tell */
static void
ngx_http_q2api_store_file_shape(ngx_http_q2api_store_t *st, cJSON *item)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(item, "enabled");

    if (!(st->shape & NGX_HTTP_Q2API_SHAPE_FLAG_KNOWN) && v != NULL
        && !cJSON_IsNull(v))
    {
        st->shape |= NGX_HTTP_Q2API_SHAPE_FLAG_KNOWN
                     | (cJSON_IsNumber(v) ? NGX_HTTP_Q2API_SHAPE_FLAG_NUMS
                                          : 0);
    }

    if (st->shape & NGX_HTTP_Q2API_SHAPE_TIME_KNOWN) {
        return;
    }

    v = cJSON_GetObjectItemCaseSensitive(item, "created_at");

    if (v == NULL || cJSON_IsNull(v)) {
        v = cJSON_GetObjectItemCaseSensitive(item, "updated_at");
    }

    if (v == NULL || cJSON_IsNull(v)) {
        v = cJSON_GetObjectItemCaseSensitive(item, "expires_at");
    }

    if (v != NULL && !cJSON_IsNull(v)) {
        st->shape |= NGX_HTTP_Q2API_SHAPE_TIME_KNOWN
                     | (cJSON_IsString(v) ? NGX_HTTP_Q2API_SHAPE_TEXT_TIMES
                                          : 0);
    }
}


/* the lease worker: rewrite the file when anything changed */
static void
ngx_http_q2api_store_file_tick(ngx_http_q2api_store_t *st)
{
    ngx_http_q2api_store_file_t  *fs;

    fs = st->data;

    if (fs->busy) {
        /* one write at a time; what changed meanwhile stays dirty */
        return;
    }

    if (fs->wait_next
        && (ngx_msec_int_t) (ngx_current_msec - fs->next_try) < 0)
    {
        return;
    }

    ngx_http_q2api_store_file_write(fs, st->exiting);
}


/*
 * The lease is gone or the worker exits: what changed is written now.  A
 * worker that exits gracefully is kept (fs->wait) until that is done.
 */
static void
ngx_http_q2api_store_file_stop(ngx_http_q2api_store_t *st)
{
    ngx_http_q2api_store_file_t  *fs;

    fs = st->data;

    if (fs->busy && st->exiting) {
        /* the thread pools were joined before this: the write is over,
         * only its completion was not delivered */
        ngx_http_q2api_store_file_done(fs);
    }

    if (fs->busy) {
        fs->final = 1;

    } else {
        ngx_http_q2api_store_file_write(fs, st->exiting);
    }

    if (fs->busy && ngx_exiting && !fs->wait.timer_set) {
        ngx_add_timer(&fs->wait, 50);
    }
}


static void
ngx_http_q2api_store_file_write(ngx_http_q2api_store_file_t *fs,
    ngx_uint_t sync)
{
    ngx_http_q2api_store_t  *st;

    st = fs->st;

    fs->pool = ngx_create_pool(16384, st->log);
    if (fs->pool == NULL) {
        return;
    }

    fs->taken = ngx_array_create(fs->pool, 16,
                                 sizeof(ngx_http_q2api_account_data_t));

    if (fs->taken == NULL
        || ngx_http_q2api_accounts_take_dirty(st->accounts, fs->pool,
                                              fs->taken)
           != NGX_OK)
    {
        if (fs->taken) {
            ngx_http_q2api_accounts_return_dirty(st->accounts, fs->taken);
        }

        ngx_destroy_pool(fs->pool);
        fs->pool = NULL;
        return;
    }

    if (fs->taken->nelts == 0) {
        ngx_destroy_pool(fs->pool);
        fs->pool = NULL;
        return;
    }

    (void) ngx_http_q2api_store_file_start(fs, sync);
}


void
ngx_http_q2api_store_file_done(ngx_http_q2api_store_file_t *fs)
{
    ngx_http_q2api_store_t  *st;

    st = fs->st;

    ngx_http_q2api_metrics_store(fs->rc == NGX_OK, fs->rc == NGX_OK);

    if (fs->rc == NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_EVENT, st->log, 0,
                       "q2api file: %ui accounts, %uz bytes written",
                       fs->count, fs->bytes);

        if (st->failing) {
            ngx_log_error(NGX_LOG_NOTICE, st->log, 0,
                          "q2api: accounts file \"%V\" is written again",
                          &st->target);
            st->failing = 0;
        }

        fs->backoff = 0;
        fs->wait_next = 0;

    } else {
        /* written next time: nothing is lost */
        ngx_http_q2api_accounts_return_dirty(st->accounts, fs->taken);

        fs->backoff = fs->backoff
                      ? ngx_min(2 * fs->backoff,
                                NGX_HTTP_Q2API_FILE_BACKOFF_MAX)
                      : ngx_max(st->interval, 1);
        fs->next_try = ngx_current_msec + fs->backoff;
        fs->wait_next = 1;
        st->failing = 1;

        /* one line per try, and the tries thin out */
        ngx_log_error(NGX_LOG_ERR, st->log, 0,
                      "q2api: accounts file \"%V\" cannot be written: %s; "
                      "changes are kept in memory, next try in %M ms",
                      &st->target, fs->err, fs->backoff);
    }

    ngx_destroy_pool(fs->pool);
    fs->pool = NULL;
    fs->taken = NULL;
    fs->busy = 0;

    if (fs->final) {
        fs->final = 0;
        ngx_http_q2api_store_file_write(fs, st->exiting);
    }
}


static void
ngx_http_q2api_store_file_wait(ngx_event_t *ev)
{
    ngx_http_q2api_store_file_t  *fs = ev->data;

    if (fs->busy) {
        ngx_add_timer(ev, 50);
    }
}
