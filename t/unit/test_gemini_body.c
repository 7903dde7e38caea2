/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Code Assist body built from a Claude request: both envelopes, the
 * system instruction, alternating turns with empty parts dropped, images,
 * calls and their responses, thoughts and signatures (echoed, dummy on
 * Gemini 3), tool names and schemas, tool_choice and generationConfig per
 * model family.
 */


#include <stdint.h>

#include "gemini_check.h"


#define CLI  Q2API_GEMINI_FLAVOUR_CLI
#define AG   Q2API_GEMINI_FLAVOUR_ANTIGRAVITY


static int
is_hex(const char *s, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }

    return s[n] == '\0';
}


static void
test_envelopes(void)
{
    cJSON       *j;
    gc_built_t   b;
    char         session[64];

    gc_build(&b, "{'model':'gemini-2.5-pro','max_tokens':100,"
                 "'system':'Be brief.',"
                 "'messages':[{'role':'user','content':'What is 2+2?'}]}",
             "gemini-2.5-pro", CLI);

    is_int(b.rc, Q2API_OK, "cli: built");
    ok(gc_str(b.root, "model", "gemini-2.5-pro"), "cli: model");
    ok(gc_str(b.root, "project", "proud-quasar-abc12"), "cli: project");
    j = gc_get(b.root, "user_prompt_id");
    ok(cJSON_IsString(j) && strlen(j->valuestring) == 36,
       "cli: a fresh user_prompt_id");
    ok(gc_get(b.root, "requestId") == NULL
       && gc_get(b.root, "requestType") == NULL, "cli: no Antigravity keys");
    ok(gc_str(b.r, "contents.0.role", "user")
       && gc_str(b.r, "contents.0.parts.0.text", "What is 2+2?"),
       "cli: the user turn");
    ok(gc_str(b.r, "systemInstruction.parts.0.text", "Be brief.")
       && gc_str(b.r, "systemInstruction.role", "user"),
       "system prompt -> systemInstruction");
    j = gc_get(b.r, "session_id");
    ok(cJSON_IsString(j) && is_hex(j->valuestring, 32),
       "cli: session_id is 32 hex digits");
    snprintf(session, sizeof(session), "%s",
             cJSON_IsString(j) ? j->valuestring : "");
    ok(gc_num(b.r, "generationConfig.maxOutputTokens", 100),
       "max_tokens -> maxOutputTokens");
    gc_free(&b);

    /* the same conversation, one more turn: the same session */
    gc_build(&b, "{'model':'gemini-2.5-pro','max_tokens':100,"
                 "'system':'Be brief.',"
                 "'messages':[{'role':'user','content':'What is 2+2?'},"
                 "{'role':'assistant','content':'4'},"
                 "{'role':'user','content':'and 3+3?'}]}",
             "gemini-2.5-pro", CLI);
    ok(gc_str(b.r, "session_id", session), "a conversation keeps its session");
    gc_free(&b);

    gc_build(&b, "{'model':'gemini-2.5-pro','max_tokens':100,"
                 "'messages':[{'role':'user','content':'Another one'}]}",
             "gemini-2.5-pro", CLI);
    j = gc_get(b.r, "session_id");
    ok(cJSON_IsString(j) && strcmp(j->valuestring, session) != 0,
       "another conversation, another session");
    gc_free(&b);

    gc_build(&b, "{'model':'claude-sonnet-4-5','max_tokens':100,"
                 "'messages':[{'role':'user','content':'hi'}]}",
             "claude-sonnet-4-5", AG);
    is_int(b.rc, Q2API_OK, "antigravity: built");
    j = gc_get(b.root, "requestId");
    ok(cJSON_IsString(j) && strncmp(j->valuestring, "agent-", 6) == 0
       && strlen(j->valuestring) == 42, "antigravity: requestId agent-<uuid>");
    ok(gc_str(b.root, "userAgent", "antigravity")
       && gc_str(b.root, "requestType", "agent"),
       "antigravity: userAgent, requestType");
    ok(gc_get(b.root, "user_prompt_id") == NULL
       && gc_get(b.r, "session_id") == NULL, "antigravity: no cli keys");
    j = gc_get(b.r, "sessionId");
    ok(cJSON_IsString(j) && j->valuestring[0] == '-'
       && strspn(j->valuestring + 1, "0123456789")
          == strlen(j->valuestring) - 1, "antigravity: sessionId -<digits>");
    ok(gc_get(b.r, "systemInstruction") == NULL,
       "no system prompt: no systemInstruction (and no injected one)");
    gc_free(&b);
}


