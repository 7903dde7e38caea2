/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * count_tokens in one pass (q2api_claude_count) against the full parse and
 * q2api_request_estimate_tokens(): whatever the pass counts, the full parse
 * takes and estimates the same; what it must count, it counts; what it
 * cannot be sure of, it leaves to the full parse.  Hand-written bodies for
 * each rule, then thousands of generated ones.
 */


#include "claude_check.h"


/* the full parse's answer: Q2API_OK and *tokens, or Q2API_ERROR */
static int
full_count(const char *body, size_t len, long long *tokens)
{
    int              rc;
    q2api_error_t    err;
    q2api_request_t  req;

    /* not parse_raw(), which would count in one pass again */
    q2api_request_init(&req);
    rc = q2api_claude_parse(&req, body, len, &err);

    if (rc == Q2API_OK) {
        *tokens = q2api_request_estimate_tokens(&req);
    }

    q2api_request_free(&req);

    return rc;
}


/* 1 when the pass and the full parse agree; *counted when the pass counted */
static int
agree(const char *body, size_t len, int *counted)
{
    long long  fast, full;

    fast = -1;
    full = -2;

    *counted = (q2api_claude_count(body, len, &fast) == Q2API_OK);

    if (!*counted) {
        return 1;
    }

    return full_count(body, len, &full) == Q2API_OK && fast == full;
}


static void
counts(const char *body, const char *name)
{
    int   counted, same;
    char  *b;

    b = jq(body);
    same = agree(b, strlen(b), &counted);

    if (!ok(counted && same, name)) {
        diag("counted %d, same %d: %s", counted, same, b);
    }

    free(b);
}


static void
leaves(const char *body, size_t len, const char *name)
{
    long long  tokens;

    ok(q2api_claude_count(body, len, &tokens) == Q2API_ERROR, name);
}


#define TOOL_DEF(n, d, s)                                                  \
    "{'name':'" n "','description':" d ",'input_schema':" s "}"


