/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The encoder's exact SSE, and the stream: false JSON of the same events,
 * for canonical event sequences: text, thinking, tools, usage and stop,
 * escaping, many blocks.
 */


#include "claude_check.h"


static void
test_plain_text(void)
{
    sse_msg_t    m;
    q2api_buf_t  want, out;

    static const step_t  st[] = {
        BEGIN, TEXT("Hello"), TEXT(""), TEXT(" world"), END
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"Hello\"");
    w_delta(&want, 0, "text_delta", "text", "\" world\"");
    w_stop(&want, 0);
    w_tail(&want, "end_turn", 10, 0, 0, 3);

    both(st, &want, "plain text", &m);
    sse_msg_free(&m);
    q2api_buf_free(&want);

    /* the exact stream: false body */
    q2api_buf_init(&out, 0);
    run(st, 0, &out);
    {
        static const char  body[] =
            "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
            "\"model\":\"claude-test\",\"content\":[{\"type\":\"text\","
            "\"text\":\"Hello world\"}],\"stop_reason\":\"end_turn\","
            "\"stop_sequence\":null,\"usage\":{\"input_tokens\":10,"
            "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
            "\"output_tokens\":3}}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "plain text: exact non-stream body");
    }
    q2api_buf_free(&out);
}


static void
test_thinking(void)
{
    cJSON        *c;
    sse_msg_t     m;
    q2api_buf_t   want;

    static const step_t  st[] = {
        THINK("Let me"), THINK(" think"), SIG("sig-1"), SIG("sig-2"),
        TEXT("Answer"), END
    };

    static const step_t  redacted[] = {
        THINK("t"), REDACTED("opaque\""), REDACTED("two"), TEXT("b"), END
    };

    static const step_t  lone[] = {
        TEXT("a"), SIG("s"), TEXT("b"), THINK("t"), THINK(""), TEXT("c"), END
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_thinking(&want, 0);
    w_delta(&want, 0, "thinking_delta", "thinking", "\"Let me\"");
    w_delta(&want, 0, "thinking_delta", "thinking", "\" think\"");
    w_delta(&want, 0, "signature_delta", "signature", "\"sig-1\"");
    w_delta(&want, 0, "signature_delta", "signature", "\"sig-2\"");
    w_stop(&want, 0);
    w_text(&want, 1);
    w_delta(&want, 1, "text_delta", "text", "\"Answer\"");
    w_stop(&want, 1);
    /* thinking is not counted: 6 bytes of text */
    w_tail(&want, "end_turn", 10, 0, 0, 2);

    both(st, &want, "thinking then text", &m);

    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message, "content"), 0);
    ok(sse_is_str(c, "thinking", "Let me think")
       && sse_is_str(c, "signature", "sig-2"),
       "thinking: text joined, last signature wins");
    sse_msg_free(&m);

    /* a signature with no thinking open starts a thinking block */
    q2api_buf_reset(&want);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"a\"");
    w_stop(&want, 0);
    w_thinking(&want, 1);
    w_delta(&want, 1, "signature_delta", "signature", "\"s\"");
    w_stop(&want, 1);
    w_text(&want, 2);
    w_delta(&want, 2, "text_delta", "text", "\"b\"");
    w_stop(&want, 2);
    w_thinking(&want, 3);
    w_delta(&want, 3, "thinking_delta", "thinking", "\"t\"");
    w_stop(&want, 3);
    w_text(&want, 4);
    w_delta(&want, 4, "text_delta", "text", "\"c\"");
    w_stop(&want, 4);
    w_tail(&want, "end_turn", 10, 0, 0, 1);

    both(lone, &want, "lone signature", &m);
    is_int(m.nblocks, 5, "lone signature: five blocks");
    sse_msg_free(&m);

    /* redacted thinking: whole in its start event, one block each */
    q2api_buf_reset(&want);
    w_head(&want);
    w_thinking(&want, 0);
    w_delta(&want, 0, "thinking_delta", "thinking", "\"t\"");
    w_stop(&want, 0);
    wf(&want, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":1,\"content_block\":{\"type\":\"redacted_thinking\","
       "\"data\":\"opaque\\\"\"}}");
    w_stop(&want, 1);
    wf(&want, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":2,\"content_block\":{\"type\":\"redacted_thinking\","
       "\"data\":\"two\"}}");
    w_stop(&want, 2);
    w_text(&want, 3);
    w_delta(&want, 3, "text_delta", "text", "\"b\"");
    w_stop(&want, 3);
    w_tail(&want, "end_turn", 10, 0, 0, 1);

    both(redacted, &want, "redacted thinking", &m);
    sse_msg_free(&m);

    q2api_buf_free(&want);
}