static void
test_turns(void)
{
    gc_built_t  b;

    gc_build(&b, "{'model':'m','max_tokens':10,'messages':["
                 "{'role':'user','content':'one'},"
                 "{'role':'assistant','content':'  \\n '},"
                 "{'role':'user','content':[{'type':'text','text':'two'},"
                 "{'type':'text','text':''},"
                 "{'type':'image','source':{'type':'base64',"
                 "'media_type':'image/png','data':'iVBORw0KGgo='}}]},"
                 "{'role':'assistant','content':'three'}]}",
             "gemini-2.5-flash", CLI);

    is_int(b.rc, Q2API_OK, "turns: built");
    is_int(gc_count(b.r, "contents"), 2,
           "a blank model turn goes; the user turns around it merge");
    is_int(gc_count(b.r, "contents.0.parts"), 3,
           "empty text parts dropped");
    ok(gc_str(b.r, "contents.0.parts.1.text", "two"), "merged in order");
    ok(gc_str(b.r, "contents.0.parts.2.inlineData.mimeType", "image/png")
       && gc_str(b.r, "contents.0.parts.2.inlineData.data", "iVBORw0KGgo="),
       "image -> inlineData");
    ok(gc_str(b.r, "contents.1.role", "model")
       && gc_str(b.r, "contents.1.parts.0.text", "three"),
       "a final assistant turn stays (a prefill)");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':10,'messages':["
                 "{'role':'user','content':' '}]}", "gemini-2.5-flash", CLI);
    is_int(b.rc, Q2API_ERROR, "nothing to send: an error");
    is_int(b.err.kind, Q2API_ERR_INVALID_REQUEST, "the client's 400");
    gc_free(&b);
}


