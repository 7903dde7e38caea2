/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * What the tests of the OpenAI front end share: a strict reader of
 * chat.completion.chunk SSE that checks what the SDKs rely on (client-api.md
 * §3.3: "data: <json>" frames only, the same id/created/model, the role in
 * the first delta only, an integer index on every tool-call delta with id,
 * type and name in its first delta only, one finish_reason, the usage
 * chunk last when asked for, "[DONE]" at the end, ":" comments anywhere)
 * and rebuilds the chat.completion the stream describes, to be compared
 * with the stream: false answer; and a runner of canonical event scripts
 * through the encoder.  Event scripts are claude_check.h's.
 */

#ifndef _OPENAI_CHECK_H_INCLUDED_
#define _OPENAI_CHECK_H_INCLUDED_


#include "claude_check.h"
#include "q2api_openai.h"


#define OA_UNUSED  __attribute__((unused))


typedef struct {
    cJSON        *message;      /* role, content, reasoning_content,
                                   tool_calls / function_call */
    cJSON        *usage;        /* the usage chunk's */
    cJSON        *error;        /* a data: {"error":...} chunk */
    char          finish[32];
    char          id[64];
    long long     created;
    int           chunks;
    int           comments;
    int           done;
    char          why[256];
} oa_msg_t;


static OA_UNUSED int
oa_fail(oa_msg_t *m, const char *fmt, ...)
{
    va_list  args;

    if (m->why[0] == '\0') {
        va_start(args, fmt);
        vsnprintf(m->why, sizeof(m->why), fmt, args);
        va_end(args);
    }

    return -1;
}


/* obj[key] += add (a string), as the SDKs' accumulators join strings */
static OA_UNUSED void
oa_concat(cJSON *obj, const char *key, const char *add)
{
    char   *s;
    cJSON  *cur;

    cur = cJSON_GetObjectItemCaseSensitive(obj, key);

    if (!cJSON_IsString(cur)) {
        cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
        cJSON_AddStringToObject(obj, key, add);
        return;
    }

    s = malloc(strlen(cur->valuestring) + strlen(add) + 1);
    strcpy(s, cur->valuestring);
    strcat(s, add);
    cJSON_ReplaceItemInObjectCaseSensitive(obj, key, cJSON_CreateString(s));
    free(s);
}


static OA_UNUSED int
oa_tool_delta(oa_msg_t *m, cJSON *calls)
{
    int     index, first;
    cJSON  *d, *idx, *id, *type, *fn, *name, *args, *list, *call, *f;

    list = cJSON_GetObjectItemCaseSensitive(m->message, "tool_calls");
    if (list == NULL) {
        list = cJSON_AddArrayToObject(m->message, "tool_calls");
    }

    if (!cJSON_IsArray(calls) || cJSON_GetArraySize(calls) != 1) {
        return oa_fail(m, "tool_calls delta is not an array of one");
    }

    d = cJSON_GetArrayItem(calls, 0);
    idx = cJSON_GetObjectItemCaseSensitive(d, "index");

    if (!cJSON_IsNumber(idx)) {
        return oa_fail(m, "a tool-call delta without an integer index");
    }

    index = idx->valueint;
    first = index == cJSON_GetArraySize(list);

    if (index < 0 || index > cJSON_GetArraySize(list)) {
        return oa_fail(m, "tool-call index %d out of order", index);
    }

    id = cJSON_GetObjectItemCaseSensitive(d, "id");
    type = cJSON_GetObjectItemCaseSensitive(d, "type");
    fn = cJSON_GetObjectItemCaseSensitive(d, "function");
    name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");

    if (first) {
        if (!cJSON_IsString(id) || !cJSON_IsString(type)
            || strcmp(type->valuestring, "function") != 0
            || !cJSON_IsString(name) || !cJSON_IsString(args))
        {
            return oa_fail(m, "the first delta of call %d lacks id, type, "
                           "name or arguments", index);
        }

        call = cJSON_CreateObject();
        cJSON_AddStringToObject(call, "id", id->valuestring);
        cJSON_AddStringToObject(call, "type", "function");
        f = cJSON_AddObjectToObject(call, "function");
        cJSON_AddStringToObject(f, "name", name->valuestring);
        cJSON_AddStringToObject(f, "arguments", args->valuestring);
        cJSON_AddItemToArray(list, call);

        return 0;
    }

    if (id != NULL || type != NULL || name != NULL) {
        return oa_fail(m, "a later delta of call %d repeats id, type or "
                       "name", index);
    }

    if (!cJSON_IsString(args)) {
        return oa_fail(m, "a later delta of call %d has no arguments",
                       index);
    }

    call = cJSON_GetArrayItem(list, index);
    oa_concat(cJSON_GetObjectItemCaseSensitive(call, "function"),
              "arguments", args->valuestring);

    return 0;
}


