/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the Responses front end: the input is a Responses
 * body.  A body the parser takes must give alternating canonical turns
 * that the Amazon Q builder turns into one JSON object; the encoder, fed
 * events made from the request's own strings, must give an event stream
 * that replays as the SDK reads it, a stream: false Response with the
 * same output, and a stored record that a later turn's history takes
 * back.  A refused body must come with an error message.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_amazonq.h"
#include "../unit/responses_check.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


static void
check_amazonq(const q2api_request_t *req)
{
    cJSON                 *root;
    q2api_buf_t            out;
    q2api_error_t          err;
    q2api_amazonq_opts_t   opts;

    memset(&opts, 0, sizeof(opts));
    opts.model_id = (q2api_str_t) q2api_str_lit("claude-sonnet-4.5");
    opts.now = 1700000000;

    q2api_buf_init(&out, 0);

    check(q2api_amazonq_build(req, &opts, &out, &err) == Q2API_OK);
    check(q2api_utf8_valid((char *) out.data, out.len));

    root = parse_body(&out);
    check(cJSON_IsObject(root));

    cJSON_Delete(root);
    q2api_buf_free(&out);
}


static void
send_event(q2api_responses_stream_t *s, q2api_event_type_e type,
    q2api_str_t text, q2api_str_t id, q2api_str_t name)
{
    q2api_event_t  ev;

    /* the replay compares through cJSON, which cuts at a NUL */
    text.len = text.data ? strnlen(text.data, text.len) : 0;
    id.len = id.data ? strnlen(id.data, id.len) : 0;
    name.len = name.data ? strnlen(name.data, name.len) : 0;

    memset(&ev, 0, sizeof(ev));
    q2api_usage_init(&ev.usage);

    ev.type = type;
    ev.text = text;
    ev.id = id;
    ev.name = name;

    if (type == Q2API_EV_STOP) {
        ev.stop = (q2api_stop_e) (text.len % 5);
    }

    check(q2api_responses_stream_event(s, &ev) == Q2API_OK);
}


/* events made from the request's last message; the record if asked */
static void
encode(const q2api_request_t *req, q2api_buf_t *out, q2api_buf_t *record)
{
    q2api_str_t                none = { NULL, 0 };
    q2api_str_t                result_name = { (char *) "read_result", 11 };
    q2api_str_t                id;
    const q2api_block_t       *b;
    q2api_responses_stream_t   s;

    check(q2api_responses_stream_init(&s, out, req) == Q2API_OK);

    /* the same item ids both ways */
    memcpy(s.id, "resp_0123456789abcdef01234567", 30);

    send_event(&s, Q2API_EV_BEGIN, none, none, none);

    for (b = req->last->blocks; b != NULL; b = b->next) {
        switch (b->type) {

        case Q2API_BLOCK_TEXT:
            send_event(&s, Q2API_EV_THINKING, b->text, none, none);
            send_event(&s, Q2API_EV_SIGNATURE, b->text, none, none);
            send_event(&s, Q2API_EV_TEXT, b->text, none, none);
            break;

        case Q2API_BLOCK_TOOL_USE:
            send_event(&s, Q2API_EV_TOOL_START, none, b->id, b->name);
            send_event(&s, Q2API_EV_TOOL_INPUT, b->data, none, none);
            send_event(&s, Q2API_EV_TOOL_STOP, none, none, none);
            break;

        case Q2API_BLOCK_TOOL_RESULT:
            /* a call without arguments, closed by the text after it (a
             * back end's arguments are JSON, which a later turn replays) */
            /* back ends never name a call with nothing (both refuse a
             * nameless one): the name is one a back end could give */
            send_event(&s, Q2API_EV_TOOL_START, none, b->id, result_name);
            send_event(&s, Q2API_EV_TEXT, b->text, none, none);
            break;

        default:
            send_event(&s, Q2API_EV_THINKING, b->text, none, none);
        }
    }

    send_event(&s, Q2API_EV_TEXT, req->system, none, none);
    send_event(&s, Q2API_EV_STOP, req->model, none, none);

    check(q2api_responses_stream_finish(&s) == Q2API_OK);

    if (record != NULL) {
        check(q2api_responses_record(&s, &id, record) == Q2API_OK);
    }

    q2api_responses_stream_free(&s);
}


/* the record, as the next turn's stored history */
static void
check_record(const q2api_buf_t *record)
{
    q2api_error_t    err;
    q2api_request_t  next;

    if (record->len == 0) {
        return;
    }

    check(q2api_utf8_valid((char *) record->data, record->len));

    q2api_request_init(&next);
    memset(&err, 0, sizeof(err));

    check(q2api_responses_parse(&next, "{\"model\":\"m\",\"input\":\"next\"}",
                                29, &err) == Q2API_OK);
    check(q2api_responses_history(&next, (char *) record->data,
                                  record->len, &err) == Q2API_OK);
    check(next.nmessages >= 1 && next.last->role == Q2API_ROLE_USER);

    q2api_request_free(&next);
}


static void
check_responses(q2api_request_t *req)
{
    cJSON         *json;
    q2api_buf_t    out, record;
    rs_replay_t    r;

    q2api_buf_init(&out, 0);
    q2api_buf_init(&record, 0);

    req->stream = 1;
    encode(req, &out, &record);
    check(q2api_utf8_valid((char *) out.data, out.len));
    check(rs_replay(&out, &r) == 0);

    q2api_buf_reset(&out);

    req->stream = 0;
    encode(req, &out, NULL);
    json = parse_body(&out);
    check(cJSON_IsObject(json));
    check(cJSON_Compare(cJSON_GetObjectItem(json, "output"), r.output, 1));

    check_record(&record);

    cJSON_Delete(json);
    rs_replay_free(&r);
    q2api_buf_free(&out);
    q2api_buf_free(&record);
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

    rc = q2api_responses_parse(&req, (const char *) data, size, &err);

    if (rc != Q2API_OK) {
        check(rc == Q2API_ERROR);
        check(err.kind == Q2API_ERR_INVALID_REQUEST);
        check(err.message[0] != '\0');

        q2api_request_free(&req);
        return 0;
    }

    check(req.model.len > 0);

    /* previous_response_id alone: the stored items would be the input */
    if (req.nmessages == 0) {
        q2api_request_free(&req);
        return 0;
    }

    prev = NULL;

    for (m = req.messages; m != NULL; m = m->next) {
        check(prev == NULL || prev->role != m->role);
        prev = m;
    }

    check(prev == req.last);

    check_amazonq(&req);
    check_responses(&req);

    q2api_request_free(&req);

    return 0;
}