static void
test_tools(void)
{
    cJSON       *j;
    gc_built_t   b;
    char         name[Q2API_GEMINI_TOOL_NAME_MAX + 1];
    q2api_str_t  back;

    gc_build(&b, "{'model':'m','max_tokens':10,"
                 "'tools':[{'name':'get_weather','description':'Weather',"
                 "'input_schema':{'type':'object','properties':"
                 "{'city':{'type':'string'}}}},"
                 "{'name':'mcp__srv__do thing!','input_schema':"
                 "{'type':'object'}}],"
                 "'messages':[{'role':'user','content':'go'},"
                 "{'role':'assistant','content':[{'type':'text','text':"
                 "'Checking.'},{'type':'tool_use','id':'toolu_01',"
                 "'name':'get_weather','input':{'city':'Paris'}},"
                 "{'type':'tool_use','id':'toolu_02','name':"
                 "'mcp__srv__do thing!','input':{}},"
                 "{'type':'tool_use','id':'toolu_03','name':'get_weather',"
                 "'input':{'city':'Rome'}}]},"
                 "{'role':'user','content':[{'type':'tool_result',"
                 "'tool_use_id':'toolu_02','content':[{'type':'text',"
                 "'text':'a'},{'type':'text','text':'b'},{'type':'image',"
                 "'source':{'type':'base64','media_type':'image/jpeg',"
                 "'data':'AAAA'}}]},"
                 "{'type':'tool_result','tool_use_id':'toolu_01',"
                 "'content':'18C','is_error':false},"
                 "{'type':'tool_result','tool_use_id':'toolu_zz',"
                 "'content':'stray'},"
                 "{'type':'text','text':'thanks'}]}]}",
             "gemini-2.5-pro", CLI);

    is_int(b.rc, Q2API_OK, "tools: built");

    ok(gc_str(b.r, "contents.1.parts.0.text", "Checking."),
       "model text before its calls");
    ok(gc_str(b.r, "contents.1.parts.1.functionCall.id", "toolu_01")
       && gc_str(b.r, "contents.1.parts.1.functionCall.name", "get_weather")
       && gc_str(b.r, "contents.1.parts.1.functionCall.args.city", "Paris"),
       "tool_use -> functionCall with id, name, args");
    ok(gc_get(b.r, "contents.1.parts.1.thoughtSignature") == NULL,
       "Gemini 2.5: no dummy signature");

    q2api_gemini_tool_name("mcp__srv__do thing!", 19, name);
    ok(strncmp(name, "mcp__srv__do_thing__", 20) == 0 && strlen(name) == 28,
       "a name outside Google's pattern is rewritten with a hash");
    ok(gc_str(b.r, "contents.1.parts.2.functionCall.name", name),
       "the call carries the rewritten name");
    ok(gc_str(b.r, "tools.0.functionDeclarations.1.name", name),
       "and so does its declaration");

    back = q2api_gemini_client_tool_name(&b.req, name, strlen(name));
    is_mem(back.data, back.len, "mcp__srv__do thing!", 19,
           "the rewritten name maps back to the client's");

    is_int(gc_count(b.r, "contents"), 3, "three turns");
    ok(gc_str(b.r, "contents.2.parts.0.functionResponse.id", "toolu_01")
       && gc_str(b.r, "contents.2.parts.0.functionResponse.name",
                 "get_weather")
       && gc_str(b.r, "contents.2.parts.0.functionResponse.response.output",
                 "18C"),
       "responses in the calls' order, with the call's name");
    ok(gc_str(b.r, "contents.2.parts.1.functionResponse.name", name)
       && gc_str(b.r, "contents.2.parts.1.functionResponse.response.output",
                 "a\nb"), "a result's text blocks joined");
    ok(gc_str(b.r, "contents.2.parts.2.functionResponse.id", "toolu_03")
       && gc_str(b.r, "contents.2.parts.2.functionResponse.response.output",
                 "(no result)"), "a call without result gets a placeholder");
    j = gc_get(b.r, "contents.2.parts.4.text");
    ok(cJSON_IsString(j) && strstr(j->valuestring, "toolu_zz") != NULL
       && strstr(j->valuestring, "stray") != NULL,
       "a result of no call just made becomes text");
    ok(gc_str(b.r, "contents.2.parts.3.inlineData.mimeType", "image/jpeg"),
       "a result's image follows as inlineData");
    ok(gc_str(b.r, "contents.2.parts.5.text", "thanks"),
       "the turn's own text last");

    ok(gc_str(b.r, "tools.0.functionDeclarations.0.name", "get_weather")
       && gc_str(b.r, "tools.0.functionDeclarations.0.description",
                 "Weather")
       && gc_str(b.r, "tools.0.functionDeclarations.0.parametersJsonSchema"
                      ".properties.city.type", "string"),
       "declarations with parametersJsonSchema, in one object");
    is_int(gc_count(b.r, "tools"), 1, "one tools entry");
    ok(gc_get(b.r, "toolConfig") == NULL, "tool_choice auto: no toolConfig");
    gc_free(&b);

    /* an error result; Gemini 3 dummy signature */
    gc_build(&b, "{'model':'m','max_tokens':10,"
                 "'messages':[{'role':'user','content':'go'},"
                 "{'role':'assistant','content':[{'type':'tool_use',"
                 "'id':'t1','name':'x','input':{}}]},"
                 "{'role':'user','content':[{'type':'tool_result',"
                 "'tool_use_id':'t1','content':'boom','is_error':true}]}]}",
             "gemini-3-pro-preview", CLI);
    ok(gc_str(b.r, "contents.1.parts.0.thoughtSignature",
              Q2API_GEMINI_DUMMY_SIGNATURE),
       "Gemini 3: a call with no known signature gets the dummy");
    ok(gc_str(b.r, "contents.2.parts.0.functionResponse.response.error",
              "boom"), "is_error -> response.error");
    gc_free(&b);

    ok(q2api_gemini_tool_name("a.b:c-d_9", 9, name) == 9
       && strcmp(name, "a.b:c-d_9") == 0, "a valid name is unchanged");
    ok(q2api_gemini_tool_name("9lives", 6, name) > 6 && name[0] == '_',
       "a name that cannot start so gets a leading _");
}


