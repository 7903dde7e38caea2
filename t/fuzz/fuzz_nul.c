/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the NUL marking of JSON text (q2api_nul.h).
 * Input: any bytes; only valid UTF-8 is marked, as the callers do, and
 * only text whose \u escapes all have four hex digits.  The marking never
 * grows the text, a mark appears exactly where a NUL was
 * found, cJSON parses the marked text whenever it parses the original,
 * and every string of the tree comes back with its NULs and escapes them
 * again as JSON that parses.  Reads stay within the length (ASan).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "q2api_json.h"
#include "q2api_nul.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


static void
walk(q2api_arena_t *arena, cJSON *item)
{
    q2api_str_t   s;

    for ( /* void */ ; item; item = item->next) {

        if (cJSON_IsString(item)) {
            s = q2api_nul_string(arena, item->valuestring);
            check(s.data != NULL);
            check(memchr(s.data, Q2API_NUL_MARK, s.len) == NULL);
        }

        walk(arena, item->child);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int             found, plain_ok;
    char           *text, *printed, *json;
    size_t          len, i, marks;
    cJSON          *root, *plain, *back;
    q2api_arena_t   arena;

    if (!q2api_utf8_valid((const char *) data, size)) {
        return 0;
    }

    text = malloc(size ? size : 1);
    check(text != NULL);
    memcpy(text, data, size);

    found = q2api_nul_found(text, size);

    if (found == -1) {
        /* a \u escape cJSON would misread: the callers refuse the text */
        free(text);
        return 0;
    }

    len = found ? q2api_nul_mark(text, size) : size;

    check(len <= size);

    for (marks = 0, i = 0; i < len; i++) {
        marks += ((unsigned char) text[i] == Q2API_NUL_MARK);
    }

    check(found == (marks != 0));
    check(found || (len == size && memcmp(text, data, size) == 0));

    plain = cJSON_ParseWithLength((const char *) data, size);
    plain_ok = (plain != NULL);
    cJSON_Delete(plain);

    root = cJSON_ParseWithLength(text, len);
    check(!plain_ok || root != NULL);

    if (root != NULL) {
        q2api_arena_init(&arena);

        walk(&arena, root);

        printed = cJSON_PrintUnformatted(root);
        if (printed != NULL) {
            len = strlen(printed);
            json = q2api_nul_json(&arena, printed, &len);
            check(json != NULL);
            check(memchr(json, Q2API_NUL_MARK, len) == NULL);

            back = cJSON_ParseWithLength(json, len);
            check(back != NULL);
            cJSON_Delete(back);
            cJSON_free(printed);
        }

        q2api_arena_free(&arena);
        cJSON_Delete(root);
    }

    free(text);

    return 0;
}
