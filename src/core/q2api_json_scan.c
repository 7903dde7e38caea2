/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdint.h>

#include <cjson/cJSON.h>

#include "q2api_json_scan.h"


/* as deep as any answer nests, and far from the worker's stack limit */
#define Q2API_JSON_SCAN_DEPTH  512


static int q2api_json_value(q2api_json_scan_t *s, unsigned depth,
    q2api_json_type_e *type, size_t *printed);
static int q2api_json_number_printed(const char *num, size_t len,
    size_t *printed);


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


/*
 * s->p at the opening quote; on return after the closing one.  With
 * printed, adds the length cJSON_PrintUnformatted() gives the string.
 * Long texts are most of a request: the quote and the backslashes are
 * found with memchr(), at memory speed, and the quote found is kept until
 * an escape takes it.
 */
static int
q2api_json_string(q2api_json_scan_t *s, unsigned *escaped, size_t *printed)
{
    long         cp;
    const char  *p, *end, *start, *quote, *bs;

    start = s->p + 1;
    end = s->end;
    p = start;
    quote = NULL;
    *escaped = 0;

    /* a key or a short value ends before a call to memchr() would pay */
    for (bs = p; bs < end && bs < start + 32; bs++) {
        if (*bs == '"') {
            quote = bs;
            goto done;
        }

        if (*bs == '\\') {
            break;
        }
    }

    for ( ;; ) {
        if (quote == NULL || quote < p) {
            quote = memchr(p, '"', end - p);
            if (quote == NULL) {
                return Q2API_ERROR;
            }
        }

        bs = memchr(p, '\\', quote - p);
        if (bs == NULL) {
            break;
        }

        *escaped = 1;
        p = bs;

        if (end - p < 2) {
            return Q2API_ERROR;
        }

        switch (p[1]) {
        case '"': case '\\': case '/': case 'b':
        case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;

        case 'u':
            cp = q2api_json_escape(p, end);

            /* UTF-16 surrogates come in pairs, high then low */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                p += 6;
                cp = q2api_json_escape(p, end);

                if (cp < 0xdc00 || cp > 0xdfff) {
                    return Q2API_ERROR;
                }

            } else if (cp < 0 || (cp >= 0xdc00 && cp <= 0xdfff)) {
                return Q2API_ERROR;
            }

            p += 6;
            break;

        default:
            return Q2API_ERROR;
        }
    }

done:

    if (printed) {
        *printed += q2api_json_string_printed(start, quote - start);
    }

    s->p = quote + 1;

    return Q2API_OK;
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
q2api_json_number(q2api_json_scan_t *s, size_t *printed)
{
    const char  *start;

    start = s->p;

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

    return printed ? q2api_json_number_printed(start, s->p - start, printed)
                   : Q2API_OK;
}


