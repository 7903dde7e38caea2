/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the tests of the Claude front end share: bodies written with '
 * for ", checks of a parse's outcome and error text, and scripts of
 * canonical events run through the encoder, streamed and not, against
 * the exact bytes expected.
 */

#ifndef _CLAUDE_CHECK_H_INCLUDED_
#define _CLAUDE_CHECK_H_INCLUDED_


#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "jq.h"
#include "sse_check.h"
#include "q2api_claude.h"
#include "q2api_sse.h"


#define CLAUDE_CHECK_UNUSED  __attribute__((unused))



static CLAUDE_CHECK_UNUSED int
parse_raw(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err)
{
    int        rc;
    long long  tokens;

    q2api_request_init(req);
    memset(err, 0, sizeof(q2api_error_t));

    rc = q2api_claude_parse(req, body, len, err);

    /* every body a test parses checks count_tokens' one pass as well */
    if (q2api_claude_count(body, len, &tokens) == Q2API_OK) {
        ok(rc == Q2API_OK && tokens == q2api_request_estimate_tokens(req),
           "count_tokens in one pass gives the parse's estimate");
    }

    return rc;
}


/* the body is refused with invalid_request_error and a message holding
 * "want" (the field path and what is wrong) */
static CLAUDE_CHECK_UNUSED void
rejects_raw(const char *body, size_t len, const char *want, const char *name)
{
    int              rc;
    char             what[200];
    q2api_error_t    err;
    q2api_request_t  req;

    rc = parse_raw(&req, body, len, &err);

    snprintf(what, sizeof(what), "%s: refused", name);
    is_int(rc, Q2API_ERROR, what);

    snprintf(what, sizeof(what), "%s: invalid_request_error", name);
    is_int(err.kind, Q2API_ERR_INVALID_REQUEST, what);

    snprintf(what, sizeof(what), "%s: says '%s'", name, want);
    if (!ok(strstr(err.message, want) != NULL, what)) {
        diag("message: %s", err.message);
    }

    q2api_request_free(&req);
}


static CLAUDE_CHECK_UNUSED void
rejects(const char *body, const char *want, const char *name)
{
    char  *b;

    b = jq(body);
    rejects_raw(b, strlen(b), want, name);
    free(b);
}


/* parses a valid body into req (to be freed by the caller) */
static CLAUDE_CHECK_UNUSED int
accepts(q2api_request_t *req, const char *body, const char *name)
{
    int            rc;
    char          *b;
    q2api_error_t  err;

    b = jq(body);
    rc = parse_raw(req, b, strlen(b), &err);
    free(b);

    if (!ok(rc == Q2API_OK, name)) {
        diag("error: %s", err.message);
    }

    return rc;
}


static CLAUDE_CHECK_UNUSED int
str_is(q2api_str_t s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.data, want, s.len) == 0;
}


#define is_qstr(got, want, name)                                           \
    is_mem((got).data, (got).len, want, strlen(want), name)


static CLAUDE_CHECK_UNUSED int
nblocks(const q2api_message_t *m)
{
    int                   n;
    const q2api_block_t  *b;

    n = 0;

    for (b = m->blocks; b != NULL; b = b->next) {
        n++;
    }

    return n;
}


#define MSG(x)  "'messages':[{'role':'user','content':" x "}]"
#define BODY(x)  "{'model':'m'," x "}"


/* the encoder ------------------------------------------------------------ */


typedef struct {
    int          type;      /* q2api_event_type_e; -1 ends a script */
    const char  *text;      /* text; tool id; error message */
    const char  *name;      /* tool name */
    long long    a;         /* stop reason; error kind; output tokens */
    long long    b;         /* input tokens */
    long long    c;         /* cache read tokens */
    long long    d;         /* cache write tokens */
} step_t;

