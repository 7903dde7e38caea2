/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * One write of the accounts file, off the event loop: with 10,000
 * accounts the copy of the zone takes ~20 ms and the text, write and fsync
 * ~100 ms, which in the worker would stall every request it serves.  So
 * the whole of it runs in a thread of nginx's default pool: the zone is
 * copied a few hundred accounts per hold of its lock (the workers wait for
 * one part at most), the text is made in the shape the file was read in,
 * and a temporary file is renamed over the old one, never leaving it torn.
 * Without threads, or while the worker exits, the same runs in place.
 */


#include "ngx_http_q2api_store_file.h"
#include "ngx_http_q2api_row.h"
#include "ngx_http_q2api_seal.h"


/* accounts copied per hold of the zone's lock: ~0.5 ms */
#define NGX_HTTP_Q2API_FILE_PART  32


static void ngx_http_q2api_store_file_job(void *data, ngx_log_t *log);
static ngx_int_t ngx_http_q2api_store_file_text(
    ngx_http_q2api_store_file_t *fs, q2api_buf_t *b);
static ngx_int_t ngx_http_q2api_store_file_put(
    ngx_http_q2api_store_file_t *fs, q2api_buf_t *b);
static ngx_int_t ngx_http_q2api_store_file_fail(
    ngx_http_q2api_store_file_t *fs, ngx_err_t err, const char *what,
    u_char *name);
#if (NGX_THREADS)
static void ngx_http_q2api_store_file_thread_done(ngx_event_t *ev);
#endif


ngx_int_t
ngx_http_q2api_store_file_start(ngx_http_q2api_store_file_t *fs,
    ngx_uint_t sync)
{
#if (NGX_THREADS)
    ngx_thread_task_t  *task;
#endif

    fs->busy = 1;
    fs->rc = NGX_ERROR;
    fs->err[0] = '\0';

#if (NGX_THREADS)

    if (!sync && fs->thread_pool) {
        task = fs->task;

        if (task == NULL) {
            task = ngx_thread_task_alloc(ngx_cycle->pool, 0);
            if (task == NULL) {
                goto in_place;
            }

            task->ctx = fs;
            task->handler = ngx_http_q2api_store_file_job;
            task->event.handler = ngx_http_q2api_store_file_thread_done;
            task->event.data = fs;
            task->event.log = fs->st->log;

            fs->task = task;
        }

        if (ngx_thread_task_post(fs->thread_pool, task) == NGX_OK) {
            return NGX_OK;
        }

        /* the pool's queue is full: better late here than never */
    }

in_place:

#endif

    ngx_http_q2api_store_file_job(fs, fs->st->log);
    ngx_http_q2api_store_file_done(fs);

    return NGX_OK;
}


#if (NGX_THREADS)

static void
ngx_http_q2api_store_file_thread_done(ngx_event_t *ev)
{
    ngx_http_q2api_store_file_done(ev->data);
}

#endif


/*
 * In a thread: nothing here may touch the event loop or log (the worker
 * logs fs->err when it is done).
 */
static void
ngx_http_q2api_store_file_job(void *data, ngx_log_t *log)
{
    ngx_http_q2api_store_file_t *fs = data;

    q2api_buf_t  b;

    q2api_buf_init(&b, 0);

    if (ngx_http_q2api_store_file_text(fs, &b) == NGX_OK) {
        fs->bytes = b.len;
        fs->rc = ngx_http_q2api_store_file_put(fs, &b);
    }

    q2api_buf_free(&b);
}


