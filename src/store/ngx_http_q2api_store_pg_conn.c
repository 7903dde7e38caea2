/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The PostgreSQL store's connection: libpq's socket as an nginx
 * connection, connected with PQconnectPoll, read until the socket (and
 * TLS) is empty, written with PQflush, and errors made into one log line
 * that never quotes a row.
 */


#include <sys/ioctl.h>

#include <openssl/ssl.h>

#include "ngx_http_q2api_store_pg.h"


static ngx_int_t ngx_http_q2api_pg_attach(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_check_socket(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_poll(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_handler(ngx_event_t *ev);
static ngx_int_t ngx_http_q2api_pg_io(ngx_http_q2api_pg_t *pg);
static ngx_int_t ngx_http_q2api_pg_read(ngx_http_q2api_pg_t *pg);
static ngx_uint_t ngx_http_q2api_pg_pending(ngx_http_q2api_pg_t *pg);
static void ngx_http_q2api_pg_notice(void *arg, const PGresult *res);


ngx_int_t
ngx_http_q2api_pg_connect(ngx_http_q2api_pg_t *pg)
{
    pg->conn = PQconnectStartParams(pg->keywords, pg->values, 0);

    if (pg->conn == NULL) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       "PQconnectStartParams() failed");
    }

    if (PQstatus(pg->conn) == CONNECTION_BAD) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       PQerrorMessage(pg->conn));
    }

    /* no DETAIL lines: they may quote row values, tokens among them */
    (void) PQsetErrorVerbosity(pg->conn, PQERRORS_TERSE);
    (void) PQsetNoticeReceiver(pg->conn, ngx_http_q2api_pg_notice, pg);

    if (PQsetnonblocking(pg->conn, 1) != 0) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       PQerrorMessage(pg->conn));
    }

    pg->state = NGX_HTTP_Q2API_PG_CONNECTING;

    if (ngx_http_q2api_pg_attach(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_add_timer(&pg->timer, pg->connect_timeout);

    ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: connecting");

    /* as if PQconnectPoll() had said PGRES_POLLING_WRITING */
    pg->c->write->ready = 0;

    if (ngx_handle_write_event(pg->c->write, 0) != NGX_OK
        || ngx_handle_read_event(pg->c->read, 0) != NGX_OK)
    {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       "ngx_handle_write_event() failed");
    }

    return NGX_OK;
}


/* libpq's socket as an nginx connection, the way ngx_event_connect_peer()
 * registers one */
static ngx_int_t
ngx_http_q2api_pg_attach(ngx_http_q2api_pg_t *pg)
{
    int                fd;
    ngx_connection_t  *c;
    ngx_file_info_t    fi;

    fd = PQsocket(pg->conn);

    if (fd == -1) {
        return ngx_http_q2api_pg_error(pg, "connect", "no socket");
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, pg->st->log, ngx_errno,
                      ngx_fd_info_n " of the postgres socket failed");
        return ngx_http_q2api_pg_error(pg, "connect", "fstat() failed");
    }

    c = ngx_get_connection(fd, pg->st->log);
    if (c == NULL) {
        return ngx_http_q2api_pg_error(pg, "connect",
                                       "ngx_get_connection() failed");
    }

    c->data = pg;
    c->read->handler = ngx_http_q2api_pg_handler;
    c->write->handler = ngx_http_q2api_pg_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    pg->c = c;
    pg->ino = fi.st_ino;

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            return ngx_http_q2api_pg_error(pg, "connect",
                                           "ngx_add_conn() failed");
        }
    }

    return NGX_OK;
}


