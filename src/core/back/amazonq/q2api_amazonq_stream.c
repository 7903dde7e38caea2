/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Amazon Q's reply: AWS event-stream frames, decoded as they arrive, as
 * canonical events (text, thinking, tool use, usage, stop, error).
 */


#include <stdio.h>

#include <cjson/cJSON.h>

#include "q2api_amazonq.h"
#include "q2api_amazonq_internal.h"
#include "q2api_json_scan.h"


/* a frame whose payload is not the JSON its event type promises */
#define Q2API_AMAZONQ_MALFORMED  -100


static int q2api_amazonq_frame(q2api_amazonq_stream_t *s,
    const q2api_es_message_t *msg);
static int q2api_amazonq_event(q2api_amazonq_stream_t *s,
    const q2api_str_t *type, cJSON *p);
static int q2api_amazonq_content(q2api_amazonq_stream_t *s,
    const char *payload, size_t len);
static int q2api_amazonq_tool(q2api_amazonq_stream_t *s, const char *payload,
    size_t len);
static int q2api_amazonq_reasoning(q2api_amazonq_stream_t *s,
    const char *payload, size_t len);
static int q2api_amazonq_string(q2api_amazonq_stream_t *s,
    const q2api_json_field_t *f, q2api_str_t *out);
static int q2api_amazonq_tool_stop(q2api_amazonq_stream_t *s);
static int q2api_amazonq_exception(q2api_amazonq_stream_t *s,
    const q2api_str_t *type, const q2api_es_message_t *msg);
static int q2api_amazonq_emit(q2api_amazonq_stream_t *s,
    q2api_event_type_e type, const char *text, size_t len);
static int q2api_amazonq_emit_error(q2api_amazonq_stream_t *s,
    q2api_err_e kind, const char *message);
static int q2api_amazonq_text(q2api_amazonq_stream_t *s, const char *text,
    size_t len);
static int q2api_amazonq_text_flush(q2api_amazonq_stream_t *s);


void
q2api_amazonq_stream_init(q2api_amazonq_stream_t *s,
    const q2api_request_t *req, q2api_event_handler_pt handler, void *data)
{
    memset(s, 0, sizeof(q2api_amazonq_stream_t));

    s->req = req;
    s->parse_thinking = req != NULL && req->thinking;
    q2api_thinking_init(&s->thinking);

    q2api_es_decoder_init(&s->es);
    q2api_buf_init(&s->tool_id, 1024);
    q2api_buf_init(&s->seen_tools, 64 * 1024);
    q2api_buf_init(&s->scratch, Q2API_ES_MAX_MESSAGE);

    s->handler = handler;
    s->data = data;
    s->context_window = 200000;
}


void
q2api_amazonq_stream_free(q2api_amazonq_stream_t *s)
{
    q2api_es_decoder_free(&s->es);
    q2api_buf_free(&s->tool_id);
    q2api_buf_free(&s->seen_tools);
    q2api_buf_free(&s->scratch);
}


int
q2api_amazonq_stream_feed(q2api_amazonq_stream_t *s,
    const unsigned char *in, size_t len, size_t *consumed)
{
    int                 rc;
    size_t              used;
    q2api_es_message_t  msg;

    *consumed = 0;

    for ( ;; ) {
        rc = q2api_es_decode(&s->es, in + *consumed, len - *consumed, &used,
                             &msg);
        *consumed += used;

        if (rc == Q2API_AGAIN) {
            return Q2API_OK;
        }

        if (rc != Q2API_OK) {
            return rc;
        }

        rc = q2api_amazonq_frame(s, &msg);
        if (rc != Q2API_OK) {
            return rc;
        }
    }
}


int
q2api_amazonq_stream_finish(q2api_amazonq_stream_t *s)
{
    int  rc;

    rc = q2api_es_finish(&s->es);
    if (rc != Q2API_OK) {
        return rc;
    }

    if (s->ended) {
        return Q2API_OK;
    }

    rc = q2api_amazonq_text_flush(s);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* a tool the service never stopped is closed rather than lost */
    return q2api_amazonq_tool_stop(s);
}


