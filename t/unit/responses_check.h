/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the tests of the Responses front end share: parsing test bodies
 * (written with ' for "), running canonical event scripts through the
 * encoder, and a strict replay of the event stream that checks what the
 * openai SDK and Codex rely on (openai-responses.md 5.1-5.3): "event:"
 * and "data:" of the same type, sequence numbers from 0 by one, one item
 * open at a time at the next output_index, sub-events naming it, .done
 * values equal to the deltas, and a terminal event whose output is the
 * items output_item.done gave.
 */

#ifndef _RESPONSES_CHECK_H_INCLUDED_
#define _RESPONSES_CHECK_H_INCLUDED_


#include "openai_check.h"
#include "q2api_responses_internal.h"


#define RS_UNUSED  __attribute__((unused))


static RS_UNUSED int
rs_parse(q2api_request_t *req, const char *body, q2api_error_t *err)
{
    int    rc;
    char  *b;

    b = jq(body);
    q2api_request_init(req);
    memset(err, 0, sizeof(q2api_error_t));
    rc = q2api_responses_parse(req, b, strlen(b), err);
    free(b);

    return rc;
}


static RS_UNUSED int
rs_accepts(q2api_request_t *req, const char *body, const char *name)
{
    int            rc;
    q2api_error_t  err;

    rc = rs_parse(req, body, &err);

    if (!ok(rc == Q2API_OK, name)) {
        diag("error: %s", err.message);
    }

    return rc;
}


/* refused as a bad request whose message starts with want */
static RS_UNUSED void
rs_rejects(const char *body, const char *want, const char *name)
{
    int              rc;
    q2api_error_t    err;
    q2api_request_t  req;

    rc = rs_parse(&req, body, &err);

    if (!ok(rc == Q2API_ERROR && err.kind == Q2API_ERR_INVALID_REQUEST
            && strncmp(err.message, want, strlen(want)) == 0, name))
    {
        diag("rc %d, kind %d, message: %s", rc, err.kind, err.message);
    }

    q2api_request_free(&req);
}


/*
 * Runs a script through a fresh encoder for a request body; finishes
 * unless the script ended in an error.  The record of the reply goes to
 * record if not NULL.
 */
static RS_UNUSED int
rs_run(const step_t *st, const char *body, q2api_buf_t *out,
    q2api_buf_t *record)
{
    int                        rc, failed;
    q2api_str_t                id;
    q2api_event_t              ev;
    q2api_error_t              err;
    q2api_request_t            req;
    q2api_responses_stream_t   s;

    if (rs_parse(&req, body, &err) != Q2API_OK) {
        diag("script body refused: %s", err.message);
        return Q2API_ERROR;
    }

    rc = q2api_responses_stream_init(&s, out, &req);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* fixed, for exact comparisons */
    memcpy(s.id, "resp_0123456789abcdef01234567", 30);
    s.created = 1700000000;
    s.input_tokens = 10;
    failed = 0;

    for ( ; st->type >= 0; st++) {
        step_event(st, &ev);
        failed |= (st->type == Q2API_EV_ERROR);

        if (q2api_responses_stream_event(&s, &ev) != Q2API_OK) {
            rc = Q2API_ERROR;
        }
    }

    if (!failed
        && (q2api_responses_stream_finish(&s) != Q2API_OK
            || q2api_responses_stream_finish(&s) != Q2API_OK))
    {
        rc = Q2API_ERROR;
    }

    if (record != NULL
        && q2api_responses_record(&s, &id, record) != Q2API_OK)
    {
        rc = Q2API_ERROR;
    }

    q2api_responses_stream_free(&s);
    q2api_request_free(&req);

    return rc;
}


typedef struct {
    cJSON   *response;      /* the terminal event's */
    cJSON   *output;        /* the output_item.done items */
    cJSON   *error;         /* an "error" event */
    int      events;
    int      comments;
    char     terminal[64];
    char     why[256];
} rs_replay_t;


static RS_UNUSED int
rs_fail(rs_replay_t *r, const char *fmt, ...)
{
    va_list  args;

    if (r->why[0] == '\0') {
        va_start(args, fmt);
        vsnprintf(r->why, sizeof(r->why), fmt, args);
        va_end(args);
    }

    return -1;
}


static RS_UNUSED const char *
rs_str(cJSON *o, const char *key)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsString(v) ? v->valuestring : "";
}


static RS_UNUSED int
rs_num(cJSON *o, const char *key)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, key);

    return cJSON_IsNumber(v) ? v->valueint : -1;
}