/* ngx_close_connection() without the close(): the fd is libpq's */
void
ngx_http_q2api_pg_detach(ngx_http_q2api_pg_t *pg)
{
    ngx_connection_t  *c;

    c = pg->c;

    if (c == NULL) {
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    /* closing (or already closed) sockets leave epoll by themselves */
    if (ngx_del_conn) {
        ngx_del_conn(c, NGX_CLOSE_EVENT);

    } else {
        if (c->read->active || c->read->disabled) {
            ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
        }

        if (c->write->active || c->write->disabled) {
            ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
        }
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->read->closed = 1;
    c->write->closed = 1;

    ngx_free_connection(c);

    c->fd = (ngx_socket_t) -1;
    pg->c = NULL;
}


/*
 * libpq may open another socket while it connects (the next host or
 * address, a retry without TLS) and close the old one, which takes it out
 * of epoll.  The new socket often gets the same number, so the inode
 * tells them apart.
 */
static ngx_int_t
ngx_http_q2api_pg_check_socket(ngx_http_q2api_pg_t *pg)
{
    int              fd;
    ngx_file_info_t  fi;

    fd = PQsocket(pg->conn);

    if (fd == pg->c->fd && fd != -1
        && ngx_fd_info(fd, &fi) != NGX_FILE_ERROR && fi.st_ino == pg->ino)
    {
        return NGX_OK;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: socket changed from %d to %d",
                   pg->c->fd, fd);

    ngx_http_q2api_pg_detach(pg);

    return ngx_http_q2api_pg_attach(pg);
}


static ngx_int_t
ngx_http_q2api_pg_poll(ngx_http_q2api_pg_t *pg)
{
    ngx_uint_t                 i;
    ngx_connection_t          *c;
    PostgresPollingStatusType  rc;

    for (i = 0; i < 16; i++) {

        rc = PQconnectPoll(pg->conn);

        if (rc == PGRES_POLLING_FAILED) {
            return ngx_http_q2api_pg_error(pg, "connect",
                                           PQerrorMessage(pg->conn));
        }

        if (ngx_http_q2api_pg_check_socket(pg) != NGX_OK) {
            return NGX_ERROR;
        }

        c = pg->c;

        if (rc == PGRES_POLLING_OK) {
            if (pg->timer.timer_set) {
                ngx_del_timer(&pg->timer);
            }

            ngx_log_debug0(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                           "q2api pg: connected");

            pg->state = NGX_HTTP_Q2API_PG_SETUP;

            return ngx_http_q2api_pg_schema(pg);
        }

        if (rc == PGRES_POLLING_WRITING) {
            /*
             * Connected: libpq wants to send the startup packet, but the
             * edge that said so is gone (edge-triggered epoll), so go on
             * at once.
             */
            if (PQstatus(pg->conn) == CONNECTION_MADE) {
                continue;
            }

            c->write->ready = 0;

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                return ngx_http_q2api_pg_error(pg, "connect",
                                           "ngx_handle_write_event() failed");
            }

            return NGX_OK;
        }

        /* PGRES_POLLING_READING */

        if (ngx_http_q2api_pg_pending(pg)) {
            continue;
        }

        c->read->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            return ngx_http_q2api_pg_error(pg, "connect",
                                           "ngx_handle_read_event() failed");
        }

        return NGX_OK;
    }

    /* let other connections run; go on from the posted queue */
    ngx_post_event(pg->c->write, &ngx_posted_events);

    return NGX_OK;
}


static void
ngx_http_q2api_pg_handler(ngx_event_t *ev)
{
    ngx_int_t             rc;
    ngx_connection_t     *c;
    ngx_http_q2api_pg_t  *pg;

    c = ev->data;
    pg = c->data;

    if (pg->state == NGX_HTTP_Q2API_PG_CONNECTING) {
        rc = ngx_http_q2api_pg_poll(pg);

    } else {
        rc = ngx_http_q2api_pg_io(pg);
    }

    if (rc == NGX_ERROR) {
        ngx_http_q2api_pg_fail(pg);
    }
}


void
ngx_http_q2api_pg_timer(ngx_event_t *ev)
{
    ngx_http_q2api_pg_t  *pg;

    pg = ev->data;

    if (pg->state == NGX_HTTP_Q2API_PG_CONNECTING
        || pg->job != NGX_HTTP_Q2API_PG_JOB_NONE)
    {
        (void) ngx_http_q2api_pg_error(pg,
                   ngx_http_q2api_pg_job_name(pg->job), "timed out");
        ngx_http_q2api_pg_fail(pg);
        return;
    }

    /* idle: the periodic full load is due */
    if (pg->state == NGX_HTTP_Q2API_PG_READY
        && ngx_http_q2api_pg_next(pg) == NGX_ERROR)
    {
        ngx_http_q2api_pg_fail(pg);
    }
}


