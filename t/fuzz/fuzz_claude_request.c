/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the client side: the input is a Messages request
 * body.  A body the parser takes must give a canonical request that the
 * Amazon Q builder turns into one valid JSON document of the expected
 * shape, and the Claude encoder, fed events made from the request's own
 * strings, must give a well-formed stream and a stream: false message that
 * says the same.  A refused body must come with an error message.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "q2api_amazonq.h"
#include "q2api_claude.h"
#include "../unit/sse_check.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


static cJSON *
parse_strict(const q2api_buf_t *b)
{
    char        *s;
    cJSON       *j;
    const char  *end;

    check(q2api_utf8_valid((const char *) b->data, b->len));

    s = malloc(b->len + 1);
    check(s != NULL);

    if (b->len) {
        memcpy(s, b->data, b->len);
    }

    s[b->len] = '\0';
    check(memchr(s, '\0', b->len) == NULL);

    j = cJSON_ParseWithOpts(s, &end, 1);
    free(s);

    return j;
}


static cJSON *
get(cJSON *j, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(j, key);
}


static void
check_amazonq(const q2api_request_t *req)
{
    int                    i;
    cJSON                 *root, *cs, *h, *e, *cur, *v;
    q2api_buf_t            out;
    q2api_error_t          err;
    q2api_amazonq_opts_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.model_id = (q2api_str_t) q2api_str_lit("claude-sonnet-4.5");
    opts.now = 1700000000;

    q2api_buf_init(&out, 0);

    check(q2api_amazonq_build(req, &opts, &out, &err) == Q2API_OK);

    root = parse_strict(&out);
    check(cJSON_IsObject(root));

    cs = get(root, "conversationState");
    check(cJSON_IsObject(cs));
    check(cJSON_IsString(get(cs, "conversationId")));
    check(cJSON_IsString(get(cs, "chatTriggerType")));

    /* history alternates user, assistant, ... from a user turn */
    h = get(cs, "history");
    check(cJSON_IsArray(h));

    i = 0;

    cJSON_ArrayForEach(e, h) {
        check(cJSON_IsObject(e) && e->child != NULL && e->child->next == NULL);

        if (i % 2 == 0) {
            v = get(e, "userInputMessage");
            check(cJSON_IsObject(v));
            check(cJSON_IsString(get(v, "content")));

        } else {
            v = get(e, "assistantResponseMessage");
            check(cJSON_IsObject(v));
            check(cJSON_IsString(get(v, "content")));

            cJSON_ArrayForEach(v, get(v, "toolUses")) {
                check(cJSON_IsObject(get(v, "input")));
                check(cJSON_IsString(get(v, "toolUseId")));
                check(cJSON_IsString(get(v, "name")));
            }
        }

        i++;
    }

    /* history ends with an assistant turn (or is empty): the current
     * message is the user's */
    check(i % 2 == 0);

    cur = get(get(cs, "currentMessage"), "userInputMessage");
    check(cJSON_IsObject(cur));
    check(cJSON_IsString(get(cur, "content")));
    check(cJSON_IsString(get(cur, "modelId")));
    check(cJSON_IsObject(get(get(cur, "userInputMessageContext"),
                             "envState")));

    cJSON_ArrayForEach(v, get(get(cur, "userInputMessageContext"),
                              "tools"))
    {
        v = get(v, "toolSpecification");
        check(cJSON_IsString(get(v, "name")));
        check(cJSON_IsString(get(v, "description")));
        check(cJSON_IsObject(get(get(v, "inputSchema"), "json")));
    }

    cJSON_ArrayForEach(v, get(get(cur, "userInputMessageContext"),
                              "toolResults"))
    {
        check(cJSON_IsString(get(v, "toolUseId")));
        check(cJSON_IsArray(get(v, "content")));
        check(cJSON_IsString(get(v, "status")));
    }

    cJSON_Delete(root);
    q2api_buf_free(&out);
}


