/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdio.h>

#include "q2api_json.h"
#include "q2api_nul.h"


/*
 * Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid
 * or runs past the end.  RFC 3629: no overlongs, no surrogates, <= U+10FFFF.
 */
static size_t
q2api_utf8_seq_len(const unsigned char *s, size_t avail)
{
    unsigned char  c;
    size_t         n, i;

    c = s[0];

    if (c < 0x80) {
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

    } else {
        return 0;
    }

    if (avail < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
    }

    if (c == 0xe0 && s[1] < 0xa0) {
        return 0;
    }

    if (c == 0xed && s[1] > 0x9f) {
        return 0;
    }

    if (c == 0xf0 && s[1] < 0x90) {
        return 0;
    }

    if (c == 0xf4 && s[1] > 0x8f) {
        return 0;
    }

    return n;
}


int
q2api_utf8_valid(const char *s, size_t len)
{
    size_t                n;
    uint64_t              word;
    const unsigned char  *p, *end;

    p = (const unsigned char *) s;
    end = p + len;

    while (p < end) {
        /* request bodies are mostly ASCII: eight bytes at a time */
        while (end - p >= 8) {
            memcpy(&word, p, 8);

            if (word & 0x8080808080808080ULL) {
                break;
            }

            p += 8;
        }

        if (p == end) {
            break;
        }

        n = q2api_utf8_seq_len(p, end - p);
        if (n == 0) {
            return 0;
        }

        p += n;
    }

    return 1;
}


size_t
q2api_utf8_complete_prefix(const char *s, size_t len)
{
    size_t                i, need;
    const unsigned char  *p;

    p = (const unsigned char *) s;

    /* a sequence is at most 4 bytes: look back at most 3 for its lead */
    for (i = len; i > 0 && len - i < 4; i--) {
        if ((p[i - 1] & 0xc0) == 0x80) {
            continue;
        }

        if (p[i - 1] < 0x80) {
            return len;
        }

        need = (p[i - 1] >= 0xf0) ? 4 : (p[i - 1] >= 0xe0) ? 3 : 2;

        return (len - (i - 1) >= need) ? len : i - 1;
    }

    return len;
}


int
q2api_json_append_string(q2api_buf_t *b, const char *s, size_t len)
{
    char                  esc[8];
    size_t                n;
    const unsigned char  *p, *end, *run;

    if (q2api_buf_append_byte(b, '"') != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (len == 0) {
        /* s may be NULL (an empty buffer): no arithmetic on it */
        return q2api_buf_append_byte(b, '"');
    }

    p = (const unsigned char *) s;
    end = p + len;
    run = p;

    while (p < end) {

        if (*p >= 0x20 && *p != '"' && *p != '\\' && *p < 0x80) {
            p++;
            continue;
        }

        if (*p >= 0x80) {
            n = q2api_utf8_seq_len(p, end - p);
            if (n != 0) {
                p += n;
                continue;
            }
        }

        if (q2api_buf_append(b, run, p - run) != Q2API_OK) {
            return Q2API_NOMEM;
        }

        switch (*p) {
        case '"':
            memcpy(esc, "\\\"", 3);
            break;
        case '\\':
            memcpy(esc, "\\\\", 3);
            break;
        case '\n':
            memcpy(esc, "\\n", 3);
            break;
        case '\r':
            memcpy(esc, "\\r", 3);
            break;
        case '\t':
            memcpy(esc, "\\t", 3);
            break;
        case '\b':
            memcpy(esc, "\\b", 3);
            break;
        case '\f':
            memcpy(esc, "\\f", 3);
            break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof(esc), "\\u%04x", *p);

            } else {
                /* a byte that starts no valid sequence */
                memcpy(esc, "\\ufffd", 7);
            }
        }

        if (q2api_buf_append_str(b, esc) != Q2API_OK) {
            return Q2API_NOMEM;
        }

        p++;
        run = p;
    }

    if (q2api_buf_append(b, run, p - run) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    return q2api_buf_append_byte(b, '"');
}


int
q2api_json_append_int(q2api_buf_t *b, long long v)
{
    char                 num[24], *p;
    unsigned long long   u;

    /* every SSE delta carries an index: no printf per event */
    u = v < 0 ? 0ULL - (unsigned long long) v : (unsigned long long) v;
    p = num + sizeof(num);

    do {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    } while (u);

    if (v < 0) {
        *--p = '-';
    }

    return q2api_buf_append(b, p, num + sizeof(num) - p);
}


int
q2api_json_print(q2api_arena_t *arena, const cJSON *item, q2api_str_t *out)
{
    char    *p;
    size_t   len;

    p = cJSON_PrintUnformatted(item);
    if (p == NULL) {
        return Q2API_NOMEM;
    }

    len = strlen(p);
    /* a NUL the client sent (a mark in the tree) goes on as \u0000 */
    out->data = q2api_nul_json(arena, p, &len);
    out->len = len;

    cJSON_free(p);

    return out->data ? Q2API_OK : Q2API_NOMEM;
}


/*
 * cJSON_ParseWithLength() stops after the first value and ignores what
 * follows; a document is valid only if nothing but blanks comes after it.
 */
cJSON *
q2api_json_document(const char *p, size_t len, const char **at)
{
    cJSON       *root;
    const char  *end;

    root = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    if (root == NULL) {
        *at = cJSON_GetErrorPtr();
        return NULL;
    }

    /* what cJSON itself skips as blanks */
    while (end < p + len && (unsigned char) *end <= ' ') {
        end++;
    }

    if (end < p + len) {
        cJSON_Delete(root);
        *at = end;
        return NULL;
    }

    return root;
}