static void
test_tool_choice(void)
{
    gc_built_t   b;
    const char  *tools = "'tools':[{'name':'a','input_schema':"
                         "{'type':'object'}},{'name':'b c',"
                         "'input_schema':{'type':'object'}}],"
                         "'messages':[{'role':'user','content':'go'}]";
    char         body[512];
    char         name[Q2API_GEMINI_TOOL_NAME_MAX + 1];

    snprintf(body, sizeof(body), "{'model':'m','max_tokens':10,%s,"
             "'tool_choice':{'type':'any'}}", tools);
    gc_build(&b, body, "gemini-2.5-pro", CLI);
    ok(gc_str(b.r, "toolConfig.functionCallingConfig.mode", "ANY")
       && gc_get(b.r, "toolConfig.functionCallingConfig"
                      ".allowedFunctionNames") == NULL, "any -> ANY");
    gc_free(&b);

    snprintf(body, sizeof(body), "{'model':'m','max_tokens':10,%s,"
             "'tool_choice':{'type':'tool','name':'b c'}}", tools);
    gc_build(&b, body, "gemini-2.5-pro", CLI);
    q2api_gemini_tool_name("b c", 3, name);
    ok(gc_str(b.r, "toolConfig.functionCallingConfig.mode", "ANY")
       && gc_str(b.r, "toolConfig.functionCallingConfig"
                      ".allowedFunctionNames.0", name),
       "tool -> ANY + allowedFunctionNames (rewritten)");
    gc_free(&b);

    snprintf(body, sizeof(body), "{'model':'m','max_tokens':10,%s,"
             "'tool_choice':{'type':'none'}}", tools);
    gc_build(&b, body, "gemini-2.5-pro", CLI);
    ok(gc_str(b.r, "toolConfig.functionCallingConfig.mode", "NONE"),
       "none -> NONE");
    gc_free(&b);
}


static void
test_thinking_history(void)
{
    gc_built_t  b;

    gc_build(&b, "{'model':'m','max_tokens':10,"
                 "'messages':[{'role':'user','content':'2+2?'},"
                 "{'role':'assistant','content':[{'type':'thinking',"
                 "'thinking':'adding','signature':'SIG1'},"
                 "{'type':'text','text':'4'}]},"
                 "{'role':'assistant','content':[{'type':'thinking',"
                 "'thinking':'unsigned','signature':''}]},"
                 "{'role':'user','content':'thanks'}]}",
             "gemini-2.5-pro", CLI);

    is_int(b.rc, Q2API_OK, "thinking: built");
    ok(gc_str(b.r, "contents.1.parts.0.text", "adding")
       && cJSON_IsTrue(gc_get(b.r, "contents.1.parts.0.thought"))
       && gc_get(b.r, "contents.1.parts.0.thoughtSignature") == NULL,
       "thinking -> a thought part");
    ok(gc_str(b.r, "contents.1.parts.1.text", "4")
       && gc_str(b.r, "contents.1.parts.1.thoughtSignature", "SIG1"),
       "its signature echoed on the part after it, where Gemini put it");
    is_int(gc_count(b.r, "contents.1.parts"), 2,
           "a thought without signature is not replayed");
    gc_free(&b);

    /* a signature alone (a signed call with no thoughts shown) */
    gc_build(&b, "{'model':'m','max_tokens':10,"
                 "'messages':[{'role':'user','content':'go'},"
                 "{'role':'assistant','content':[{'type':'thinking',"
                 "'thinking':'','signature':'REAL'},{'type':'tool_use',"
                 "'id':'t1','name':'x','input':{}},{'type':'tool_use',"
                 "'id':'t2','name':'y','input':{}}]},"
                 "{'role':'user','content':[{'type':'tool_result',"
                 "'tool_use_id':'t1','content':'1'},{'type':'tool_result',"
                 "'tool_use_id':'t2','content':'2'}]}]}",
             "gemini-3-flash", CLI);
    ok(gc_str(b.r, "contents.1.parts.0.thoughtSignature", "REAL"),
       "Gemini 3: the real signature on the first call");
    ok(gc_str(b.r, "contents.1.parts.1.thoughtSignature",
              Q2API_GEMINI_DUMMY_SIGNATURE), "the dummy on the next");
    is_int(gc_count(b.r, "contents.2.parts"), 2,
           "both responses in one user turn");
    gc_free(&b);

    /* Claude on Antigravity: the signature belongs to the thought */
    gc_build(&b, "{'model':'m','max_tokens':2000,"
                 "'messages':[{'role':'user','content':'go'},"
                 "{'role':'assistant','content':[{'type':'thinking',"
                 "'thinking':'hmm','signature':'CLAUDESIG'},"
                 "{'type':'text','text':'ok'}]},"
                 "{'role':'user','content':'more'}]}",
             "claude-sonnet-4-5", AG);
    ok(gc_str(b.r, "contents.1.parts.0.thoughtSignature", "CLAUDESIG")
       && gc_get(b.r, "contents.1.parts.1.thoughtSignature") == NULL,
       "Claude models: the signature on the thought itself");
    gc_free(&b);
}