/* one event against the open item (text holds what its deltas joined) */
static RS_UNUSED int
rs_event(rs_replay_t *r, const char *type, cJSON *d, cJSON **open,
    q2api_buf_t *text)
{
    int          n;
    cJSON       *item;
    const char  *v;

    n = cJSON_GetArraySize(r->output);

    if (strcmp(type, "response.output_item.added") == 0) {
        if (*open != NULL || rs_num(d, "output_index") != n) {
            return rs_fail(r, "item added at %d with %d done%s",
                           rs_num(d, "output_index"), n,
                           *open ? ", one open" : "");
        }

        *open = cJSON_Duplicate(cJSON_GetObjectItem(d, "item"), 1);
        q2api_buf_reset(text);
        return 0;
    }

    if (*open == NULL || rs_num(d, "output_index") != n
        || (cJSON_GetObjectItem(d, "item_id") != NULL
            && strcmp(rs_str(d, "item_id"), rs_str(*open, "id")) != 0))
    {
        return rs_fail(r, "%s names no open item", type);
    }

    if (strstr(type, ".delta") != NULL) {
        v = rs_str(d, "delta");
        q2api_buf_append(text, v, strlen(v));
        return 0;
    }

    if (strcmp(type, "response.output_item.done") == 0) {
        item = cJSON_GetObjectItem(d, "item");
        v = rs_str(*open, "type");

        if (strcmp(rs_str(item, "id"), rs_str(*open, "id")) != 0
            || strcmp(rs_str(item, "type"), v) != 0)
        {
            return rs_fail(r, "done item differs from the added one");
        }

        if (strcmp(v, "function_call") == 0) {
            v = rs_str(item, "arguments");

        } else if (strcmp(v, "custom_tool_call") == 0) {
            v = rs_str(item, "input");

        } else {
            v = rs_str(cJSON_GetArrayItem(cJSON_GetObjectItem(item,
                       strcmp(v, "message") == 0 ? "content" : "summary"),
                       0), "text");
        }

        if (strlen(v) != text->len || memcmp(v, text->data, text->len) != 0)
        {
            return rs_fail(r, "done item's text is not its deltas': '%s'", v);
        }

        cJSON_AddItemToArray(r->output, cJSON_Duplicate(item, 1));
        cJSON_Delete(*open);
        *open = NULL;
        return 0;
    }

    /* .done of a part: the whole text equals the deltas */
    v = cJSON_GetObjectItem(d, "text") ? rs_str(d, "text")
        : cJSON_GetObjectItem(d, "arguments") ? rs_str(d, "arguments")
        : cJSON_GetObjectItem(d, "input") ? rs_str(d, "input")
        : cJSON_GetObjectItem(d, "part") ? rs_str(cJSON_GetObjectItem(d,
                                                  "part"), "text")
        : NULL;

    if (v != NULL && strstr(type, ".added") == NULL
        && (strlen(v) != text->len || memcmp(v, text->data, text->len) != 0))
    {
        return rs_fail(r, "%s differs from the deltas", type);
    }

    return 0;
}


static RS_UNUSED int
rs_replay(const q2api_buf_t *sse, rs_replay_t *r)
{
    int           rc;
    char          type[64];
    cJSON        *d, *open;
    const char   *p, *end, *nl, *data;
    q2api_buf_t   text;

    memset(r, 0, sizeof(rs_replay_t));
    r->output = cJSON_CreateArray();
    open = NULL;
    rc = 0;
    q2api_buf_init(&text, 0);

    p = (const char *) sse->data;
    end = p + sse->len;

    while (p < end && rc == 0) {
        nl = strstr(p, "\n\n");
        if (nl == NULL || nl >= end) {
            rc = rs_fail(r, "a frame without its blank line");
            break;
        }

        if (*p == ':') {
            r->comments++;
            p = nl + 2;
            continue;
        }

        data = strstr(p, "\ndata: ");

        if (strncmp(p, "event: ", 7) != 0 || data == NULL || data > nl
            || data - p - 7 >= (long) sizeof(type))
        {
            rc = rs_fail(r, "not an event and a data line");
            break;
        }

        memcpy(type, p + 7, data - p - 7);
        type[data - p - 7] = '\0';

        d = cJSON_ParseWithLength(data + 7, nl - data - 7);

        if (d == NULL || strcmp(rs_str(d, "type"), type) != 0) {
            rc = rs_fail(r, "event %s: data of another type", type);

        } else if (rs_num(d, "sequence_number") != r->events) {
            rc = rs_fail(r, "%s: sequence_number %d, want %d", type,
                         rs_num(d, "sequence_number"), r->events);

        } else if (r->terminal[0]) {
            rc = rs_fail(r, "%s after %s", type, r->terminal);

        } else if (r->events == 0
                   && strcmp(type, "response.created") != 0)
        {
            rc = rs_fail(r, "the first event is %s", type);

        } else if (strcmp(type, "response.created") == 0
                   || strcmp(type, "response.in_progress") == 0)
        {
            /* the lifecycle's start */

        } else if (strcmp(type, "error") == 0) {
            r->error = cJSON_Duplicate(d, 1);

        } else if (strcmp(type, "response.completed") == 0
                   || strcmp(type, "response.incomplete") == 0
                   || strcmp(type, "response.failed") == 0)
        {
            snprintf(r->terminal, sizeof(r->terminal), "%s", type);
            r->response = cJSON_Duplicate(cJSON_GetObjectItem(d,
                                                  "response"), 1);

            if (!cJSON_Compare(cJSON_GetObjectItem(r->response, "output"),
                               r->output, 1))
            {
                rc = rs_fail(r, "%s: output is not the done items", type);
            }

        } else {
            rc = rs_event(r, type, d, &open, &text);
        }

        cJSON_Delete(d);
        r->events++;
        p = nl + 2;
    }

    if (rc == 0 && r->terminal[0] == '\0') {
        rc = rs_fail(r, "no terminal event");
    }

    cJSON_Delete(open);
    q2api_buf_free(&text);

    return rc;
}


static RS_UNUSED void
rs_replay_free(rs_replay_t *r)
{
    cJSON_Delete(r->response);
    cJSON_Delete(r->output);
    cJSON_Delete(r->error);
}


#endif /* _RESPONSES_CHECK_H_INCLUDED_ */
