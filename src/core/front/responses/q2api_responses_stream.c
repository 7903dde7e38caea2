/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The reply as the Responses event stream: response.created and
 * .in_progress, then one output item after another (a message, a
 * reasoning summary, a function or custom tool call), each opened by
 * output_item.added, filled by its deltas and closed by its .done events
 * and output_item.done, then response.completed (or .incomplete) with
 * the whole output and usage.  sequence_number counts every event from
 * 0; output_index is the item's place in the output.  With stream:
 * false only the finished items are kept, for one Response at the end.
 */


#include <stdio.h>
#include <time.h>

#include <openssl/rand.h>

#include "q2api_responses_internal.h"
#include "q2api_json.h"
#include "q2api_sse.h"


static int q2api_responses_begin(q2api_responses_stream_t *s);
static int q2api_responses_lifecycle(q2api_responses_stream_t *s,
    const char *type, const char *status, int final, const char *code,
    const char *message);
static int q2api_responses_ev(q2api_responses_stream_t *s,
    const char *type);
static int q2api_responses_ev_item(q2api_responses_stream_t *s,
    const char *type);
static int q2api_responses_ev_send(q2api_responses_stream_t *s,
    const char *type);
static int q2api_responses_open(q2api_responses_stream_t *s,
    q2api_responses_item_e item, const q2api_event_t *ev);
static int q2api_responses_delta(q2api_responses_stream_t *s,
    const q2api_str_t *text);
static int q2api_responses_close(q2api_responses_stream_t *s);
static int q2api_responses_item_json(q2api_responses_stream_t *s,
    q2api_buf_t *b, int done);
static int q2api_responses_unwrap(q2api_responses_stream_t *s);


#define q2api_responses_put(b, lit)                                        \
    q2api_buf_append(b, "" lit, sizeof(lit) - 1)


int
q2api_responses_stream_init(q2api_responses_stream_t *s, q2api_buf_t *out,
    const q2api_request_t *req)
{
    int            i;
    cJSON         *item, *v;
    unsigned char  r[12];

    memset(s, 0, sizeof(q2api_responses_stream_t));

    s->out = out;
    s->req = req;
    s->stream = req->stream;
    s->created = (long long) time(NULL);
    s->input_tokens = q2api_request_estimate_tokens(req);
    q2api_usage_init(&s->usage);

    q2api_buf_init(&s->scratch, 0);
    q2api_buf_init(&s->items, 0);
    q2api_buf_init(&s->echo, 0);
    q2api_buf_init(&s->text, 0);
    q2api_buf_init(&s->signature, 0);
    q2api_buf_init(&s->call_id, 0);
    q2api_buf_init(&s->name, 0);

    item = cJSON_GetObjectItemCaseSensitive((cJSON *) req->json, "store");
    s->store = !cJSON_IsFalse(item);

    item = cJSON_GetObjectItemCaseSensitive((cJSON *) req->json, "include");

    cJSON_ArrayForEach(v, item) {
        if (cJSON_IsString(v)
            && strcmp(v->valuestring, "reasoning.encrypted_content") == 0)
        {
            s->encrypted = 1;
        }
    }

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return Q2API_ERROR;
    }

    memcpy(s->id, "resp_", 5);

    for (i = 0; i < (int) sizeof(r); i++) {
        snprintf(s->id + 5 + 2 * i, 3, "%02x", r[i]);
    }

    return q2api_responses_echo(s);
}


void
q2api_responses_stream_free(q2api_responses_stream_t *s)
{
    q2api_buf_free(&s->scratch);
    q2api_buf_free(&s->items);
    q2api_buf_free(&s->echo);
    q2api_buf_free(&s->text);
    q2api_buf_free(&s->signature);
    q2api_buf_free(&s->call_id);
    q2api_buf_free(&s->name);
}


int
q2api_responses_stream_ping(q2api_responses_stream_t *s)
{
    if (!s->stream) {
        return Q2API_OK;
    }

    /* a comment: an unknown event type would make the SDK throw */
    return q2api_sse_comment(s->out, "keep-alive");
}


