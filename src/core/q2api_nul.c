/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <ctype.h>

#include "q2api_nul.h"


#define Q2API_NUL_ESCAPE      "\\u0000"
#define Q2API_NUL_ESCAPE_LEN  (sizeof(Q2API_NUL_ESCAPE) - 1)


/*
 * One walk for both: find only looks, mark rewrites.
 * A backslash always starts an escape, so "\\u0000" (an escaped
 * backslash, then text) is not taken for a NUL.  cJSON reads a \u escape
 * without four hex digits as a NUL too (and goes on reading past it): the
 * walk refuses one, *found = -1.
 */
static size_t
q2api_nul_walk(char *text, const char *in, size_t len, int *found)
{
    int          string;
    char        *out;
    size_t       step, i;
    const char  *p, *end;

    string = 0;
    out = text;
    end = in + len;
    *found = 0;

    for (p = in; p < end; /* void */ ) {

        if (!string) {
            string = (*p == '"');

        } else if (*p == '\\' && end - p >= 2 && p[1] == 'u') {

            for (i = 2; i < 6; i++) {
                if (p + i >= end || !isxdigit((unsigned char) p[i])) {
                    *found = -1;
                    return 0;
                }
            }

            if (memcmp(p, Q2API_NUL_ESCAPE, Q2API_NUL_ESCAPE_LEN) == 0) {
                goto nul;
            }

            if (out) {
                memmove(out, p, 6);
                out += 6;
            }

            p += 6;
            continue;

        } else if (*p == '\\' && end - p >= 2) {
            if (out) {
                *out++ = *p;
            }

            p++;

        } else if (*p == '\0') {
            goto nul;

        } else if (*p == '"') {
            string = 0;
        }

        if (out) {
            *out++ = *p;
        }

        p++;
        continue;

    nul:

        /* on to the end: an escape further on may still be bad */
        *found = 1;

        /* the step first: in place, the mark may overwrite *p */
        step = (*p == '\0') ? 1 : Q2API_NUL_ESCAPE_LEN;

        if (out) {
            *out++ = (char) Q2API_NUL_MARK;
        }

        p += step;
    }

    return out ? (size_t) (out - text) : 0;
}


int
q2api_nul_found(const char *text, size_t len)
{
    int          found;
    const char  *p, *end;

    /*
     * Most bodies hold neither a raw NUL nor a \u escape, and two memchr()
     * scans say so at memory speed; the walk, a byte at a time, is for the
     * rest.  Backslashes are skipped in pairs, as JSON escapes them.
     */
    if (memchr(text, '\0', len) == NULL) {
        end = text + len;

        for (p = memchr(text, '\\', len);
             p != NULL && !(p + 1 < end && p[1] == 'u');
             p = (p + 2 < end) ? memchr(p + 2, '\\', end - p - 2) : NULL)
        {
            /* void */
        }

        if (p == NULL) {
            return 0;
        }
    }

    (void) q2api_nul_walk(NULL, text, len, &found);

    return found;
}


size_t
q2api_nul_mark(char *text, size_t len)
{
    int  found;

    return q2api_nul_walk(text, text, len, &found);
}


q2api_str_t
q2api_nul_string(q2api_arena_t *arena, const char *s)
{
    char         *copy, *p;
    q2api_str_t   out;

    out.data = s;
    out.len = strlen(s);

    if (memchr(s, Q2API_NUL_MARK, out.len) == NULL) {
        return out;
    }

    copy = q2api_arena_strndup(arena, s, out.len);
    if (copy == NULL) {
        /* the arena's bound: the marks go on as bytes that are no UTF-8,
         * which writers replace, rather than a NULL to crash on */
        return out;
    }

    for (p = copy; p < copy + out.len; p++) {
        if ((unsigned char) *p == Q2API_NUL_MARK) {
            *p = '\0';
        }
    }

    out.data = copy;

    return out;
}


char *
q2api_nul_json(q2api_arena_t *arena, const char *json, size_t *len)
{
    char        *out, *q;
    size_t       marks, i;

    marks = 0;

    for (i = 0; i < *len; i++) {
        marks += ((unsigned char) json[i] == Q2API_NUL_MARK);
    }

    out = q2api_arena_alloc(arena,
                            *len + marks * (Q2API_NUL_ESCAPE_LEN - 1) + 1);
    if (out == NULL) {
        return NULL;
    }

    q = out;

    for (i = 0; i < *len; i++) {
        if ((unsigned char) json[i] == Q2API_NUL_MARK) {
            memcpy(q, Q2API_NUL_ESCAPE, Q2API_NUL_ESCAPE_LEN);
            q += Q2API_NUL_ESCAPE_LEN;

        } else {
            *q++ = json[i];
        }
    }

    *q = '\0';
    *len = q - out;

    return out;
}
