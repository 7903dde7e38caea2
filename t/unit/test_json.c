/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The hand-written JSON output, the UTF-8 checks, the SSE framing and the
 * byte buffer's ceilings.
 */


#include <stdint.h>

#include <cjson/cJSON.h>

#include "tap.h"
#include "q2api_buf.h"
#include "q2api_json.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


/* q2api_json_append_string of s[0..len) must give exactly "want" */
static void
escapes_to(const char *s, size_t len, const char *want, const char *name)
{
    int          rc;
    q2api_buf_t  b;

    q2api_buf_init(&b, 0);

    rc = q2api_json_append_string(&b, s, len);
    is_int(rc, Q2API_OK, name);
    is_mem(b.data, b.len, want, strlen(want), name);

    q2api_buf_free(&b);
}


/* the output parses back (cJSON) to "decoded" */
static void
round_trips(const char *s, size_t len, const char *decoded, const char *name)
{
    cJSON        *j;
    q2api_buf_t   b;

    q2api_buf_init(&b, 0);
    q2api_json_append_string(&b, s, len);
    q2api_buf_append_byte(&b, '\0');

    j = cJSON_Parse((char *) b.data);

    ok(cJSON_IsString(j) && strcmp(j->valuestring, decoded) == 0, name);
    ok(q2api_utf8_valid((char *) b.data, b.len - 1), name);

    cJSON_Delete(j);
    q2api_buf_free(&b);
}


