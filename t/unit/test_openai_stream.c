/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The OpenAI encoder: exact chunks for text, the stream: false body, tool
 * calls by index split at every byte (multi-byte arguments too), parallel
 * calls, reasoning_content, include_usage, legacy function_call, finish
 * reasons, errors after the first byte and keep-alive comments.
 */


#include "openai_check.h"


#define CHUNK(delta, finish)                                               \
    "data: {\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\"," \
    "\"created\":1700000000,\"model\":\"gpt-test\",\"choices\":[{"          \
    "\"index\":0,\"delta\":" delta ",\"logprobs\":null,\"finish_reason\":" \
    finish "}]}\n\n"


static void
test_text(void)
{
    oa_msg_t     m;
    q2api_buf_t  out;

    static const step_t  st[] = {
        BEGIN, TEXT("Hel"), TEXT(""), TEXT("lo \"w\xc3\xb6rld\"\n"), END
    };

    static const char  want[] =
        CHUNK("{\"role\":\"assistant\",\"content\":null}", "null")
        CHUNK("{\"content\":\"Hel\"}", "null")
        CHUNK("{\"content\":\"lo \\\"w\xc3\xb6rld\\\"\\n\"}", "null")
        CHUNK("{}", "\"stop\"")
        "data: [DONE]\n\n";

    static const char  plain[] =
        "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\","
        "\"created\":1700000000,\"model\":\"gpt-test\",\"choices\":[{"
        "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
        "\"Hello \\\"w\xc3\xb6rld\\\"\\n\",\"refusal\":null},"
        "\"logprobs\":null,\"finish_reason\":\"stop\"}],\"usage\":{"
        "\"prompt_tokens\":10,\"completion_tokens\":4,\"total_tokens\":14,"
        "\"prompt_tokens_details\":{\"cached_tokens\":0},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}";

    q2api_buf_init(&out, 0);
    oa_both(st, OA_STREAM, OA_PLAIN, 0, "text", &m, &out);
    is_mem(out.data, out.len, want, sizeof(want) - 1, "text: exact chunks");
    oa_msg_free(&m);

    q2api_buf_reset(&out);
    is_int(oa_run(st, OA_PLAIN, &out), Q2API_OK, "text: non-stream ran");
    is_mem(out.data, out.len, plain, sizeof(plain) - 1,
           "text: exact chat.completion");
    q2api_buf_free(&out);
}


/* the tool-call deltas, exactly: index everywhere, identity only first */
static void
test_tool_exact(void)
{
    oa_msg_t     m;
    q2api_buf_t  out;

    static const step_t  st[] = {
        TEXT("Checking."), TOOL("call_1", "get_weather"), INPUT("{\"ci"),
        INPUT("ty\":\"Paris\"}"), TSTOP, TOOL("call_2", "get_time"), TSTOP,
        STOP(Q2API_STOP_TOOL_USE), END
    };

    static const char  want[] =
        CHUNK("{\"role\":\"assistant\",\"content\":null}", "null")
        CHUNK("{\"content\":\"Checking.\"}", "null")
        CHUNK("{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":"
              "\"function\",\"function\":{\"name\":\"get_weather\","
              "\"arguments\":\"\"}}]}", "null")
        CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
              "\"{\\\"ci\"}}]}", "null")
        CHUNK("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":"
              "\"ty\\\":\\\"Paris\\\"}\"}}]}", "null")
        CHUNK("{\"tool_calls\":[{\"index\":1,\"id\":\"call_2\",\"type\":"
              "\"function\",\"function\":{\"name\":\"get_time\","
              "\"arguments\":\"\"}}]}", "null")
        /* a call without arguments gets {} */
        CHUNK("{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":"
              "\"{}\"}}]}", "null")
        CHUNK("{}", "\"tool_calls\"")
        "data: [DONE]\n\n";

    q2api_buf_init(&out, 0);
    oa_both(st, OA_STREAM, OA_PLAIN, 0, "tools", &m, &out);
    is_mem(out.data, out.len, want, sizeof(want) - 1, "tools: exact chunks");
    ok(cJSON_IsNull(cJSON_GetObjectItem(m.message, "content")) == 0
       && sse_is_str(m.message, "content", "Checking."),
       "tools: the text before the calls is the content");
    oa_msg_free(&m);
    q2api_buf_free(&out);
}


/*
 * Arguments holding multi-byte characters, cut into two fragments at
 * every character boundary and into three at every pair: the fragments
 * join to the same JSON both ways, and the ids come back unchanged.
 */
