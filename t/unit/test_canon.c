/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api_canon: the canonical request (messages, blocks, estimate), the
 * error vocabulary and its statuses, usage, and request ids.
 */


#include <stdint.h>
#include <stdio.h>

#include "tap.h"
#include "q2api_canon.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


static q2api_str_t
str(const char *s)
{
    q2api_str_t  v;

    v.data = s;
    v.len = strlen(s);

    return v;
}


static void
test_errors(void)
{
    size_t         i;
    char           name[64], big[2000];
    q2api_error_t  err;

    static const struct {
        q2api_err_e  kind;
        int          status;
    } cases[] = {
        { Q2API_ERR_NONE, 500 },
        { Q2API_ERR_INVALID_REQUEST, 400 },
        { Q2API_ERR_AUTHENTICATION, 401 },
        { Q2API_ERR_BILLING, 402 },
        { Q2API_ERR_PERMISSION, 403 },
        { Q2API_ERR_NOT_FOUND, 404 },
        { Q2API_ERR_METHOD, 405 },
        { Q2API_ERR_TOO_LARGE, 413 },
        { Q2API_ERR_RATE_LIMIT, 429 },
        { Q2API_ERR_API, 500 },
        { Q2API_ERR_BAD_GATEWAY, 502 },
        { Q2API_ERR_UNAVAILABLE, 503 },
        { Q2API_ERR_TIMEOUT, 504 },
        { Q2API_ERR_OVERLOADED, 529 },
        { Q2API_ERR_CONTEXT_EXCEEDED, 400 }
    };

    for (i = 0; i < nelts(cases); i++) {
        snprintf(name, sizeof(name), "kind %d: status %d",
                 (int) cases[i].kind, cases[i].status);
        is_int(q2api_err_status(cases[i].kind), cases[i].status, name);
    }

    /* the numbers are part of the vocabulary: logs and tests name them */
    is_int(Q2API_ERR_INVALID_REQUEST, 1, "invalid request is 1");
    is_int(Q2API_ERR_OVERLOADED, 13, "overloaded is 13");
    is_int(Q2API_ERR_CONTEXT_EXCEEDED, 14, "context exceeded is 14");

    q2api_error_set(&err, Q2API_ERR_NOT_FOUND, "model: %s (%d)", "x", 7);
    ok(err.kind == Q2API_ERR_NOT_FOUND
       && strcmp(err.message, "model: x (7)") == 0, "error_set formats");

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    q2api_error_set(&err, Q2API_ERR_API, "%s", big);
    ok(strlen(err.message) == Q2API_ERR_MSG_LEN - 1,
       "a long message is cut to the bound");
}


static void
test_request(void)
{
    q2api_block_t    *b, *c, *d;
    q2api_request_t   req;
    q2api_message_t  *m1, *m2, *m3;

    q2api_request_init(&req);

    ok(req.max_tokens == -1 && req.temperature < 0 && req.top_p < 0
       && req.top_k == -1 && req.nstop_sequences == 0
       && req.messages == NULL && req.json == NULL,
       "init: nothing given");

    m1 = q2api_request_add_message(&req, Q2API_ROLE_USER);
    m2 = q2api_request_add_message(&req, Q2API_ROLE_USER);
    ok(m1 != NULL && m1 == m2 && req.nmessages == 1,
       "a repeated role merges into the last message");

    m3 = q2api_request_add_message(&req, Q2API_ROLE_ASSISTANT);
    ok(m3 != m1 && req.nmessages == 2 && req.messages == m1
       && m1->next == m3 && req.last == m3, "roles alternate");

    m2 = q2api_request_add_message(&req, Q2API_ROLE_USER);
    ok(m2 != m1 && req.nmessages == 3 && m3->next == m2,
       "a user turn after the assistant is new");

    b = q2api_message_add_block(&req, m1, Q2API_BLOCK_TEXT);
    c = q2api_message_add_block(&req, m1, Q2API_BLOCK_IMAGE);
    d = q2api_message_add_block(&req, m1, Q2API_BLOCK_TOOL_RESULT);
    ok(m1->blocks == b && b->next == c && c->next == d && d->next == NULL,
       "blocks in order");
    ok(c->type == Q2API_BLOCK_IMAGE && c->media_type.len == 0
       && d->content == NULL && !d->is_error, "blocks start empty");

    q2api_request_free(&req);
    q2api_request_free(&req);
    ok(1, "free twice is harmless");
}


