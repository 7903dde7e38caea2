/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * A strict reader of Anthropic Messages SSE for the tests and the fuzz
 * targets: it checks the framing ("event: <name>\ndata: <json>\n\n", the
 * data a whole JSON object whose "type" is the event name), the order the
 * SDKs and Claude Code rely on (message_start, blocks started at index 0,
 * 1, 2... each with its deltas and stop, message_delta, message_stop; ping
 * anywhere; an error event ends the stream) and the payloads' required
 * fields, and rebuilds the message the stream describes as the SDKs'
 * accumulators do, so that it can be compared with a stream: false answer.
 */

#ifndef _Q2API_SSE_CHECK_H_INCLUDED_
#define _Q2API_SSE_CHECK_H_INCLUDED_


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "q2api_buf.h"
#include "q2api_json.h"


#define SSE_UNUSED  __attribute__((unused))


typedef struct {
    cJSON        *message;      /* message_start's message, content rebuilt,
                                   stop_reason and usage from message_delta */
    cJSON        *error;        /* the data of an "event: error" */
    int           nevents;
    int           pings;
    int           nblocks;
    int           open;         /* index of the open block, -1: none */
    int           open_tool;    /* the open block is a tool_use */
    int           started;
    int           delta_seen;   /* message_delta */
    int           ended;        /* message_stop or error */
    q2api_buf_t   partial;      /* the open tool's joined partial_json */
    char          why[256];     /* the first problem found */
} sse_msg_t;


static SSE_UNUSED int
sse_fail(sse_msg_t *m, const char *fmt, ...)
{
    va_list  args;

    if (m->why[0] == '\0') {
        va_start(args, fmt);
        vsnprintf(m->why, sizeof(m->why), fmt, args);
        va_end(args);
    }

    return -1;
}


static SSE_UNUSED int
sse_is_str(cJSON *obj, const char *key, const char *want)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(obj, key);

    return cJSON_IsString(v) && (want == NULL || strcmp(v->valuestring, want)
                                                 == 0);
}


/* obj[key] = obj[key] + add, both strings */
static SSE_UNUSED int
sse_concat(cJSON *obj, const char *key, const char *add, int replace)
{
    char    *s;
    cJSON   *v;
    size_t   a, b;

    v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v)) {
        return -1;
    }

    a = replace ? 0 : strlen(v->valuestring);
    b = strlen(add);

    s = malloc(a + b + 1);
    if (s == NULL) {
        return -1;
    }

    memcpy(s, v->valuestring, a);
    memcpy(s + a, add, b + 1);

    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(s));
    free(s);

    return 0;
}


/* a tool's input as Claude Code takes it: the joined fragments if they
 * are a JSON object, {} otherwise (and for no fragments at all) */
static SSE_UNUSED cJSON *
sse_tool_input(const q2api_buf_t *partial)
{
    char        *s;
    cJSON       *j;
    const char  *end;

    s = malloc(partial->len + 1);
    if (s == NULL) {
        return NULL;
    }

    if (partial->len) {
        memcpy(s, partial->data, partial->len);
    }

    s[partial->len] = '\0';

    j = cJSON_ParseWithOpts(s, &end, 1);
    free(s);

    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        j = cJSON_CreateObject();
    }

    return j;
}


static SSE_UNUSED int
sse_close_block(sse_msg_t *m, int index)
{
    cJSON  *content, *block;

    if (m->open < 0 || index != m->open) {
        return sse_fail(m, "content_block_stop %d, open block %d", index,
                        m->open);
    }

    if (m->open_tool) {
        content = cJSON_GetObjectItemCaseSensitive(m->message, "content");
        block = cJSON_GetArrayItem(content, index);
        cJSON_ReplaceItemInObjectCaseSensitive(block, "input",
                                               sse_tool_input(&m->partial));
        q2api_buf_reset(&m->partial);
    }

    m->open = -1;
    m->open_tool = 0;

    return 0;
}