static void
test_tools(void)
{
    cJSON        *content, *input, *want_in;
    sse_msg_t     m;
    q2api_buf_t   want;

    static const step_t  st[] = {
        TEXT("Let me check."),
        TOOL("toolu_1", "get_weather"),
        INPUT("{\"ci"), INPUT("ty\": \"Par"), INPUT(""), INPUT("is\"}"),
        TSTOP,
        TOOL("toolu_2", "get_time"),
        INPUT("{\"tz\":"), INPUT("\"UTC\",\"q\":\"a\\\"b\"}"),
        TSTOP,
        END
    };

    /* a tool started while another is open closes it; input with no
     * tool open, and a stop with none, are ignored; an open tool is
     * closed by the finish */
    static const step_t  odd[] = {
        INPUT("{\"lost\":1}"), TSTOP,
        TOOL("a", "x"), TOOL("b", "y"), INPUT("{}"), TSTOP, TSTOP,
        INPUT("{\"late\":1}"),
        TOOL("c", "z"), INPUT("{\"k\":"), INPUT("1}"),
        END
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"Let me check.\"");
    w_stop(&want, 0);
    w_tool(&want, 1, "toolu_1", "get_weather");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"{\\\"ci\"");
    w_delta(&want, 1, "input_json_delta", "partial_json",
            "\"ty\\\": \\\"Par\"");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"\"");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"is\\\"}\"");
    w_stop(&want, 1);
    w_tool(&want, 2, "toolu_2", "get_time");
    w_delta(&want, 2, "input_json_delta", "partial_json",
            "\"{\\\"tz\\\":\"");
    w_delta(&want, 2, "input_json_delta", "partial_json",
            "\"\\\"UTC\\\",\\\"q\\\":\\\"a\\\\\\\"b\\\"}\"");
    w_stop(&want, 2);
    /* 13 + 18 + 23 bytes */
    w_tail(&want, "tool_use", 10, 0, 0, 14);

    both(st, &want, "two tools", &m);

    content = cJSON_GetObjectItem(m.message, "content");
    is_int(cJSON_GetArraySize(content), 3, "two tools: three blocks");

    input = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 1), "input");
    want_in = cJSON_Parse("{\"city\":\"Paris\"}");
    ok(cJSON_Compare(input, want_in, 1),
       "tool 1: fragments join to {\"city\":\"Paris\"}");
    cJSON_Delete(want_in);

    input = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 2), "input");
    want_in = cJSON_Parse("{\"tz\":\"UTC\",\"q\":\"a\\\"b\"}");
    ok(cJSON_Compare(input, want_in, 1), "tool 2: fragments join");
    cJSON_Delete(want_in);

    ok(sse_is_str(cJSON_GetArrayItem(content, 2), "id", "toolu_2")
       && sse_is_str(cJSON_GetArrayItem(content, 2), "name", "get_time"),
       "tool 2: id and name");
    sse_msg_free(&m);

    q2api_buf_reset(&want);
    w_head(&want);
    w_tool(&want, 0, "a", "x");
    w_stop(&want, 0);
    w_tool(&want, 1, "b", "y");
    w_delta(&want, 1, "input_json_delta", "partial_json", "\"{}\"");
    w_stop(&want, 1);
    w_tool(&want, 2, "c", "z");
    w_delta(&want, 2, "input_json_delta", "partial_json", "\"{\\\"k\\\":\"");
    w_delta(&want, 2, "input_json_delta", "partial_json", "\"1}\"");
    w_stop(&want, 2);
    w_tail(&want, "tool_use", 10, 0, 0, 3);

    both(odd, &want, "odd tool sequences", &m);
    content = cJSON_GetObjectItem(m.message, "content");
    input = cJSON_GetObjectItem(cJSON_GetArrayItem(content, 0), "input");
    ok(cJSON_IsObject(input) && input->child == NULL,
       "tool without input: {}");
    sse_msg_free(&m);

    q2api_buf_free(&want);
}