static int
q2api_amazonq_emit(q2api_amazonq_stream_t *s, q2api_event_type_e type,
    const char *text, size_t len)
{
    q2api_event_t  ev;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);

    ev.type = type;
    ev.text.data = text;
    ev.text.len = len;

    if (type == Q2API_EV_TOOL_START) {
        ev.id.data = (char *) s->tool_id.data;
        ev.id.len = s->tool_id.len;
        ev.name.data = text;
        ev.name.len = len;
        ev.text.data = NULL;
        ev.text.len = 0;
    }

    return s->handler(s->data, &ev);
}


static int
q2api_amazonq_split_emit(void *data, int thinking, const char *p, size_t len)
{
    return q2api_amazonq_emit(data, thinking ? Q2API_EV_THINKING
                                             : Q2API_EV_TEXT, p, len);
}


/* text, split into thinking and text when thinking was asked for */
static int
q2api_amazonq_text(q2api_amazonq_stream_t *s, const char *text, size_t len)
{
    if (!s->parse_thinking) {
        return q2api_amazonq_emit(s, Q2API_EV_TEXT, text, len);
    }

    return q2api_thinking_feed(&s->thinking, text, len,
                               q2api_amazonq_split_emit, s);
}


/* bytes held back as a possible tag are text after all */
static int
q2api_amazonq_text_flush(q2api_amazonq_stream_t *s)
{
    if (!s->parse_thinking) {
        return Q2API_OK;
    }

    return q2api_thinking_finish(&s->thinking, q2api_amazonq_split_emit, s);
}


static int
q2api_amazonq_emit_error(q2api_amazonq_stream_t *s, q2api_err_e kind,
    const char *message)
{
    q2api_event_t  ev;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);

    ev.type = Q2API_EV_ERROR;
    ev.error = kind;
    ev.text.data = message;
    ev.text.len = strlen(message);

    s->ended = 1;

    return s->handler(s->data, &ev);
}


