/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The reply as Messages SSE: message_start, content blocks and their
 * deltas, message_delta and message_stop.  With stream: false the blocks
 * are kept instead and q2api_claude_message.c writes them at the end.
 */


#include <stdio.h>
#include <stdlib.h>

#include <openssl/rand.h>

#include "q2api_claude.h"
#include "q2api_claude_internal.h"
#include "q2api_json.h"
#include "q2api_sse.h"


static int q2api_claude_emit(q2api_claude_stream_t *s, const char *name);
static int q2api_claude_begin(q2api_claude_stream_t *s);
static int q2api_claude_open(q2api_claude_stream_t *s, int type,
    const q2api_event_t *ev);
static int q2api_claude_close(q2api_claude_stream_t *s);
static int q2api_claude_delta(q2api_claude_stream_t *s, const char *kind,
    const char *field, const q2api_str_t *text);
static q2api_claude_block_t *q2api_claude_block_new(q2api_claude_stream_t *s,
    int type, const q2api_event_t *ev);


/* string literals only: "" lit does not compile for a pointer */
#define q2api_claude_put(s, lit)                                           \
    q2api_buf_append(&(s)->scratch, "" lit, sizeof(lit) - 1)


int
q2api_claude_stream_init(q2api_claude_stream_t *s, q2api_buf_t *out,
    const q2api_request_t *req)
{
    int            i;
    unsigned char  r[12];

    memset(s, 0, sizeof(q2api_claude_stream_t));

    s->out = out;
    s->model = req->model;
    s->stream = req->stream;
    s->input_tokens = q2api_request_estimate_tokens(req);
    s->open = Q2API_CLAUDE_BLOCK_NONE;
    q2api_usage_init(&s->usage);
    q2api_buf_init(&s->scratch, 0);

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return Q2API_ERROR;
    }

    memcpy(s->id, "msg_", 4);

    for (i = 0; i < (int) sizeof(r); i++) {
        snprintf(s->id + 4 + 2 * i, 3, "%02x", r[i]);
    }

    return Q2API_OK;
}


void
q2api_claude_stream_free(q2api_claude_stream_t *s)
{
    int  i;

    q2api_buf_free(&s->scratch);

    for (i = 0; i < s->nblocks && s->blocks != NULL; i++) {
        q2api_buf_free(&s->blocks[i].text);
        q2api_buf_free(&s->blocks[i].signature);
        free(s->blocks[i].id);
        free(s->blocks[i].name);
    }

    free(s->blocks);
    s->blocks = NULL;
}


/* writes the scratch JSON as one SSE event */
static int
q2api_claude_emit(q2api_claude_stream_t *s, const char *name)
{
    int  rc;

    rc = q2api_sse_event(s->out, name, s->scratch.data, s->scratch.len);
    q2api_buf_reset(&s->scratch);

    return rc;
}