/* tool input that is not one JSON object: {} in the stream: false body, as
 * Claude Code makes of the joined fragments */
static void
test_bad_tool_input(void)
{
    size_t        i;
    char          what[128], *canon;
    cJSON        *json, *input, *want_in;
    q2api_buf_t   out;
    step_t        st[6];

    static const struct {
        const char  *a, *b, *want;
    } cases[] = {
        { "{\"a\":", "1}", "{\"a\":1}" },
        { "{\"a\":1}", " \n", "{\"a\":1}" },
        { "\t{\"a\":1}", "", "{\"a\":1}" },
        { "{\"a\":", "", "{}" },
        { "{\"a\":1}", "{\"b\":2}", "{}" },
        { "{\"a\":1}", "x", "{}" },
        { "[1,2]", "", "{}" },
        { "\"str\"", "", "{}" },
        { "", "", "{}" },
        { "null", "", "{}" },
        /* what cJSON takes beyond JSON is printed as JSON */
        { "{\"a\":01", "}", "{\"a\":1}" },
        { "{\x01\"a\":1.}", "\x01", "{\"a\":1}" },
        { "{\"a\":\"x\\u0001\"}", "", "{\"a\":\"x\\u0001\"}" },
        { "{\"a\":1e999}", "", "{\"a\":null}" },
        /* not UTF-8 */
        { "{\"a\":\"\xff\"}", "", "{}" }
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(st, 0, sizeof(st));
        st[0] = (step_t) TOOL("t", "n");
        st[1] = (step_t) INPUT(cases[i].a);
        st[2] = (step_t) INPUT(cases[i].b);
        st[3] = (step_t) TSTOP;
        st[4] = (step_t) END;

        q2api_buf_init(&out, 0);
        run(st, 0, &out);

        json = parse_body(&out);
        input = cJSON_GetObjectItem(cJSON_GetArrayItem(
                    cJSON_GetObjectItem(json, "content"), 0), "input");
        want_in = cJSON_Parse(cases[i].want);

        /* no control characters in a TAP line */
        snprintf(what, sizeof(what), "non-stream input #%zu '%s' -> %s", i,
                 (unsigned char) cases[i].a[0] < ' '
                 || strchr(cases[i].a, 1) || strchr(cases[i].a, '\xff')
                 ? "(control)" : cases[i].a,
                 cases[i].want);
        if (!ok(json != NULL && cJSON_Compare(input, want_in, 1), what)) {
            diag("body: %.*s", (int) out.len, (char *) out.data);
        }

        /* and literally so: the body is strict JSON, not cJSON's dialect */
        canon = cJSON_PrintUnformatted(want_in);
        q2api_buf_append_byte(&out, '\0');
        snprintf(what, sizeof(what), "non-stream input #%zu: \"input\":%s",
                 i, canon);
        ok(strstr((char *) out.data, "\"input\":") != NULL
           && strncmp(strstr((char *) out.data, "\"input\":") + 8, canon,
                      strlen(canon)) == 0, what);
        ok(q2api_utf8_valid((char *) out.data, out.len - 1),
           "non-stream body is UTF-8");
        cJSON_free(canon);

        cJSON_Delete(want_in);
        cJSON_Delete(json);
        q2api_buf_free(&out);
    }
}