static SSE_UNUSED int
sse_event(sse_msg_t *m, const char *name, cJSON *d)
{
    int     index;
    cJSON  *content, *block, *delta, *cb, *v, *usage, *mu, *e;

    if (m->ended) {
        return sse_fail(m, "event %s after the end", name);
    }

    if (strcmp(name, "ping") == 0) {
        m->pings++;
        return 0;
    }

    if (strcmp(name, "error") == 0) {
        /* {"type":"error","error":{"type":...,"message":...}[,request_id]} */
        e = cJSON_GetObjectItemCaseSensitive(d, "error");

        if (d->child == NULL || strcmp(d->child->string, "type") != 0
            || d->child->next == NULL
            || strcmp(d->child->next->string, "error") != 0
            || (d->child->next->next != NULL
                && (strcmp(d->child->next->next->string, "request_id") != 0
                    || d->child->next->next->next != NULL))
            || !cJSON_IsObject(e) || e->child == NULL
            || strcmp(e->child->string, "type") != 0
            || !cJSON_IsString(e->child) || e->child->valuestring[0] == '\0'
            || e->child->next == NULL
            || strcmp(e->child->next->string, "message") != 0
            || !cJSON_IsString(e->child->next))
        {
            return sse_fail(m, "malformed error envelope");
        }

        m->error = cJSON_Duplicate(d, 1);
        m->ended = 1;

        return 0;
    }

    if (strcmp(name, "message_start") == 0) {
        if (m->started) {
            return sse_fail(m, "a second message_start");
        }

        v = cJSON_GetObjectItemCaseSensitive(d, "message");
        content = cJSON_GetObjectItemCaseSensitive(v, "content");
        usage = cJSON_GetObjectItemCaseSensitive(v, "usage");

        if (!cJSON_IsObject(v) || !sse_is_str(v, "id", NULL)
            || !sse_is_str(v, "type", "message")
            || !sse_is_str(v, "role", "assistant")
            || !sse_is_str(v, "model", NULL)
            || !cJSON_IsArray(content) || content->child != NULL
            || !cJSON_IsObject(usage)
            || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(usage,
                                                        "input_tokens"))
            || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(usage,
                                                        "output_tokens")))
        {
            return sse_fail(m, "malformed message_start");
        }

        m->message = cJSON_Duplicate(v, 1);
        m->started = 1;

        return 0;
    }

    if (!m->started) {
        return sse_fail(m, "%s before message_start", name);
    }

    content = cJSON_GetObjectItemCaseSensitive(m->message, "content");
    v = cJSON_GetObjectItemCaseSensitive(d, "index");
    index = cJSON_IsNumber(v) ? v->valueint : -1;

    if (strcmp(name, "content_block_start") == 0) {
        cb = cJSON_GetObjectItemCaseSensitive(d, "content_block");

        if (m->delta_seen) {
            return sse_fail(m, "block after message_delta");
        }

        if (m->open >= 0) {
            return sse_fail(m, "block %d starts inside block %d", index,
                            m->open);
        }

        if (index != m->nblocks) {
            return sse_fail(m, "block %d starts, expected %d", index,
                            m->nblocks);
        }

        if (sse_is_str(cb, "type", "text")) {
            if (!sse_is_str(cb, "text", "")) {
                return sse_fail(m, "text block %d starts with text", index);
            }

        } else if (sse_is_str(cb, "type", "thinking")) {
            if (!sse_is_str(cb, "thinking", "")
                || !sse_is_str(cb, "signature", ""))
            {
                return sse_fail(m, "thinking block %d: fields", index);
            }

        } else if (sse_is_str(cb, "type", "redacted_thinking")) {
            /* arrives whole: data in the start, no deltas */
            if (!sse_is_str(cb, "data", NULL)) {
                return sse_fail(m, "redacted_thinking block %d: data",
                                index);
            }

        } else if (sse_is_str(cb, "type", "tool_use")) {
            v = cJSON_GetObjectItemCaseSensitive(cb, "input");

            if (!sse_is_str(cb, "id", NULL) || !sse_is_str(cb, "name", NULL)
                || !cJSON_IsObject(v) || v->child != NULL)
            {
                return sse_fail(m, "tool_use block %d: fields", index);
            }

            m->open_tool = 1;

        } else {
            return sse_fail(m, "block %d of an unknown type", index);
        }

        cJSON_AddItemToArray(content, cJSON_Duplicate(cb, 1));
        m->open = index;
        m->nblocks++;

        return 0;
    }

    if (strcmp(name, "content_block_delta") == 0) {
        if (m->open < 0 || index != m->open) {
            return sse_fail(m, "delta for block %d, open block %d", index,
                            m->open);
        }

        block = cJSON_GetArrayItem(content, index);
        delta = cJSON_GetObjectItemCaseSensitive(d, "delta");

        if (sse_is_str(delta, "type", "text_delta")
            && sse_is_str(block, "type", "text")
            && sse_is_str(delta, "text", NULL))
        {
            v = cJSON_GetObjectItemCaseSensitive(delta, "text");
            return sse_concat(block, "text", v->valuestring, 0);
        }

        if (sse_is_str(delta, "type", "thinking_delta")
            && sse_is_str(block, "type", "thinking")
            && sse_is_str(delta, "thinking", NULL))
        {
            v = cJSON_GetObjectItemCaseSensitive(delta, "thinking");
            return sse_concat(block, "thinking", v->valuestring, 0);
        }

        if (sse_is_str(delta, "type", "signature_delta")
            && sse_is_str(block, "type", "thinking")
            && sse_is_str(delta, "signature", NULL))
        {
            v = cJSON_GetObjectItemCaseSensitive(delta, "signature");
            return sse_concat(block, "signature", v->valuestring, 1);
        }

        if (sse_is_str(delta, "type", "input_json_delta")
            && sse_is_str(block, "type", "tool_use")
            && sse_is_str(delta, "partial_json", NULL))
        {
            v = cJSON_GetObjectItemCaseSensitive(delta, "partial_json");
            q2api_buf_append_str(&m->partial, v->valuestring);
            return 0;
        }

        return sse_fail(m, "delta does not fit block %d", index);
    }

    if (strcmp(name, "content_block_stop") == 0) {
        return sse_close_block(m, index);
    }

    if (strcmp(name, "message_delta") == 0) {
        delta = cJSON_GetObjectItemCaseSensitive(d, "delta");
        usage = cJSON_GetObjectItemCaseSensitive(d, "usage");

        if (m->open >= 0) {
            return sse_fail(m, "message_delta inside block %d", m->open);
        }

        if (m->delta_seen) {
            return sse_fail(m, "a second message_delta");
        }

        if (!sse_is_str(delta, "stop_reason", NULL)
            || !cJSON_IsObject(usage)
            || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(usage,
                                                        "output_tokens")))
        {
            return sse_fail(m, "malformed message_delta");
        }

        cJSON_ReplaceItemInObjectCaseSensitive(m->message, "stop_reason",
            cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(delta,
                                                        "stop_reason"), 1));

        /* usage fields overwrite, they are never added */
        mu = cJSON_GetObjectItemCaseSensitive(m->message, "usage");

        cJSON_ArrayForEach(v, usage) {
            if (cJSON_GetObjectItemCaseSensitive(mu, v->string) != NULL) {
                cJSON_ReplaceItemInObjectCaseSensitive(mu, v->string,
                                                    cJSON_Duplicate(v, 1));

            } else {
                cJSON_AddItemToObject(mu, v->string, cJSON_Duplicate(v, 1));
            }
        }

        m->delta_seen = 1;

        return 0;
    }

    if (strcmp(name, "message_stop") == 0) {
        if (!m->delta_seen) {
            return sse_fail(m, "message_stop without message_delta");
        }

        m->ended = 1;
        return 0;
    }

    return sse_fail(m, "unknown event %s", name);
}


