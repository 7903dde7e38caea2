/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdarg.h>
#include <stdio.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "q2api_canon.h"
#include "q2api_nul.h"
#include "q2api_json.h"


void
q2api_error_set(q2api_error_t *err, q2api_err_e kind, const char *fmt, ...)
{
    va_list  args;

    err->kind = kind;

    va_start(args, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, args);
    va_end(args);
}


int
q2api_err_status(q2api_err_e kind)
{
    switch (kind) {
    case Q2API_ERR_INVALID_REQUEST:
    case Q2API_ERR_CONTEXT_EXCEEDED:
        return 400;
    case Q2API_ERR_AUTHENTICATION:
        return 401;
    case Q2API_ERR_BILLING:
        return 402;
    case Q2API_ERR_PERMISSION:
        return 403;
    case Q2API_ERR_NOT_FOUND:
        return 404;
    case Q2API_ERR_METHOD:
        return 405;
    case Q2API_ERR_TOO_LARGE:
        return 413;
    case Q2API_ERR_RATE_LIMIT:
        return 429;
    case Q2API_ERR_BAD_GATEWAY:
        return 502;
    case Q2API_ERR_UNAVAILABLE:
        return 503;
    case Q2API_ERR_TIMEOUT:
        return 504;
    case Q2API_ERR_OVERLOADED:
        return 529;
    case Q2API_ERR_NONE:
    case Q2API_ERR_API:
    default:
        return 500;
    }
}


void
q2api_request_init(q2api_request_t *req)
{
    memset(req, 0, sizeof(q2api_request_t));
    q2api_arena_init(&req->arena);
    req->max_tokens = -1;
    req->temperature = -1;
    req->top_p = -1;
    req->top_k = -1;
}


void
q2api_request_free(q2api_request_t *req)
{
    /* a tree on the arena goes with it */
    if (req->json != NULL && !req->json_in_arena) {
        cJSON_Delete(req->json);
    }

    req->json = NULL;

    q2api_arena_free(&req->arena);
}


q2api_message_t *
q2api_request_add_message(q2api_request_t *req, q2api_role_e role)
{
    q2api_message_t  *msg;

    if (req->last != NULL && req->last->role == role) {
        return req->last;
    }

    msg = q2api_arena_calloc(&req->arena, sizeof(q2api_message_t));
    if (msg == NULL) {
        return NULL;
    }

    msg->role = role;

    if (req->last == NULL) {
        req->messages = msg;

    } else {
        req->last->next = msg;
    }

    req->last = msg;
    req->nmessages++;

    return msg;
}


int
q2api_request_append_text(q2api_request_t *req, q2api_str_t *dst,
    const char *s, size_t len)
{
    char  *p;

    if (dst->len == 0) {
        dst->data = s;
        dst->len = len;
        return Q2API_OK;
    }

    p = q2api_arena_alloc(&req->arena, dst->len + 1 + len + 1);
    if (p == NULL) {
        return Q2API_NOMEM;
    }

    memcpy(p, dst->data, dst->len);
    p[dst->len] = '\n';
    memcpy(p + dst->len + 1, s, len);
    p[dst->len + 1 + len] = '\0';

    dst->data = p;
    dst->len += 1 + len;

    return Q2API_OK;
}


q2api_block_t *
q2api_message_add_block(q2api_request_t *req, q2api_message_t *msg,
    q2api_block_type_e type)
{
    q2api_block_t  *b, **tail;

    b = q2api_arena_calloc(&req->arena, sizeof(q2api_block_t));
    if (b == NULL) {
        return NULL;
    }

    b->type = type;

    for (tail = &msg->blocks; *tail != NULL; tail = &(*tail)->next) {
        /* void */
    }

    *tail = b;

    return b;
}


long long
q2api_estimate_tokens(size_t bytes)
{
    return (long long) ((bytes + 3) / 4);
}