static int
q2api_amazonq_frame(q2api_amazonq_stream_t *s, const q2api_es_message_t *msg)
{
    int          rc;
    char         text[Q2API_ERR_MSG_LEN];
    cJSON       *p;
    const char  *payload;
    q2api_str_t  mtype, etype, code, emsg;

    if (s->ended) {
        /* nothing after an error reaches the client */
        return Q2API_OK;
    }

    s->frames++;

    if (q2api_es_header_string(msg, ":message-type", &mtype) != Q2API_OK) {
        mtype = (q2api_str_t) q2api_str_lit("event");
    }

    if (q2api_str_eq_lit(&mtype, "exception")) {
        if (q2api_es_header_string(msg, ":exception-type", &etype)
            != Q2API_OK)
        {
            etype = (q2api_str_t) q2api_str_lit("UnknownException");
        }

        return q2api_amazonq_exception(s, &etype, msg);
    }

    if (q2api_str_eq_lit(&mtype, "error")) {
        if (q2api_es_header_string(msg, ":error-code", &code) != Q2API_OK) {
            code = (q2api_str_t) q2api_str_lit("InternalFailure");
        }

        if (q2api_es_header_string(msg, ":error-message", &emsg)
            != Q2API_OK)
        {
            emsg = (q2api_str_t) q2api_str_lit("no message");
        }

        snprintf(text, sizeof(text), "Amazon Q stream error %.*s: %.*s",
                 (int) (code.len > 64 ? 64 : code.len), code.data,
                 (int) (emsg.len > 256 ? 256 : emsg.len), emsg.data);

        return q2api_amazonq_emit_error(s, Q2API_ERR_API, text);
    }

    if (q2api_es_header_string(msg, ":event-type", &etype) != Q2API_OK) {
        return Q2API_OK;
    }

    if (!s->begun) {
        s->begun = 1;

        rc = q2api_amazonq_emit(s, Q2API_EV_BEGIN, NULL, 0);
        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (msg->payload_len == 0) {
        return Q2API_OK;
    }

    payload = (const char *) msg->payload;

    /* the events of every frame are read in place; see q2api_json_scan.h */
    if (q2api_str_eq_lit(&etype, "assistantResponseEvent")) {
        rc = q2api_amazonq_content(s, payload, msg->payload_len);

    } else if (q2api_str_eq_lit(&etype, "toolUseEvent")) {
        rc = q2api_amazonq_tool(s, payload, msg->payload_len);

    } else if (q2api_str_eq_lit(&etype, "reasoningContentEvent")) {
        rc = q2api_amazonq_reasoning(s, payload, msg->payload_len);

    } else if (q2api_str_eq_lit(&etype, "metadataEvent")
               || q2api_str_eq_lit(&etype, "contextUsageEvent")
               || q2api_str_eq_lit(&etype, "invalidStateEvent"))
    {
        /* a few per answer, with numbers and nesting: a tree is fine */
        p = cJSON_ParseWithLength(payload, msg->payload_len);

        rc = cJSON_IsObject(p) ? q2api_amazonq_event(s, &etype, p)
                               : Q2API_AMAZONQ_MALFORMED;
        cJSON_Delete(p);

    } else {
        /* initial-response, messageMetadataEvent, meteringEvent,
         * followupPromptEvent, citations...: nothing for the client, but
         * they must be well formed */
        rc = q2api_json_fields(payload, msg->payload_len, NULL, 0) == Q2API_OK
             ? Q2API_OK : Q2API_AMAZONQ_MALFORMED;
    }

    if (rc != Q2API_AMAZONQ_MALFORMED) {
        return rc;
    }

    snprintf(text, sizeof(text), "Amazon Q sent a malformed %.*s event",
             (int) (etype.len > 64 ? 64 : etype.len), etype.data);

    return q2api_amazonq_emit_error(s, Q2API_ERR_API, text);
}


/* a string member, decoded; absent, empty or not a string is no text */
static int
q2api_amazonq_string(q2api_amazonq_stream_t *s, const q2api_json_field_t *f,
    q2api_str_t *out)
{
    out->data = NULL;
    out->len = 0;

    if (f->type != Q2API_JSON_STRING || f->len == 0) {
        return Q2API_OK;
    }

    switch (q2api_json_field_string(f, &s->scratch, out)) {
    case Q2API_OK:
        return Q2API_OK;
    case Q2API_NOMEM:
        return Q2API_NOMEM;
    default:
        return Q2API_AMAZONQ_MALFORMED;
    }
}


static int
q2api_amazonq_content(q2api_amazonq_stream_t *s, const char *payload,
    size_t len)
{
    int                 rc;
    q2api_str_t         text;
    q2api_json_field_t  f[1] = { { .name = "content" } };

    if (q2api_json_fields(payload, len, f, 1) != Q2API_OK) {
        return Q2API_AMAZONQ_MALFORMED;
    }

    rc = q2api_amazonq_string(s, &f[0], &text);
    if (rc != Q2API_OK || text.len == 0) {
        return rc;
    }

    rc = q2api_amazonq_tool_stop(s);
    if (rc != Q2API_OK) {
        return rc;
    }

    return q2api_amazonq_text(s, text.data, text.len);
}


static int
q2api_amazonq_reasoning(q2api_amazonq_stream_t *s, const char *payload,
    size_t len)
{
    int                 rc;
    q2api_str_t         v;
    q2api_json_field_t  f[3] = { { .name = "text" }, { .name = "signature" },
                                 { .name = "redactedContent" } };

    if (q2api_json_fields(payload, len, f, 3) != Q2API_OK) {
        return Q2API_AMAZONQ_MALFORMED;
    }

    rc = q2api_amazonq_string(s, &f[0], &v);

    if (rc == Q2API_OK && v.len) {
        rc = q2api_amazonq_text_flush(s);

        if (rc == Q2API_OK) {
            rc = q2api_amazonq_tool_stop(s);
        }

        if (rc == Q2API_OK) {
            rc = q2api_amazonq_emit(s, Q2API_EV_THINKING, v.data, v.len);
        }
    }

    if (rc == Q2API_OK) {
        rc = q2api_amazonq_string(s, &f[1], &v);

        if (rc == Q2API_OK && v.len) {
            rc = q2api_amazonq_emit(s, Q2API_EV_SIGNATURE, v.data, v.len);
        }
    }

    if (rc == Q2API_OK) {
        rc = q2api_amazonq_string(s, &f[2], &v);

        if (rc == Q2API_OK && v.len) {
            rc = q2api_amazonq_emit(s, Q2API_EV_REDACTED_THINKING, v.data,
                                    v.len);
        }
    }

    return rc;
}


static int
q2api_amazonq_event(q2api_amazonq_stream_t *s, const q2api_str_t *type,
    cJSON *p)
{
    int             rc;
    cJSON          *item, *usage;
    q2api_event_t   ev;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);
    ev.type = Q2API_EV_USAGE;

    if (q2api_str_eq_lit(type, "metadataEvent")) {
        usage = cJSON_GetObjectItemCaseSensitive(p, "tokenUsage");
        if (!cJSON_IsObject(usage)) {
            return Q2API_OK;
        }

        /* valueint: cJSON's int, saturated; a cast of valuedouble is
         * undefined for what does not fit */
        item = cJSON_GetObjectItemCaseSensitive(usage, "uncachedInputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.input_tokens = item->valueint;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage, "outputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.output_tokens = item->valueint;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage,
                                                "cacheReadInputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.cache_read_tokens = item->valueint;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage,
                                                "cacheWriteInputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.cache_write_tokens = item->valueint;
        }

        return s->handler(s->data, &ev);
    }

    if (q2api_str_eq_lit(type, "contextUsageEvent")) {
        item = cJSON_GetObjectItemCaseSensitive(p, "contextUsagePercentage");
        if (!cJSON_IsNumber(item) || item->valuedouble < 0) {
            return Q2API_OK;
        }

        /*
         * The service reports how full the context window is; that, not a
         * local estimate, is what Claude Code's context meter needs.
         */
        ev.usage.context_percent = item->valuedouble;
        ev.usage.input_tokens = (long long) ((item->valuedouble < 100.0
                                              ? item->valuedouble : 100.0)
                                             * s->context_window / 100.0
                                             + 0.5);

        rc = s->handler(s->data, &ev);

        if (rc == Q2API_OK && item->valuedouble >= 100.0) {
            ev.type = Q2API_EV_STOP;
            ev.stop = Q2API_STOP_CONTEXT_EXCEEDED;
            rc = s->handler(s->data, &ev);
        }

        return rc;
    }

    if (q2api_str_eq_lit(type, "invalidStateEvent")) {
        item = cJSON_GetObjectItemCaseSensitive(p, "message");

        return q2api_amazonq_emit_error(s, Q2API_ERR_API,
                                        cJSON_IsString(item)
                                        ? item->valuestring
                                        : "Amazon Q reported an invalid "
                                          "state");
    }

    return Q2API_OK;
}


