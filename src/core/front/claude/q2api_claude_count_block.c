/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * count_tokens in one pass: a message's content blocks, each read once
 * for both of what it may be before the message's role is known, with the
 * checks q2api_claude_parse_block() makes.
 */


#include "q2api_claude_count.h"
#include "q2api_check.h"


static int q2api_claude_count_block(q2api_claude_count_t *c,
    q2api_claude_piece_t *b);


/*
 * The content of a tool result given as blocks: its estimate joins the
 * texts with "\n" and counts an image as 67 bytes, as
 * q2api_result_estimate_bytes() does; other parts count nothing.
 */
static int
q2api_claude_count_parts(q2api_json_scan_t *s, size_t *len)
{
    int                 done;
    size_t              n;
    q2api_json_field_t  f[3];

    static const char  *const names[] = { "type", "text", NULL };

    *len = 0;

    if (q2api_json_scan_enter(s, &done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    while (!done) {
        if (q2api_claude_count_fields(s, names, f, -1, NULL) != Q2API_OK) {
            return Q2API_ERROR;
        }

        if (q2api_claude_is(&f[0], "text")
            && f[1].type == Q2API_JSON_STRING)
        {
            n = q2api_claude_len(&f[1]);
            *len = *len ? *len + 1 + n : n;

        } else if (q2api_claude_is(&f[0], "image")) {
            *len = *len ? *len + 1 + 67 : 67;
        }

        if (q2api_json_scan_next(s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* an image block's source, checked as q2api_claude_parse_image() does */
static int
q2api_claude_image_ok(const q2api_json_field_t *src)
{
    const q2api_json_field_t  *type, *media, *data;

    type = &src[0];
    media = &src[1];
    data = &src[2];

    return src[3].type == Q2API_JSON_OBJECT
           && q2api_claude_is(type, "base64")
           && (q2api_claude_is(media, "image/jpg")
               || q2api_claude_is(media, "image/png")
               || q2api_claude_is(media, "image/jpeg")
               || q2api_claude_is(media, "image/gif")
               || q2api_claude_is(media, "image/webp"))
           && data->type == Q2API_JSON_STRING && !data->escaped
           && q2api_check(Q2API_CHECK_BASE64, data->value, data->len)
              == Q2API_OK;
}


enum {
    Q2API_CB_TYPE = 0,
    Q2API_CB_TEXT,
    Q2API_CB_ID,
    Q2API_CB_NAME,
    Q2API_CB_INPUT,
    Q2API_CB_CONTENT,
    Q2API_CB_THINKING,
    Q2API_CB_DATA,
    Q2API_CB_SOURCE,
    Q2API_CB_TOOL_USE_ID,
    Q2API_CB_N
};

static const char  *const q2api_cc_block[] = {
    "type", "text", "id", "name", "input", "content", "thinking", "data",
    "source", "tool_use_id", NULL
};


/*
 * One element of a content array, read once for both of what it may be:
 * a message's block (q2api_claude_parse_block()) or, in a message with the
 * role "system", a system text block.
 */
static int
q2api_claude_count_block(q2api_claude_count_t *c, q2api_claude_piece_t *b)
{
    int                  done, which;
    size_t               input, parts;
    unsigned             seen;
    q2api_json_field_t   f[Q2API_CB_N + 1], src[4], *v;
    q2api_json_scan_t   *s;

    static const char  *const source[] = {
        "type", "media_type", "data", NULL
    };

    s = &c->s;
    b->bytes = 0;
    b->sys_len = 0;
    b->ok = 0;
    b->sys = 0;

    for (which = 0; which <= Q2API_CB_N; which++) {
        f[which].type = Q2API_JSON_ABSENT;
        f[which].len = 0;
        f[which].escaped = 0;
    }

    src[3].type = Q2API_JSON_ABSENT;
    input = 0;
    parts = 0;

    if (s->p >= s->end || *s->p != '{') {
        /* neither kind of block: the full parse refuses it */
        return q2api_json_scan_value(s, &f[Q2API_CB_N], NULL);
    }

    if (q2api_json_scan_enter(s, &done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    seen = 0;

    while (!done) {
        if (q2api_claude_count_key(s, q2api_cc_block, &seen, &which)
            != Q2API_OK)
        {
            return Q2API_ERROR;
        }

        v = &f[which < 0 ? Q2API_CB_N : which];

        if (which == Q2API_CB_SOURCE) {
            if (q2api_claude_count_fields(s, source, src, -1, NULL)
                != Q2API_OK)
            {
                return Q2API_ERROR;
            }

            v->type = src[3].type;

        } else if (which == Q2API_CB_CONTENT && s->p < s->end
                   && *s->p == '[')
        {
            if (q2api_claude_count_parts(s, &parts) != Q2API_OK) {
                return Q2API_ERROR;
            }

            v->type = Q2API_JSON_ARRAY;

        } else if (q2api_json_scan_value(s, v, which == Q2API_CB_INPUT
                                               ? &input : NULL)
                   != Q2API_OK
                   || (which == Q2API_CB_TYPE && v->escaped))
        {
            return Q2API_ERROR;
        }

        if (q2api_json_scan_next(s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    v = &f[Q2API_CB_TYPE];

    if (v->type != Q2API_JSON_STRING) {
        return Q2API_OK;
    }

    if (q2api_claude_is(v, "text")) {
        b->ok = b->sys = (f[Q2API_CB_TEXT].type == Q2API_JSON_STRING);
        b->bytes = b->sys_len = q2api_claude_len(&f[Q2API_CB_TEXT]);

    } else if (q2api_claude_is(v, "image")) {
        b->ok = q2api_claude_image_ok(src);

    } else if (q2api_claude_is(v, "tool_use")
               || q2api_claude_is(v, "server_tool_use"))
    {
        b->ok = f[Q2API_CB_ID].type == Q2API_JSON_STRING
                && f[Q2API_CB_NAME].type == Q2API_JSON_STRING
                && (q2api_claude_absent(&f[Q2API_CB_INPUT])
                    || f[Q2API_CB_INPUT].type == Q2API_JSON_OBJECT);
        b->bytes = q2api_claude_len(&f[Q2API_CB_NAME])
                   + (f[Q2API_CB_INPUT].type == Q2API_JSON_OBJECT
                      ? input : 2);

    } else if (q2api_claude_is(v, "tool_result")) {
        v = &f[Q2API_CB_CONTENT];
        b->ok = f[Q2API_CB_TOOL_USE_ID].type == Q2API_JSON_STRING
                && (q2api_claude_absent(v) || v->type == Q2API_JSON_STRING
                    || v->type == Q2API_JSON_ARRAY);
        b->bytes = (v->type == Q2API_JSON_STRING) ? q2api_claude_len(v)
                   : (v->type == Q2API_JSON_ARRAY) ? parts : 0;

    } else if (q2api_claude_is(v, "thinking")) {
        b->ok = (f[Q2API_CB_THINKING].type == Q2API_JSON_STRING);
        b->bytes = q2api_claude_len(&f[Q2API_CB_THINKING]);

    } else if (q2api_claude_is(v, "redacted_thinking")) {
        b->ok = (f[Q2API_CB_DATA].type == Q2API_JSON_STRING);

    } else if (q2api_claude_is(v, "document")) {
        b->ok = src[3].type == Q2API_JSON_OBJECT
                && q2api_claude_is(&src[0], "text")
                && src[2].type == Q2API_JSON_STRING;
        b->bytes = q2api_claude_len(&src[2]);

    } else {
        /* a block only Anthropic's servers make: dropped, counts nothing */
        b->ok = 1;
    }

    return Q2API_OK;
}


/* a content array: each block read as either kind */
int
q2api_claude_count_content(q2api_claude_count_t *c,
    q2api_claude_content_t *content)
{
    int                   done;
    q2api_claude_piece_t  b;

    content->ok = 1;
    content->sys = 1;

    if (q2api_json_scan_enter(&c->s, &done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    while (!done) {
        if (q2api_claude_count_block(c, &b) != Q2API_OK) {
            return Q2API_ERROR;
        }

        content->ok &= b.ok;
        content->sys &= b.sys;
        content->bytes += b.bytes;
        q2api_claude_text_add(&content->system, b.sys_len);

        if (q2api_json_scan_next(&c->s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}