static void
test_generation(void)
{
    gc_built_t  b;

    gc_build(&b, "{'model':'m','max_tokens':300,'temperature':0.5,"
                 "'top_p':0.9,'top_k':40,'stop_sequences':['END','STOP'],"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-2.5-flash", CLI);
    ok(gc_num(b.r, "generationConfig.temperature", 0.5)
       && gc_num(b.r, "generationConfig.topP", 0.9)
       && gc_num(b.r, "generationConfig.topK", 40)
       && gc_num(b.r, "generationConfig.maxOutputTokens", 300),
       "sampling -> generationConfig");
    ok(gc_str(b.r, "generationConfig.stopSequences.1", "STOP"),
       "stop_sequences -> stopSequences");
    ok(cJSON_IsFalse(gc_get(b.r, "generationConfig.thinkingConfig"
                                 ".includeThoughts")),
       "no thinking asked: no thoughts included");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':300,"
                 "'stop_sequences':['1','2','3','4','5','6'],"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-2.5-flash", CLI);
    is_int(b.rc, Q2API_ERROR, "six stop sequences: refused");
    is_int(b.err.kind, Q2API_ERR_INVALID_REQUEST, "as the client's 400");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':40000,"
                 "'thinking':{'type':'enabled','budget_tokens':30000},"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-2.5-flash", CLI);
    ok(cJSON_IsTrue(gc_get(b.r, "generationConfig.thinkingConfig"
                                ".includeThoughts"))
       && gc_num(b.r, "generationConfig.thinkingConfig.thinkingBudget",
                 24576), "2.5 flash: budget clamped to its range");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':40000,"
                 "'thinking':{'type':'enabled','budget_tokens':4000},"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-3-flash-preview", CLI);
    ok(gc_str(b.r, "generationConfig.thinkingConfig.thinkingLevel",
              "medium")
       && gc_get(b.r, "generationConfig.thinkingConfig.thinkingBudget")
          == NULL, "Gemini 3: a level, not a budget");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':40000,"
                 "'thinking':{'type':'enabled','budget_tokens':4000},"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-3-pro-preview", CLI);
    ok(gc_str(b.r, "generationConfig.thinkingConfig.thinkingLevel", "high"),
       "Gemini 3 pro: low or high only");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':40000,"
                 "'thinking':{'type':'enabled','budget_tokens':1024},"
                 "'messages':[{'role':'user','content':'go'}]}",
             "gemini-3-pro-preview", CLI);
    ok(gc_str(b.r, "generationConfig.thinkingConfig.thinkingLevel", "low"),
       "a small budget: low");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':40000,"
                 "'thinking':{'type':'enabled','budget_tokens':2048},"
                 "'messages':[{'role':'user','content':'go'}]}",
             "claude-opus-4-5-thinking", AG);
    ok(gc_num(b.r, "generationConfig.thinkingConfig.thinkingBudget", 2048),
       "Claude on Antigravity: the budget");
    gc_free(&b);

    gc_build(&b, "{'model':'m','max_tokens':100,"
                 "'messages':[{'role':'user','content':'go'}]}",
             "claude-sonnet-4-5", AG);
    ok(gc_get(b.r, "generationConfig.thinkingConfig") == NULL,
       "Claude without thinking: no thinkingConfig");
    gc_free(&b);
}