static OA_UNUSED int
oa_chunk(oa_msg_t *m, cJSON *c, int include_usage)
{
    cJSON  *id, *obj, *created, *choices, *choice, *delta, *finish, *usage,
           *item, *fc;

    if (m->done) {
        return oa_fail(m, "data after [DONE]");
    }

    if (m->error != NULL) {
        return oa_fail(m, "data after the error chunk");
    }

    item = cJSON_GetObjectItemCaseSensitive(c, "error");
    if (item != NULL) {
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item,
                                                             "message"))
            || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item,
                                                                "type")))
        {
            return oa_fail(m, "an error chunk without message and type");
        }

        m->error = cJSON_Duplicate(item, 1);
        return 0;
    }

    id = cJSON_GetObjectItemCaseSensitive(c, "id");
    obj = cJSON_GetObjectItemCaseSensitive(c, "object");
    created = cJSON_GetObjectItemCaseSensitive(c, "created");
    choices = cJSON_GetObjectItemCaseSensitive(c, "choices");
    usage = cJSON_GetObjectItemCaseSensitive(c, "usage");

    if (!cJSON_IsString(id) || !sse_is_str(c, "object",
                                           "chat.completion.chunk")
        || !cJSON_IsNumber(created) || !cJSON_IsArray(choices)
        || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(c, "model")))
    {
        return oa_fail(m, "chunk %d lacks id, object, created, model or "
                       "choices", m->chunks);
    }

    (void) obj;

    if (m->chunks == 0) {
        snprintf(m->id, sizeof(m->id), "%s", id->valuestring);
        m->created = (long long) created->valuedouble;

    } else if (strcmp(m->id, id->valuestring) != 0
               || m->created != (long long) created->valuedouble)
    {
        return oa_fail(m, "chunk %d changes id or created", m->chunks);
    }

    m->chunks++;

    if (m->usage != NULL) {
        return oa_fail(m, "a chunk after the usage chunk");
    }

    if (cJSON_GetArraySize(choices) == 0) {
        if (!include_usage || !cJSON_IsObject(usage)) {
            return oa_fail(m, "an empty choices chunk that is not usage");
        }

        m->usage = cJSON_Duplicate(usage, 1);
        return 0;
    }

    if (include_usage ? !cJSON_IsNull(usage) : usage != NULL) {
        return oa_fail(m, "chunk %d: usage must be %s", m->chunks,
                       include_usage ? "null" : "absent");
    }

    if (cJSON_GetArraySize(choices) != 1) {
        return oa_fail(m, "more than one choice");
    }

    choice = cJSON_GetArrayItem(choices, 0);
    delta = cJSON_GetObjectItemCaseSensitive(choice, "delta");
    finish = cJSON_GetObjectItemCaseSensitive(choice, "finish_reason");

    if (!cJSON_IsObject(delta)
        || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(choice, "index")))
    {
        return oa_fail(m, "a choice without index or delta");
    }

    if (m->finish[0]) {
        return oa_fail(m, "a choice after the finish_reason");
    }

    item = cJSON_GetObjectItemCaseSensitive(delta, "role");

    if ((m->chunks == 1) != (item != NULL)) {
        return oa_fail(m, "the role must be in the first delta only");
    }

    if (item && !sse_is_str(delta, "role", "assistant")) {
        return oa_fail(m, "the role is not assistant");
    }

    item = cJSON_GetObjectItemCaseSensitive(delta, "content");
    if (cJSON_IsString(item)) {
        oa_concat(m->message, "content", item->valuestring);
    }

    item = cJSON_GetObjectItemCaseSensitive(delta, "reasoning_content");
    if (cJSON_IsString(item)) {
        oa_concat(m->message, "reasoning_content", item->valuestring);
    }

    item = cJSON_GetObjectItemCaseSensitive(delta, "tool_calls");
    if (item != NULL && oa_tool_delta(m, item) != 0) {
        return -1;
    }

    item = cJSON_GetObjectItemCaseSensitive(delta, "function_call");
    if (item != NULL) {
        fc = cJSON_GetObjectItemCaseSensitive(m->message, "function_call");

        if (fc == NULL) {
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(item,
                                                                 "name")))
            {
                return oa_fail(m, "the first function_call has no name");
            }

            cJSON_AddItemToObject(m->message, "function_call",
                                  cJSON_Duplicate(item, 1));

        } else {
            if (cJSON_GetObjectItemCaseSensitive(item, "name") != NULL) {
                return oa_fail(m, "function_call repeats its name");
            }

            oa_concat(fc, "arguments",
                      cJSON_GetObjectItemCaseSensitive(item, "arguments")
                      ->valuestring);
        }
    }

    if (cJSON_IsString(finish)) {
        if (cJSON_GetArraySize(delta) != 0) {
            return oa_fail(m, "the finish_reason chunk carries a delta");
        }

        snprintf(m->finish, sizeof(m->finish), "%s", finish->valuestring);

    } else if (!cJSON_IsNull(finish)) {
        return oa_fail(m, "finish_reason is neither a string nor null");
    }

    return 0;
}


