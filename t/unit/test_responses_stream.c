/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Canonical events into the Responses event stream and the Response
 * object: the text sequence byte for byte, items one after another
 * (reasoning, message, function and custom calls) with consistent
 * sequence numbers, indexes and ids at every split of their fragments,
 * stream: false giving the same items, encrypted_content, usage,
 * response.incomplete, and what a stored reply keeps.
 */


#include "responses_check.h"


#define RS_BODY(x)  "{'model':'m','stream':true" x ",'input':'hi'}"
#define RS_PLAIN(x)  "{'model':'m'" x ",'input':'hi'}"


#define is_lit(b, lit, name)                                               \
    is_mem((b).data, (b).len, lit, sizeof(lit) - 1, name)


static void
test_text_bytes(void)
{
    q2api_buf_t   out;

    static const step_t  script[] = {
        BEGIN, TEXT("Hel"), TEXT("lo"),
        { .type = Q2API_EV_USAGE, .a = 2, .b = 9, .c = 4, .d = 1 }, END
    };

#define R(status, out, usage)                                              \
    "{\"id\":\"resp_0123456789abcdef01234567\",\"object\":\"response\","   \
    "\"created_at\":1700000000,\"status\":\"" status "\",\"model\":\"m\"," \
    "\"output\":[" out "],\"usage\":" usage ",\"error\":null,"             \
    "\"incomplete_details\":null,\"instructions\":null,\"metadata\":{},"   \
    "\"parallel_tool_calls\":true,\"tool_choice\":\"auto\",\"tools\":[],"  \
    "\"temperature\":null,\"top_p\":null,\"max_output_tokens\":null,"      \
    "\"previous_response_id\":null,\"reasoning\":null,\"text\":"           \
    "{\"format\":{\"type\":\"text\"}},\"store\":true,"                     \
    "\"truncation\":\"disabled\"}"
#define ID  "msg_0123456789abcdef01234567_0"
#define ITEM                                                               \
    "{\"id\":\"" ID "\",\"type\":\"message\",\"status\":\"completed\","    \
    "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","       \
    "\"text\":\"Hello\",\"annotations\":[]}]}"

    q2api_buf_init(&out, 0);
    rs_run(script, RS_BODY(""), &out, NULL);

    is_lit(out,
        "event: response.created\ndata: {\"type\":\"response.created\","
        "\"sequence_number\":0,\"response\":" R("in_progress", "", "null")
        "}\n\n"
        "event: response.in_progress\ndata: {\"type\":"
        "\"response.in_progress\",\"sequence_number\":1,\"response\":"
        R("in_progress", "", "null") "}\n\n"
        "event: response.output_item.added\ndata: {\"type\":"
        "\"response.output_item.added\",\"sequence_number\":2,"
        "\"output_index\":0,\"item\":{\"id\":\"" ID "\",\"type\":"
        "\"message\",\"status\":\"in_progress\",\"role\":\"assistant\","
        "\"content\":[]}}\n\n"
        "event: response.content_part.added\ndata: {\"type\":"
        "\"response.content_part.added\",\"sequence_number\":3,\"item_id\":"
        "\"" ID "\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
        "\"output_text\",\"text\":\"\",\"annotations\":[]}}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":"
        "\"response.output_text.delta\",\"sequence_number\":4,\"item_id\":"
        "\"" ID "\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hel\","
        "\"logprobs\":[]}\n\n"
        "event: response.output_text.delta\ndata: {\"type\":"
        "\"response.output_text.delta\",\"sequence_number\":5,\"item_id\":"
        "\"" ID "\",\"output_index\":0,\"content_index\":0,\"delta\":\"lo\","
        "\"logprobs\":[]}\n\n"
        "event: response.output_text.done\ndata: {\"type\":"
        "\"response.output_text.done\",\"sequence_number\":6,\"item_id\":"
        "\"" ID "\",\"output_index\":0,\"content_index\":0,\"text\":"
        "\"Hello\",\"logprobs\":[]}\n\n"
        "event: response.content_part.done\ndata: {\"type\":"
        "\"response.content_part.done\",\"sequence_number\":7,\"item_id\":"
        "\"" ID "\",\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
        "\"output_text\",\"text\":\"Hello\",\"annotations\":[]}}\n\n"
        "event: response.output_item.done\ndata: {\"type\":"
        "\"response.output_item.done\",\"sequence_number\":8,"
        "\"output_index\":0,\"item\":" ITEM "}\n\n"
        "event: response.completed\ndata: {\"type\":\"response.completed\","
        "\"sequence_number\":9,\"response\":" R("completed", ITEM,
        "{\"input_tokens\":14,\"input_tokens_details\":{\"cached_tokens\":4},"
        "\"output_tokens\":2,\"output_tokens_details\":"
        "{\"reasoning_tokens\":0},\"total_tokens\":16}") "}\n\n",
        "text: the reference's sequence, byte for byte");

    q2api_buf_free(&out);

#undef ITEM
#undef ID
#undef R
}