static void
test_estimate(void)
{
    q2api_tool_t      tool;
    q2api_block_t    *b, *t1, *img, *t2;
    q2api_request_t   req;
    q2api_message_t  *m;

    is_int(q2api_estimate_tokens(0), 0, "0 bytes: 0 tokens");
    is_int(q2api_estimate_tokens(1), 1, "1 byte: 1 token");
    is_int(q2api_estimate_tokens(4), 1, "4 bytes: 1 token");
    is_int(q2api_estimate_tokens(5), 2, "5 bytes: 2 tokens");

    q2api_request_init(&req);
    is_int(q2api_request_estimate_tokens(&req), 0, "empty request: 0");

    req.system = str("12345678");                       /* 8 */
    m = q2api_request_add_message(&req, Q2API_ROLE_USER);

    b = q2api_message_add_block(&req, m, Q2API_BLOCK_TEXT);
    b->text = str("1234");                              /* 4 */

    b = q2api_message_add_block(&req, m, Q2API_BLOCK_IMAGE);
    b->media_type = str("image/png");
    b->data = str("iVBORw0KGgo=");                      /* 0 */

    m = q2api_request_add_message(&req, Q2API_ROLE_ASSISTANT);
    b = q2api_message_add_block(&req, m, Q2API_BLOCK_TOOL_USE);
    b->name = str("get");                               /* 3 */
    b->data = str("{\"a\":1}");                         /* 7 */

    is_int(q2api_request_estimate_tokens(&req), (8 + 4 + 3 + 7 + 3) / 4,
           "system, text, tool name and input; images count nothing");

    memset(&tool, 0, sizeof(q2api_tool_t));
    tool.name = str("get");
    tool.description = str("gets");
    tool.schema = str("{}");
    req.tools = &tool;                                  /* 3 + 4 + 2 */

    is_int(q2api_request_estimate_tokens(&req),
           (8 + 4 + 3 + 7 + 9 + 3) / 4, "tools count");

    /* a tool result given as blocks counts as the text it was joined
     * into: "\n" between two, an image as its 67-byte note */
    m = q2api_request_add_message(&req, Q2API_ROLE_USER);
    b = q2api_message_add_block(&req, m, Q2API_BLOCK_TOOL_RESULT);
    b->id = str("t1");

    t1 = q2api_arena_calloc(&req.arena, sizeof(q2api_block_t));
    img = q2api_arena_calloc(&req.arena, sizeof(q2api_block_t));
    t2 = q2api_arena_calloc(&req.arena, sizeof(q2api_block_t));

    t1->type = Q2API_BLOCK_TEXT;
    t1->text = str("line1");
    img->type = Q2API_BLOCK_IMAGE;
    img->media_type = str("image/png");
    img->data = str("iVBOR");
    t2->type = Q2API_BLOCK_TEXT;
    t2->text = str("line2");
    b->content = t1;
    t1->next = img;
    img->next = t2;

    is_int(q2api_request_estimate_tokens(&req),
           (8 + 4 + 3 + 7 + 9 + 5 + 1 + 67 + 1 + 5 + 3) / 4,
           "tool result blocks: joined text and the image's note");

    /* an empty first text adds no separator, as joining never did */
    t1->text = str("");
    is_int(q2api_request_estimate_tokens(&req),
           (8 + 4 + 3 + 7 + 9 + 67 + 1 + 5 + 3) / 4,
           "an empty leading text adds nothing");

    q2api_request_free(&req);
}


static void
test_usage_uuid(void)
{
    int            i, good;
    char           a[37], b[37];
    q2api_usage_t  u;

    memset(&u, 0x55, sizeof(q2api_usage_t));
    q2api_usage_init(&u);
    ok(u.input_tokens == -1 && u.output_tokens == -1
       && u.cache_read_tokens == 0 && u.cache_write_tokens == 0
       && u.context_percent < 0, "usage starts unknown");

    is_int(q2api_uuid4(a), Q2API_OK, "uuid4");
    is_int(q2api_uuid4(b), Q2API_OK, "uuid4 again");
    is_int((int) strlen(a), 36, "36 characters");
    ok(strcmp(a, b) != 0, "two differ");

    good = a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-'
           && a[14] == '4' && strchr("89ab", a[19]) != NULL;

    for (i = 0; i < 36; i++) {
        if (i != 8 && i != 13 && i != 18 && i != 23
            && strchr("0123456789abcdef", a[i]) == NULL)
        {
            good = 0;
        }
    }

    ok(good, "version 4, RFC 4122 variant, lower-case hex");
}


int
main(void)
{
    test_errors();
    test_request();
    test_estimate();
    test_usage_uuid();

    return done_testing();
}