/* 0: a complete, well-formed stream; -1 and m->why otherwise */
static SSE_UNUSED int
sse_parse(const unsigned char *p, size_t len, sse_msg_t *m)
{
    int                   rc;
    char                  name[64], *data;
    cJSON                *d;
    size_t                n;
    const char           *end;
    const unsigned char  *last, *nl;

    memset(m, 0, sizeof(sse_msg_t));
    m->open = -1;
    q2api_buf_init(&m->partial, 0);

    if (!q2api_utf8_valid((const char *) p, len)) {
        return sse_fail(m, "output is not UTF-8");
    }

    last = p + len;

    while (p < last) {
        if ((size_t) (last - p) < 7 || memcmp(p, "event: ", 7) != 0) {
            return sse_fail(m, "event %d: no \"event: \" line", m->nevents);
        }

        p += 7;
        nl = memchr(p, '\n', last - p);

        if (nl == NULL || nl == p || (size_t) (nl - p) >= sizeof(name)) {
            return sse_fail(m, "event %d: bad name", m->nevents);
        }

        memcpy(name, p, nl - p);
        name[nl - p] = '\0';
        p = nl + 1;

        if ((size_t) (last - p) < 6 || memcmp(p, "data: ", 6) != 0) {
            return sse_fail(m, "event %s: no \"data: \" line", name);
        }

        p += 6;
        nl = memchr(p, '\n', last - p);

        if (nl == NULL || nl + 1 >= last || nl[1] != '\n') {
            return sse_fail(m, "event %s: not ended by a blank line", name);
        }

        n = nl - p;
        data = malloc(n + 1);
        if (data == NULL) {
            return sse_fail(m, "no memory");
        }

        memcpy(data, p, n);
        data[n] = '\0';

        d = cJSON_ParseWithOpts(data, &end, 1);

        if (d == NULL || memchr(data, '\0', n) != NULL) {
            free(data);
            cJSON_Delete(d);
            return sse_fail(m, "event %s: data is not JSON", name);
        }

        free(data);
        p = nl + 2;
        m->nevents++;

        if (!cJSON_IsObject(d) || !sse_is_str(d, "type", name)) {
            cJSON_Delete(d);
            return sse_fail(m, "event %s: data type differs", name);
        }

        rc = sse_event(m, name, d);
        cJSON_Delete(d);

        if (rc != 0) {
            return sse_fail(m, "event %s: rejected", name);
        }
    }

    if (!m->ended) {
        return sse_fail(m, "stream ends without message_stop or error");
    }

    return 0;
}


