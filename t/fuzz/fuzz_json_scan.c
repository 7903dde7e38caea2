/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the stream path's JSON reader, against cJSON.
 * Input: any bytes, not NUL-terminated.  The scanner reads no byte past
 * the length (ASan); what it accepts cJSON parses to an object too (the
 * scanner is the stricter of the two), and every member it finds is the
 * member cJSON finds: same type, and for strings the same bytes (where
 * cJSON can tell: no raw NUL, which it cuts keys and strings at).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "q2api_json_scan.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


static int
same_type(q2api_json_type_e t, const cJSON *item)
{
    switch (t) {
    case Q2API_JSON_ABSENT: return item == NULL;
    case Q2API_JSON_STRING: return cJSON_IsString(item);
    case Q2API_JSON_NUMBER: return cJSON_IsNumber(item);
    case Q2API_JSON_OBJECT: return cJSON_IsObject(item);
    case Q2API_JSON_ARRAY:  return cJSON_IsArray(item);
    case Q2API_JSON_TRUE:   return cJSON_IsTrue(item);
    case Q2API_JSON_FALSE:  return cJSON_IsFalse(item);
    case Q2API_JSON_NULL:   return cJSON_IsNull(item);
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                *s;
    size_t               i;
    cJSON               *j, *item;
    q2api_str_t          v;
    q2api_buf_t          scratch;
    q2api_json_field_t   f[4] = { { .name = "content" }, { .name = "a" },
                                  { .name = "input" }, { .name = "stop" } };

    s = malloc(size ? size : 1);
    check(s != NULL);
    memcpy(s, data, size);

    if (q2api_json_fields(s, size, f, 4) == Q2API_OK) {
        j = cJSON_ParseWithLength(s, size);
        check(cJSON_IsObject(j));

        q2api_buf_init(&scratch, 0);

        for (i = 0; i < 4; i++) {
            item = cJSON_GetObjectItemCaseSensitive(j, f[i].name);

            /* cJSON matches keys after decoding them; we match only
             * plain ones, so an escaped key may find what we do not; and
             * cJSON compares keys as C strings, so a raw NUL in one makes
             * "a\0x" the same key as "a" to it, never to us */
            if (f[i].type == Q2API_JSON_ABSENT || memchr(s, '\0', size)) {
                continue;
            }

            check(same_type(f[i].type, item));

            if (f[i].type == Q2API_JSON_STRING
                && q2api_json_field_string(&f[i], &scratch, &v) == Q2API_OK
                && memchr(v.data, '\0', v.len) == NULL)
            {
                check(v.len == strlen(item->valuestring));
                check(memcmp(v.data, item->valuestring, v.len) == 0);
            }
        }

        q2api_buf_free(&scratch);
        cJSON_Delete(j);
    }

    free(s);

    return 0;
}