/* the zone's accounts in the file's shape, each once */
static ngx_int_t
ngx_http_q2api_store_file_text(ngx_http_q2api_store_file_t *fs,
    q2api_buf_t *b)
{
    uint32_t                        hash;
    ngx_int_t                       rc;
    ngx_uint_t                      left, i, flags, first;
    ngx_array_t                     all;
    ngx_rbtree_t                    seen;
    ngx_str_node_t                 *sn;
    ngx_rbtree_node_t               sentinel;
    ngx_http_q2api_store_t         *st;
    ngx_http_q2api_account_data_t  *d, w;

    st = fs->st;

    if (ngx_array_init(&all, fs->pool, 1024,
                       sizeof(ngx_http_q2api_account_data_t))
        != NGX_OK)
    {
        return ngx_http_q2api_store_file_fail(fs, 0, "out of memory", NULL);
    }

    left = NGX_HTTP_Q2API_EXPORT_ALL;

    do {
        rc = ngx_http_q2api_accounts_export_part(st->accounts, fs->pool, &all,
                                                 &left,
                                                 NGX_HTTP_Q2API_FILE_PART);
        if (rc == NGX_ERROR) {
            return ngx_http_q2api_store_file_fail(fs, 0, "out of memory",
                                                  NULL);
        }

    } while (rc != NGX_DONE);

    flags = 0;

    if (st->shape & NGX_HTTP_Q2API_SHAPE_TEXT_TIMES) {
        flags |= NGX_HTTP_Q2API_ROW_Q2API_TIMES;
    }

    if (st->shape & NGX_HTTP_Q2API_SHAPE_FLAG_NUMS) {
        flags |= NGX_HTTP_Q2API_ROW_FLAG_NUMS;
    }

    if (q2api_buf_append_str(b, (st->shape & NGX_HTTP_Q2API_SHAPE_ARRAY)
                                ? "[" : "{\"accounts\":[")
        != Q2API_OK)
    {
        return ngx_http_q2api_store_file_fail(fs, 0, "out of memory", NULL);
    }

    ngx_rbtree_init(&seen, &sentinel, ngx_str_rbtree_insert_value);

    d = all.elts;
    first = 1;
    fs->count = 0;

    /* the copy went from the last slot down: back to the zone's order */
    for (i = all.nelts; i--; /* void */) {

        hash = ngx_crc32_short(d[i].id.data, d[i].id.len);

        if (ngx_str_rbtree_lookup(&seen, &d[i].id, hash) != NULL) {
            /* moved by a removal while it was copied */
            continue;
        }

        sn = ngx_palloc(fs->pool, sizeof(ngx_str_node_t));
        if (sn == NULL) {
            return ngx_http_q2api_store_file_fail(fs, 0, "out of memory",
                                                  NULL);
        }

        sn->node.key = hash;
        sn->str = d[i].id;
        ngx_rbtree_insert(&seen, &sn->node);

        w = d[i];

        if (st->seal
            && ngx_http_q2api_seal_row(st->seal, fs->pool, &w) != NGX_OK)
        {
            return ngx_http_q2api_store_file_fail(fs, 0,
                                                  "sealing the secrets failed",
                                                  NULL);
        }

        if ((!first && q2api_buf_append_str(b, ",\n") != Q2API_OK)
            || ngx_http_q2api_row_to_json(b, &w, ngx_http_q2api_row_file,
                                          flags)
               != NGX_OK)
        {
            return ngx_http_q2api_store_file_fail(fs, 0, "out of memory",
                                                  NULL);
        }

        first = 0;
        fs->count++;
    }

    if (q2api_buf_append_str(b, (st->shape & NGX_HTTP_Q2API_SHAPE_ARRAY)
                                ? "]\n" : "]}\n")
        != Q2API_OK)
    {
        return ngx_http_q2api_store_file_fail(fs, 0, "out of memory", NULL);
    }

    return NGX_OK;
}


/*
 * The text into "<file>.<pid>.tmp", then renamed over the file: a reader
 * sees the old file or the new one, never a part.  The pid keeps the
 * temporary files of two workers apart when the store lease moves while
 * one of them still writes.
 */
static ngx_int_t
ngx_http_q2api_store_file_put(ngx_http_q2api_store_file_t *fs,
    q2api_buf_t *b)
{
    u_char     *tmp;
    ssize_t     n;
    ngx_fd_t    fd;
    ngx_int_t   rc;
    ngx_str_t  *path;

    path = &fs->st->target;

    tmp = ngx_pnalloc(fs->pool, path->len + sizeof(".tmp") + NGX_INT64_LEN
                                + 1);
    if (tmp == NULL) {
        return ngx_http_q2api_store_file_fail(fs, 0, "out of memory", NULL);
    }

    ngx_sprintf(tmp, "%V.%P.tmp%Z", path, ngx_pid);

    rc = NGX_ERROR;

    /* the secrets are in there: readable by nginx's user only */
    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE, 0600);

    if (fd == NGX_INVALID_FILE) {
        return ngx_http_q2api_store_file_fail(fs, ngx_errno,
                                              ngx_open_file_n, tmp);
    }

    n = ngx_write_fd(fd, b->data, b->len);

    if (n != (ssize_t) b->len) {
        (void) ngx_http_q2api_store_file_fail(fs, (n == -1) ? ngx_errno : 0,
                                              ngx_write_fd_n, tmp);
        goto failed;
    }

    if (fsync(fd) == -1) {
        (void) ngx_http_q2api_store_file_fail(fs, ngx_errno, "fsync()", tmp);
        goto failed;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        fd = NGX_INVALID_FILE;
        (void) ngx_http_q2api_store_file_fail(fs, ngx_errno,
                                              ngx_close_file_n, tmp);
        goto failed;
    }

    fd = NGX_INVALID_FILE;

    if (ngx_rename_file(tmp, path->data) == NGX_FILE_ERROR) {
        (void) ngx_http_q2api_store_file_fail(fs, ngx_errno,
                                              ngx_rename_file_n, tmp);
        goto failed;
    }

    return NGX_OK;

failed:

    if (fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(fd);
    }

    (void) ngx_delete_file(tmp);

    return rc;
}


/* "call "name" failed (errno: text)" into fs->err, for the worker's log */
static ngx_int_t
ngx_http_q2api_store_file_fail(ngx_http_q2api_store_file_t *fs, ngx_err_t err,
    const char *what, u_char *name)
{
    u_char  *p, *last;

    p = fs->err;
    last = fs->err + NGX_HTTP_Q2API_FILE_ERR_LEN - 1;

    p = name ? ngx_slprintf(p, last, "%s \"%s\" failed", what, name)
             : ngx_slprintf(p, last, "%s", what);

    if (err) {
        p = ngx_slprintf(p, last, " (%d: ", err);
        p = ngx_strerror(err, p, last - p);

        if (p < last) {
            *p++ = ')';
        }
    }

    *p = '\0';

    return NGX_ERROR;
}