int
q2api_claude_write_usage(q2api_claude_stream_t *s, int full)
{
    long long   in, out;
    q2api_buf_t *b;

    b = &s->scratch;

    in = s->usage.input_tokens >= 0 ? s->usage.input_tokens
                                    : s->input_tokens;

    out = s->usage.output_tokens >= 0
          ? s->usage.output_tokens
          : q2api_estimate_tokens(s->output_bytes);

    if (!full) {
        /* message_start reports output_tokens as the real API does */
        out = s->finished ? out : 1;
    }

    if (q2api_claude_put(s, "{\"input_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, in) != Q2API_OK
        || q2api_claude_put(s, ",\"cache_creation_input_tokens\":")
           != Q2API_OK
        || q2api_json_append_int(b, s->usage.cache_write_tokens) != Q2API_OK
        || q2api_claude_put(s, ",\"cache_read_input_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, s->usage.cache_read_tokens) != Q2API_OK
        || q2api_claude_put(s, ",\"output_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, out) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


static int
q2api_claude_begin(q2api_claude_stream_t *s)
{
    q2api_buf_t  *b;

    if (s->started) {
        return Q2API_OK;
    }

    s->started = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"message_start\",\"message\":"
                            "{\"id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->id) != Q2API_OK
        || q2api_claude_put(s, "\",\"type\":\"message\",\"role\":"
                               "\"assistant\",\"model\":") != Q2API_OK
        || q2api_json_append_string(b, s->model.data, s->model.len)
           != Q2API_OK
        || q2api_claude_put(s, ",\"content\":[],\"stop_reason\":null,"
                               "\"stop_sequence\":null,\"usage\":")
           != Q2API_OK
        || q2api_claude_write_usage(s, 0) != Q2API_OK
        || q2api_claude_put(s, "}}") != Q2API_OK
        || q2api_claude_emit(s, "message_start") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_claude_stream_ping(s);
}


int
q2api_claude_stream_ping(q2api_claude_stream_t *s)
{
    static const char  ping[] = "{\"type\":\"ping\"}";

    if (!s->stream) {
        return Q2API_OK;
    }

    if (!s->started) {
        /* nothing may come before message_start, which pings itself */
        return q2api_claude_begin(s);
    }

    return q2api_sse_event(s->out, "ping", ping, sizeof(ping) - 1);
}


static q2api_claude_block_t *
q2api_claude_block_new(q2api_claude_stream_t *s, int type,
    const q2api_event_t *ev)
{
    int                    n;
    q2api_claude_block_t  *blocks, *b;

    if (s->nblocks == s->nalloc) {
        n = s->nalloc ? s->nalloc * 2 : 4;

        blocks = realloc(s->blocks, n * sizeof(q2api_claude_block_t));
        if (blocks == NULL) {
            return NULL;
        }

        s->blocks = blocks;
        s->nalloc = n;
    }

    b = &s->blocks[s->nblocks];
    memset(b, 0, sizeof(q2api_claude_block_t));

    b->type = type;
    q2api_buf_init(&b->text, 0);
    q2api_buf_init(&b->signature, 0);

    if (type == Q2API_CLAUDE_BLOCK_REDACTED
        && q2api_buf_append(&b->text, ev->text.data, ev->text.len)
           != Q2API_OK)
    {
        return NULL;
    }

    if (type == Q2API_CLAUDE_BLOCK_TOOL) {
        b->id = strndup(ev->id.data ? ev->id.data : "", ev->id.len);
        b->name = strndup(ev->name.data ? ev->name.data : "", ev->name.len);

        if (b->id == NULL || b->name == NULL) {
            free(b->id);
            free(b->name);
            return NULL;
        }
    }

    return b;
}


static int
q2api_claude_open(q2api_claude_stream_t *s, int type, const q2api_event_t *ev)
{
    q2api_buf_t  *b;

    if (s->open == type && type != Q2API_CLAUDE_BLOCK_TOOL
        && type != Q2API_CLAUDE_BLOCK_REDACTED)
    {
        return Q2API_OK;
    }

    if (q2api_claude_close(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (!s->stream) {
        if (q2api_claude_block_new(s, type, ev) == NULL) {
            return Q2API_NOMEM;
        }

        s->nblocks++;
        s->open = type;

        return Q2API_OK;
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"content_block_start\",\"index\":")
        != Q2API_OK
        || q2api_json_append_int(b, s->nblocks) != Q2API_OK
        || q2api_claude_put(s, ",\"content_block\":") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    switch (type) {

    case Q2API_CLAUDE_BLOCK_TEXT:
        if (q2api_claude_put(s, "{\"type\":\"text\",\"text\":\"\"}")
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_CLAUDE_BLOCK_THINKING:
        if (q2api_claude_put(s, "{\"type\":\"thinking\",\"thinking\":\"\","
                                "\"signature\":\"\"}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_CLAUDE_BLOCK_REDACTED:
        /* arrives whole in its start event, with no deltas */
        if (q2api_claude_put(s, "{\"type\":\"redacted_thinking\","
                                "\"data\":") != Q2API_OK
            || q2api_json_append_string(b, ev->text.data, ev->text.len)
               != Q2API_OK
            || q2api_buf_append_byte(b, '}') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    default: /* Q2API_CLAUDE_BLOCK_TOOL */
        if (q2api_claude_put(s, "{\"type\":\"tool_use\",\"id\":") != Q2API_OK
            || q2api_json_append_string(b, ev->id.data, ev->id.len)
               != Q2API_OK
            || q2api_claude_put(s, ",\"name\":") != Q2API_OK
            || q2api_json_append_string(b, ev->name.data, ev->name.len)
               != Q2API_OK
            || q2api_claude_put(s, ",\"input\":{}}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (q2api_buf_append_byte(b, '}') != Q2API_OK
        || q2api_claude_emit(s, "content_block_start") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->nblocks++;
    s->open = type;

    return Q2API_OK;
}


static int
q2api_claude_close(q2api_claude_stream_t *s)
{
    if (s->open == Q2API_CLAUDE_BLOCK_NONE) {
        return Q2API_OK;
    }

    s->open = Q2API_CLAUDE_BLOCK_NONE;

    if (!s->stream) {
        return Q2API_OK;
    }

    if (q2api_claude_put(s, "{\"type\":\"content_block_stop\",\"index\":")
        != Q2API_OK
        || q2api_json_append_int(&s->scratch, s->nblocks - 1) != Q2API_OK
        || q2api_buf_append_byte(&s->scratch, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_claude_emit(s, "content_block_stop");
}


static int
q2api_claude_delta(q2api_claude_stream_t *s, const char *kind,
    const char *field, const q2api_str_t *text)
{
    q2api_buf_t           *b;
    q2api_claude_block_t  *blk;

    if (!s->stream) {
        blk = &s->blocks[s->nblocks - 1];

        if (strcmp(kind, "signature_delta") == 0) {
            /* a signature replaces the previous one */
            q2api_buf_reset(&blk->signature);
            return q2api_buf_append(&blk->signature, text->data, text->len);
        }

        return q2api_buf_append(&blk->text, text->data, text->len);
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"content_block_delta\",\"index\":")
        != Q2API_OK
        || q2api_json_append_int(b, s->nblocks - 1) != Q2API_OK
        || q2api_claude_put(s, ",\"delta\":{\"type\":\"") != Q2API_OK
        || q2api_buf_append_str(b, kind) != Q2API_OK
        || q2api_claude_put(s, "\",\"") != Q2API_OK
        || q2api_buf_append_str(b, field) != Q2API_OK
        || q2api_claude_put(s, "\":") != Q2API_OK
        || q2api_json_append_string(b, text->data, text->len) != Q2API_OK
        || q2api_claude_put(s, "}}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_claude_emit(s, "content_block_delta");
}


int
q2api_claude_stream_event(void *data, const q2api_event_t *ev)
{
    q2api_claude_stream_t  *s = data;

    if (s->finished) {
        return Q2API_OK;
    }

    if (ev->type == Q2API_EV_ERROR) {
        return q2api_claude_stream_error(s, ev->error, ev->text.data);
    }

    if (q2api_claude_begin(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    switch (ev->type) {

    case Q2API_EV_BEGIN:
        return Q2API_OK;

    case Q2API_EV_TEXT:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_TEXT, ev) != Q2API_OK) {
            return Q2API_NOMEM;
        }

        return q2api_claude_delta(s, "text_delta", "text", &ev->text);

    case Q2API_EV_THINKING:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_THINKING, ev)
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_claude_delta(s, "thinking_delta", "thinking",
                                  &ev->text);

    case Q2API_EV_SIGNATURE:
        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_THINKING, ev)
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_claude_delta(s, "signature_delta", "signature",
                                  &ev->text);

    case Q2API_EV_REDACTED_THINKING:
        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_REDACTED, ev)
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_claude_close(s);

    case Q2API_EV_TOOL_START:
        s->had_tool = 1;
        return q2api_claude_open(s, Q2API_CLAUDE_BLOCK_TOOL, ev);

    case Q2API_EV_TOOL_INPUT:
        if (s->open != Q2API_CLAUDE_BLOCK_TOOL) {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        return q2api_claude_delta(s, "input_json_delta", "partial_json",
                                  &ev->text);

    case Q2API_EV_TOOL_STOP:
        if (s->open != Q2API_CLAUDE_BLOCK_TOOL) {
            return Q2API_OK;
        }

        return q2api_claude_close(s);

    case Q2API_EV_USAGE:
        q2api_usage_merge(&s->usage, &ev->usage);
        return Q2API_OK;

    case Q2API_EV_STOP:
        s->stop = ev->stop;
        return Q2API_OK;

    default:
        return Q2API_OK;
    }
}


const char *
q2api_claude_stop_reason(q2api_claude_stream_t *s)
{
    switch (s->stop) {
    case Q2API_STOP_MAX_TOKENS:
        return "max_tokens";
    case Q2API_STOP_CONTEXT_EXCEEDED:
        return "model_context_window_exceeded";
    case Q2API_STOP_TOOL_USE:
        return "tool_use";
    case Q2API_STOP_END_TURN:
        return "end_turn";
    case Q2API_STOP_REFUSAL:
        return "refusal";
    default:
        return s->had_tool ? "tool_use" : "end_turn";
    }
}


int
q2api_claude_stream_finish(q2api_claude_stream_t *s)
{
    q2api_buf_t  *b;

    if (s->finished) {
        return Q2API_OK;
    }

    if (q2api_claude_begin(s) != Q2API_OK
        || q2api_claude_close(s) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->finished = 1;

    if (!s->stream) {
        return q2api_claude_write_message(s);
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"message_delta\",\"delta\":"
                            "{\"stop_reason\":\"") != Q2API_OK
        || q2api_buf_append_str(b, q2api_claude_stop_reason(s)) != Q2API_OK
        || q2api_claude_put(s, "\",\"stop_sequence\":null},\"usage\":")
           != Q2API_OK
        || q2api_claude_write_usage(s, 1) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK
        || q2api_claude_emit(s, "message_delta") != Q2API_OK
        || q2api_claude_put(s, "{\"type\":\"message_stop\"}") != Q2API_OK
        || q2api_claude_emit(s, "message_stop") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


int
q2api_claude_stream_error(q2api_claude_stream_t *s, q2api_err_e kind,
    const char *message)
{
    int  rc;

    if (s->finished) {
        return Q2API_OK;
    }

    s->finished = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    rc = q2api_claude_error_body(&s->scratch, kind,
                                 message ? message : "upstream error", NULL);
    if (rc != Q2API_OK) {
        return rc;
    }

    return q2api_claude_emit(s, "error");
}