static void
send(q2api_claude_stream_t *s, q2api_event_type_e type, q2api_str_t text,
    q2api_str_t id, q2api_str_t name)
{
    q2api_event_t  ev;

    memset(&ev, 0, sizeof(ev));
    q2api_usage_init(&ev.usage);

    /*
     * A request's strings keep their NULs; a reply's never hold one (the
     * backend's text comes through cJSON), and the checks compare
     * through cJSON too: the events take the strings up to a NUL.
     */
    text.len = text.data ? strnlen(text.data, text.len) : 0;
    id.len = id.data ? strnlen(id.data, id.len) : 0;
    name.len = name.data ? strnlen(name.data, name.len) : 0;

    ev.type = type;
    ev.text = text;
    ev.id = id;
    ev.name = name;

    if (type == Q2API_EV_USAGE) {
        ev.usage.output_tokens = 42;
        ev.usage.cache_read_tokens = 7;
    }

    if (type == Q2API_EV_STOP) {
        ev.stop = (q2api_stop_e) (text.len % 5);
    }

    check(q2api_claude_stream_event(s, &ev) == Q2API_OK);
}


/* events made from the request's last message, then a fixed tail */
static void
encode(const q2api_request_t *req, int stream, q2api_buf_t *out)
{
    q2api_str_t             none = { NULL, 0 };
    const q2api_block_t    *b;
    q2api_claude_stream_t   s;

    check(q2api_claude_stream_init(&s, out, req) == Q2API_OK);

    send(&s, Q2API_EV_BEGIN, none, none, none);

    for (b = req->last->blocks; b != NULL; b = b->next) {
        switch (b->type) {

        case Q2API_BLOCK_TEXT:
            send(&s, Q2API_EV_TEXT, b->text, none, none);
            break;

        case Q2API_BLOCK_THINKING:
            send(&s, Q2API_EV_THINKING, b->text, none, none);
            send(&s, Q2API_EV_SIGNATURE, b->data, none, none);
            break;

        case Q2API_BLOCK_TOOL_USE:
            send(&s, Q2API_EV_TOOL_START, none, b->id, b->name);
            send(&s, Q2API_EV_TOOL_INPUT, b->data, none, none);
            send(&s, Q2API_EV_TOOL_STOP, none, none, none);
            break;

        case Q2API_BLOCK_TOOL_RESULT:
            /* its text as tool input fragments: any bytes at all */
            send(&s, Q2API_EV_TOOL_START, none, b->id, b->id);
            send(&s, Q2API_EV_TOOL_INPUT, b->text, none, none);
            break;

        default:
            send(&s, Q2API_EV_REDACTED_THINKING, b->data, none, none);
        }
    }

    send(&s, Q2API_EV_TEXT, req->system, none, none);
    send(&s, Q2API_EV_USAGE, none, none, none);
    send(&s, Q2API_EV_STOP, req->model, none, none);

    check(q2api_claude_stream_finish(&s) == Q2API_OK);

    q2api_claude_stream_free(&s);
}


static void
check_claude(q2api_request_t *req)
{
    char          why[128];
    cJSON        *json;
    sse_msg_t     m;
    q2api_buf_t   out;

    q2api_buf_init(&out, 0);

    req->stream = 1;
    encode(req, 1, &out);
    check(sse_parse(out.data, out.len, &m) == 0);
    check(m.error == NULL);

    q2api_buf_reset(&out);

    req->stream = 0;
    encode(req, 0, &out);
    json = parse_strict(&out);
    check(cJSON_IsObject(json));
    check(sse_same_message(&m, json, why, sizeof(why)) == 0);

    cJSON_Delete(json);
    sse_msg_free(&m);
    q2api_buf_free(&out);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                     rc;
    q2api_error_t           err;
    q2api_request_t         req;
    const q2api_message_t  *m, *prev;

    q2api_request_init(&req);
    memset(&err, 0, sizeof(err));

    rc = q2api_claude_parse(&req, (const char *) data, size, &err);

    if (rc != Q2API_OK) {
        check(rc == Q2API_ERROR);
        check(err.kind == Q2API_ERR_INVALID_REQUEST);
        check(err.message[0] != '\0');
        check(strlen(err.message) < sizeof(err.message));

        q2api_request_free(&req);
        return 0;
    }

    check(req.model.len > 0 && req.nmessages > 0 && req.last != NULL);

    /* the canonical turns alternate */
    prev = NULL;

    for (m = req.messages; m != NULL; m = m->next) {
        check(prev == NULL || prev->role != m->role);
        prev = m;
    }

    check(prev == req.last);

    check_amazonq(&req);
    check_claude(&req);

    q2api_request_free(&req);

    return 0;
}