/*
 * A tool result given as blocks counts as the text its blocks were once
 * joined into before the request reached a back end: "\n" between two,
 * and an image as the 67-byte note that stood for it.  The estimate is
 * what clients see as input_tokens; keeping images did not move it.
 */
static size_t
q2api_result_estimate_bytes(const q2api_block_t *b)
{
    size_t                n, len;
    const q2api_block_t  *c;

    len = 0;

    for (c = b->content; c != NULL; c = c->next) {
        n = (c->type == Q2API_BLOCK_IMAGE) ? 67 : c->text.len;
        len = len ? len + 1 + n : n;
    }

    return len;
}


long long
q2api_request_estimate_tokens(const q2api_request_t *req)
{
    size_t                  bytes;
    const q2api_tool_t     *t;
    const q2api_block_t    *b;
    const q2api_message_t  *m;

    bytes = req->system.len;

    for (m = req->messages; m != NULL; m = m->next) {
        for (b = m->blocks; b != NULL; b = b->next) {
            bytes += b->text.len + b->name.len;

            if (b->type == Q2API_BLOCK_TOOL_USE) {
                bytes += b->data.len;
            }

            if (b->type == Q2API_BLOCK_TOOL_RESULT) {
                bytes += q2api_result_estimate_bytes(b);
            }
        }
    }

    for (t = req->tools; t != NULL; t = t->next) {
        bytes += t->name.len + t->description.len + t->schema.len;
    }

    return q2api_estimate_tokens(bytes);
}


void
q2api_usage_init(q2api_usage_t *u)
{
    u->input_tokens = -1;
    u->output_tokens = -1;
    u->cache_read_tokens = 0;
    u->cache_write_tokens = 0;
    u->context_percent = -1.0;
}


void
q2api_usage_merge(q2api_usage_t *u, const q2api_usage_t *from)
{
    if (from->input_tokens >= 0) {
        u->input_tokens = from->input_tokens;
    }

    if (from->output_tokens >= 0) {
        u->output_tokens = from->output_tokens;
    }

    if (from->cache_read_tokens > 0) {
        u->cache_read_tokens = from->cache_read_tokens;
    }

    if (from->cache_write_tokens > 0) {
        u->cache_write_tokens = from->cache_write_tokens;
    }
}


void *
q2api_request_json(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err)
{
    int          nul;
    char        *copy;
    cJSON       *root;
    const char  *at;

    if (len == 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is empty; expected a JSON object");
        return NULL;
    }

    if (!q2api_utf8_valid(body, len)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is not valid UTF-8");
        return NULL;
    }

    nul = q2api_nul_found(body, len);

    if (nul == -1) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is not valid JSON (a \\u escape "
                        "without four hex digits)");
        return NULL;
    }

    if (nul) {
        /* cJSON would cut the strings at their NULs: mark them instead */
        copy = q2api_arena_strndup(&req->arena, body, len);
        if (copy == NULL) {
            q2api_error_set(err, Q2API_ERR_API, "out of memory");
            return NULL;
        }

        len = q2api_nul_mark(copy, len);
        body = copy;
    }

    q2api_arena_json_begin(&req->arena);
    root = q2api_json_document(body, len, &at);
    q2api_arena_json_end();

    if (root == NULL) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is not valid JSON (error near byte "
                        "%ld)", (at && at >= body && at <= body + len)
                                ? (long) (at - body) : 0L);
        return NULL;
    }

    req->json = root;
    req->json_in_arena = 1;

    if (!cJSON_IsObject(root)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body must be a JSON object");
        return NULL;
    }

    return root;
}


int
q2api_uuid4(char *out)
{
    unsigned char  r[16];

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return Q2API_ERROR;
    }

    r[6] = (r[6] & 0x0f) | 0x40;
    r[8] = (r[8] & 0x3f) | 0x80;

    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9],
             r[10], r[11], r[12], r[13], r[14], r[15]);

    return Q2API_OK;
}
