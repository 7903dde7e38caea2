/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The front-end table: lookup by name, every entry complete, and each
 * entry's functions working through the table as the glue calls them.
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"
#include "sse_check.h"
#include "q2api_front.h"


static void
test_entries(void)
{
    char                  name[128];
    size_t                n;
    const q2api_front_t  **f;

    n = 0;

    for (f = q2api_fronts; *f != NULL; f++) {
        n++;

        snprintf(name, sizeof(name), "front %s: named", (*f)->name);
        ok((*f)->name != NULL && (*f)->name[0] != '\0'
           && (*f)->request_id_prefix != NULL && (*f)->stream_size > 0,
           name);

        snprintf(name, sizeof(name), "front %s: every function set",
                 (*f)->name);
        ok((*f)->parse && (*f)->stream_init && (*f)->stream_event
           && (*f)->stream_finish && (*f)->stream_error
           && (*f)->stream_ping && (*f)->stream_free && (*f)->error_status
           && (*f)->error_body && (*f)->model && (*f)->model_page, name);

        snprintf(name, sizeof(name), "front %s: found by its name",
                 (*f)->name);
        ok(q2api_front_find((*f)->name, strlen((*f)->name)) == *f, name);
    }

    ok(n >= 1, "at least one front end");

    ok(q2api_front_find("claude", 6) != NULL, "claude is a front end");
    ok(q2api_front_find("claudeX", 6) != NULL, "only len bytes are read");
    ok(q2api_front_find("claud", 5) == NULL, "a prefix is not a name");
    ok(q2api_front_find("claudes", 7) == NULL, "nor a longer name");
    ok(q2api_front_find("Claude", 6) == NULL, "names are case-sensitive");
    ok(q2api_front_find("", 0) == NULL, "empty: none");
}