#define END  { .type = -1 }
#define TEXT(t)  { .type = Q2API_EV_TEXT, .text = t }
#define THINK(t)  { .type = Q2API_EV_THINKING, .text = t }
#define SIG(t)  { .type = Q2API_EV_SIGNATURE, .text = t }
#define REDACTED(t)  { .type = Q2API_EV_REDACTED_THINKING, .text = t }
#define TOOL(i, n)  { .type = Q2API_EV_TOOL_START, .text = i, .name = n }
#define INPUT(t)  { .type = Q2API_EV_TOOL_INPUT, .text = t }
#define TSTOP  { .type = Q2API_EV_TOOL_STOP }
#define STOP(r)  { .type = Q2API_EV_STOP, .a = r }
#define ERR(k, m)  { .type = Q2API_EV_ERROR, .a = k, .text = m }
#define BEGIN  { .type = Q2API_EV_BEGIN }


static const char  *test_model = "claude-test";


/* one step of a script as the canonical event it stands for */
static CLAUDE_CHECK_UNUSED void
step_event(const step_t *st, q2api_event_t *ev)
{
    memset(ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev->usage);
    ev->type = st->type;

    switch (st->type) {

    case Q2API_EV_TOOL_START:
        ev->id.data = st->text;
        ev->id.len = strlen(st->text);
        ev->name.data = st->name;
        ev->name.len = strlen(st->name);
        break;

    case Q2API_EV_STOP:
        ev->stop = st->a;
        break;

    case Q2API_EV_USAGE:
        ev->usage.output_tokens = st->a;
        ev->usage.input_tokens = st->b;
        ev->usage.cache_read_tokens = st->c;
        ev->usage.cache_write_tokens = st->d;
        break;

    case Q2API_EV_ERROR:
        ev->error = st->a;
        /* fall through */

    default:
        ev->text.data = st->text;
        ev->text.len = st->text ? strlen(st->text) : 0;
    }
}


/* runs a script through a fresh encoder; the finish unless told not to */
static CLAUDE_CHECK_UNUSED int
run(const step_t *st, int stream, q2api_buf_t *out)
{
    int                     rc;
    q2api_event_t           ev;
    q2api_request_t         req;
    q2api_claude_stream_t   s;

    q2api_request_init(&req);
    req.model.data = test_model;
    req.model.len = strlen(test_model);
    req.stream = stream;

    rc = q2api_claude_stream_init(&s, out, &req);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* fixed, for exact comparisons */
    memcpy(s.id, "msg_test", 9);
    s.input_tokens = 10;

    for ( ; st->type >= 0; st++) {
        step_event(st, &ev);

        if (q2api_claude_stream_event(&s, &ev) != Q2API_OK) {
            rc = Q2API_ERROR;
        }
    }

    if (q2api_claude_stream_finish(&s) != Q2API_OK) {
        rc = Q2API_ERROR;
    }

    /* a second finish changes nothing */
    if (q2api_claude_stream_finish(&s) != Q2API_OK) {
        rc = Q2API_ERROR;
    }

    q2api_claude_stream_free(&s);
    q2api_request_free(&req);

    return rc;
}


/* expected output, piece by piece */

static CLAUDE_CHECK_UNUSED void
w(q2api_buf_t *b, const char *name, const char *data)
{
    q2api_sse_event(b, name, data, strlen(data));
}


static CLAUDE_CHECK_UNUSED void
wf(q2api_buf_t *b, const char *name, const char *fmt, ...)
{
    char     data[2048];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(data, sizeof(data), fmt, args);
    va_end(args);

    w(b, name, data);
}


#define USAGE_FMT                                                          \
    "{\"input_tokens\":%lld,\"cache_creation_input_tokens\":%lld,"         \
    "\"cache_read_input_tokens\":%lld,\"output_tokens\":%lld}"


static CLAUDE_CHECK_UNUSED void
w_head(q2api_buf_t *b)
{
    wf(b, "message_start", "{\"type\":\"message_start\",\"message\":"
       "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
       "\"model\":\"%s\",\"content\":[],\"stop_reason\":null,"
       "\"stop_sequence\":null,\"usage\":" USAGE_FMT "}}", test_model,
       10LL, 0LL, 0LL, 1LL);
    w(b, "ping", "{\"type\":\"ping\"}");
}


