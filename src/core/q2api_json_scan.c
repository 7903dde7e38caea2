/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include "q2api_json_scan.h"


/* as deep as any answer nests, and far from the worker's stack limit */
#define Q2API_JSON_SCAN_DEPTH  512


typedef struct {
    const char  *p;
    const char  *end;
} q2api_json_scan_t;


static int q2api_json_value(q2api_json_scan_t *s, unsigned depth,
    q2api_json_type_e *type);


static void
q2api_json_space(q2api_json_scan_t *s)
{
    while (s->p < s->end
           && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
               || *s->p == '\r'))
    {
        s->p++;
    }
}


static int
q2api_json_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* the code unit of the \uXXXX at p, or -1 */
static long
q2api_json_escape(const char *p, const char *end)
{
    int   i, h;
    long  cp;

    if (end - p < 6 || p[0] != '\\' || p[1] != 'u') {
        return -1;
    }

    cp = 0;

    for (i = 2; i < 6; i++) {
        h = q2api_json_hex(p[i]);
        if (h < 0) {
            return -1;
        }

        cp = cp << 4 | h;
    }

    return cp;
}


/* s->p at the opening quote; on return after the closing one */
static int
q2api_json_string(q2api_json_scan_t *s, unsigned *escaped)
{
    long  cp;

    s->p++;
    *escaped = 0;

    while (s->p < s->end) {

        switch (*s->p) {

        case '"':
            s->p++;
            return Q2API_OK;

        case '\\':
            *escaped = 1;

            if (s->end - s->p < 2) {
                return Q2API_ERROR;
            }

            switch (s->p[1]) {
            case '"': case '\\': case '/': case 'b':
            case 'f': case 'n': case 'r': case 't':
                s->p += 2;
                break;

            case 'u':
                cp = q2api_json_escape(s->p, s->end);

                /* UTF-16 surrogates come in pairs, high then low */
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    s->p += 6;
                    cp = q2api_json_escape(s->p, s->end);

                    if (cp < 0xdc00 || cp > 0xdfff) {
                        return Q2API_ERROR;
                    }

                } else if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
                    return Q2API_ERROR;
                }

                s->p += 6;
                break;

            default:
                return Q2API_ERROR;
            }

            break;

        default:
            s->p++;
        }
    }

    return Q2API_ERROR;
}


static int
q2api_json_digits(q2api_json_scan_t *s)
{
    const char  *start;

    start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }

    return s->p > start ? Q2API_OK : Q2API_ERROR;
}