static void
test_tool_splits(void)
{
    int          i, j, n, bad;
    char         a[64], b[64], c[64], name[64];
    cJSON        *call, *args;
    oa_msg_t     m;
    const char   *got;

    static const char  input[] =
        "{\"city\":\"M\xc3\xbcnchen \xe6\x9d\xb1\xe4\xba\xac\","
        "\"emoji\":\"\xf0\x9f\x98\x80\",\"n\":[1,2]}";

    n = sizeof(input) - 1;
    bad = 0;

    for (i = 1; i < n; i++) {
        for (j = i; j < n; j++) {
            /* cut between characters, never inside one */
            if ((input[i] & 0xc0) == 0x80 || (input[j] & 0xc0) == 0x80) {
                continue;
            }

            snprintf(a, sizeof(a), "%.*s", i, input);
            snprintf(b, sizeof(b), "%.*s", j - i, input + i);
            snprintf(c, sizeof(c), "%s", input + j);

            {
                step_t  st[] = {
                    TOOL("call_\xc3\xa9t\xc3\xa9", "f"), INPUT(a), INPUT(b),
                    INPUT(c), TSTOP, END
                };
                q2api_buf_t  out;

                q2api_buf_init(&out, 0);

                if (oa_run(st, OA_STREAM, &out) != Q2API_OK
                    || oa_parse(out.data, out.len, 0, &m) != 0)
                {
                    bad++;
                    diag("split %d/%d: %s", i, j, m.why);
                    oa_msg_free(&m);
                    q2api_buf_free(&out);
                    continue;
                }

                call = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message,
                                                              "tool_calls"),
                                          0);
                args = cJSON_GetObjectItem(cJSON_GetObjectItem(call,
                                                               "function"),
                                           "arguments");
                got = cJSON_IsString(args) ? args->valuestring : "";

                if (strcmp(got, input) != 0
                    || !sse_is_str(call, "id", "call_\xc3\xa9t\xc3\xa9")
                    || strcmp(m.finish, "tool_calls") != 0)
                {
                    bad++;
                    diag("split %d/%d: arguments '%s'", i, j, got);
                }

                oa_msg_free(&m);
                q2api_buf_free(&out);
            }
        }
    }

    is_int(bad, 0, "tool arguments: every split joins to the same JSON");

    /* and one split both ways through the full comparison */
    {
        step_t  st[] = {
            TOOL("call_x", "f"), INPUT("{\"city\":\"M\xc3\xbc"),
            INPUT("nchen\"}"), TSTOP, END
        };

        snprintf(name, sizeof(name), "multi-byte split");
        oa_both(st, OA_STREAM, OA_PLAIN, 0, name, &m, NULL);
        oa_msg_free(&m);
    }
}


static void
test_reasoning(void)
{
    cJSON        *json, *msg;
    oa_msg_t     m;
    q2api_buf_t  out;

    static const step_t  st[] = {
        THINK("Let me "), THINK("think."), SIG("sig"), REDACTED("x"),
        TEXT("Answer"), END
    };

    q2api_buf_init(&out, 0);
    oa_both(st, OA_STREAM, OA_PLAIN, 0, "reasoning", &m, &out);
    ok(sse_is_str(m.message, "reasoning_content", "Let me think."),
       "reasoning: streamed as reasoning_content");
    ok(strstr(oa_cstr(&out), "signature") == NULL
       && strstr(oa_cstr(&out), "redacted") == NULL,
       "reasoning: signatures and redacted thinking are not sent");
    oa_msg_free(&m);

    q2api_buf_reset(&out);
    oa_run(st, OA_PLAIN, &out);
    json = parse_body(&out);
    msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(json,
                                                 "choices"), 0), "message");
    ok(sse_is_str(msg, "reasoning_content", "Let me think.")
       && sse_is_str(msg, "content", "Answer"),
       "reasoning: message.reasoning_content when not streaming");
    is_int(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(json,
               "usage"), "completion_tokens_details"),
               "reasoning_tokens")->valueint, 4,
           "reasoning: reasoning_tokens estimated from its text");
    cJSON_Delete(json);
    q2api_buf_free(&out);
}


static void
test_usage(void)
{
    oa_msg_t     m;
    q2api_buf_t  out;

    static const step_t  st[] = {
        TEXT("Hi"), { .type = Q2API_EV_USAGE, .a = 7, .b = 20, .c = 5,
                      .d = 3 }, END
    };

    static const char  usage[] =
        "data: {\"id\":\"chatcmpl-test\",\"object\":\"chat.completion.chunk\","
        "\"created\":1700000000,\"model\":\"gpt-test\",\"choices\":[],"
        "\"usage\":{\"prompt_tokens\":28,\"completion_tokens\":7,"
        "\"total_tokens\":35,\"prompt_tokens_details\":{\"cached_tokens\":5},"
        "\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n"
        "data: [DONE]\n\n";

    q2api_buf_init(&out, 0);
    oa_both(st, "{'model':'gpt-test','stream':true,'stream_options':"
            "{'include_usage':true}," OA_MSG "}", OA_PLAIN, 1, "usage",
            &m, &out);
    ok(out.len > sizeof(usage)
       && memcmp(out.data + out.len - (sizeof(usage) - 1), usage,
                 sizeof(usage) - 1) == 0,
       "usage: the last chunk before [DONE], with choices []");
    ok(strstr(oa_cstr(&out), "\"finish_reason\":null}],\"usage\":null}")
       != NULL, "usage: other chunks carry usage null");
    oa_msg_free(&m);

    q2api_buf_reset(&out);
    oa_run(st, "{'model':'gpt-test','stream':true,'stream_options':"
           "{'include_usage':false}," OA_MSG "}", &out);
    ok(strstr(oa_cstr(&out), "usage") == NULL,
       "usage: no usage at all unless asked for");
    q2api_buf_free(&out);
}