static void
test_no_events(void)
{
    sse_msg_t    m;
    q2api_buf_t  want, out;

    static const step_t  none[] = { END };
    static const step_t  begin_only[] = { BEGIN, TEXT(""), THINK(""), END };

    /*
     * An empty reply is content: [] as the real API sends it (e.g. an
     * end_turn right after a tool result); no empty text block is made up.
     */
    q2api_buf_init(&want, 0);
    w_head(&want);
    w_tail(&want, "end_turn", 10, 0, 0, 0);

    both(none, &want, "no events", &m);
    is_int(m.nblocks, 0, "no events: no blocks");
    sse_msg_free(&m);

    both(begin_only, &want, "only empty deltas", &m);
    sse_msg_free(&m);

    q2api_buf_init(&out, 0);
    run(none, 0, &out);
    {
        static const char  body[] =
            "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
            "\"model\":\"claude-test\",\"content\":[],\"stop_reason\":"
            "\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":"
            "10,\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":"
            "0,\"output_tokens\":0}}";

        is_mem(out.data, out.len, body, sizeof(body) - 1,
               "no events: exact non-stream body");
    }

    q2api_buf_free(&out);
    q2api_buf_free(&want);
}


static void
test_usage_and_stop(void)
{
    size_t       i;
    char         what[128];
    sse_msg_t    m;
    q2api_buf_t  want;

    static const step_t  usage[] = {
        TEXT("hi"),
        { .type = Q2API_EV_USAGE, .a = -1, .b = 5000, .c = 0, .d = 0 },
        { .type = Q2API_EV_USAGE, .a = 56, .b = -1, .c = 7, .d = 9 },
        { .type = Q2API_EV_USAGE, .a = -1, .b = -1, .c = 0, .d = 0 },
        END
    };

    static const struct {
        step_t       st[4];
        const char  *reason;
        int          tool;
    } stops[] = {
        { { TEXT("x"), END }, "end_turn", 0 },
        { { TOOL("t", "n"), TSTOP, END }, "tool_use", 1 },
        { { TEXT("x"), STOP(Q2API_STOP_TOOL_USE), END }, "tool_use", 0 },
        { { TOOL("t", "n"), STOP(Q2API_STOP_END_TURN), END }, "end_turn",
          1 },
        { { TEXT("x"), STOP(Q2API_STOP_MAX_TOKENS), END }, "max_tokens", 0 },
        { { TOOL("t", "n"), STOP(Q2API_STOP_MAX_TOKENS), END },
          "max_tokens", 1 },
        { { TEXT("x"), STOP(Q2API_STOP_CONTEXT_EXCEEDED), END },
          "model_context_window_exceeded", 0 },
        { { STOP(Q2API_STOP_MAX_TOKENS), STOP(Q2API_STOP_NONE), END },
          "end_turn", 0 }
    };

    q2api_buf_init(&want, 0);
    w_head(&want);
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text", "\"hi\"");
    w_stop(&want, 0);
    w_tail(&want, "end_turn", 5000, 9, 7, 56);

    both(usage, &want, "usage event", &m);
    sse_msg_free(&m);

    for (i = 0; i < sizeof(stops) / sizeof(stops[0]); i++) {
        q2api_buf_reset(&want);
        w_head(&want);

        if (stops[i].tool) {
            w_tool(&want, 0, "t", "n");
        } else if (stops[i].st[0].type == Q2API_EV_TEXT) {
            w_text(&want, 0);
            w_delta(&want, 0, "text_delta", "text", "\"x\"");
        }

        if (stops[i].tool || stops[i].st[0].type == Q2API_EV_TEXT) {
            w_stop(&want, 0);
        }

        w_tail(&want, stops[i].reason, 10, 0, 0,
               stops[i].st[0].type == Q2API_EV_TEXT ? 1 : 0);

        snprintf(what, sizeof(what), "stop reason %s (%zu)",
                 stops[i].reason, i);
        both(stops[i].st, &want, what, &m);
        sse_msg_free(&m);
    }

    q2api_buf_free(&want);
}