/* the stream replays; stream: false has the same items and usage */
static void
same_both_ways(const step_t *script, const char *extra, const char *name,
    cJSON **items)
{
    char          what[160], body[256];
    cJSON        *plain;
    q2api_buf_t   sse, json;
    rs_replay_t   r;

    q2api_buf_init(&sse, 0);
    q2api_buf_init(&json, 0);

    snprintf(body, sizeof(body), RS_BODY("%s"), extra);
    rs_run(script, body, &sse, NULL);
    snprintf(body, sizeof(body), RS_PLAIN("%s"), extra);
    rs_run(script, body, &json, NULL);

    snprintf(what, sizeof(what), "%s: the stream replays", name);
    if (!ok(rs_replay(&sse, &r) == 0, what)) {
        diag("%s", r.why);
    }

    plain = cJSON_ParseWithLength((char *) json.data, json.len);

    snprintf(what, sizeof(what), "%s: stream false has the same output",
             name);
    ok(cJSON_Compare(cJSON_GetObjectItem(plain, "output"), r.output, 1),
       what);

    snprintf(what, sizeof(what), "%s: and the same usage", name);
    ok(cJSON_Compare(cJSON_GetObjectItem(plain, "usage"),
                     cJSON_GetObjectItem(r.response, "usage"), 1), what);

    if (items != NULL) {
        *items = cJSON_Duplicate(r.output, 1);
    }

    cJSON_Delete(plain);
    rs_replay_free(&r);
    q2api_buf_free(&sse);
    q2api_buf_free(&json);
}


static void
test_items(void)
{
    char   *s;
    cJSON  *items;

    static const step_t  script[] = {
        BEGIN, THINK("Let me "), THINK("plan."), SIG("c2ln"),
        TEXT("Running it."),
        TOOL("tooluse_1", "exec"), INPUT("{\"cmd\":"), INPUT("\"ls\"}"),
        TSTOP,
        TOOL("tooluse_2", "apply_patch"), INPUT("{\"input\":\"*** Begin"),
        INPUT(" Patch\\n\"}"), TSTOP,
        TOOL("tooluse_3", "noargs"), TSTOP,
        STOP(Q2API_STOP_TOOL_USE), END
    };

    items = NULL;
    same_both_ways(script, ",'include':['reasoning.encrypted_content'],"
                   "'tools':[{'type':'custom','name':'apply_patch'}]",
                   "items", &items);

    s = cJSON_PrintUnformatted(items);
    is_str(s ? s : "",
           "[{\"id\":\"rs_0123456789abcdef01234567_0\",\"type\":\"reasoning\","
           "\"summary\":[{\"type\":\"summary_text\",\"text\":\"Let me plan.\"}],"
           "\"encrypted_content\":\"c2ln\"},"
           "{\"id\":\"msg_0123456789abcdef01234567_1\",\"type\":\"message\","
           "\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
           "[{\"type\":\"output_text\",\"text\":\"Running it.\","
           "\"annotations\":[]}]},"
           "{\"id\":\"fc_0123456789abcdef01234567_2\",\"type\":"
           "\"function_call\",\"status\":\"completed\",\"call_id\":"
           "\"tooluse_1\",\"name\":\"exec\",\"arguments\":"
           "\"{\\\"cmd\\\":\\\"ls\\\"}\"},"
           "{\"id\":\"ctc_0123456789abcdef01234567_3\",\"type\":"
           "\"custom_tool_call\",\"status\":\"completed\",\"call_id\":"
           "\"tooluse_2\",\"name\":\"apply_patch\",\"input\":"
           "\"*** Begin Patch\\n\"},"
           "{\"id\":\"fc_0123456789abcdef01234567_4\",\"type\":"
           "\"function_call\",\"status\":\"completed\",\"call_id\":"
           "\"tooluse_3\",\"name\":\"noargs\",\"arguments\":\"{}\"}]",
           "items: reasoning with its signature, message, function call, "
           "custom call unwrapped, a call without arguments as {}");
    free(s);
    cJSON_Delete(items);
}