static void
test_legacy_and_finish(void)
{
    oa_msg_t     m;
    q2api_buf_t  out;

    static const step_t  legacy[] = {
        TOOL("tu1", "f"), INPUT("{\"a\":"), INPUT("1}"), TSTOP,
        TOOL("tu2", "g"), INPUT("{}"), TSTOP, END
    };

    static const step_t  length[] = {
        TEXT("cut"), STOP(Q2API_STOP_MAX_TOKENS), END
    };

    static const step_t  context[] = {
        TEXT("cut"), STOP(Q2API_STOP_CONTEXT_EXCEEDED), END
    };

#define FUNCS "'functions':[{'name':'f'},{'name':'g'}],"

    q2api_buf_init(&out, 0);
    oa_both(legacy, "{'model':'m','stream':true," FUNCS OA_MSG "}",
            "{'model':'m'," FUNCS OA_MSG "}", 0, "legacy functions", &m,
            &out);
    ok(strcmp(m.finish, "function_call") == 0,
       "legacy: finish_reason function_call");
    ok(sse_is_str(cJSON_GetObjectItem(m.message, "function_call"),
                  "arguments", "{\"a\":1}")
       && strstr(oa_cstr(&out), "\"g\"") == NULL,
       "legacy: one function_call; a second call is dropped");
    oa_msg_free(&m);
    q2api_buf_free(&out);

    oa_both(length, OA_STREAM, OA_PLAIN, 0, "max tokens", &m, NULL);
    ok(strcmp(m.finish, "length") == 0, "max tokens: finish_reason length");
    oa_msg_free(&m);

    oa_both(context, OA_STREAM, OA_PLAIN, 0, "context", &m, NULL);
    ok(strcmp(m.finish, "length") == 0, "context full: finish_reason length");
    oa_msg_free(&m);
}


static void
test_error_and_ping(void)
{
    oa_msg_t               m;
    q2api_buf_t            out;
    q2api_error_t          err;
    q2api_request_t        req;
    q2api_openai_stream_t  s;

    static const step_t  st[] = {
        TEXT("partial"), ERR(Q2API_ERR_OVERLOADED, "boom"), TEXT("never"),
        END
    };

    q2api_buf_init(&out, 0);
    oa_run(st, OA_STREAM, &out);
    ok(oa_parse(out.data, out.len, 0, &m) == 0 && m.error != NULL,
       "error after the first byte: a data error chunk ends the stream");
    ok(sse_is_str(m.error, "type", "server_error")
       && sse_is_str(m.error, "message", "boom")
       && sse_is_str(m.error, "code", "service_unavailable"),
       "error chunk: OpenAI's envelope");
    ok(strstr(oa_cstr(&out), "never") == NULL
       && strstr(oa_cstr(&out), "[DONE]") == NULL,
       "error chunk: nothing after it");
    oa_msg_free(&m);

    /* pings: comments, before and between chunks */
    q2api_buf_reset(&out);
    oa_parse_body(&req, OA_STREAM, &err);
    q2api_openai_stream_init(&s, &out, &req);
    q2api_openai_stream_ping(&s);
    q2api_openai_stream_finish(&s);
    q2api_openai_stream_free(&s);

    ok(out.len > 15 && memcmp(out.data, ": keep-alive\n\n", 14) == 0,
       "ping: an SSE comment, never a data line");
    ok(oa_parse(out.data, out.len, 0, &m) == 0 && m.comments == 1,
       "ping: the stream stays well formed");
    oa_msg_free(&m);
    q2api_request_free(&req);

    /* stream: false pings write nothing */
    q2api_buf_reset(&out);
    oa_parse_body(&req, OA_PLAIN, &err);
    q2api_openai_stream_init(&s, &out, &req);
    q2api_openai_stream_ping(&s);
    is_int(out.len, 0, "ping: nothing when not streaming");
    q2api_openai_stream_free(&s);
    q2api_request_free(&req);

    q2api_buf_free(&out);
}


int
main(void)
{
    test_text();
    test_tool_exact();
    test_tool_splits();
    test_reasoning();
    test_usage();
    test_legacy_and_finish();
    test_error_and_ping();

    return done_testing();
}