static CLAUDE_CHECK_UNUSED void
w_text(q2api_buf_t *b, int i)
{
    wf(b, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":%d,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
       i);
}


static CLAUDE_CHECK_UNUSED void
w_thinking(q2api_buf_t *b, int i)
{
    wf(b, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":%d,\"content_block\":{\"type\":\"thinking\","
       "\"thinking\":\"\",\"signature\":\"\"}}", i);
}


static CLAUDE_CHECK_UNUSED void
w_tool(q2api_buf_t *b, int i, const char *id, const char *name)
{
    wf(b, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":%d,\"content_block\":{\"type\":\"tool_use\","
       "\"id\":\"%s\",\"name\":\"%s\",\"input\":{}}}", i, id, name);
}


/* json: the delta's value already as JSON */
static CLAUDE_CHECK_UNUSED void
w_delta(q2api_buf_t *b, int i, const char *kind, const char *field,
    const char *json)
{
    wf(b, "content_block_delta", "{\"type\":\"content_block_delta\","
       "\"index\":%d,\"delta\":{\"type\":\"%s\",\"%s\":%s}}", i, kind,
       field, json);
}


static CLAUDE_CHECK_UNUSED void
w_stop(q2api_buf_t *b, int i)
{
    wf(b, "content_block_stop", "{\"type\":\"content_block_stop\","
       "\"index\":%d}", i);
}


static CLAUDE_CHECK_UNUSED void
w_tail(q2api_buf_t *b, const char *reason, long long in, long long cw,
    long long cr, long long out)
{
    wf(b, "message_delta", "{\"type\":\"message_delta\",\"delta\":"
       "{\"stop_reason\":\"%s\",\"stop_sequence\":null},\"usage\":"
       USAGE_FMT "}", reason, in, cw, cr, out);
    w(b, "message_stop", "{\"type\":\"message_stop\"}");
}


static CLAUDE_CHECK_UNUSED cJSON *
parse_body(const q2api_buf_t *b)
{
    char         *s;
    cJSON        *j;
    const char   *end;

    s = malloc(b->len + 1);
    if (b->len) {
        memcpy(s, b->data, b->len);
    }

    s[b->len] = '\0';
    j = cJSON_ParseWithOpts(s, &end, 1);
    free(s);

    return j;
}


/*
 * Runs the script both ways: the stream must be exactly "want" and well
 * formed, and the stream: false answer must describe the same message.
 * The parsed stream is left in *m for more checks (freed by the caller).
 */
static CLAUDE_CHECK_UNUSED void
both(const step_t *st, const q2api_buf_t *want, const char *name,
    sse_msg_t *m)
{
    int           rc;
    char          what[200], why[128];
    cJSON        *json;
    q2api_buf_t   out;

    q2api_buf_init(&out, 0);

    rc = run(st, 1, &out);
    snprintf(what, sizeof(what), "%s: stream ok", name);
    is_int(rc, Q2API_OK, what);

    snprintf(what, sizeof(what), "%s: exact SSE", name);
    is_mem(out.data, out.len, want->data, want->len, what);

    rc = sse_parse(out.data, out.len, m);
    snprintf(what, sizeof(what), "%s: well-formed SSE", name);
    if (!ok(rc == 0, what)) {
        diag("%s", m->why);
    }

    q2api_buf_reset(&out);

    rc = run(st, 0, &out);
    snprintf(what, sizeof(what), "%s: non-stream ok", name);
    is_int(rc, Q2API_OK, what);

    json = parse_body(&out);
    snprintf(what, sizeof(what), "%s: non-stream is one JSON object", name);
    ok(cJSON_IsObject(json), what);

    snprintf(what, sizeof(what), "%s: non-stream says what the stream said",
             name);
    if (!ok(sse_same_message(m, json, why, sizeof(why)) == 0, what)) {
        diag("%s", why);
        diag("non-stream: %.*s", (int) out.len, (char *) out.data);
    }

    cJSON_Delete(json);
    q2api_buf_free(&out);
}


#endif /* _CLAUDE_CHECK_H_INCLUDED_ */