static void
test_counted(void)
{
    counts(BODY(MSG("'hello'")), "a string message");
    counts(BODY(MSG("''")), "an empty message");
    counts(" \n{ 'model' : 'm' ,\t'messages' : [ { 'role' : 'user' , "
           "'content' : 'x' } ] }\r\n", "blanks everywhere");
    counts(BODY("'system':'be brief'," MSG("'hi'")), "a string system");
    counts(BODY("'system':''," MSG("'hi'")), "an empty system");
    counts(BODY("'system':null," MSG("'hi'")), "a null system");
    counts(BODY("'system':[{'type':'text','text':'a'},"
                "{'type':'text','text':'','cache_control':{'type':'e'}},"
                "{'type':'text','text':'b\\nc'}]," MSG("'hi'")),
           "system blocks joined, an empty one among them");
    counts(BODY("'system':[{'type':'text','text':''},"
                "{'type':'text','text':'x'}]," MSG("'hi'")),
           "an empty first system block adds no newline");
    counts(BODY("'messages':[{'role':'system','content':'s1'},"
                "{'role':'user','content':'u'},"
                "{'content':[{'text':'s2','type':'text'}],'role':'system'},"
                "{'role':'system','content':[]}],'system':'top'"),
           "system messages after the top-level system, content first");
    counts(BODY("'messages':[{'role':'system','content':''},"
                "{'role':'user','content':'u'},"
                "{'role':'system','content':'x'}]"),
           "system messages alone, the first empty");
    counts(BODY("'messages':[{'role':'user','content':'a'},"
                "{'role':'user','content':'b'},"
                "{'role':'assistant','content':[]}]"),
           "consecutive roles and an empty content array");
    counts(BODY("'messages':[{'role':'user','content':["
                "{'type':'text','text':'caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" "
                "\\\\ \\/'},"
                "{'type':'image','source':{'type':'base64',"
                "'media_type':'image/jpg','data':'aGVsbG8='}},"
                "{'type':'document','source':{'type':'text',"
                "'data':'doc\\ttext'}},"
                "{'type':'web_search_tool_result','content':[1,2]},"
                "{'type':'tool_result','tool_use_id':'t1','content':'out'},"
                "{'type':'tool_result','tool_use_id':'t2','is_error':true,"
                "'content':[{'type':'text','text':'a'},{'type':'image'},"
                "{'type':'text','text':''},{'type':'x','text':'no'},"
                "7,{'text':'t'}]},"
                "{'type':'tool_result','tool_use_id':'t3','content':null},"
                "{'type':'tool_result','tool_use_id':'t4'}]},"
                "{'role':'assistant','content':["
                "{'type':'thinking','thinking':'hmm','signature':'sig'},"
                "{'type':'redacted_thinking','data':'xyz'},"
                "{'type':'tool_use','id':'t1','name':'Read',"
                "'input':{'path':'/a\\u0001\\n','n':[1,-0,0.1,1.5e3,1e400,"
                "3000000000,1E-7,12345678901234567890],"
                "'o':{'k':true,'l':false,'m':null},'e':{},'f':[],"
                "'esc\\u00e9':'\\u2028'}},"
                "{'type':'server_tool_use','id':'s1','name':'web'},"
                "{'type':'tool_use','id':'t5','name':'Ls','input':null}]}]"),
           "every kind of block, escapes and numbers in a tool's input");
    counts(BODY(MSG("'x'") ",'tools':["
                TOOL_DEF("Read", "'reads\\na file'",
                         "{'type':'object','properties':{'p':{'type':"
                         "'string','minLength':1,'maximum':1e2}},"
                         "'required':['p']}") ","
                TOOL_DEF("Ls", "null", "{}") ","
                "{'name':'Bash','input_schema':{'a':'\\u00e9'}},"
                "{'type':'web_search_20250305','name':'web_search'},"
                "{'type':'custom','name':'c','input_schema':{}}]"),
           "tools with schemas, and a server tool among them");
    counts(BODY(MSG("'x'") ",'tools':null,'thinking':null,"
                "'tool_choice':null,'stop_sequences':null"),
           "null optional members");
    counts(BODY("'max_tokens':32000,'stream':true,'temperature':0.5,"
                "'top_p':1,'top_k':40,'stop_sequences':['a','\\n'],"
                "'thinking':{'type':'enabled','budget_tokens':1024},"
                "'tool_choice':{'type':'tool','name':'Read'},"
                "'metadata':{'user_id':'u'}," MSG("'x'")),
           "every scalar member set");
    counts(BODY("'thinking':{'type':'adaptive'},"
                "'tool_choice':{'type':'auto'}," MSG("'x'")),
           "adaptive thinking, auto tool choice");
    counts(BODY("'stream':null,'max_tokens':null," MSG("'x'")),
           "null stream and max_tokens");
    counts(BODY(MSG("'first'") "," MSG("'second, not read'")
                ",'system':'s','system':[1]"),
           "the first of duplicate members wins");
    counts("{'model':'m','messages':[{'role':'user','role':'x',"
           "'content':'c','content':7}]}",
           "duplicates inside a message");
}


static void
test_left_to_the_parse(void)
{
    static const char  nul[] = "{\"model\":\"m\",\"messages\":[{\"role\":"
                               "\"user\",\"content\":\"a\\u0000b\"}]}";
    static const char  raw_nul[] = "{\"model\":\"m\",\"messages\":[{\"role\":"
                                   "\"user\",\"content\":\"a\0b\"}]}";
    char               *b;

    leaves(nul, sizeof(nul) - 1, "a \\u0000 is left to the parse");
    leaves(raw_nul, sizeof(raw_nul) - 1, "a raw NUL is left to the parse");
    leaves("", 0, "an empty body");
    leaves("{\"model\":\"\xff\"}", 12, "invalid UTF-8");

    b = jq(BODY("'\\u006dessages':[{'role':'user','content':'x'}]"));
    leaves(b, strlen(b), "an escaped key, which cJSON would decode");
    free(b);

    b = jq(BODY("'messages':[{'role':'user','content':[{'type':"
                "'te\\u0078t','text':'x'}]}]"));
    leaves(b, strlen(b), "an escaped block type");
    free(b);

    b = jq(BODY("'max_tokens':1000000000000000000000000000000000000000000"
                "000000000000000000000000," MSG("'x'")));
    leaves(b, strlen(b), "a number too long to copy");
    free(b);

    b = jq(BODY(MSG("'x'") "\f"));
    leaves(b, strlen(b), "a form feed cJSON takes as a blank");
    free(b);

    b = jq(BODY(MSG("'x'") ",'n':01"));
    leaves(b, strlen(b), "a number cJSON takes and JSON does not");
    free(b);

    b = jq(BODY("'messages':[{'role':'user','content':[{'type':'image',"
                "'source':{'type':'base64','media_type':'image/png',"
                "'data':'aGVs\\u0062G8='}}]}]"));
    leaves(b, strlen(b), "image data with an escape");
    free(b);
}


