/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The tree-less JSON reader of the stream path: what it accepts, what it
 * refuses, and that the members it finds are cJSON's, byte for byte.
 */


#include <cjson/cJSON.h>

#include "tap.h"
#include "q2api_json_scan.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


/* the string member "s" of json, as the scanner and as cJSON decode it */
static void
same_string(const char *json, const char *name)
{
    int                 rc;
    cJSON              *j, *item;
    q2api_str_t         v;
    q2api_buf_t         scratch;
    q2api_json_field_t  f[1] = { { .name = "s" } };

    q2api_buf_init(&scratch, 0);

    rc = q2api_json_fields(json, strlen(json), f, 1);
    is_int(rc, Q2API_OK, name);
    is_int(f[0].type, Q2API_JSON_STRING, name);

    rc = q2api_json_field_string(&f[0], &scratch, &v);
    is_int(rc, Q2API_OK, name);

    j = cJSON_Parse(json);
    item = cJSON_GetObjectItemCaseSensitive(j, "s");
    ok(cJSON_IsString(item), name);

    if (cJSON_IsString(item)) {
        is_mem(v.data, v.len, item->valuestring, strlen(item->valuestring),
               name);
    }

    cJSON_Delete(j);
    q2api_buf_free(&scratch);
}


static void
test_accepts(void)
{
    size_t        i;
    const char   *good[] = {
        "{}", " { } ", "\n{\"a\":1}\r\n", "{\"a\":[1,2,{\"b\":[]}]}",
        "{\"a\":-0.5e+10,\"b\":0,\"c\":1E3,\"d\":-12.25}",
        "{\"a\":true,\"b\":false,\"c\":null}",
        "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"}",
        "{\"\":\"empty key\"}",
    };

    for (i = 0; i < nelts(good); i++) {
        ok(q2api_json_fields(good[i], strlen(good[i]), NULL, 0) == Q2API_OK,
           good[i]);
    }
}


static void
test_refuses(void)
{
    size_t        i;
    const char   *bad[] = {
        "", " ", "[]", "\"s\"", "1", "{", "}", "{\"a\"}", "{\"a\":}",
        "{\"a\":1,}", "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{a:1}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":1e}",
        "{\"a\":-}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":True}",
        "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u12g4\"}",
        "{\"a\":\"unterminated}", "{\"a\":\"\\", "{\"a\":[1,2}",
        "{\"a\":[1,]}", "{\"a\":1} trailing", "{\"a\":1}{}",
        "{'a':1}",
    };

    for (i = 0; i < nelts(bad); i++) {
        ok(q2api_json_fields(bad[i], strlen(bad[i]), NULL, 0) == Q2API_ERROR,
           bad[i]);
    }
}


/* {"a":[[[...]]]} with levels arrays */
static size_t
nested(char *buf, int levels)
{
    int     i;
    size_t  n;

    memcpy(buf, "{\"a\":", 5);
    n = 5;

    for (i = 0; i < levels; i++) {
        buf[n++] = '[';
    }

    for (i = 0; i < levels; i++) {
        buf[n++] = ']';
    }

    buf[n++] = '}';

    return n;
}


static void
test_depth(void)
{
    char    buf[2 * 600 + 16];
    size_t  n;

    /* nesting within the bound is read, beyond it refused, never a crash */
    n = nested(buf, 100);
    ok(q2api_json_fields(buf, n, NULL, 0) == Q2API_OK, "100 levels are read");

    n = nested(buf, 600);
    ok(q2api_json_fields(buf, n, NULL, 0) == Q2API_ERROR,
       "600 levels are refused");

    ok(q2api_json_fields(buf, 0, NULL, 0) == Q2API_ERROR,
       "nothing is not an object");
}


static void
test_fields(void)
{
    int                 rc;
    q2api_str_t         v;
    q2api_buf_t         scratch;
    const char         *json;
    q2api_json_field_t  f[5] = { { .name = "toolUseId" }, { .name = "name" },
                                 { .name = "input" }, { .name = "stop" },
                                 { .name = "missing" } };

    q2api_buf_init(&scratch, 0);

    json = "{\"name\":\"get_weather\",\"input\":{\"city\":\"Berlin\"},"
           "\"toolUseId\":\"t1\",\"stop\":true,\"name\":\"second\","
           "\"nested\":{\"name\":\"inner\"}}";

    rc = q2api_json_fields(json, strlen(json), f, 5);
    is_int(rc, Q2API_OK, "tool event scans");

    is_int(f[0].type, Q2API_JSON_STRING, "toolUseId is a string");
    is_mem(f[0].value, f[0].len, "t1", 2, "toolUseId in place");
    ok(!f[0].escaped, "no escapes");

    is_mem(f[1].value, f[1].len, "get_weather", 11,
           "the first of duplicate members wins, not a nested one");

    is_int(f[2].type, Q2API_JSON_OBJECT, "input is an object");
    is_mem(f[2].value, f[2].len, "{\"city\":\"Berlin\"}", 17,
           "an object's whole text");

    is_int(f[3].type, Q2API_JSON_TRUE, "stop is true");
    is_int(f[4].type, Q2API_JSON_ABSENT, "missing is absent");

    /* a key with escapes is never a name asked for */
    json = "{\"na\\u006de\":\"x\"}";
    rc = q2api_json_fields(json, strlen(json), f + 1, 1);
    ok(rc == Q2API_OK && f[1].type == Q2API_JSON_ABSENT,
       "an escaped key is not matched");

    /* \u0000 is kept, with the length that says so */
    {
        q2api_json_field_t  s[1] = { { .name = "s" } };

        json = "{\"s\":\"a\\u0000b\"}";
        rc = q2api_json_fields(json, strlen(json), s, 1);
        is_int(rc, Q2API_OK, "NUL escape scans");
        rc = q2api_json_field_string(&s[0], &scratch, &v);
        is_int(rc, Q2API_OK, "NUL escape decodes");
        is_mem(v.data, v.len, "a\0b", 3, "NUL kept inside the value");

        json = "{\"s\":\"\\udc00\"}";
        is_int(q2api_json_fields(json, strlen(json), s, 1), Q2API_ERROR,
               "a lone low surrogate is refused");

        json = "{\"s\":\"\\ud83d\"}";
        is_int(q2api_json_fields(json, strlen(json), s, 1), Q2API_ERROR,
               "a high surrogate without its pair is refused");

        json = "{\"s\":\"\\ud83d\\u0041\"}";
        is_int(q2api_json_fields(json, strlen(json), s, 1), Q2API_ERROR,
               "a high surrogate before a non-surrogate is refused");
    }

    q2api_buf_free(&scratch);
}


static void
test_like_cjson(void)
{
    same_string("{\"s\":\"plain text, no escapes\"}", "plain");
    same_string("{\"s\":\"\"}", "empty");
    same_string("{\"s\":\"caf\\u00e9 \\u4e2d\\u6587\"}", "BMP escapes");
    same_string("{\"s\":\"\\ud83d\\ude00 smile\"}", "a surrogate pair");
    same_string("{\"s\":\"line\\nbreak\\ttab\\\\slash\\/quote\\\"\"}",
                "short escapes");
    same_string("{\"s\":\"raw UTF-8: caf\xc3\xa9 \xe4\xb8\xad\"}", "raw UTF-8");
    same_string("{\"s\":\"\\u0041\\u00ff\\u0800\\uffff\"}",
                "every UTF-8 length");
}


int
main(void)
{
    test_accepts();
    test_refuses();
    test_depth();
    test_fields();
    test_like_cjson();

    return done_testing();
}