static void
test_escaping(void)
{
    sse_msg_t     m;
    q2api_buf_t   want;
    cJSON        *c;

    static const step_t  st[] = {
        TEXT("q\" b\\ n\n t\t c\x01 d\x7f bad\xff\xfe"),
        TEXT(" caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8"),
        TOOL("id\"1", "na\\me\n"),
        INPUT("{\"k\":\"\\u00e9\xc3\xa9\"}"),
        TSTOP,
        END
    };

    test_model = "model \"x\" \xc3\xa9";

    q2api_buf_init(&want, 0);
    wf(&want, "message_start", "{\"type\":\"message_start\",\"message\":"
       "{\"id\":\"msg_test\",\"type\":\"message\",\"role\":\"assistant\","
       "\"model\":\"model \\\"x\\\" \xc3\xa9\",\"content\":[],"
       "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":" USAGE_FMT
       "}}", 10LL, 0LL, 0LL, 1LL);
    w(&want, "ping", "{\"type\":\"ping\"}");
    w_text(&want, 0);
    w_delta(&want, 0, "text_delta", "text",
            "\"q\\\" b\\\\ n\\n t\\t c\\u0001 d\x7f bad\\ufffd\\ufffd\"");
    w_delta(&want, 0, "text_delta", "text",
            "\" caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8\"");
    w_stop(&want, 0);
    wf(&want, "content_block_start", "{\"type\":\"content_block_start\","
       "\"index\":1,\"content_block\":{\"type\":\"tool_use\","
       "\"id\":\"id\\\"1\",\"name\":\"na\\\\me\\n\",\"input\":{}}}");
    w_delta(&want, 1, "input_json_delta", "partial_json",
            "\"{\\\"k\\\":\\\"\\\\u00e9\xc3\xa9\\\"}\"");
    w_stop(&want, 1);
    w_tail(&want, "tool_use", 10, 0, 0, 15);

    both(st, &want, "escaping", &m);

    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message, "content"), 0);
    ok(sse_is_str(c, "text", "q\" b\\ n\n t\t c\x01 d\x7f bad\xef\xbf\xbd"
                  "\xef\xbf\xbd caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 "
                  "\xe2\x80\xa8"), "escaped text decodes back");
    c = cJSON_GetArrayItem(cJSON_GetObjectItem(m.message, "content"), 1);
    ok(sse_is_str(cJSON_GetObjectItem(c, "input"), "k",
                  "\xc3\xa9\xc3\xa9"), "tool input decodes back");
    sse_msg_free(&m);

    test_model = "claude-test";
    q2api_buf_free(&want);
}


static void
test_many_blocks(void)
{
    int           i;
    sse_msg_t     m;
    cJSON        *json;
    q2api_buf_t   out;
    char          why[128];
    step_t        st[202];

    for (i = 0; i < 200; i += 2) {
        st[i] = (step_t) TEXT("t");
        st[i + 1] = (step_t) THINK("k");
    }

    st[200] = (step_t) END;

    q2api_buf_init(&out, 0);
    run(st, 1, &out);
    ok(sse_parse(out.data, out.len, &m) == 0 && m.nblocks == 200,
       "200 alternating blocks stream");

    q2api_buf_reset(&out);
    run(st, 0, &out);
    json = parse_body(&out);
    ok(sse_same_message(&m, json, why, sizeof(why)) == 0,
       "200 blocks: non-stream the same");

    cJSON_Delete(json);
    sse_msg_free(&m);
    q2api_buf_free(&out);
}


int
main(void)
{
    test_plain_text();
    test_thinking();
    test_tools();
    test_bad_tool_input();
    test_no_events();
    test_usage_and_stop();
    test_escaping();
    test_many_blocks();

    return done_testing();
}