static void
test_schema(void)
{
    cJSON        *j, *p;
    q2api_buf_t   out;
    char         *s;

    q2api_buf_init(&out, 0);

    s = jq("{'$schema':'x','type':'object','additionalProperties':false,"
           "'$defs':{'Pt':{'type':'object','properties':{'x':"
           "{'type':'number','minimum':0}},'required':['x']}},"
           "'properties':{"
           "'format':{'type':'string','minLength':2,'description':'fmt'},"
           "'const':{'const':'a'},"
           "'pt':{'$ref':'#/$defs/Pt'},"
           "'opt':{'anyOf':[{'type':'null'},{'type':'object','properties':"
           "{'a':{'type':'integer'}}}]},"
           "'ta':{'type':['null','string'],'title':'T'},"
           "'en':{'enum':[1,2,'x']},"
           "'all':{'allOf':[{'properties':{'p1':{'type':'string'}},"
           "'required':['p1']},{'properties':{'p2':{'type':'string'}}}]},"
           "'x-ext':{'type':'string','x-foo':1},"
           "'rem':{'$ref':'http://example.com/s.json'}},"
           "'required':['format','gone']}");

    is_int(q2api_gemini_clean_schema(s, strlen(s), &out), Q2API_OK,
           "schema: cleaned");
    free(s);

    j = cJSON_ParseWithLength((char *) out.data, out.len);
    ok(j != NULL, "schema: JSON out");

    ok(gc_get(j, "$schema") == NULL && gc_get(j, "additionalProperties")
       == NULL && gc_get(j, "$defs") == NULL, "refused keywords dropped");
    ok(gc_str(j, "properties.format.type", "string"),
       "a property named format survives");
    ok(gc_get(j, "properties.format.minLength") == NULL
       && strstr(gc_get(j, "properties.format.description")->valuestring,
                 "minLength: 2") != NULL,
       "a constraint moves into the description");
    ok(gc_str(j, "properties.const.enum.0", "a")
       && gc_str(j, "properties.const.type", "string"),
       "a property named const survives; const -> enum");
    ok(gc_str(j, "properties.pt.type", "object")
       && gc_str(j, "properties.pt.properties.x.type", "number")
       && gc_str(j, "properties.pt.required.0", "x"),
       "a local $ref is inlined");
    ok(gc_str(j, "properties.opt.type", "object")
       && gc_str(j, "properties.opt.properties.a.type", "integer"),
       "anyOf with null: the object branch");
    ok(gc_str(j, "properties.ta.type", "string")
       && gc_get(j, "properties.ta.title") == NULL,
       "a type array: its first non-null type");
    ok(gc_str(j, "properties.en.enum.0", "1")
       && gc_str(j, "properties.en.type", "string"),
       "enum values made strings");
    ok(gc_str(j, "properties.all.properties.p1.type", "string")
       && gc_str(j, "properties.all.properties.p2.type", "string")
       && gc_str(j, "properties.all.required.0", "p1"),
       "allOf merged");
    ok(gc_get(j, "properties.x-ext") != NULL
       && gc_get(j, "properties.x-ext.x-foo") == NULL,
       "x- keywords dropped, a property so named kept");
    p = gc_get(j, "properties.rem");
    ok(gc_str(j, "properties.rem.type", "object") && p != NULL
       && gc_get(p, "$ref") == NULL, "a remote $ref: a described object");
    is_int(gc_count(j, "required"), 1, "required names that exist only");
    cJSON_Delete(j);

    /* a definition that refers to itself: bounded */
    q2api_buf_reset(&out);
    s = jq("{'$defs':{'N':{'type':'object','properties':{'a':"
           "{'$ref':'#/$defs/N'},'b':{'$ref':'#/$defs/N'}}}},"
           "'$ref':'#/$defs/N'}");
    is_int(q2api_gemini_clean_schema(s, strlen(s), &out), Q2API_OK,
           "a recursive schema is cleaned");
    ok(out.len < 200000, "within bounds");
    free(s);

    q2api_buf_reset(&out);
    is_int(q2api_gemini_clean_schema("[1]", 3, &out), Q2API_ERROR,
           "not an object: refused (the glue declares an empty one)");

    q2api_buf_free(&out);
}


int
main(void)
{
    test_envelopes();
    test_turns();
    test_tools();
    test_tool_choice();
    test_thinking_history();
    test_generation();
    test_schema();

    return done_testing();
}