static SSE_UNUSED void
sse_msg_free(sse_msg_t *m)
{
    cJSON_Delete(m->message);
    cJSON_Delete(m->error);
    q2api_buf_free(&m->partial);
    m->message = NULL;
    m->error = NULL;
}


/*
 * 0 when a stream: false body "json" (a parsed message) says what the
 * stream said: same content, stop_reason and usage figures.
 */
static SSE_UNUSED int
sse_same_message(const sse_msg_t *m, cJSON *json, char *why, size_t size)
{
    size_t       i;
    cJSON       *a, *b, *ua, *ub;
    const char  *keys[] = { "input_tokens", "output_tokens",
                            "cache_creation_input_tokens",
                            "cache_read_input_tokens" };

    if (m->message == NULL || !cJSON_IsObject(json)) {
        snprintf(why, size, "no message");
        return -1;
    }

    if (!sse_is_str(json, "type", "message")
        || !sse_is_str(json, "role", "assistant")
        || !sse_is_str(json, "id", NULL)
        || !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(json,
                                                          "stop_sequence")))
    {
        snprintf(why, size, "message envelope");
        return -1;
    }

    a = cJSON_GetObjectItemCaseSensitive(m->message, "content");
    b = cJSON_GetObjectItemCaseSensitive(json, "content");

    if (!cJSON_Compare(a, b, 1)) {
        snprintf(why, size, "content differs");
        return -1;
    }

    a = cJSON_GetObjectItemCaseSensitive(m->message, "model");
    b = cJSON_GetObjectItemCaseSensitive(json, "model");

    if (!cJSON_Compare(a, b, 1)) {
        snprintf(why, size, "model differs");
        return -1;
    }

    a = cJSON_GetObjectItemCaseSensitive(m->message, "stop_reason");
    b = cJSON_GetObjectItemCaseSensitive(json, "stop_reason");

    if (!cJSON_IsString(b) || !cJSON_Compare(a, b, 1)) {
        snprintf(why, size, "stop_reason differs");
        return -1;
    }

    ua = cJSON_GetObjectItemCaseSensitive(m->message, "usage");
    ub = cJSON_GetObjectItemCaseSensitive(json, "usage");

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        a = cJSON_GetObjectItemCaseSensitive(ua, keys[i]);
        b = cJSON_GetObjectItemCaseSensitive(ub, keys[i]);

        if (!cJSON_IsNumber(b) || !cJSON_Compare(a, b, 1)) {
            snprintf(why, size, "usage.%s differs", keys[i]);
            return -1;
        }
    }

    return 0;
}


#endif /* _Q2API_SSE_CHECK_H_INCLUDED_ */