/* {"type":"<type>","sequence_number":<n> into s->scratch */
static int
q2api_responses_ev(q2api_responses_stream_t *s, const char *type)
{
    q2api_buf_t  *b;

    b = &s->scratch;
    q2api_buf_reset(b);

    if (q2api_responses_put(b, "{\"type\":\"") != Q2API_OK
        || q2api_buf_append_str(b, type) != Q2API_OK
        || q2api_responses_put(b, "\",\"sequence_number\":") != Q2API_OK
        || q2api_json_append_int(b, s->seq) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* ... and ,"item_id","output_index" of the open item */
static int
q2api_responses_ev_item(q2api_responses_stream_t *s, const char *type)
{
    q2api_buf_t  *b;

    b = &s->scratch;

    if (q2api_responses_ev(s, type) != Q2API_OK
        || q2api_responses_put(b, ",\"item_id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->item_id) != Q2API_OK
        || q2api_responses_put(b, "\",\"output_index\":") != Q2API_OK
        || q2api_json_append_int(b, s->index) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* closes the event's JSON and puts it on the stream */
static int
q2api_responses_ev_send(q2api_responses_stream_t *s, const char *type)
{
    int  rc;

    if (q2api_buf_append_byte(&s->scratch, '}') != Q2API_OK) {
        return Q2API_NOMEM;
    }

    rc = q2api_sse_event(s->out, type, s->scratch.data, s->scratch.len);
    q2api_buf_reset(&s->scratch);
    s->seq++;

    return rc;
}


/* a lifecycle event: {"type","sequence_number","response":{...}} */
static int
q2api_responses_lifecycle(q2api_responses_stream_t *s, const char *type,
    const char *status, int final, const char *code, const char *message)
{
    if (q2api_responses_ev(s, type) != Q2API_OK
        || q2api_responses_put(&s->scratch, ",\"response\":") != Q2API_OK
        || q2api_responses_write_response(s, &s->scratch, status, final,
                                          code, message) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_responses_ev_send(s, type);
}


static int
q2api_responses_begin(q2api_responses_stream_t *s)
{
    if (s->started) {
        return Q2API_OK;
    }

    s->started = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    if (q2api_responses_lifecycle(s, "response.created", "in_progress", 0,
                                  NULL, NULL) != Q2API_OK
        || q2api_responses_lifecycle(s, "response.in_progress",
                                     "in_progress", 0, NULL, NULL)
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


static int
q2api_responses_open(q2api_responses_stream_t *s,
    q2api_responses_item_e item, const q2api_event_t *ev)
{
    char          call_id[48];
    q2api_buf_t  *b;
    const char   *prefix;

    static const char  *prefixes[] = { "", "msg", "rs", "fc", "ctc" };

    if (q2api_responses_close(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    s->item = item;
    prefix = prefixes[item];

    snprintf(s->item_id, sizeof(s->item_id), "%s_%s_%d", prefix, s->id + 5,
             s->index);

    q2api_buf_reset(&s->text);
    q2api_buf_reset(&s->signature);
    q2api_buf_reset(&s->call_id);
    q2api_buf_reset(&s->name);

    if (item == Q2API_RESPONSES_ITEM_FUNCTION
        || item == Q2API_RESPONSES_ITEM_CUSTOM)
    {
        s->ncalls++;

        /* call_id must round-trip; a back end that gave none gets one */
        snprintf(call_id, sizeof(call_id), "call_%s_%d", s->id + 5,
                 s->index);

        if ((ev->id.len
             ? q2api_buf_append(&s->call_id, ev->id.data, ev->id.len)
             : q2api_buf_append_str(&s->call_id, call_id)) != Q2API_OK
            || q2api_buf_append(&s->name, ev->name.data, ev->name.len)
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (!s->stream) {
        return Q2API_OK;
    }

    b = &s->scratch;

    if (q2api_responses_ev(s, "response.output_item.added") != Q2API_OK
        || q2api_responses_put(b, ",\"output_index\":") != Q2API_OK
        || q2api_json_append_int(b, s->index) != Q2API_OK
        || q2api_responses_put(b, ",\"item\":") != Q2API_OK
        || q2api_responses_item_json(s, b, 0) != Q2API_OK
        || q2api_responses_ev_send(s, "response.output_item.added")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (item == Q2API_RESPONSES_ITEM_MESSAGE) {
        if (q2api_responses_ev_item(s, "response.content_part.added")
            != Q2API_OK
            || q2api_responses_put(b, ",\"content_index\":0,\"part\":"
                                      "{\"type\":\"output_text\","
                                      "\"text\":\"\",\"annotations\":[]}")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_responses_ev_send(s, "response.content_part.added");
    }

    if (item == Q2API_RESPONSES_ITEM_REASONING) {
        if (q2api_responses_ev_item(s, "response.reasoning_summary_part.added")
            != Q2API_OK
            || q2api_responses_put(b, ",\"summary_index\":0,\"part\":"
                                      "{\"type\":\"summary_text\","
                                      "\"text\":\"\"}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_responses_ev_send(s,
                                     "response.reasoning_summary_part.added");
    }

    return Q2API_OK;
}


/* a piece of the open item's text; a custom call's JSON waits whole */
static int
q2api_responses_delta(q2api_responses_stream_t *s, const q2api_str_t *text)
{
    q2api_buf_t  *b;
    const char   *type;

    if (q2api_buf_append(&s->text, text->data, text->len) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (!s->stream || s->item == Q2API_RESPONSES_ITEM_CUSTOM) {
        return Q2API_OK;
    }

    b = &s->scratch;

    switch (s->item) {

    case Q2API_RESPONSES_ITEM_MESSAGE:
        type = "response.output_text.delta";

        if (q2api_responses_ev_item(s, type) != Q2API_OK
            || q2api_responses_put(b, ",\"content_index\":0,\"delta\":")
               != Q2API_OK
            || q2api_json_append_string(b, text->data, text->len)
               != Q2API_OK
            || q2api_responses_put(b, ",\"logprobs\":[]") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_RESPONSES_ITEM_REASONING:
        type = "response.reasoning_summary_text.delta";

        if (q2api_responses_ev_item(s, type) != Q2API_OK
            || q2api_responses_put(b, ",\"summary_index\":0,\"delta\":")
               != Q2API_OK
            || q2api_json_append_string(b, text->data, text->len)
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    default:
        type = "response.function_call_arguments.delta";

        if (q2api_responses_ev_item(s, type) != Q2API_OK
            || q2api_responses_put(b, ",\"delta\":") != Q2API_OK
            || q2api_json_append_string(b, text->data, text->len)
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    return q2api_responses_ev_send(s, type);
}


/*
 * The open item's closing events, then the item joins the output.  A
 * call the back end ended without arguments gets "{}", which parses.
 */
static int
q2api_responses_close(q2api_responses_stream_t *s)
{
    q2api_buf_t  *b;
    q2api_str_t   empty = q2api_str_lit("{}");

    if (s->item == Q2API_RESPONSES_ITEM_NONE) {
        return Q2API_OK;
    }

    if (s->item == Q2API_RESPONSES_ITEM_FUNCTION && s->text.len == 0
        && q2api_responses_delta(s, &empty) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (s->item == Q2API_RESPONSES_ITEM_CUSTOM
        && q2api_responses_unwrap(s) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    b = &s->scratch;

    if (!s->stream) {
        goto done;
    }

    switch (s->item) {

    case Q2API_RESPONSES_ITEM_MESSAGE:
        if (q2api_responses_ev_item(s, "response.output_text.done")
            != Q2API_OK
            || q2api_responses_put(b, ",\"content_index\":0,\"text\":")
               != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_responses_put(b, ",\"logprobs\":[]") != Q2API_OK
            || q2api_responses_ev_send(s, "response.output_text.done")
               != Q2API_OK
            || q2api_responses_ev_item(s, "response.content_part.done")
               != Q2API_OK
            || q2api_responses_put(b, ",\"content_index\":0,\"part\":"
                                      "{\"type\":\"output_text\","
                                      "\"text\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_responses_put(b, ",\"annotations\":[]}") != Q2API_OK
            || q2api_responses_ev_send(s, "response.content_part.done")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_RESPONSES_ITEM_REASONING:
        if (q2api_responses_ev_item(s,
                                    "response.reasoning_summary_text.done")
            != Q2API_OK
            || q2api_responses_put(b, ",\"summary_index\":0,\"text\":")
               != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_responses_ev_send(s,
                                     "response.reasoning_summary_text.done")
               != Q2API_OK
            || q2api_responses_ev_item(s,
                                     "response.reasoning_summary_part.done")
               != Q2API_OK
            || q2api_responses_put(b, ",\"summary_index\":0,\"part\":"
                                      "{\"type\":\"summary_text\","
                                      "\"text\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_buf_append_byte(b, '}') != Q2API_OK
            || q2api_responses_ev_send(s,
                                     "response.reasoning_summary_part.done")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_RESPONSES_ITEM_FUNCTION:
        if (q2api_responses_ev_item(s,
                                    "response.function_call_arguments.done")
            != Q2API_OK
            || q2api_responses_put(b, ",\"name\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->name.data,
                                        s->name.len) != Q2API_OK
            || q2api_responses_put(b, ",\"arguments\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_responses_ev_send(s,
                                     "response.function_call_arguments.done")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    default:
        if (q2api_responses_ev_item(s,
                                    "response.custom_tool_call_input.delta")
            != Q2API_OK
            || q2api_responses_put(b, ",\"delta\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_responses_ev_send(s,
                                     "response.custom_tool_call_input.delta")
               != Q2API_OK
            || q2api_responses_ev_item(s,
                                     "response.custom_tool_call_input.done")
               != Q2API_OK
            || q2api_responses_put(b, ",\"input\":") != Q2API_OK
            || q2api_json_append_string(b, (char *) s->text.data,
                                        s->text.len) != Q2API_OK
            || q2api_responses_ev_send(s,
                                     "response.custom_tool_call_input.done")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (q2api_responses_ev(s, "response.output_item.done") != Q2API_OK
        || q2api_responses_put(b, ",\"output_index\":") != Q2API_OK
        || q2api_json_append_int(b, s->index) != Q2API_OK
        || q2api_responses_put(b, ",\"item\":") != Q2API_OK
        || q2api_responses_item_json(s, b, 1) != Q2API_OK
        || q2api_responses_ev_send(s, "response.output_item.done")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

done:

    if ((s->items.len && q2api_buf_append_byte(&s->items, ',') != Q2API_OK)
        || q2api_responses_item_json(s, &s->items, 1) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->item = Q2API_RESPONSES_ITEM_NONE;
    s->index++;

    return Q2API_OK;
}


/*
 * The back end's call of the wrapper is {"input":"<text>"}: the text is
 * what the client's freeform tool takes.  Anything else is passed on as
 * it came, for the client to report.
 */
static int
q2api_responses_unwrap(q2api_responses_stream_t *s)
{
    int          rc;
    cJSON       *root, *input;
    const char  *at;

    root = q2api_json_document((char *) s->text.data, s->text.len, &at);
    input = cJSON_GetObjectItemCaseSensitive(root, "input");

    rc = Q2API_OK;

    if (cJSON_IsString(input)) {
        q2api_buf_reset(&s->text);
        rc = q2api_buf_append_str(&s->text, input->valuestring);
    }

    cJSON_Delete(root);

    return rc;
}


/* the open item as output_item.added (done: 0) or .done shows it */
static int
q2api_responses_item_json(q2api_responses_stream_t *s, q2api_buf_t *b,
    int done)
{
    int  rc;

    rc = q2api_responses_put(b, "{\"id\":\"");
    rc |= q2api_buf_append_str(b, s->item_id);

    switch (s->item) {

    case Q2API_RESPONSES_ITEM_MESSAGE:
        rc |= q2api_responses_put(b, "\",\"type\":\"message\",\"status\":");
        rc |= done ? q2api_responses_put(b, "\"completed\"")
                   : q2api_responses_put(b, "\"in_progress\"");
        rc |= q2api_responses_put(b, ",\"role\":\"assistant\",\"content\":[");

        if (done) {
            rc |= q2api_responses_put(b, "{\"type\":\"output_text\","
                                         "\"text\":");
            rc |= q2api_json_append_string(b, (char *) s->text.data,
                                           s->text.len);
            rc |= q2api_responses_put(b, ",\"annotations\":[]}");
        }

        rc |= q2api_responses_put(b, "]}");
        break;

    case Q2API_RESPONSES_ITEM_REASONING:
        rc |= q2api_responses_put(b, "\",\"type\":\"reasoning\","
                                     "\"summary\":[");

        if (done) {
            rc |= q2api_responses_put(b, "{\"type\":\"summary_text\","
                                         "\"text\":");
            rc |= q2api_json_append_string(b, (char *) s->text.data,
                                           s->text.len);
            rc |= q2api_buf_append_byte(b, '}');
        }

        rc |= q2api_buf_append_byte(b, ']');

        if (done && s->encrypted && s->signature.len) {
            rc |= q2api_responses_put(b, ",\"encrypted_content\":");
            rc |= q2api_json_append_string(b, (char *) s->signature.data,
                                           s->signature.len);
        }

        rc |= q2api_buf_append_byte(b, '}');
        break;

    default:
        rc |= (s->item == Q2API_RESPONSES_ITEM_FUNCTION)
              ? q2api_responses_put(b, "\",\"type\":\"function_call\"")
              : q2api_responses_put(b, "\",\"type\":\"custom_tool_call\"");
        rc |= q2api_responses_put(b, ",\"status\":");
        rc |= done ? q2api_responses_put(b, "\"completed\"")
                   : q2api_responses_put(b, "\"in_progress\"");
        rc |= q2api_responses_put(b, ",\"call_id\":");
        rc |= q2api_json_append_string(b, (char *) s->call_id.data,
                                       s->call_id.len);
        rc |= q2api_responses_put(b, ",\"name\":");
        rc |= q2api_json_append_string(b, (char *) s->name.data,
                                       s->name.len);
        rc |= (s->item == Q2API_RESPONSES_ITEM_FUNCTION)
              ? q2api_responses_put(b, ",\"arguments\":")
              : q2api_responses_put(b, ",\"input\":");
        rc |= done ? q2api_json_append_string(b, (char *) s->text.data,
                                              s->text.len)
                   : q2api_responses_put(b, "\"\"");
        rc |= q2api_buf_append_byte(b, '}');
    }

    return rc == Q2API_OK ? Q2API_OK : Q2API_NOMEM;
}


int
q2api_responses_stream_event(void *data, const q2api_event_t *ev)
{
    q2api_responses_stream_t  *s = data;

    q2api_responses_item_e     kind;

    if (s->finished) {
        return Q2API_OK;
    }

    if (ev->type == Q2API_EV_ERROR) {
        return q2api_responses_stream_error(s, ev->error, ev->text.data);
    }

    if (q2api_responses_begin(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    switch (ev->type) {

    case Q2API_EV_TEXT:
    case Q2API_EV_THINKING:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        if (ev->type == Q2API_EV_TEXT) {
            kind = Q2API_RESPONSES_ITEM_MESSAGE;
            s->output_bytes += ev->text.len;

        } else {
            kind = Q2API_RESPONSES_ITEM_REASONING;
            s->reasoning_bytes += ev->text.len;
        }

        if (s->item != kind && q2api_responses_open(s, kind, ev) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_responses_delta(s, &ev->text);

    case Q2API_EV_SIGNATURE:
        if (s->item != Q2API_RESPONSES_ITEM_REASONING) {
            return Q2API_OK;
        }

        return q2api_buf_append(&s->signature, ev->text.data, ev->text.len);

    case Q2API_EV_TOOL_START:
        kind = q2api_responses_custom(s->req, ev->name.data, ev->name.len)
               ? Q2API_RESPONSES_ITEM_CUSTOM : Q2API_RESPONSES_ITEM_FUNCTION;

        return q2api_responses_open(s, kind, ev);

    case Q2API_EV_TOOL_INPUT:
        if ((s->item != Q2API_RESPONSES_ITEM_FUNCTION
             && s->item != Q2API_RESPONSES_ITEM_CUSTOM)
            || ev->text.len == 0)
        {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        return q2api_responses_delta(s, &ev->text);

    case Q2API_EV_TOOL_STOP:
        if (s->item != Q2API_RESPONSES_ITEM_FUNCTION
            && s->item != Q2API_RESPONSES_ITEM_CUSTOM)
        {
            return Q2API_OK;
        }

        return q2api_responses_close(s);

    case Q2API_EV_USAGE:
        q2api_usage_merge(&s->usage, &ev->usage);
        return Q2API_OK;

    case Q2API_EV_STOP:
        s->stop = ev->stop;
        return Q2API_OK;

    default:
        /* redacted thinking has no place in this dialect */
        return Q2API_OK;
    }
}


int
q2api_responses_stream_finish(q2api_responses_stream_t *s)
{
    const char  *type, *status, *code;

    if (s->finished) {
        return Q2API_OK;
    }

    if (q2api_responses_begin(s) != Q2API_OK
        || q2api_responses_close(s) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->finished = 1;
    code = NULL;

    switch (s->stop) {
    case Q2API_STOP_MAX_TOKENS:
    case Q2API_STOP_REFUSAL:
        type = "response.incomplete";
        status = "incomplete";
        break;
    case Q2API_STOP_CONTEXT_EXCEEDED:
        /* Codex acts on this code: it compacts instead of retrying */
        type = "response.failed";
        status = "failed";
        code = "context_length_exceeded";
        s->failed = 1;
        break;
    default:
        type = "response.completed";
        status = "completed";
    }

    if (!s->stream) {
        return q2api_responses_write_response(s, s->out, status, 1, code,
                                              code ? "the conversation is "
                                              "longer than the model's "
                                              "context window" : NULL);
    }

    return q2api_responses_lifecycle(s, type, status, 1, code,
                                     code ? "the conversation is longer "
                                     "than the model's context window"
                                     : NULL);
}


int
q2api_responses_stream_error(q2api_responses_stream_t *s, q2api_err_e kind,
    const char *message)
{
    const char  *code;
    q2api_buf_t *b;

    if (s->finished) {
        return Q2API_OK;
    }

    s->finished = 1;
    s->failed = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    if (q2api_responses_begin(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    message = message ? message : "upstream error";
    code = q2api_responses_error_code(kind);
    b = &s->scratch;

    /* the open item stays unfinished: a half call must not be run */
    s->item = Q2API_RESPONSES_ITEM_NONE;

    if (q2api_responses_ev(s, "error") != Q2API_OK
        || q2api_responses_put(b, ",\"code\":\"") != Q2API_OK
        || q2api_buf_append_str(b, code) != Q2API_OK
        || q2api_responses_put(b, "\",\"message\":") != Q2API_OK
        || q2api_json_append_string(b, message, strlen(message)) != Q2API_OK
        || q2api_responses_put(b, ",\"param\":null") != Q2API_OK
        || q2api_responses_ev_send(s, "error") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_responses_lifecycle(s, "response.failed", "failed", 1,
                                     code, message);
}
