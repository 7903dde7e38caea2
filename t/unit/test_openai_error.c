/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * OpenAI's error envelope for every canonical kind (status, type, code,
 * param), and the entry in the front-end table: its model list, its
 * dialect markers and paths.
 */


#include "openai_check.h"
#include "q2api_front.h"


#define is_lit(b, lit, name)                                               \
    is_mem((b).data, (b).len, lit, sizeof(lit) - 1, name)


static void
test_kinds(void)
{
    size_t        i;
    char          name[128];
    cJSON        *j, *e;
    q2api_buf_t   b;

    static const struct {
        q2api_err_e   kind;
        int           status;
        const char   *message;
        const char   *type;
        const char   *code;     /* NULL: null */
        const char   *param;    /* NULL: null */
    } kinds[] = {
        { Q2API_ERR_INVALID_REQUEST, 400, "messages.0.role: bad",
          "invalid_request_error", NULL, "messages.0.role" },
        { Q2API_ERR_INVALID_REQUEST, 400, "request body is not valid JSON",
          "invalid_request_error", NULL, NULL },
        { Q2API_ERR_CONTEXT_EXCEEDED, 400, "Input is too long.",
          "invalid_request_error", "context_length_exceeded", NULL },
        { Q2API_ERR_AUTHENTICATION, 401, "invalid x-api-key",
          "invalid_request_error", "invalid_api_key", NULL },
        { Q2API_ERR_PERMISSION, 403, "no", "permission_error",
          "permission_denied", NULL },
        { Q2API_ERR_NOT_FOUND, 404, "model: gpt-9", "invalid_request_error",
          "model_not_found", "model" },
        { Q2API_ERR_NOT_FOUND, 404, "no such endpoint",
          "invalid_request_error", "not_found", NULL },
        { Q2API_ERR_METHOD, 405, "method not allowed",
          "invalid_request_error", NULL, NULL },
        { Q2API_ERR_TOO_LARGE, 413, "too large", "invalid_request_error",
          "request_too_large", NULL },
        { Q2API_ERR_RATE_LIMIT, 429, "slow down", "requests",
          "rate_limit_exceeded", NULL },
        { Q2API_ERR_API, 500, "oops", "server_error", NULL, NULL },
        { Q2API_ERR_BAD_GATEWAY, 502, "unreachable", "server_error",
          "bad_gateway", NULL },
        { Q2API_ERR_UNAVAILABLE, 503, "none", "server_error",
          "service_unavailable", NULL },
        { Q2API_ERR_OVERLOADED, 503, "busy", "server_error",
          "service_unavailable", NULL },
        { Q2API_ERR_TIMEOUT, 504, "late", "server_error", "timeout", NULL }
    };

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        q2api_buf_init(&b, 0);
        q2api_openai_error_body(&b, kinds[i].kind, kinds[i].message,
                                "req_1");
        j = parse_body(&b);
        e = cJSON_GetObjectItem(j, "error");

        snprintf(name, sizeof(name), "%s: status %d", kinds[i].message,
                 kinds[i].status);
        is_int(q2api_openai_error_status(kinds[i].kind), kinds[i].status,
               name);

        snprintf(name, sizeof(name), "%s: type %s", kinds[i].message,
                 kinds[i].type);
        ok(sse_is_str(e, "message", kinds[i].message)
           && sse_is_str(e, "type", kinds[i].type), name);

        snprintf(name, sizeof(name), "%s: code and param", kinds[i].message);
        ok((kinds[i].code ? sse_is_str(e, "code", kinds[i].code)
                          : cJSON_IsNull(cJSON_GetObjectItem(e, "code")))
           && (kinds[i].param ? sse_is_str(e, "param", kinds[i].param)
                              : cJSON_IsNull(cJSON_GetObjectItem(e,
                                                                 "param"))),
           name);

        cJSON_Delete(j);
        q2api_buf_free(&b);
    }

    q2api_buf_init(&b, 0);
    q2api_openai_error_body(&b, Q2API_ERR_API, "a \"quoted\"\n line", NULL);
    is_lit(b,
           "{\"error\":{\"message\":\"a \\\"quoted\\\"\\n line\",\"type\":"
           "\"server_error\",\"param\":null,\"code\":null}}",
           "no request id: the bare envelope, escaped");
    q2api_buf_free(&b);
}


static void
test_entry(void)
{
    q2api_buf_t           b;
    const q2api_front_t  *f;
    const q2api_model_t  *list[2];

    static const q2api_model_t  m[2] = {
        { "claude-a", "a", "A", "2025-09-29T00:00:00Z", NULL },
        { "claude-b", "b", "B", "bogus", NULL }
    };

    f = q2api_front_find("openai", 6);
    if (!ok(f != NULL, "openai is a front end")) {
        return;
    }

    ok(strcmp(f->messages_path, "/chat/completions") == 0
       && f->count_tokens_path == NULL && f->markers == NULL
       && !f->models_paged,
       "openai: /chat/completions, no count_tokens, no markers, unpaged");
    ok(strcmp(f->request_id_header, "x-request-id") == 0,
       "openai: the request id where the SDKs read it");
    ok(q2api_front_find("claude", 6)->markers != NULL
       && q2api_front_find("claude", 6)->models_paged,
       "claude: marked by its headers, paged");

    list[0] = &m[0];
    list[1] = &m[1];

    q2api_buf_init(&b, 0);
    f->model_page(&b, list, 0, 2, 1);
    is_lit(b,
           "{\"object\":\"list\",\"data\":[{\"id\":\"claude-a\",\"object\":"
           "\"model\",\"created\":1759104000,\"owned_by\":\"anthropic\"},"
           "{\"id\":\"claude-b\",\"object\":\"model\",\"created\":0,"
           "\"owned_by\":\"anthropic\"}]}",
           "models: OpenAI's list, created as Unix time");
    q2api_buf_free(&b);

    q2api_buf_init(&b, 0);
    f->model(&b, &m[0]);
    is_lit(b,
           "{\"id\":\"claude-a\",\"object\":\"model\",\"created\":1759104000,"
           "\"owned_by\":\"anthropic\"}", "models/{id}: one model");
    q2api_buf_free(&b);
}


int
main(void)
{
    test_kinds();
    test_entry();

    return done_testing();
}