/* a custom call's wrapper cut at every byte comes back whole */
static void
test_custom_splits(void)
{
    int           fails;
    char          a[64], b[64], name[64];
    size_t        i, n;
    step_t        script[8];
    const char   *json;
    q2api_buf_t   sse;
    rs_replay_t   r;

    json = "{\"input\":\"gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80 \\\"q\\\"\"}";
    n = strlen(json);
    fails = 0;

    for (i = 1; i < n; i++) {
        memcpy(a, json, i);
        a[i] = '\0';
        memcpy(b, json + i, n - i);
        b[n - i] = '\0';

        memset(script, 0, sizeof(script));
        script[0] = (step_t) TOOL("t1", "p");
        script[1] = (step_t) INPUT(a);
        script[2] = (step_t) INPUT(b);
        script[3] = (step_t) TSTOP;
        script[4] = (step_t) END;

        q2api_buf_init(&sse, 0);
        rs_run(script, RS_BODY(",'tools':[{'type':'custom','name':'p'}]"),
               &sse, NULL);

        if (rs_replay(&sse, &r) != 0
            || strcmp(rs_str(cJSON_GetArrayItem(r.output, 0), "input"),
                      "gr\xc3\xbc\xc3\x9f \xf0\x9f\x98\x80 \"q\"") != 0)
        {
            fails++;
            diag("split at %zu: %s", i, r.why);
        }

        rs_replay_free(&r);
        q2api_buf_free(&sse);
    }

    snprintf(name, sizeof(name), "custom input cut at each of %zu places",
             n - 1);
    is_int(fails, 0, name);
}


static void
test_ends(void)
{
    q2api_buf_t   sse, rec;
    rs_replay_t   r;

    static const step_t  limit[] = {
        TEXT("partial"), STOP(Q2API_STOP_MAX_TOKENS), END
    };
    static const step_t  context[] = {
        TEXT("x"), STOP(Q2API_STOP_CONTEXT_EXCEEDED), END
    };
    static const step_t  plain[] = { TEXT("ok"), END };
    static const step_t  refusal[] = {
        TEXT("I can"), STOP(Q2API_STOP_REFUSAL), END
    };

    q2api_buf_init(&sse, 0);
    rs_run(limit, RS_BODY(""), &sse, NULL);
    ok(rs_replay(&sse, &r) == 0
       && strcmp(r.terminal, "response.incomplete") == 0
       && strcmp(rs_str(cJSON_GetObjectItem(r.response,
                                            "incomplete_details"),
                        "reason"), "max_output_tokens") == 0,
       "the output limit: response.incomplete, max_output_tokens");
    rs_replay_free(&r);
    q2api_buf_free(&sse);

    q2api_buf_init(&sse, 0);
    rs_run(context, RS_BODY(""), &sse, NULL);
    ok(rs_replay(&sse, &r) == 0 && strcmp(r.terminal, "response.failed") == 0
       && strcmp(rs_str(cJSON_GetObjectItem(r.response, "error"), "code"),
                 "context_length_exceeded") == 0,
       "an overflowing context: response.failed, context_length_exceeded");
    rs_replay_free(&r);
    q2api_buf_free(&sse);

    q2api_buf_init(&sse, 0);
    rs_run(refusal, RS_BODY(""), &sse, NULL);
    ok(rs_replay(&sse, &r) == 0
       && strcmp(r.terminal, "response.incomplete") == 0
       && strcmp(rs_str(cJSON_GetObjectItem(r.response,
                                            "incomplete_details"),
                        "reason"), "content_filter") == 0,
       "a safety stop: response.incomplete, content_filter");
    rs_replay_free(&r);
    q2api_buf_free(&sse);

    /* what is kept for previous_response_id */
    q2api_buf_init(&sse, 0);
    q2api_buf_init(&rec, 0);
    rs_run(plain, RS_BODY(""), &sse, &rec);
    is_lit(rec,
           "[{\"type\":\"message\",\"role\":\"user\",\"content\":\"hi\"},"
           "{\"id\":\"msg_0123456789abcdef01234567_0\",\"type\":\"message\","
           "\"status\":\"completed\",\"role\":\"assistant\",\"content\":"
           "[{\"type\":\"output_text\",\"text\":\"ok\",\"annotations\":[]}]}]",
           "record: the input item, then the output");
    q2api_buf_free(&sse);
    q2api_buf_free(&rec);

    q2api_buf_init(&sse, 0);
    q2api_buf_init(&rec, 0);
    rs_run(plain, "{'model':'m','stream':true,'store':false,'input':'hi'}",
           &sse, &rec);
    is_int(rec.len, 0, "store false: nothing to keep");
    q2api_buf_free(&sse);
    q2api_buf_free(&rec);
}


int
main(void)
{
    test_text_bytes();
    test_items();
    test_custom_splits();
    test_ends();

    return done_testing();
}