static int
q2api_json_number(q2api_json_scan_t *s)
{
    if (*s->p == '-') {
        s->p++;
    }

    if (s->p < s->end && *s->p == '0') {
        s->p++;

    } else if (q2api_json_digits(s) != Q2API_OK) {
        return Q2API_ERROR;
    }

    if (s->p < s->end && *s->p == '.') {
        s->p++;

        if (q2api_json_digits(s) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;

        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }

        if (q2api_json_digits(s) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


static int
q2api_json_word(q2api_json_scan_t *s, const char *word, size_t len)
{
    if ((size_t) (s->end - s->p) < len || memcmp(s->p, word, len) != 0) {
        return Q2API_ERROR;
    }

    s->p += len;

    return Q2API_OK;
}


/*
 * Opening and going on in an object or an array: s->p at '{' or '[', or
 * after a member or an element.  *done is set when close ends it (at once
 * for an empty one); Q2API_ERROR for anything but close or a comma.
 */
static void
q2api_json_open(q2api_json_scan_t *s, char close, int *done)
{
    s->p++;
    q2api_json_space(s);

    *done = (s->p < s->end && *s->p == close);

    if (*done) {
        s->p++;
    }
}


static int
q2api_json_next(q2api_json_scan_t *s, char close, int *done)
{
    q2api_json_space(s);

    if (s->p >= s->end || (*s->p != close && *s->p != ',')) {
        return Q2API_ERROR;
    }

    *done = (*s->p == close);
    s->p++;
    q2api_json_space(s);

    return Q2API_OK;
}


/*
 * The members of an object, s->p at '{'.  With fields, the first member of
 * each name asked for is recorded (only the top level asks).
 */
static int
q2api_json_members(q2api_json_scan_t *s, unsigned depth,
    q2api_json_field_t *fields, size_t n)
{
    int                 done;
    size_t              i, klen;
    unsigned            escaped;
    const char         *key, *value;
    q2api_json_type_e   type;

    q2api_json_open(s, '}', &done);

    while (!done) {
        if (s->p >= s->end || *s->p != '"') {
            return Q2API_ERROR;
        }

        key = s->p + 1;

        if (q2api_json_string(s, &escaped) != Q2API_OK) {
            return Q2API_ERROR;
        }

        klen = s->p - 1 - key;

        q2api_json_space(s);

        if (s->p >= s->end || *s->p != ':') {
            return Q2API_ERROR;
        }

        s->p++;
        q2api_json_space(s);

        value = s->p;

        if (q2api_json_value(s, depth + 1, &type) != Q2API_OK) {
            return Q2API_ERROR;
        }

        /* names asked for have no escapes: a key with them is not one */
        for (i = 0; i < n && !escaped; i++) {
            if (fields[i].type == Q2API_JSON_ABSENT
                && strlen(fields[i].name) == klen
                && memcmp(fields[i].name, key, klen) == 0)
            {
                fields[i].type = type;

                if (type == Q2API_JSON_STRING) {
                    fields[i].value = value + 1;
                    fields[i].len = s->p - value - 2;
                    fields[i].escaped = memchr(value + 1, '\\',
                                               fields[i].len) != NULL;

                } else {
                    fields[i].value = value;
                    fields[i].len = s->p - value;
                }

                break;
            }
        }

        if (q2api_json_next(s, '}', &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


static int
q2api_json_elements(q2api_json_scan_t *s, unsigned depth)
{
    int                done;
    q2api_json_type_e  type;

    q2api_json_open(s, ']', &done);

    while (!done) {
        if (q2api_json_value(s, depth + 1, &type) != Q2API_OK
            || q2api_json_next(s, ']', &done) != Q2API_OK)
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


static int
q2api_json_value(q2api_json_scan_t *s, unsigned depth, q2api_json_type_e *type)
{
    unsigned  escaped;

    if (s->p >= s->end || depth > Q2API_JSON_SCAN_DEPTH) {
        return Q2API_ERROR;
    }

    switch (*s->p) {

    case '"':
        *type = Q2API_JSON_STRING;
        return q2api_json_string(s, &escaped);

    case '{':
        *type = Q2API_JSON_OBJECT;
        return q2api_json_members(s, depth, NULL, 0);

    case '[':
        *type = Q2API_JSON_ARRAY;
        return q2api_json_elements(s, depth);

    case 't':
        *type = Q2API_JSON_TRUE;
        return q2api_json_word(s, "true", 4);

    case 'f':
        *type = Q2API_JSON_FALSE;
        return q2api_json_word(s, "false", 5);

    case 'n':
        *type = Q2API_JSON_NULL;
        return q2api_json_word(s, "null", 4);

    default:
        *type = Q2API_JSON_NUMBER;
        return q2api_json_number(s);
    }
}


int
q2api_json_fields(const char *json, size_t len, q2api_json_field_t *fields,
    size_t n)
{
    size_t             i;
    q2api_json_scan_t  s;

    for (i = 0; i < n; i++) {
        fields[i].type = Q2API_JSON_ABSENT;
        fields[i].value = NULL;
        fields[i].len = 0;
        fields[i].escaped = 0;
    }

    s.p = json;
    s.end = json + len;

    q2api_json_space(&s);

    if (s.p >= s.end || *s.p != '{'
        || q2api_json_members(&s, 0, fields, n) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    q2api_json_space(&s);

    return s.p == s.end ? Q2API_OK : Q2API_ERROR;
}


static int
q2api_json_utf8(q2api_buf_t *b, unsigned c)
{
    unsigned char  u[4];
    size_t         n;

    if (c < 0x80) {
        u[0] = (unsigned char) c;
        n = 1;

    } else if (c < 0x800) {
        u[0] = (unsigned char) (0xc0 | c >> 6);
        u[1] = (unsigned char) (0x80 | (c & 0x3f));
        n = 2;

    } else if (c < 0x10000) {
        u[0] = (unsigned char) (0xe0 | c >> 12);
        u[1] = (unsigned char) (0x80 | (c >> 6 & 0x3f));
        u[2] = (unsigned char) (0x80 | (c & 0x3f));
        n = 3;

    } else {
        u[0] = (unsigned char) (0xf0 | c >> 18);
        u[1] = (unsigned char) (0x80 | (c >> 12 & 0x3f));
        u[2] = (unsigned char) (0x80 | (c >> 6 & 0x3f));
        u[3] = (unsigned char) (0x80 | (c & 0x3f));
        n = 4;
    }

    return q2api_buf_append(b, u, n);
}


int
q2api_json_field_string(const q2api_json_field_t *f, q2api_buf_t *scratch,
    q2api_str_t *out)
{
    char         c;
    unsigned     cp, lo;
    const char  *p, *end, *run;

    if (!f->escaped) {
        out->data = f->value;
        out->len = f->len;
        return Q2API_OK;
    }

    q2api_buf_reset(scratch);

    p = f->value;
    end = p + f->len;

    while (p < end) {
        run = p;

        while (p < end && *p != '\\') {
            p++;
        }

        if (p > run && q2api_buf_append(scratch, run, p - run) != Q2API_OK) {
            return Q2API_NOMEM;
        }

        if (p == end) {
            break;
        }

        /* the scanner saw every escape complete and well-formed */
        c = p[1];
        p += 2;

        switch (c) {
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;

        case 'u':
            /* the scanner saw the surrogates paired */
            cp = (unsigned) q2api_json_escape(p - 2, end);
            p += 4;

            if (cp >= 0xd800 && cp <= 0xdbff) {
                lo = (unsigned) q2api_json_escape(p, end);
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }

            if (q2api_json_utf8(scratch, cp) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            continue;

        default:
            /* '"', '\\' and '/' stand for themselves */
            break;
        }

        if (q2api_buf_append_byte(scratch, c) != Q2API_OK) {
            return Q2API_NOMEM;
        }
    }

    out->data = (const char *) scratch->data;
    out->len = scratch->len;

    return Q2API_OK;
}