/* the Claude entry through the table: parse, a reply, errors, models */
static void
test_claude(void)
{
    void                 *state;
    sse_msg_t             m;
    q2api_buf_t           out;
    q2api_error_t         err;
    q2api_event_t         ev;
    q2api_request_t       req;
    const q2api_model_t  *list[2];
    const q2api_front_t  *f;

    static const char  body[] = "{\"model\":\"claude-sonnet-4-5\","
                                "\"max_tokens\":10,\"stream\":true,"
                                "\"messages\":[{\"role\":\"user\","
                                "\"content\":\"hi\"}]}";

    f = q2api_front_find("claude", 6);
    if (!ok(f != NULL, "claude front")) {
        return;
    }

    is_str(f->request_id_prefix, "req_", "request ids start req_");

    q2api_request_init(&req);
    is_int(f->parse(&req, body, sizeof(body) - 1, &err), Q2API_OK,
           "parse through the table");
    ok(req.stream && req.nmessages == 1, "the request");

    state = calloc(1, f->stream_size);
    q2api_buf_init(&out, 0);

    is_int(f->stream_init(state, &out, &req), Q2API_OK, "stream_init");

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);
    ev.type = Q2API_EV_TEXT;
    ev.text.data = "hello";
    ev.text.len = 5;

    is_int(f->stream_event(state, &ev), Q2API_OK, "stream_event");
    is_int(f->stream_ping(state), Q2API_OK, "stream_ping");
    is_int(f->stream_finish(state), Q2API_OK, "stream_finish");

    if (!ok(sse_parse(out.data, out.len, &m) == 0, "a well-formed stream")) {
        diag("%s", m.why);
    }

    ok(m.message != NULL
       && sse_is_str(cJSON_GetArrayItem(cJSON_GetObjectItem(m.message,
                                                            "content"), 0),
                     "text", "hello"), "the text went through");
    sse_msg_free(&m);

    f->stream_free(state);
    free(state);
    q2api_request_free(&req);

    /* an error after the reply started */
    q2api_request_init(&req);
    f->parse(&req, body, sizeof(body) - 1, &err);
    state = calloc(1, f->stream_size);
    q2api_buf_reset(&out);
    f->stream_init(state, &out, &req);
    f->stream_ping(state);
    is_int(f->stream_error(state, Q2API_ERR_OVERLOADED, "busy"), Q2API_OK,
           "stream_error");
    q2api_buf_append_byte(&out, '\0');
    ok(strstr((char *) out.data, "event: error\ndata: {\"type\":\"error\","
              "\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\""
              "}}") != NULL, "the error event");
    f->stream_free(state);
    free(state);
    q2api_request_free(&req);

    /* free on zeroed state that init never saw */
    state = calloc(1, f->stream_size);
    f->stream_free(state);
    free(state);
    ok(1, "stream_free on zeroed state");

    /* a parse error in Anthropic's words */
    q2api_request_init(&req);
    is_int(f->parse(&req, "{}", 2, &err), Q2API_ERROR, "parse error");
    is_str(err.message, "model: field required", "its message");
    q2api_request_free(&req);

    /* errors before the reply */
    is_int(f->error_status(Q2API_ERR_RATE_LIMIT), 429, "error_status");
    is_int(f->error_status(Q2API_ERR_CONTEXT_EXCEEDED), 400,
           "error_status: context exceeded");

    q2api_buf_reset(&out);
    f->error_body(&out, Q2API_ERR_NOT_FOUND, "no such model", "req_1");
    is_mem(out.data, out.len,
           "{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\","
           "\"message\":\"no such model\"},\"request_id\":\"req_1\"}",
           sizeof("{\"type\":\"error\",\"error\":{\"type\":"
                  "\"not_found_error\",\"message\":\"no such model\"},"
                  "\"request_id\":\"req_1\"}") - 1, "error_body");

    /* the canonical kind carries the condition; the front end words it */
    q2api_buf_reset(&out);
    f->error_body(&out, Q2API_ERR_CONTEXT_EXCEEDED, "Input is too long.",
                  NULL);
    is_mem(out.data, out.len,
           "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\","
           "\"message\":\"prompt is too long: Input is too long.\"}}",
           sizeof("{\"type\":\"error\",\"error\":{\"type\":"
                  "\"invalid_request_error\",\"message\":\"prompt is too "
                  "long: Input is too long.\"}}") - 1,
           "error_body: context exceeded in Claude Code's words");

    /* the bound of every error message holds with the words added */
    {
        char  big[Q2API_ERR_MSG_LEN];

        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';

        q2api_buf_reset(&out);
        f->error_body(&out, Q2API_ERR_CONTEXT_EXCEEDED, big, NULL);
        ok(out.len < Q2API_ERR_MSG_LEN + 100,
           "error_body: context exceeded stays bounded");
    }

    /* models */
    list[0] = &q2api_builtin_models[0];
    list[1] = &q2api_builtin_models[1];

    q2api_buf_reset(&out);
    is_int(f->model(&out, list[0]), Q2API_OK, "model");
    q2api_buf_append_byte(&out, '\0');
    ok(strncmp((char *) out.data, "{\"type\":\"model\",\"id\":\"", 22) == 0,
       "model: Anthropic's shape");

    q2api_buf_reset(&out);
    is_int(f->model_page(&out, list, 0, 2, 1), Q2API_OK, "model_page");
    q2api_buf_append_byte(&out, '\0');
    {
        cJSON  *j;

        j = cJSON_Parse((char *) out.data);
        ok(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")) == 2
           && cJSON_IsTrue(cJSON_GetObjectItem(j, "has_more"))
           && sse_is_str(j, "first_id", list[0]->id)
           && sse_is_str(j, "last_id", list[1]->id), "model_page: a page");
        cJSON_Delete(j);
    }

    q2api_buf_reset(&out);
    f->model_page(&out, list, 0, 0, 0);
    is_mem(out.data, out.len,
           "{\"data\":[],\"has_more\":false,\"first_id\":null,"
           "\"last_id\":null}",
           sizeof("{\"data\":[],\"has_more\":false,\"first_id\":null,"
                  "\"last_id\":null}") - 1, "model_page: empty");

    q2api_buf_free(&out);
}


int
main(void)
{
    test_entries();
    test_claude();

    return done_testing();
}