static int
q2api_json_literal(q2api_json_scan_t *s, const char *word, size_t len,
    size_t *printed)
{
    if ((size_t) (s->end - s->p) < len || memcmp(s->p, word, len) != 0) {
        return Q2API_ERROR;
    }

    s->p += len;

    if (printed) {
        *printed += len;
    }

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
    q2api_json_field_t *fields, size_t n, size_t *printed)
{
    int                 done;
    size_t              i, klen;
    unsigned            escaped;
    const char         *key, *value;
    q2api_json_type_e   type;

    q2api_json_open(s, '}', &done);

    if (printed) {
        *printed += 2;
    }

    while (!done) {
        if (s->p >= s->end || *s->p != '"') {
            return Q2API_ERROR;
        }

        key = s->p + 1;

        if (q2api_json_string(s, &escaped, printed) != Q2API_OK) {
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

        if (q2api_json_value(s, depth + 1, &type, printed) != Q2API_OK) {
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

        if (printed) {
            /* the colon, and a comma unless the last */
            *printed += done ? 1 : 2;
        }
    }

    return Q2API_OK;
}


static int
q2api_json_elements(q2api_json_scan_t *s, unsigned depth, size_t *printed)
{
    int                done;
    q2api_json_type_e  type;

    q2api_json_open(s, ']', &done);

    if (printed) {
        *printed += 2;
    }

    while (!done) {
        if (q2api_json_value(s, depth + 1, &type, printed) != Q2API_OK
            || q2api_json_next(s, ']', &done) != Q2API_OK)
        {
            return Q2API_ERROR;
        }

        if (printed && !done) {
            *printed += 1;
        }
    }

    return Q2API_OK;
}


static int
q2api_json_value(q2api_json_scan_t *s, unsigned depth, q2api_json_type_e *type,
    size_t *printed)
{
    unsigned  escaped;

    if (s->p >= s->end || depth > Q2API_JSON_SCAN_DEPTH) {
        return Q2API_ERROR;
    }

    switch (*s->p) {

    case '"':
        *type = Q2API_JSON_STRING;
        return q2api_json_string(s, &escaped, printed);

    case '{':
        *type = Q2API_JSON_OBJECT;
        return q2api_json_members(s, depth, NULL, 0, printed);

    case '[':
        *type = Q2API_JSON_ARRAY;
        return q2api_json_elements(s, depth, printed);

    case 't':
        *type = Q2API_JSON_TRUE;
        return q2api_json_literal(s, "true", 4, printed);

    case 'f':
        *type = Q2API_JSON_FALSE;
        return q2api_json_literal(s, "false", 5, printed);

    case 'n':
        *type = Q2API_JSON_NULL;
        return q2api_json_literal(s, "null", 4, printed);

    default:
        *type = Q2API_JSON_NUMBER;
        return q2api_json_number(s, printed);
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
        || q2api_json_members(&s, 0, fields, n, NULL) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    q2api_json_space(&s);

    return s.p == s.end ? Q2API_OK : Q2API_ERROR;
}


void
q2api_json_scan_init(q2api_json_scan_t *s, const char *json, size_t len)
{
    s->p = json;
    s->end = json + len;
    s->depth = 0;
    s->arrays = 0;

    q2api_json_space(s);
}


int
q2api_json_scan_enter(q2api_json_scan_t *s, int *done)
{
    char  close;

    if (s->p >= s->end || (*s->p != '{' && *s->p != '[')
        || s->depth >= Q2API_JSON_SCAN_LEVELS)
    {
        return Q2API_ERROR;
    }

    close = (*s->p == '{') ? '}' : ']';

    q2api_json_open(s, close, done);

    if (!*done) {
        if (close == ']') {
            s->arrays |= 1ULL << s->depth;

        } else {
            s->arrays &= ~(1ULL << s->depth);
        }

        s->depth++;
    }

    return Q2API_OK;
}


int
q2api_json_scan_key(q2api_json_scan_t *s, q2api_json_field_t *key)
{
    unsigned  escaped;

    if (s->p >= s->end || *s->p != '"') {
        return Q2API_ERROR;
    }

    key->type = Q2API_JSON_STRING;
    key->value = s->p + 1;

    if (q2api_json_string(s, &escaped, NULL) != Q2API_OK) {
        return Q2API_ERROR;
    }

    key->len = s->p - 1 - key->value;
    key->escaped = escaped;

    q2api_json_space(s);

    if (s->p >= s->end || *s->p != ':') {
        return Q2API_ERROR;
    }

    s->p++;
    q2api_json_space(s);

    return Q2API_OK;
}


int
q2api_json_scan_value(q2api_json_scan_t *s, q2api_json_field_t *value,
    size_t *printed)
{
    unsigned     escaped;
    const char  *start;

    start = s->p;

    if (s->p < s->end && *s->p == '"') {
        value->type = Q2API_JSON_STRING;

        if (q2api_json_string(s, &escaped, printed) != Q2API_OK) {
            return Q2API_ERROR;
        }

        value->value = start + 1;
        value->len = s->p - start - 2;
        value->escaped = escaped;

        return Q2API_OK;
    }

    if (q2api_json_value(s, s->depth, &value->type, printed) != Q2API_OK) {
        return Q2API_ERROR;
    }

    value->value = start;
    value->len = s->p - start;
    value->escaped = 0;

    return Q2API_OK;
}


int
q2api_json_scan_next(q2api_json_scan_t *s, int *done)
{
    char  close;

    if (s->depth == 0) {
        return Q2API_ERROR;
    }

    close = (s->arrays >> (s->depth - 1) & 1) ? ']' : '}';

    if (q2api_json_next(s, close, done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    if (*done) {
        s->depth--;
    }

    return Q2API_OK;
}


int
q2api_json_scan_end(q2api_json_scan_t *s)
{
    q2api_json_space(s);

    return (s->depth == 0 && s->p == s->end) ? Q2API_OK : Q2API_ERROR;
}


/*
 * The string's characters one at a time, escapes decoded: *c the code
 * point (or the byte, for one not escaped), the escape's length returned.
 * The scanner has seen every escape complete and the surrogates paired.
 */
static size_t
q2api_json_char(const char *p, const char *end, unsigned *c, int *raw)
{
    unsigned  lo;

    *raw = (*p != '\\');

    if (*raw) {
        *c = (unsigned char) *p;
        return 1;
    }

    switch (p[1]) {
    case 'b': *c = '\b'; return 2;
    case 'f': *c = '\f'; return 2;
    case 'n': *c = '\n'; return 2;
    case 'r': *c = '\r'; return 2;
    case 't': *c = '\t'; return 2;
    case 'u': break;
    default: *c = (unsigned char) p[1]; return 2;
    }

    *c = (unsigned) q2api_json_escape(p, end);

    if (*c >= 0xd800 && *c <= 0xdbff) {
        lo = (unsigned) q2api_json_escape(p + 6, end);
        *c = 0x10000 + ((*c - 0xd800) << 10) + (lo - 0xdc00);
        return 12;
    }

    return 6;
}


static size_t
q2api_json_utf8_len(unsigned c)
{
    return c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
}


size_t
q2api_json_string_len(const q2api_json_field_t *f)
{
    int          raw;
    size_t       n;
    unsigned     c;
    const char  *p, *end, *bs;

    if (!f->escaped) {
        return f->len;
    }

    n = 0;
    p = f->value;
    end = p + f->len;

    while (p < end) {
        bs = memchr(p, '\\', end - p);
        if (bs == NULL) {
            return n + (end - p);
        }

        n += bs - p;
        p = bs + q2api_json_char(bs, end, &c, &raw);
        n += q2api_json_utf8_len(c);
    }

    return n;
}


size_t
q2api_json_string_printed(const char *v, size_t len)
{
    int                   raw;
    size_t                n;
    uint64_t              w;
    unsigned              c;
    const char           *p, *end;
    const unsigned char  *u;

    /* the quotes; then each character as cJSON's print_string_ptr() */
    n = 2;
    p = v;
    end = v + len;

    while (p < end) {
        /* a run that prints as it is: 8 bytes at a time while none is a
         * control character or a backslash */
        while (end - p >= 8) {
            memcpy(&w, p, 8);

            if (((w - 0x2020202020202020ULL) & ~w & 0x8080808080808080ULL)
                || (((w ^ 0x5c5c5c5c5c5c5c5cULL) - 0x0101010101010101ULL)
                    & ~(w ^ 0x5c5c5c5c5c5c5c5cULL)
                    & 0x8080808080808080ULL))
            {
                break;
            }

            n += 8;
            p += 8;
        }

        for (u = (const unsigned char *) p;
             u < (const unsigned char *) end && *u >= 0x20 && *u != '\\';
             u++)
        {
            /* void */
        }

        n += u - (const unsigned char *) p;
        p = (const char *) u;

        if (p == end) {
            break;
        }

        p += q2api_json_char(p, end, &c, &raw);

        if (c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n'
            || c == '\r' || c == '\t')
        {
            n += 2;

        } else if (c < 0x20) {
            n += 6;

        } else {
            n += raw ? 1 : q2api_json_utf8_len(c);
        }
    }

    return n;
}


/*
 * How cJSON prints a number ("%d" for a whole int, else the shorter of
 * %1.15g and %1.17g that reads back, "null" for an infinity) is asked of
 * cJSON itself; numbers are rare where a length is wanted (schemas).
 */
static int
q2api_json_number_printed(const char *num, size_t len, size_t *printed)
{
    char   *text;
    cJSON  *item;

    item = cJSON_ParseWithLength(num, len);
    if (item == NULL) {
        return Q2API_ERROR;
    }

    text = cJSON_PrintUnformatted(item);
    cJSON_Delete(item);

    if (text == NULL) {
        return Q2API_ERROR;
    }

    *printed += strlen(text);
    cJSON_free(text);

    return Q2API_OK;
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