/* --- generated bodies ----------------------------------------------------- */

typedef struct {
    char    *p;
    size_t   len;
    size_t   size;
} out_t;

static unsigned long long  seed = 0x9e3779b97f4a7c15ULL;


static unsigned
rnd(unsigned n)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;

    return (unsigned) (seed % n);
}


static void
put(out_t *o, const char *s)
{
    size_t  n;

    n = strlen(s);

    if (o->len + n + 1 > o->size) {
        o->size = (o->len + n + 1) * 2;
        o->p = realloc(o->p, o->size);
    }

    memcpy(o->p + o->len, s, n + 1);
    o->len += n;
}


static void
blank(out_t *o)
{
    static const char  *const b[] = { "", "", "", " ", "\n  ", "\t" };

    put(o, b[rnd(6)]);
}


static void
string(out_t *o)
{
    static const char  *const s[] = {
        "\"\"", "\"a\"", "\"hello world\"", "\"line\\nbreak\"",
        "\"caf\\u00e9\"", "\"\\ud83d\\ude00\"", "\"q\\\"uote\"",
        "\"back\\\\slash\"", "\"sl\\/ash\"", "\"\xc3\xa9t\xc3\xa9\"",
        "\"tab\\there\"", "\"ctl\x01raw\"", "\"\\u001f\\b\\f\\r\"",
        "\"\\u2028\\u0080\\u07ff\\u0800\""
    };

    put(o, s[rnd(sizeof(s) / sizeof(s[0]))]);
}


static void
value(out_t *o, int depth)
{
    unsigned  i, n;

    static const char  *const num[] = {
        "0", "-0", "1", "-7", "0.5", "1.5e3", "1E-7", "1e400", "3000000000",
        "12345678901234567890", "0.1", "100", "2.5", "1e18", "40"
    };

    switch (rnd(depth > 3 ? 5 : 7)) {
    case 0: string(o); break;
    case 1: put(o, num[rnd(sizeof(num) / sizeof(num[0]))]); break;
    case 2: put(o, "true"); break;
    case 3: put(o, "false"); break;
    case 4: put(o, "null"); break;

    case 5:
        put(o, "[");
        n = rnd(4);
        for (i = 0; i < n; i++) {
            if (i) { put(o, ","); }
            blank(o);
            value(o, depth + 1);
        }
        put(o, "]");
        break;

    default:
        put(o, "{");
        n = rnd(4);
        for (i = 0; i < n; i++) {
            if (i) { put(o, ","); }
            string(o);
            put(o, ":");
            blank(o);
            value(o, depth + 1);
        }
        put(o, "}");
    }
}


/* mostly what "want" asks for, sometimes any value at all */
static void
either(out_t *o, const char *want)
{
    if (rnd(30) == 0) {
        value(o, 2);

    } else {
        put(o, want);
    }
}


static void
member(out_t *o, int *first, const char *key)
{
    if (!*first) {
        put(o, ",");
    }

    *first = 0;
    blank(o);
    put(o, "\"");
    put(o, key);
    put(o, "\":");
    blank(o);
}


