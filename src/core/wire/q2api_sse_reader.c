/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * An incremental server-sent events reader for upstream streams.
 */


#include "q2api_sse_reader.h"


static int q2api_sse_reader_line(q2api_sse_reader_t *r, const char *p,
    size_t len, q2api_sse_handler_pt handler, void *data);
static int q2api_sse_reader_dispatch(q2api_sse_reader_t *r,
    q2api_sse_handler_pt handler, void *data);


void
q2api_sse_reader_init(q2api_sse_reader_t *r, size_t max_line,
    size_t max_event)
{
    memset(r, 0, sizeof(q2api_sse_reader_t));

    r->max_line = max_line;

    q2api_buf_init(&r->line, max_line);
    q2api_buf_init(&r->data, max_event);
    q2api_buf_init(&r->event, max_line);
    q2api_buf_init(&r->id, max_line);
}


void
q2api_sse_reader_free(q2api_sse_reader_t *r)
{
    q2api_buf_free(&r->line);
    q2api_buf_free(&r->data);
    q2api_buf_free(&r->event);
    q2api_buf_free(&r->id);
}


int
q2api_sse_reader_feed(q2api_sse_reader_t *r, const unsigned char *in,
    size_t len, size_t *consumed, q2api_sse_handler_pt handler, void *data)
{
    int                   rc;
    size_t                n;
    const unsigned char  *p, *end, *eol;

    p = in;
    end = in + len;
    *consumed = 0;

    while (p < end) {

        if (r->after_cr) {
            r->after_cr = 0;

            if (*p == '\n') {
                p++;
                *consumed = p - in;
                continue;
            }
        }

        for (eol = p; eol < end && *eol != '\n' && *eol != '\r'; eol++) {
            /* void */
        }

        n = eol - p;

        if (r->line.len + n > r->max_line) {
            return Q2API_SSE_ELINE;
        }

        if (eol == end) {
            /* the line goes on in the next piece of input */
            if (q2api_buf_append(&r->line, p, n) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            *consumed = len;
            return Q2API_OK;
        }

        if (r->line.len) {
            if (q2api_buf_append(&r->line, p, n) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            rc = q2api_sse_reader_line(r, (char *) r->line.data,
                                       r->line.len, handler, data);
            q2api_buf_reset(&r->line);

        } else {
            /* a whole line in the input is read where it lies */
            rc = q2api_sse_reader_line(r, (const char *) p, n, handler,
                                       data);
        }

        r->after_cr = (*eol == '\r');
        p = eol + 1;
        *consumed = p - in;

        if (rc != Q2API_OK) {
            return rc;
        }
    }

    return Q2API_OK;
}


int
q2api_sse_reader_finish(q2api_sse_reader_t *r, q2api_sse_handler_pt handler,
    void *data)
{
    int  rc;

    if (r->line.len) {
        rc = q2api_sse_reader_line(r, (char *) r->line.data, r->line.len,
                                   handler, data);
        q2api_buf_reset(&r->line);

        if (rc != Q2API_OK) {
            return rc;
        }
    }

    return q2api_sse_reader_dispatch(r, handler, data);
}


const char *
q2api_sse_reader_strerror(int rc)
{
    switch (rc) {
    case Q2API_SSE_ELINE:
        return "an SSE line is longer than the reader's cap";
    case Q2API_SSE_EEVENT:
        return "an SSE event is larger than the reader's cap";
    case Q2API_NOMEM:
        return "out of memory reading the SSE stream";
    default:
        return NULL;
    }
}


static int
q2api_sse_reader_line(q2api_sse_reader_t *r, const char *p, size_t len,
    q2api_sse_handler_pt handler, void *data)
{
    size_t       nlen;
    const char  *colon, *value;
    size_t       vlen;

    if (len == 0) {
        return q2api_sse_reader_dispatch(r, handler, data);
    }

    if (p[0] == ':') {
        /* a comment: keep-alives */
        return Q2API_OK;
    }

    colon = memchr(p, ':', len);

    if (colon != NULL) {
        nlen = colon - p;
        value = colon + 1;
        vlen = len - nlen - 1;

        if (vlen && value[0] == ' ') {
            value++;
            vlen--;
        }

    } else {
        nlen = len;
        value = "";
        vlen = 0;
    }

    if (nlen == 4 && memcmp(p, "data", 4) == 0) {
        if ((r->has_data && q2api_buf_append_byte(&r->data, '\n')
                            != Q2API_OK)
            || q2api_buf_append(&r->data, value, vlen) != Q2API_OK)
        {
            return r->data.max && r->data.len + vlen + 1 > r->data.max
                   ? Q2API_SSE_EEVENT : Q2API_NOMEM;
        }

        r->has_data = 1;
        return Q2API_OK;
    }

    if (nlen == 5 && memcmp(p, "event", 5) == 0) {
        q2api_buf_reset(&r->event);
        return q2api_buf_append(&r->event, value, vlen);
    }

    if (nlen == 2 && memcmp(p, "id", 2) == 0) {
        /* the standard ignores an id with a NUL in it */
        if (memchr(value, '\0', vlen) != NULL) {
            return Q2API_OK;
        }

        q2api_buf_reset(&r->id);
        return q2api_buf_append(&r->id, value, vlen);
    }

    /* "retry" and unknown fields: nothing an upstream reader uses */
    return Q2API_OK;
}


static int
q2api_sse_reader_dispatch(q2api_sse_reader_t *r,
    q2api_sse_handler_pt handler, void *data)
{
    int                  rc;
    q2api_sse_message_t  m;

    if (!r->has_data) {
        /* an event without data is none; its name does not carry over */
        q2api_buf_reset(&r->event);
        return Q2API_OK;
    }

    m.event.data = r->event.len ? (char *) r->event.data : "";
    m.event.len = r->event.len;
    m.data.data = r->data.len ? (char *) r->data.data : "";
    m.data.len = r->data.len;
    m.id.data = r->id.len ? (char *) r->id.data : "";
    m.id.len = r->id.len;

    rc = handler(data, &m);

    q2api_buf_reset(&r->data);
    q2api_buf_reset(&r->event);
    r->has_data = 0;

    return rc;
}