static ngx_int_t
ngx_http_q2api_pg_io(ngx_http_q2api_pg_t *pg)
{
    ngx_connection_t  *c;

    if (pg->flushing && ngx_http_q2api_pg_flush(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_q2api_pg_read(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_q2api_pg_results(pg) != NGX_OK) {
        return NGX_ERROR;
    }

    if (pg->conn == NULL) {
        /* the final write is done and the connection closed */
        return NGX_DONE;
    }

    ngx_http_q2api_pg_notifies(pg);

    c = pg->c;
    c->read->ready = 0;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        return ngx_http_q2api_pg_error(pg, "read",
                                       "ngx_handle_read_event() failed");
    }

    if (!pg->flushing && ngx_handle_write_event(c->write, 0) != NGX_OK) {
        return ngx_http_q2api_pg_error(pg, "write",
                                       "ngx_handle_write_event() failed");
    }

    if (pg->state == NGX_HTTP_Q2API_PG_READY
        && pg->job == NGX_HTTP_Q2API_PG_JOB_NONE
        && (pg->notified || pg->resync))
    {
        return ngx_http_q2api_pg_next(pg);
    }

    return NGX_OK;
}


/*
 * Reads until the socket (and TLS) is empty: with edge-triggered events
 * nothing would say so again, and PQconsumeInput() may stop early.
 */
static ngx_int_t
ngx_http_q2api_pg_read(ngx_http_q2api_pg_t *pg)
{
    ngx_uint_t  i;

    for (i = 0; i < 32; i++) {

        if (!PQconsumeInput(pg->conn)) {
            return ngx_http_q2api_pg_error(pg, "read",
                                           PQerrorMessage(pg->conn));
        }

        if (ngx_http_q2api_pg_pending(pg)) {
            continue;
        }

        if (pg->c->read->pending_eof) {
            /* the peer closed: this read fails and says why */
            pg->c->read->pending_eof = 0;
            continue;
        }

        return NGX_OK;
    }

    ngx_post_event(pg->c->read, &ngx_posted_events);

    return NGX_OK;
}


static ngx_uint_t
ngx_http_q2api_pg_pending(ngx_http_q2api_pg_t *pg)
{
    int   n;
    SSL  *ssl;

    if (ioctl(PQsocket(pg->conn), FIONREAD, &n) == 0 && n > 0) {
        return 1;
    }

    if (PQsslInUse(pg->conn)) {
        ssl = PQsslStruct(pg->conn, "OpenSSL");

        if (ssl && SSL_pending(ssl) > 0) {
            return 1;
        }
    }

    return 0;
}


ngx_int_t
ngx_http_q2api_pg_flush(ngx_http_q2api_pg_t *pg)
{
    int  rc;

    rc = PQflush(pg->conn);

    if (rc == -1) {
        return ngx_http_q2api_pg_error(pg, "write", PQerrorMessage(pg->conn));
    }

    if (rc == 1) {
        /* libpq met EAGAIN (reading what came meanwhile): wait */
        pg->flushing = 1;
        pg->c->write->ready = 0;

        if (ngx_handle_write_event(pg->c->write, 0) != NGX_OK) {
            return ngx_http_q2api_pg_error(pg, "write",
                                           "ngx_handle_write_event() failed");
        }

        return NGX_OK;
    }

    pg->flushing = 0;

    return NGX_OK;
}


static void
ngx_http_q2api_pg_notice(void *arg, const PGresult *res)
{
    ngx_http_q2api_pg_t *pg = arg;

    const char  *msg;

    /* "relation accounts already exists, skipping" and the like */
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pg->st->log, 0,
                   "q2api pg: %s", msg ? msg : "notice");
}


/* "what: message" on one line, for the log */
ngx_int_t
ngx_http_q2api_pg_error(ngx_http_q2api_pg_t *pg, const char *what,
    const char *msg)
{
    u_char  *p, *q, *last;

    last = pg->err + sizeof(pg->err) - 1;
    p = ngx_snprintf(pg->err, last - pg->err, "%s: %s", what, msg);
    *p = '\0';

    /* libpq's messages span lines and indent them */
    for (p = pg->err, q = pg->err; *q; q++) {
        if (*q == '\n' || *q == '\r' || *q == '\t') {
            *q = ' ';
        }

        if (*q == ' ' && (p == pg->err || p[-1] == ' ')) {
            continue;
        }

        *p++ = *q;
    }

    while (p > pg->err && p[-1] == ' ') {
        p--;
    }

    *p = '\0';

    return NGX_ERROR;
}


/*
 * Severity, SQLSTATE and the primary message only: a DETAIL may quote a
 * row, and a row holds tokens.  An ERROR rolled the transaction back; a
 * FATAL or PANIC ended the session, perhaps after a COMMIT whose answer
 * was lost.
 */
ngx_int_t
ngx_http_q2api_pg_result_error(ngx_http_q2api_pg_t *pg, PGresult *res)
{
    u_char      *p, msg[NGX_HTTP_Q2API_PG_ERR_LEN];
    const char  *severity, *code, *primary;

    severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    if (severity == NULL) {
        severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
    }

    if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED
        || (severity && ngx_strcmp(severity, "ERROR") == 0))
    {
        pg->sql_error = 1;
    }

    if (primary == NULL) {
        primary = PQresStatus(PQresultStatus(res));
    }

    p = ngx_snprintf(msg, sizeof(msg) - 1, "%s %s: %s",
                     severity ? severity : "ERROR", code ? code : "-",
                     primary);
    *p = '\0';

    return ngx_http_q2api_pg_error(pg, ngx_http_q2api_pg_job_name(pg->job),
                                   (const char *) msg);
}