/* a member for block(): its key, then a value of the kind it needs */
static void
block_member(out_t *o, int *first, unsigned k)
{
    static const char  *const keys[] = {
        "type", "text", "id", "name", "input", "content", "thinking", "data",
        "source", "tool_use_id", "is_error", "signature", "cache_control"
    };
    static const char  *const sources[] = {
        "{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"aGk=\"}",
        "{\"type\":\"base64\",\"media_type\":\"image/jpg\",\"data\":\"aGk\"}",
        "{\"type\":\"base64\",\"media_type\":\"image/tiff\",\"data\":\"aGk=\"}",
        "{\"type\":\"url\",\"url\":\"x\"}",
        "{\"type\":\"text\",\"data\":\"doc\\n\"}",
        "{\"data\":\"d\",\"type\":\"text\",\"type\":\"base64\"}"
    };
    static const char  *const parts[] = {
        "[{\"type\":\"text\",\"text\":\"r1\"},{\"type\":\"image\"}]",
        "[{\"type\":\"text\",\"text\":\"\"},{\"type\":\"text\",\"text\":7},"
        "\"s\",{\"text\":\"x\"}]",
        "[]", "\"plain\"", "null", "{}"
    };

    member(o, first, keys[k]);

    switch (k) {
    case 4:
        if (rnd(6)) {
            put(o, "{\"a\":");
            value(o, 1);
            put(o, "}");

        } else {
            value(o, 0);
        }

        break;

    case 5: either(o, parts[rnd(sizeof(parts) / sizeof(parts[0]))]); break;
    case 8: either(o, sources[rnd(sizeof(sources) / sizeof(sources[0]))]);
            break;
    case 10: put(o, rnd(2) ? "true" : "1"); break;
    default: if (rnd(20)) { string(o); } else { value(o, 2); }
    }

    blank(o);
}


/* a content block: mostly one of a known type with what it needs */
static void
block(out_t *o)
{
    int       first;
    unsigned  i, n, t, k[8];

    static const char  *const types[] = {
        "\"text\"", "\"image\"", "\"tool_use\"", "\"server_tool_use\"",
        "\"tool_result\"", "\"thinking\"", "\"redacted_thinking\"",
        "\"document\"", "\"web_search_result\"", "7"
    };
    /* the members each type needs, by block_member()'s keys */
    static const unsigned  needs[][4] = {
        { 1 }, { 8 }, { 2, 3, 4 }, { 2, 3 }, { 9, 5, 10 }, { 6, 11 }, { 7 },
        { 8 }, { 5 }, { 1 }
    };

    if (rnd(40) == 0) {
        value(o, 2);
        return;
    }

    t = rnd(sizeof(types) / sizeof(types[0]));
    n = 0;
    k[n++] = 0;

    for (i = 0; i < 4 && needs[t][i]; i++) {
        if (rnd(20)) {
            k[n++] = needs[t][i];
        }
    }

    while (rnd(3) == 0 && n < 8) {
        k[n++] = 1 + rnd(12);
    }

    /* in any order */
    for (i = n; i > 1; i--) {
        unsigned  j = rnd(i), x = k[i - 1];

        k[i - 1] = k[j];
        k[j] = x;
    }

    put(o, "{");
    first = 1;

    for (i = 0; i < n; i++) {
        if (k[i] == 0) {
            member(o, &first, "type");
            either(o, types[t]);
            blank(o);

        } else {
            block_member(o, &first, k[i]);
        }
    }

    put(o, "}");
}


static void
message(out_t *o)
{
    int       first;
    unsigned  i, n;

    static const char  *const roles[] = {
        "\"user\"", "\"assistant\"", "\"system\"", "\"user\"",
        "\"assistant\"", "\"user\"", "\"tool\""
    };

    put(o, "{");
    first = 1;

    if (rnd(12)) {
        member(o, &first, "role");
        either(o, roles[rnd(sizeof(roles) / sizeof(roles[0]))]);
    }

    member(o, &first, "content");

    if (rnd(3) == 0) {
        either(o, "\"some text\"");

    } else {
        put(o, "[");
        n = rnd(4);
        for (i = 0; i < n; i++) {
            if (i) { put(o, ","); }
            block(o);
        }
        put(o, "]");
    }

    if (rnd(3) == 0) {
        member(o, &first, "role");
        either(o, roles[rnd(sizeof(roles) / sizeof(roles[0]))]);
    }

    put(o, "}");
}