/* 0: a well-formed stream, rebuilt in m; -1: m->why says what is wrong */
static OA_UNUSED int
oa_parse(const unsigned char *p, size_t len, int include_usage, oa_msg_t *m)
{
    int                   rc;
    char                 *line;
    cJSON                *c;
    const unsigned char  *end, *nl;

    memset(m, 0, sizeof(oa_msg_t));
    m->message = cJSON_CreateObject();
    cJSON_AddStringToObject(m->message, "role", "assistant");

    end = p + len;

    while (p < end) {
        nl = memchr(p, '\n', end - p);

        if (nl == NULL || nl + 1 >= end || nl[1] != '\n') {
            return oa_fail(m, "a frame does not end with a blank line");
        }

        if (*p == ':') {
            m->comments++;
            p = nl + 2;
            continue;
        }

        if (end - p < 6 || memcmp(p, "data: ", 6) != 0) {
            return oa_fail(m, "a line that is neither data nor a comment");
        }

        line = strndup((char *) p + 6, nl - p - 6);
        p = nl + 2;

        if (strcmp(line, "[DONE]") == 0) {
            free(line);

            if (m->done || m->error) {
                return oa_fail(m, "[DONE] twice or after an error");
            }

            m->done = 1;
            continue;
        }

        c = cJSON_Parse(line);
        free(line);

        if (!cJSON_IsObject(c)) {
            cJSON_Delete(c);
            return oa_fail(m, "data that is not a JSON object");
        }

        rc = oa_chunk(m, c, include_usage);
        cJSON_Delete(c);

        if (rc != 0) {
            return -1;
        }
    }

    if (m->error) {
        return 0;
    }

    if (!m->done || m->finish[0] == '\0') {
        return oa_fail(m, "the stream lacks %s",
                       m->done ? "a finish_reason" : "[DONE]");
    }

    if (include_usage && m->usage == NULL) {
        return oa_fail(m, "no usage chunk");
    }

    return 0;
}


static OA_UNUSED void
oa_msg_free(oa_msg_t *m)
{
    cJSON_Delete(m->message);
    cJSON_Delete(m->usage);
    cJSON_Delete(m->error);
}


/*
 * The stream: false answer says what the stream said: message fields and
 * finish_reason, content null where the stream had none.
 */
static OA_UNUSED int
oa_same(const oa_msg_t *m, cJSON *json, char *why, size_t size)
{
    cJSON  *choice, *msg, *want, *item;

    choice = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(json,
                                                                 "choices"),
                                0);
    msg = cJSON_GetObjectItemCaseSensitive(choice, "message");

    if (!sse_is_str(choice, "finish_reason", m->finish)) {
        snprintf(why, size, "finish_reason differs from \"%s\"", m->finish);
        return -1;
    }

    want = cJSON_Duplicate(m->message, 1);

    if (cJSON_GetObjectItemCaseSensitive(want, "content") == NULL) {
        cJSON_AddNullToObject(want, "content");
    }

    cJSON_AddNullToObject(want, "refusal");

    item = cJSON_GetObjectItemCaseSensitive(want, "tool_calls");
    if (item != NULL && cJSON_GetArraySize(item) == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(want, "tool_calls");
    }

    if (!cJSON_Compare(want, msg, 0)) {
        char  *a, *b;

        a = cJSON_PrintUnformatted(want);
        b = cJSON_PrintUnformatted(msg);
        snprintf(why, size, "stream %.100s / non-stream %.100s", a, b);
        free(a);
        free(b);
        cJSON_Delete(want);
        return -1;
    }

    cJSON_Delete(want);

    return 0;
}


/* a body for q2api_openai_parse, written with ' for " */
static OA_UNUSED int
oa_parse_body(q2api_request_t *req, const char *body, q2api_error_t *err)
{
    int    rc;
    char  *b;

    b = jq(body);
    q2api_request_init(req);
    memset(err, 0, sizeof(q2api_error_t));
    rc = q2api_openai_parse(req, b, strlen(b), err);
    free(b);

    return rc;
}


