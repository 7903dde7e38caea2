/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Tools as Amazon Q takes them: names it accepts, mapped back to the
 * client's in replies, and descriptions within its limit.
 */


#include <stdio.h>

#include "q2api_amazonq.h"
#include "q2api_amazonq_internal.h"
#include "q2api_json.h"
#include "q2api_tool_name.h"


size_t
q2api_amazonq_tool_name(const char *name, size_t len, char *out)
{
    return q2api_tool_name_fit(name, len, out, Q2API_AMAZONQ_TOOL_NAME_MAX,
                               "", "", "t_");
}


/* the client's name of a tool Amazon Q named "name" */
q2api_str_t
q2api_amazonq_client_tool_name(const q2api_request_t *req, const char *name,
    size_t len)
{
    char                 buf[Q2API_AMAZONQ_TOOL_NAME_MAX + 1];
    size_t               n;
    q2api_str_t          found;
    const q2api_tool_t  *t;

    found.data = name;
    found.len = len;

    for (t = req ? req->tools : NULL; t != NULL; t = t->next) {
        n = q2api_amazonq_tool_name(t->name.data, t->name.len, buf);

        if (n == len && memcmp(buf, name, len) == 0) {
            return t->name;
        }
    }

    return found;
}


int
q2api_amazonq_tool_name_raw(q2api_buf_t *out, const q2api_str_t *name)
{
    char    buf[Q2API_AMAZONQ_TOOL_NAME_MAX + 1];
    size_t  n;

    n = q2api_amazonq_tool_name(name->data, name->len, buf);

    return q2api_buf_append(out, buf, n);
}


int
q2api_amazonq_append_tool_name(q2api_buf_t *out, const q2api_str_t *name)
{
    char    buf[Q2API_AMAZONQ_TOOL_NAME_MAX + 1];
    size_t  n;

    n = q2api_amazonq_tool_name(name->data, name->len, buf);

    return q2api_json_append_string(out, buf, n);
}


/*
 * An empty description is refused upstream; one over the limit is cut and
 * its full text goes to the tool documentation section of the message.
 */

#define Q2API_AMAZONQ_DESC_NOTE                                            \
    " ... (the full description is in the tool documentation above)"

int
q2api_amazonq_append_description(q2api_buf_t *out, const q2api_tool_t *t)
{
    size_t  len;

    if (t->description.len == 0) {
        return q2api_json_append_string(out, t->name.data, t->name.len);
    }

    if (t->description.len <= Q2API_AMAZONQ_TOOL_DESC_MAX) {
        return q2api_json_append_string(out, t->description.data,
                                        t->description.len);
    }

    /* the cut must not fall inside a UTF-8 sequence */
    len = q2api_utf8_complete_prefix(t->description.data,
                                     Q2API_AMAZONQ_TOOL_DESC_MAX
                                     - (sizeof(Q2API_AMAZONQ_DESC_NOTE) - 1));

    if (q2api_json_append_string(out, t->description.data, len) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    /* the note goes inside the string, before its closing quote */
    out->len--;

    return q2api_put(out, Q2API_AMAZONQ_DESC_NOTE "\"");
}