static void
test_append_string(void)
{
    char         all[33];
    int          i;
    q2api_buf_t  b;

    escapes_to("", 0, "\"\"", "empty string");
    escapes_to("abc", 3, "\"abc\"", "plain ASCII");
    escapes_to("a\"b", 3, "\"a\\\"b\"", "quote");
    escapes_to("a\\b", 3, "\"a\\\\b\"", "backslash");
    escapes_to("\"\\\"", 3, "\"\\\"\\\\\\\"\"", "only quotes and backslash");
    escapes_to("/", 1, "\"/\"", "solidus is not escaped");
    escapes_to("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"", "short escapes");
    escapes_to("\x01\x1f", 2, "\"\\u0001\\u001f\"", "other control chars");
    escapes_to("a\0b", 3, "\"a\\u0000b\"", "NUL inside");
    escapes_to("\x7f", 1, "\"\x7f\"", "DEL passes through");
    escapes_to(" ~", 2, "\" ~\"", "printable edges");

    /* every control character */
    for (i = 0; i < 32; i++) {
        all[i] = (char) i;
    }

    all[32] = '\0';

    round_trips(all, 1, "", "NUL alone round trips as empty C string");
    round_trips(all + 1, 31, all + 1, "all control chars round trip");

    /* multi-byte UTF-8 passes through unchanged */
    escapes_to("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"", "2-byte sequence");
    escapes_to("\xe2\x82\xac", 3, "\"\xe2\x82\xac\"", "3-byte sequence");
    escapes_to("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"",
               "4-byte sequence");
    escapes_to("\xef\xbf\xbf\xf4\x8f\xbf\xbf", 7,
               "\"\xef\xbf\xbf\xf4\x8f\xbf\xbf\"", "U+FFFF and U+10FFFF");
    escapes_to("\xe2\x80\xa8", 3, "\"\xe2\x80\xa8\"",
               "U+2028 passes through");

    /* invalid UTF-8: one U+FFFD per byte that starts no sequence */
    escapes_to("\xff", 1, "\"\\ufffd\"", "0xff");
    escapes_to("\xfe", 1, "\"\\ufffd\"", "0xfe");
    escapes_to("\x80", 1, "\"\\ufffd\"", "lone continuation byte");
    escapes_to("a\xc3", 2, "\"a\\ufffd\"", "truncated 2-byte at the end");
    escapes_to("\xe2\x82", 2, "\"\\ufffd\\ufffd\"",
               "truncated 3-byte at the end");
    escapes_to("\xe2\x82z", 3, "\"\\ufffd\\ufffdz\"",
               "truncated 3-byte before ASCII");
    escapes_to("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"", "overlong C0");
    escapes_to("\xc1\xbf", 2, "\"\\ufffd\\ufffd\"", "overlong C1");
    escapes_to("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\"",
               "overlong 3-byte");
    escapes_to("\xf0\x80\x80\xaf", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
               "overlong 4-byte");
    escapes_to("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"",
               "surrogate D800");
    escapes_to("\xed\xbf\xbf", 3, "\"\\ufffd\\ufffd\\ufffd\"",
               "surrogate DFFF");
    escapes_to("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
               "above U+10FFFF");
    escapes_to("\xf5\x80\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"",
               "F5 lead");
    escapes_to("\xc3\"", 2, "\"\\ufffd\\\"\"",
               "broken lead before a quote");
    escapes_to("\xc3\xa9\xff\xc3\xa9", 5,
               "\"\xc3\xa9\\ufffd\xc3\xa9\"", "bad byte between good ones");

    round_trips("x\xff\xfey", 4, "x\xef\xbf\xbd\xef\xbf\xbdy",
                "replacement round trips");

    /* appends after what is there */
    q2api_buf_init(&b, 0);
    q2api_buf_append_str(&b, "[");
    q2api_json_append_string(&b, "a", 1);
    q2api_buf_append_byte(&b, ',');
    q2api_json_append_string(&b, "b", 1);
    q2api_buf_append_byte(&b, ']');
    is_mem(b.data, b.len, "[\"a\",\"b\"]", 9, "appends in place");
    q2api_buf_free(&b);

    /* a string longer than the initial capacity */
    q2api_buf_init(&b, 0);
    {
        char    big[5000];
        size_t  k;

        for (k = 0; k < sizeof(big); k++) {
            big[k] = (k % 7 == 0) ? '"' : 'x';
        }

        is_int(q2api_json_append_string(&b, big, sizeof(big)), Q2API_OK,
               "long string");
        is_int(b.len, 2 + sizeof(big) + (sizeof(big) + 6) / 7,
               "long string: one backslash per quote");
    }
    q2api_buf_free(&b);

    /* the ceiling holds */
    q2api_buf_init(&b, 8);
    is_int(q2api_json_append_string(&b, "abcdefgh", 8), Q2API_NOMEM,
           "over the ceiling: NOMEM");
    ok(b.len <= 8, "over the ceiling: length bounded");
    q2api_buf_free(&b);

    q2api_buf_init(&b, 8);
    is_int(q2api_json_append_string(&b, "\n\n\n", 3), Q2API_OK,
           "escapes exactly at the ceiling");
    is_mem(b.data, b.len, "\"\\n\\n\\n\"", 8, "escapes at the ceiling");
    q2api_buf_free(&b);
}


static void
test_append_int(void)
{
    size_t       i;
    q2api_buf_t  b;

    static const struct {
        long long    v;
        const char  *s;
    } cases[] = {
        { 0, "0" },
        { 7, "7" },
        { -1, "-1" },
        { 1234567890123LL, "1234567890123" },
        { INT64_MAX, "9223372036854775807" },
        { INT64_MIN, "-9223372036854775808" }
    };

    for (i = 0; i < nelts(cases); i++) {
        q2api_buf_init(&b, 0);
        is_int(q2api_json_append_int(&b, cases[i].v), Q2API_OK, "int ok");
        is_mem(b.data, b.len, cases[i].s, strlen(cases[i].s), cases[i].s);
        q2api_buf_free(&b);
    }
}


static void
test_utf8_valid(void)
{
    size_t  i;

    static const struct {
        const char  *s;
        size_t       len;
        int          valid;
        const char  *name;
    } cases[] = {
        { "", 0, 1, "empty" },
        { "hello", 5, 1, "ASCII" },
        { "a\0b", 3, 1, "NUL is valid UTF-8" },
        { "\x7f", 1, 1, "DEL" },
        { "\xc2\x80", 2, 1, "U+0080" },
        { "\xdf\xbf", 2, 1, "U+07FF" },
        { "\xe0\xa0\x80", 3, 1, "U+0800" },
        { "\xed\x9f\xbf", 3, 1, "U+D7FF" },
        { "\xee\x80\x80", 3, 1, "U+E000" },
        { "\xef\xbf\xbd", 3, 1, "U+FFFD" },
        { "\xf0\x90\x80\x80", 4, 1, "U+10000" },
        { "\xf4\x8f\xbf\xbf", 4, 1, "U+10FFFF" },
        { "\x80", 1, 0, "continuation alone" },
        { "\xbf", 1, 0, "continuation BF alone" },
        { "\xc0\x80", 2, 0, "overlong NUL" },
        { "\xc1\xbf", 2, 0, "overlong C1" },
        { "\xe0\x9f\xbf", 3, 0, "overlong 3-byte" },
        { "\xf0\x8f\xbf\xbf", 4, 0, "overlong 4-byte" },
        { "\xed\xa0\x80", 3, 0, "surrogate" },
        { "\xf4\x90\x80\x80", 4, 0, "U+110000" },
        { "\xf5\x80\x80\x80", 4, 0, "F5" },
        { "\xf8\x88\x80\x80\x80", 5, 0, "5-byte form" },
        { "\xfe", 1, 0, "FE" },
        { "\xff", 1, 0, "FF" },
        { "\xc3", 1, 0, "truncated 2-byte" },
        { "\xe2\x82", 2, 0, "truncated 3-byte" },
        { "\xf0\x9f\x98", 3, 0, "truncated 4-byte" },
        { "\xc3\x28", 2, 0, "bad continuation" },
        { "\xe2\x28\xa1", 3, 0, "bad second byte" },
        { "\xe2\x82\x28", 3, 0, "bad third byte" },
        { "\xf0\x9f\x98\x28", 4, 0, "bad fourth byte" },
        { "ok\xc3\xa9ok\xff", 8, 0, "bad at the end" }
    };

    for (i = 0; i < nelts(cases); i++) {
        is_int(q2api_utf8_valid(cases[i].s, cases[i].len), cases[i].valid,
               cases[i].name);
    }
}


static void
test_utf8_prefix(void)
{
    size_t  i;

    static const struct {
        const char  *s;
        size_t       len;
        size_t       prefix;
        const char  *name;
    } cases[] = {
        { "", 0, 0, "prefix: empty" },
        { "abc", 3, 3, "prefix: ASCII" },
        { "\xc3", 1, 0, "prefix: lone 2-byte lead" },
        { "a\xc3", 2, 1, "prefix: 2-byte lead at the end" },
        { "a\xc3\xa9", 3, 3, "prefix: complete 2-byte" },
        { "a\xe2", 2, 1, "prefix: 3-byte lead" },
        { "a\xe2\x82", 3, 1, "prefix: 3-byte, 2 of 3" },
        { "a\xe2\x82\xac", 4, 4, "prefix: complete 3-byte" },
        { "a\xf0", 2, 1, "prefix: 4-byte lead" },
        { "a\xf0\x9f", 3, 1, "prefix: 4-byte, 2 of 4" },
        { "a\xf0\x9f\x98", 4, 1, "prefix: 4-byte, 3 of 4" },
        { "a\xf0\x9f\x98\x80", 5, 5, "prefix: complete 4-byte" },
        { "\xf0\x9f\x98\x80\xf0\x9f", 6, 4, "prefix: 4-byte then 2 of 4" },
        { "\xe2\x82\xac\xe2\x82\xac", 6, 6, "prefix: two 3-byte" },
        /* no lead within 4 bytes: nothing to wait for */
        { "\x80\x80\x80\x80\x80", 5, 5, "prefix: only continuations" },
        { "a\x80", 2, 2, "prefix: stray continuation" },
        /* extra continuation bytes: the sequence is already complete */
        { "\xc3\xa9\x80", 3, 3, "prefix: overlong run of continuations" }
    };

    for (i = 0; i < nelts(cases); i++) {
        is_int(q2api_utf8_complete_prefix(cases[i].s, cases[i].len),
               cases[i].prefix, cases[i].name);
    }

    /* every split of a valid string: the prefix is valid and loses at
     * most 3 bytes */
    {
        const char  *s = "x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80y";
        size_t       n, p, len;
        int          good;

        len = strlen(s);
        good = 1;

        for (n = 0; n <= len; n++) {
            p = q2api_utf8_complete_prefix(s, n);

            if (p > n || n - p > 3 || !q2api_utf8_valid(s, p)) {
                good = 0;
                diag("split at %zu gives %zu", n, p);
            }
        }

        ok(good, "prefix: every split leaves a valid prefix");
    }
}


static void
test_buf(void)
{
    size_t       i;
    q2api_buf_t  b;
    char         chunk[100];

    memset(chunk, 'x', sizeof(chunk));

    /* no ceiling */
    q2api_buf_init(&b, 0);
    ok(b.data == NULL && b.len == 0 && b.cap == 0, "init: empty");
    is_int(q2api_buf_append(&b, chunk, 0), Q2API_OK, "append nothing");
    ok(b.data == NULL, "append nothing: no allocation");

    for (i = 0; i < 100; i++) {
        q2api_buf_append(&b, chunk, sizeof(chunk));
    }

    is_int(b.len, 10000, "grows past its first capacity");
    ok(b.cap >= b.len, "capacity covers the length");

    q2api_buf_consume(&b, 9990);
    is_int(b.len, 10, "consume part");
    q2api_buf_consume(&b, 100);
    is_int(b.len, 0, "consume more than there is");

    q2api_buf_append(&b, "ab", 2);
    is_int(q2api_buf_reserve(&b, SIZE_MAX - 1), Q2API_NOMEM,
           "reserve past SIZE_MAX fails");
    is_mem(b.data, b.len, "ab", 2, "failed reserve keeps the content");

    q2api_buf_reset(&b);
    is_int(b.len, 0, "reset");
    q2api_buf_free(&b);
    ok(b.data == NULL && b.len == 0 && b.cap == 0, "free: empty again");
    q2api_buf_free(&b);
    ok(1, "free twice is harmless");

    /* a ceiling below the first allocation */
    q2api_buf_init(&b, 10);
    is_int(q2api_buf_append(&b, "0123456789", 10), Q2API_OK,
           "fill to the ceiling");
    is_int(b.cap, 10, "capacity clamped to the ceiling");
    is_int(q2api_buf_append_byte(&b, 'x'), Q2API_NOMEM,
           "one byte past the ceiling");
    is_mem(b.data, b.len, "0123456789", 10, "content kept at the ceiling");
    q2api_buf_consume(&b, 4);
    is_mem(b.data, b.len, "456789", 6, "consume moves the rest down");
    is_int(q2api_buf_append_str(&b, "abcd"), Q2API_OK,
           "room again after consume");
    is_mem(b.data, b.len, "456789abcd", 10, "appended after consume");
    is_int(q2api_buf_append(&b, "z", 0), Q2API_OK,
           "empty append at the ceiling");
    q2api_buf_free(&b);

    /* a ceiling above the first allocation, not a power of two */
    q2api_buf_init(&b, 300);

    for (i = 0; i < 3; i++) {
        is_int(q2api_buf_append(&b, chunk, sizeof(chunk)), Q2API_OK,
               "append under a 300-byte ceiling");
    }

    is_int(b.len, 300, "300 bytes held");
    ok(b.cap == 300, "capacity never above the ceiling");
    is_int(q2api_buf_append(&b, chunk, 1), Q2API_NOMEM, "byte 301 refused");
    is_int(q2api_buf_reserve(&b, 0), Q2API_OK, "reserve 0 at the ceiling");
    q2api_buf_free(&b);

    /* one append larger than the ceiling, into an empty buffer */
    q2api_buf_init(&b, 50);
    is_int(q2api_buf_reserve(&b, SIZE_MAX), Q2API_NOMEM,
           "reserve SIZE_MAX under a ceiling");
    is_int(q2api_buf_append(&b, chunk, 51), Q2API_NOMEM,
           "single append over the ceiling");
    ok(b.len == 0 && b.data == NULL, "nothing allocated for it");
    is_int(q2api_buf_append(&b, chunk, 50), Q2API_OK,
           "exactly the ceiling at once");
    q2api_buf_free(&b);
}


int
main(void)
{
    test_append_string();
    test_append_int();
    test_utf8_valid();
    test_utf8_prefix();
    test_buf();

    return done_testing();
}