static OA_UNUSED void
oa_rejects(const char *body, const char *want, const char *name)
{
    int              rc;
    char             what[200];
    q2api_error_t    err;
    q2api_request_t  req;

    rc = oa_parse_body(&req, body, &err);

    snprintf(what, sizeof(what), "%s: refused as a bad request", name);
    ok(rc == Q2API_ERROR && err.kind == Q2API_ERR_INVALID_REQUEST, what);

    snprintf(what, sizeof(what), "%s: says '%s'", name, want);
    if (!ok(strstr(err.message, want) != NULL, what)) {
        diag("message: %s", err.message);
    }

    q2api_request_free(&req);
}


static OA_UNUSED int
oa_accepts(q2api_request_t *req, const char *body, const char *name)
{
    int            rc;
    q2api_error_t  err;

    rc = oa_parse_body(req, body, &err);

    if (!ok(rc == Q2API_OK, name)) {
        diag("error: %s", err.message);
    }

    return rc;
}


/*
 * Runs a script through a fresh encoder for a request body (its stream
 * and stream_options count); the finish unless the script ended in error.
 */
static OA_UNUSED int
oa_run(const step_t *st, const char *body, q2api_buf_t *out)
{
    int                     rc;
    q2api_event_t           ev;
    q2api_error_t           err;
    q2api_request_t         req;
    q2api_openai_stream_t   s;

    if (oa_parse_body(&req, body, &err) != Q2API_OK) {
        diag("script body refused: %s", err.message);
        return Q2API_ERROR;
    }

    rc = q2api_openai_stream_init(&s, out, &req);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* fixed, for exact comparisons */
    memcpy(s.id, "chatcmpl-test", 14);
    s.created = 1700000000;
    s.input_tokens = 10;

    for ( ; st->type >= 0; st++) {
        step_event(st, &ev);

        if (q2api_openai_stream_event(&s, &ev) != Q2API_OK) {
            rc = Q2API_ERROR;
        }
    }

    if (q2api_openai_stream_finish(&s) != Q2API_OK
        || q2api_openai_stream_finish(&s) != Q2API_OK)
    {
        rc = Q2API_ERROR;
    }

    q2api_openai_stream_free(&s);
    q2api_request_free(&req);

    return rc;
}


/* the buffer's bytes as a C string, for strstr() */
static OA_UNUSED const char *
oa_cstr(q2api_buf_t *b)
{
    q2api_buf_append_byte(b, '\0');
    b->len--;

    return (const char *) b->data;
}


#define OA_MSG  "'messages':[{'role':'user','content':'hi'}]"
#define OA_STREAM  "{'model':'gpt-test','stream':true," OA_MSG "}"
#define OA_PLAIN  "{'model':'gpt-test'," OA_MSG "}"


/*
 * The script streamed (well formed, rebuilt in *m) and not streamed (the
 * same message); the stream's bytes in *sse if not NULL.
 */
static OA_UNUSED void
oa_both(const step_t *st, const char *stream_body, const char *plain_body,
    int include_usage, const char *name, oa_msg_t *m, q2api_buf_t *sse)
{
    char          what[200], why[256];
    cJSON        *json;
    q2api_buf_t   out;

    q2api_buf_init(&out, 0);

    snprintf(what, sizeof(what), "%s: stream ok", name);
    is_int(oa_run(st, stream_body, &out), Q2API_OK, what);

    snprintf(what, sizeof(what), "%s: well-formed chunks", name);
    if (!ok(oa_parse(out.data, out.len, include_usage, m) == 0, what)) {
        diag("%s", m->why);
        diag("stream: %.*s", (int) out.len, (char *) out.data);
    }

    if (sse != NULL) {
        q2api_buf_append(sse, out.data, out.len);
    }

    q2api_buf_reset(&out);

    snprintf(what, sizeof(what), "%s: non-stream ok", name);
    is_int(oa_run(st, plain_body, &out), Q2API_OK, what);

    json = parse_body(&out);
    snprintf(what, sizeof(what), "%s: non-stream is one chat.completion",
             name);
    ok(sse_is_str(json, "object", "chat.completion"), what);

    snprintf(what, sizeof(what), "%s: non-stream says what the stream said",
             name);
    if (!ok(oa_same(m, json, why, sizeof(why)) == 0, what)) {
        diag("%s", why);
    }

    cJSON_Delete(json);
    q2api_buf_free(&out);
}


#endif /* _OPENAI_CHECK_H_INCLUDED_ */
