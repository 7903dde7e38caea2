/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include "q2api_sse.h"


int
q2api_sse_event(q2api_buf_t *out, const char *name, const void *data,
    size_t len)
{
    if (name != NULL
        && (q2api_buf_append(out, "event: ", 7) != Q2API_OK
            || q2api_buf_append_str(out, name) != Q2API_OK
            || q2api_buf_append_byte(out, '\n') != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (q2api_buf_append(out, "data: ", 6) != Q2API_OK
        || q2api_buf_append(out, data, len) != Q2API_OK
        || q2api_buf_append(out, "\n\n", 2) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


int
q2api_sse_comment(q2api_buf_t *out, const char *text)
{
    if (q2api_buf_append(out, ": ", 2) != Q2API_OK
        || q2api_buf_append_str(out, text) != Q2API_OK
        || q2api_buf_append(out, "\n\n", 2) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}