static int
q2api_amazonq_tool_seen(q2api_amazonq_stream_t *s, const char *id,
    size_t len)
{
    const unsigned char  *p, *end;
    size_t                n;

    if (s->seen_tools.len == 0) {
        /* data may be NULL: no arithmetic on it */
        return 0;
    }

    p = s->seen_tools.data;
    end = p + s->seen_tools.len;

    while (p < end) {
        n = strlen((const char *) p);

        if (n == len && memcmp(p, id, len) == 0) {
            return 1;
        }

        p += n + 1;
    }

    return 0;
}


static int
q2api_amazonq_tool(q2api_amazonq_stream_t *s, const char *payload,
    size_t len)
{
    int                 rc;
    char               *printed;
    cJSON              *object;
    q2api_str_t         id, name, input, client;
    q2api_json_field_t  f[4] = { { .name = "toolUseId" }, { .name = "name" },
                                 { .name = "input" }, { .name = "stop" } };

    if (q2api_json_fields(payload, len, f, 4) != Q2API_OK) {
        return Q2API_AMAZONQ_MALFORMED;
    }

    rc = q2api_amazonq_string(s, &f[0], &id);
    if (rc != Q2API_OK) {
        return rc;
    }

    if (id.len == 0) {
        if (!s->tool_open) {
            return Q2API_OK;
        }

        /* a fragment without an id continues the open tool */
        id.data = (const char *) s->tool_id.data;
        id.len = s->tool_id.len;
    }

    if (!s->tool_open || id.len != s->tool_id.len
        || memcmp(id.data, s->tool_id.data, id.len) != 0)
    {
        /* the service repeats frames of a finished tool: drop them, and
         * leave the tool that is open alone */
        if (q2api_amazonq_tool_seen(s, id.data, id.len)) {
            return Q2API_OK;
        }

        rc = q2api_amazonq_tool_stop(s);
        if (rc != Q2API_OK) {
            return rc;
        }

        rc = q2api_amazonq_text_flush(s);
        if (rc != Q2API_OK) {
            return rc;
        }

        q2api_buf_reset(&s->tool_id);

        if (q2api_buf_append(&s->tool_id, id.data, id.len) != Q2API_OK) {
            return q2api_amazonq_emit_error(s, Q2API_ERR_API,
                                            "tool use id too long");
        }

        s->tool_open = 1;
        s->tool_has_input = 0;

        /* the id is kept: the name may now take the scratch buffer */
        rc = q2api_amazonq_string(s, &f[1], &name);
        if (rc != Q2API_OK) {
            return rc;
        }

        if (name.len == 0) {
            /* a tool use nobody can run: the stream is broken */
            s->tool_open = 0;
            return Q2API_AMAZONQ_MALFORMED;
        }

        client = q2api_amazonq_client_tool_name(s->req, name.data,
                                                name.len);

        rc = q2api_amazonq_emit(s, Q2API_EV_TOOL_START, client.data,
                                client.len);
        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (f[2].type == Q2API_JSON_STRING) {
        rc = q2api_amazonq_string(s, &f[2], &input);
        if (rc != Q2API_OK) {
            return rc;
        }

        if (input.len) {
            s->tool_has_input = 1;

            rc = q2api_amazonq_emit(s, Q2API_EV_TOOL_INPUT, input.data,
                                    input.len);
            if (rc != Q2API_OK) {
                return rc;
            }
        }

    } else if (f[2].type == Q2API_JSON_OBJECT) {
        /*
         * Some frames carry the input, or a piece of it, as an object: it
         * stands in the fragment sequence as its JSON text, compacted.  An
         * empty one before any fragment only says that fragments follow.
         * Rare enough for a tree.
         */
        object = cJSON_ParseWithLength(f[2].value, f[2].len);
        if (object == NULL) {
            return Q2API_NOMEM;
        }

        printed = NULL;

        if (object->child != NULL
            || (f[3].type == Q2API_JSON_TRUE && !s->tool_has_input))
        {
            printed = cJSON_PrintUnformatted(object);
            if (printed == NULL) {
                cJSON_Delete(object);
                return Q2API_NOMEM;
            }
        }

        cJSON_Delete(object);

        if (printed != NULL) {
            s->tool_has_input = 1;

            rc = q2api_amazonq_emit(s, Q2API_EV_TOOL_INPUT, printed,
                                    strlen(printed));
            cJSON_free(printed);

            if (rc != Q2API_OK) {
                return rc;
            }
        }
    }

    if (f[3].type == Q2API_JSON_TRUE) {
        return q2api_amazonq_tool_stop(s);
    }

    return Q2API_OK;
}


static int
q2api_amazonq_tool_stop(q2api_amazonq_stream_t *s)
{
    if (!s->tool_open) {
        return Q2API_OK;
    }

    s->tool_open = 0;

    if (q2api_buf_append(&s->seen_tools, s->tool_id.data, s->tool_id.len)
        != Q2API_OK
        || q2api_buf_append_byte(&s->seen_tools, '\0') != Q2API_OK)
    {
        /* past the bound only duplicate detection is lost */
    }

    return q2api_amazonq_emit(s, Q2API_EV_TOOL_STOP, NULL, 0);
}


static int
q2api_amazonq_exception(q2api_amazonq_stream_t *s, const q2api_str_t *type,
    const q2api_es_message_t *msg)
{
    char            text[Q2API_ERR_MSG_LEN];
    cJSON          *p, *m;
    q2api_err_e     kind;
    q2api_event_t   ev;
    const char     *detail;

    p = NULL;
    detail = "";

    if (msg->payload_len) {
        p = cJSON_ParseWithLength((const char *) msg->payload,
                                  msg->payload_len);

        m = cJSON_GetObjectItemCaseSensitive(p, "message");
        if (!cJSON_IsString(m)) {
            m = cJSON_GetObjectItemCaseSensitive(p, "Message");
        }

        if (cJSON_IsString(m)) {
            detail = m->valuestring;
        }
    }

    kind = q2api_amazonq_exception_error(type, detail, text, sizeof(text));

    cJSON_Delete(p);

    if (kind == Q2API_ERR_NONE) {
        memset(&ev, 0, sizeof(q2api_event_t));
        q2api_usage_init(&ev.usage);
        ev.type = Q2API_EV_STOP;
        ev.stop = Q2API_STOP_MAX_TOKENS;

        return s->handler(s->data, &ev);
    }

    return q2api_amazonq_emit_error(s, kind, text);
}