static void
body(out_t *o)
{
    int       first;
    unsigned  i, n, k;

    static const char  *const keys[] = {
        "model", "max_tokens", "stream", "system", "messages", "tools",
        "thinking", "tool_choice", "temperature", "top_p", "top_k",
        "stop_sequences", "metadata", "other"
    };
    static const char  *const pick[][4] = {
        { "\"m\"", "\"claude\"", "\"\"", "7" },
        { "1024", "0", "1.5", "1e300" },
        { "true", "false", "null", "1" },
        { "\"sys\"", "[{\"type\":\"text\",\"text\":\"a\"},"
                     "{\"type\":\"text\",\"text\":\"\"}]",
          "[{\"type\":\"text\"}]", "null" },
        { "", "", "", "" },
        { "", "", "", "" },
        { "{\"type\":\"enabled\",\"budget_tokens\":1024}",
          "{\"type\":\"disabled\"}", "{\"type\":\"enabled\"}", "[]" },
        { "{\"type\":\"any\"}", "{\"type\":\"tool\",\"name\":\"\"}",
          "{\"type\":\"tool\",\"name\":\"R\"}", "{\"type\":\"some\"}" },
        { "0.7", "1", "2", "-0.1" },
        { "0.9", "0", "1.1", "\"x\"" },
        { "40", "0", "-1", "2.5" },
        { "[\"a\",\"b\"]", "[]", "[1]", "\"stop\"" },
        { "{\"user_id\":\"u\"}", "7", "null", "{}" },
        { "[1,{\"a\":2}]", "\"x\"", "{}", "null" }
    };
    static const char  *const tools[] = {
        "{\"name\":\"Read\",\"description\":\"reads\\nfiles\","
        "\"input_schema\":",
        "{\"name\":\"\",\"input_schema\":",
        "{\"type\":\"custom\",\"name\":\"c\",\"description\":null,"
        "\"input_schema\":",
        "{\"name\":\"n\",\"description\":7,\"input_schema\":",
        "{\"type\":\"web_search_20250305\",\"name\":\"w\",\"x\":",
    };

    put(o, "{");
    first = 1;
    n = 2 + rnd(8);

    for (i = 0; i < n; i++) {
        k = (i == 0) ? 0 : (i == 1) ? 4
            : rnd(sizeof(keys) / sizeof(keys[0]));
        member(o, &first, keys[k]);

        if (k == 4) {
            put(o, "[");
            n = 1 + rnd(4);
            for (k = 0; k < n; k++) {
                if (k) { put(o, ","); }
                message(o);
            }
            put(o, "]");
            n = 2 + rnd(8);

        } else if (k == 5) {
            put(o, "[");
            for (k = 0; k < 3; k++) {
                if (k) { put(o, ","); }
                put(o, tools[rnd(3) ? 0
                             : rnd(sizeof(tools) / sizeof(tools[0]))]);
                if (rnd(6)) {
                    put(o, "{\"p\":");
                    value(o, 1);
                    put(o, "}");

                } else {
                    value(o, 0);
                }
                put(o, "}");
            }
            put(o, "]");

        } else {
            either(o, pick[k][rnd(3) ? 0 : rnd(4)]);
        }

        blank(o);
    }

    put(o, "}");
}


static void
test_generated(void)
{
    int        counted, wrong;
    char       what[80];
    unsigned   i, ncounted, nparsed;
    out_t      o;
    long long  tokens;

    o.p = NULL;
    o.size = 0;
    wrong = 0;
    ncounted = 0;
    nparsed = 0;

    for (i = 0; i < 20000; i++) {
        o.len = 0;
        body(&o);

        if (!agree(o.p, o.len, &counted)) {
            if (wrong++ < 5) {
                diag("differs: %s", o.p);
            }
        }

        ncounted += counted;
        nparsed += (full_count(o.p, o.len, &tokens) == Q2API_OK);
    }

    free(o.p);

    diag("%u of 20000 taken by the parse, %u counted in one pass", nparsed,
         ncounted);

    snprintf(what, sizeof(what), "20000 generated bodies: every one of the "
             "%u counted is the parse's estimate", ncounted);
    ok(wrong == 0, what);

    /* most are wrong somewhere; enough are right to test the pass */
    ok(ncounted > 1000, "more than 1000 generated bodies counted");
}


int
main(void)
{
    test_counted();
    test_left_to_the_parse();
    test_generated();

    return done_testing();
}
