/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * count_tokens without a tree: the estimate q2api_request_estimate_tokens()
 * gives the request q2api_claude_parse() would build, read in one pass over
 * the body with the JSON scanner.  A 20 KB body costs cJSON a node and a
 * malloc per value, and the canonical request a copy of every text; here
 * only lengths are added up.
 *
 * Only a body the full parse takes is counted: one it refuses, or one this
 * pass cannot be sure of (an escaped key or name, a \u0000), is left to
 * the full parse, which answers it as before.  The order of the checks
 * does not matter, since any failure here is a "no".
 */


#include <stdlib.h>

#include "q2api_claude_count.h"
#include "q2api_json.h"
#include "q2api_nul.h"


static int q2api_claude_count_message(q2api_claude_count_t *c);
static int q2api_claude_count_system(q2api_claude_count_t *c,
    q2api_json_field_t *f);
static int q2api_claude_count_tools(q2api_claude_count_t *c);
static int q2api_claude_count_scalars(q2api_json_field_t *f);


/* the top-level members the full parse reads */
enum {
    Q2API_CC_MODEL = 0,
    Q2API_CC_MAX_TOKENS,
    Q2API_CC_STREAM,
    Q2API_CC_SYSTEM,
    Q2API_CC_MESSAGES,
    Q2API_CC_TOOLS,
    Q2API_CC_THINKING,
    Q2API_CC_TOOL_CHOICE,
    Q2API_CC_TEMPERATURE,
    Q2API_CC_TOP_P,
    Q2API_CC_TOP_K,
    Q2API_CC_STOP_SEQUENCES,
    Q2API_CC_N
};

static const char  *const q2api_cc_top[] = {
    "model", "max_tokens", "stream", "system", "messages", "tools",
    "thinking", "tool_choice", "temperature", "top_p", "top_k",
    "stop_sequences", NULL
};


void
q2api_claude_text_add(q2api_claude_text_t *t, size_t len)
{
    if (t->nonempty) {
        t->seps++;
    }

    t->nonempty |= (len > 0);
    t->len += len;
    t->pieces++;
}


/* more's pieces appended after t's */
static void
q2api_claude_text_join(q2api_claude_text_t *t, const q2api_claude_text_t *more)
{
    t->seps += t->nonempty ? more->pieces : more->seps;
    t->nonempty |= more->nonempty;
    t->len += more->len;
    t->pieces += more->pieces;
}


static size_t
q2api_claude_text_len(const q2api_claude_text_t *t)
{
    return t->len + t->seps;
}


int
q2api_claude_is(const q2api_json_field_t *f, const char *lit)
{
    return f->type == Q2API_JSON_STRING && f->len == strlen(lit)
           && memcmp(f->value, lit, f->len) == 0;
}


/* a string's length decoded, 0 for anything else */
size_t
q2api_claude_len(const q2api_json_field_t *f)
{
    return f->type == Q2API_JSON_STRING ? q2api_json_string_len(f) : 0;
}


int
q2api_claude_absent(const q2api_json_field_t *f)
{
    return f->type == Q2API_JSON_ABSENT || f->type == Q2API_JSON_NULL;
}


/*
 * The next member's key: *which its index in names when it is the first
 * member of that name, else -1.  An escaped key may spell a name; cJSON
 * would decode it, and this pass does not: no count.
 */
int
q2api_claude_count_key(q2api_json_scan_t *s, const char *const *names,
    unsigned *seen, int *which)
{
    int                 i;
    size_t              j;
    q2api_json_field_t  key;

    if (q2api_json_scan_key(s, &key) != Q2API_OK || key.escaped) {
        return Q2API_ERROR;
    }

    *which = -1;

    for (i = 0; names[i] != NULL; i++) {
        /* a name's NUL ends the loop before its end: keys hold none */
        for (j = 0; j < key.len && names[i][j] == key.value[j]; j++) {
            /* void */
        }

        if (j == key.len && names[i][j] == '\0') {
            if (!(*seen & (1u << i))) {
                *seen |= 1u << i;
                *which = i;
            }

            break;
        }
    }

    return Q2API_OK;
}


/*
 * The value at s->p scanned past; if it is an object, f[i] is the first
 * of its members named names[i] (type Q2API_JSON_ABSENT if none), and
 * *printed the printed length of f[wanted].  The strings compared with
 * names (names[0], always "type", and "media_type") must come without
 * escapes: cJSON would compare them decoded.
 */
int
q2api_claude_count_fields(q2api_json_scan_t *s, const char *const *names,
    q2api_json_field_t *f, int wanted, size_t *printed)
{
    int       i, done, which;
    unsigned  seen;

    for (i = 0; names[i] != NULL; i++) {
        f[i].type = Q2API_JSON_ABSENT;
        f[i].len = 0;
        f[i].escaped = 0;
    }

    if (s->p >= s->end || *s->p != '{') {
        return q2api_json_scan_value(s, &f[i], NULL);
    }

    if (q2api_json_scan_enter(s, &done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    seen = 0;

    while (!done) {
        if (q2api_claude_count_key(s, names, &seen, &which) != Q2API_OK) {
            return Q2API_ERROR;
        }

        if (which < 0) {
            if (q2api_json_scan_value(s, &f[i], NULL) != Q2API_OK) {
                return Q2API_ERROR;
            }

        } else if (q2api_json_scan_value(s, &f[which],
                                         which == wanted ? printed : NULL)
                   != Q2API_OK
                   || (f[which].escaped
                       && (which == 0
                           || strcmp(names[which], "media_type") == 0)))
        {
            return Q2API_ERROR;
        }

        if (q2api_json_scan_next(s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    f[i].type = Q2API_JSON_OBJECT;

    return Q2API_OK;
}


/* one element of messages, as q2api_claude_parse_message() reads it */
static int
q2api_claude_count_message(q2api_claude_count_t *c)
{
    int                     done, which;
    unsigned                seen;
    q2api_json_field_t      f[3];
    q2api_json_scan_t      *s;
    q2api_claude_content_t  content;

    static const char  *const names[] = { "role", "content", NULL };

    s = &c->s;

    if (s->p >= s->end || *s->p != '{'
        || q2api_json_scan_enter(s, &done) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    f[0].type = Q2API_JSON_ABSENT;
    f[1].type = Q2API_JSON_ABSENT;
    memset(&content, 0, sizeof(content));
    seen = 0;

    while (!done) {
        if (q2api_claude_count_key(s, names, &seen, &which) != Q2API_OK) {
            return Q2API_ERROR;
        }

        if (which == 1 && s->p < s->end && *s->p == '[') {
            if (q2api_claude_count_content(c, &content) != Q2API_OK) {
                return Q2API_ERROR;
            }

            f[1].type = Q2API_JSON_ARRAY;

        } else if (q2api_json_scan_value(s, &f[which < 0 ? 2 : which], NULL)
                   != Q2API_OK
                   || (which == 0 && f[0].escaped))
        {
            return Q2API_ERROR;
        }

        if (q2api_json_scan_next(s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    if (f[0].type != Q2API_JSON_STRING
        || (f[1].type != Q2API_JSON_STRING && f[1].type != Q2API_JSON_ARRAY))
    {
        return Q2API_ERROR;
    }

    if (q2api_claude_is(&f[0], "system")) {
        if (f[1].type == Q2API_JSON_STRING) {
            q2api_claude_text_add(&c->later, q2api_claude_len(&f[1]));
            return Q2API_OK;
        }

        if (!content.sys) {
            return Q2API_ERROR;
        }

        q2api_claude_text_join(&c->later, &content.system);
        return Q2API_OK;
    }

    if (!q2api_claude_is(&f[0], "user")
        && !q2api_claude_is(&f[0], "assistant"))
    {
        return Q2API_ERROR;
    }

    c->nmessages++;

    if (f[1].type == Q2API_JSON_STRING) {
        c->bytes += q2api_claude_len(&f[1]);
        return Q2API_OK;
    }

    if (!content.ok) {
        return Q2API_ERROR;
    }

    c->bytes += content.bytes;

    return Q2API_OK;
}


static int
q2api_claude_count_messages(q2api_claude_count_t *c)
{
    int  done;

    if (c->s.p >= c->s.end || *c->s.p != '['
        || q2api_json_scan_enter(&c->s, &done) != Q2API_OK
        || done)
    {
        /* not an array, or an empty one */
        return Q2API_ERROR;
    }

    while (!done) {
        if (q2api_claude_count_message(c) != Q2API_OK
            || q2api_json_scan_next(&c->s, &done) != Q2API_OK)
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* "system": a string, or an array of text blocks */
static int
q2api_claude_count_system(q2api_claude_count_t *c, q2api_json_field_t *f)
{
    int                 done;
    q2api_json_field_t  block[3];

    static const char  *const names[] = { "type", "text", NULL };

    if (c->s.p < c->s.end && *c->s.p != '[') {
        if (q2api_json_scan_value(&c->s, f, NULL) != Q2API_OK) {
            return Q2API_ERROR;
        }

        if (f->type == Q2API_JSON_STRING) {
            q2api_claude_text_add(&c->system, q2api_claude_len(f));
            return Q2API_OK;
        }

        return f->type == Q2API_JSON_NULL ? Q2API_OK : Q2API_ERROR;
    }

    f->type = Q2API_JSON_ARRAY;

    if (q2api_json_scan_enter(&c->s, &done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    while (!done) {
        if (q2api_claude_count_fields(&c->s, names, block, -1, NULL)
            != Q2API_OK
            || block[2].type != Q2API_JSON_OBJECT
            || !q2api_claude_is(&block[0], "text")
            || block[1].type != Q2API_JSON_STRING)
        {
            return Q2API_ERROR;
        }

        q2api_claude_text_add(&c->system, q2api_claude_len(&block[1]));

        if (q2api_json_scan_next(&c->s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* "tools", as q2api_claude_parse_tools() reads them */
static int
q2api_claude_count_tools(q2api_claude_count_t *c)
{
    int                  done;
    size_t               schema;
    q2api_json_field_t   f[5];
    q2api_json_scan_t   *s;

    static const char  *const names[] = {
        "type", "name", "description", "input_schema", NULL
    };

    s = &c->s;

    if (s->p >= s->end || *s->p != '['
        || q2api_json_scan_enter(s, &done) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    while (!done) {
        schema = 0;

        if (q2api_claude_count_fields(s, names, f, 3, &schema) != Q2API_OK
            || f[4].type != Q2API_JSON_OBJECT)
        {
            return Q2API_ERROR;
        }

        if (f[0].type == Q2API_JSON_STRING && !q2api_claude_is(&f[0], "custom")
            && f[3].type == Q2API_JSON_ABSENT)
        {
            /* a tool Anthropic runs; the full parse decides about it */
            c->nserver_tools++;

        } else if (f[1].type != Q2API_JSON_STRING || f[1].len == 0
                   || !(q2api_claude_absent(&f[2])
                        || f[2].type == Q2API_JSON_STRING)
                   || f[3].type != Q2API_JSON_OBJECT)
        {
            return Q2API_ERROR;

        } else {
            c->bytes += q2api_claude_len(&f[1])
                        + q2api_claude_len(&f[2]) + schema;
            c->ntools++;
        }

        if (q2api_json_scan_next(s, &done) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* a number as cJSON reads it: strtod() of its text */
static int
q2api_claude_number(const q2api_json_field_t *f, double *d)
{
    char  text[64];

    if (f->type != Q2API_JSON_NUMBER || f->len >= sizeof(text)) {
        return Q2API_ERROR;
    }

    memcpy(text, f->value, f->len);
    text[f->len] = '\0';

    *d = strtod(text, NULL);

    return Q2API_OK;
}


/* a whole number in [low, 1e18) when present; the bound first, as there */
static int
q2api_claude_whole(const q2api_json_field_t *f, double low)
{
    double  d;

    if (q2api_claude_absent(f)) {
        return Q2API_OK;
    }

    if (q2api_claude_number(f, &d) != Q2API_OK || !(d >= low) || d >= 1e18
        || d != (double) (long long) d)
    {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


static int
q2api_claude_unit(const q2api_json_field_t *f)
{
    double  d;

    if (q2api_claude_absent(f)) {
        return Q2API_OK;
    }

    if (q2api_claude_number(f, &d) != Q2API_OK || !(d >= 0) || d > 1) {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/* thinking and tool_choice: objects with a "type" from a short list */
static int
q2api_claude_count_choice(q2api_json_scan_t *s, int thinking)
{
    double              d;
    q2api_json_field_t  f[3];

    static const char  *const names[2][3] = {
        { "type", "name", NULL },
        { "type", "budget_tokens", NULL }
    };

    if (q2api_claude_count_fields(s, names[thinking], f, -1, NULL)
        != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    if (f[2].type == Q2API_JSON_NULL) {
        return Q2API_OK;
    }

    if (f[2].type != Q2API_JSON_OBJECT || f[0].type != Q2API_JSON_STRING) {
        return Q2API_ERROR;
    }

    if (thinking) {
        if (q2api_claude_is(&f[0], "enabled")) {
            return (q2api_claude_number(&f[1], &d) == Q2API_OK && d >= 1
                    && d < 1e18) ? Q2API_OK : Q2API_ERROR;
        }

        return (q2api_claude_is(&f[0], "adaptive")
                || q2api_claude_is(&f[0], "disabled"))
               ? Q2API_OK : Q2API_ERROR;
    }

    if (q2api_claude_is(&f[0], "tool")) {
        return (f[1].type == Q2API_JSON_STRING
                && q2api_claude_len(&f[1]) > 0)
               ? Q2API_OK : Q2API_ERROR;
    }

    return (q2api_claude_is(&f[0], "auto") || q2api_claude_is(&f[0], "any")
            || q2api_claude_is(&f[0], "none"))
           ? Q2API_OK : Q2API_ERROR;
}


/* stop_sequences: null, or an array of strings */
static int
q2api_claude_count_stops(q2api_json_scan_t *s, q2api_json_field_t *f)
{
    int                 done;
    q2api_json_field_t  seq;

    if (s->p < s->end && *s->p != '[') {
        return (q2api_json_scan_value(s, f, NULL) == Q2API_OK
                && f->type == Q2API_JSON_NULL)
               ? Q2API_OK : Q2API_ERROR;
    }

    f->type = Q2API_JSON_ARRAY;

    if (q2api_json_scan_enter(s, &done) != Q2API_OK) {
        return Q2API_ERROR;
    }

    while (!done) {
        if (q2api_json_scan_value(s, &seq, NULL) != Q2API_OK
            || seq.type != Q2API_JSON_STRING
            || q2api_json_scan_next(s, &done) != Q2API_OK)
        {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/* the members checked but not counted, as q2api_claude_parse() does */
static int
q2api_claude_count_scalars(q2api_json_field_t *f)
{
    q2api_json_field_t  *v;

    v = &f[Q2API_CC_MODEL];

    if (v->type != Q2API_JSON_STRING || q2api_claude_len(v) == 0) {
        return Q2API_ERROR;
    }

    v = &f[Q2API_CC_STREAM];

    if (!q2api_claude_absent(v) && v->type != Q2API_JSON_TRUE
        && v->type != Q2API_JSON_FALSE)
    {
        return Q2API_ERROR;
    }

    if (q2api_claude_whole(&f[Q2API_CC_MAX_TOKENS], 1) != Q2API_OK
        || q2api_claude_whole(&f[Q2API_CC_TOP_K], 0) != Q2API_OK
        || q2api_claude_unit(&f[Q2API_CC_TEMPERATURE]) != Q2API_OK
        || q2api_claude_unit(&f[Q2API_CC_TOP_P]) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


int
q2api_claude_count(const char *body, size_t len, long long *tokens)
{
    int                   rc, done, which;
    unsigned              seen;
    q2api_json_field_t    f[Q2API_CC_N + 1], *v;
    q2api_claude_count_t  c;

    if (len == 0 || !q2api_utf8_valid(body, len)
        || q2api_nul_found(body, len) != 0)
    {
        return Q2API_ERROR;
    }

    memset(&c, 0, sizeof(c));

    for (which = 0; which <= Q2API_CC_N; which++) {
        f[which].type = Q2API_JSON_ABSENT;
        f[which].len = 0;
        f[which].escaped = 0;
    }

    q2api_json_scan_init(&c.s, body, len);

    if (c.s.p >= c.s.end || *c.s.p != '{'
        || q2api_json_scan_enter(&c.s, &done) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    seen = 0;

    while (!done) {
        if (q2api_claude_count_key(&c.s, q2api_cc_top, &seen, &which)
            != Q2API_OK)
        {
            return Q2API_ERROR;
        }

        v = &f[which < 0 ? Q2API_CC_N : which];

        switch (which) {

        case Q2API_CC_SYSTEM:
            rc = q2api_claude_count_system(&c, v);
            break;

        case Q2API_CC_MESSAGES:
            v->type = Q2API_JSON_ARRAY;
            rc = q2api_claude_count_messages(&c);
            break;

        case Q2API_CC_TOOLS:
            v->type = Q2API_JSON_ARRAY;

            if (c.s.p < c.s.end && *c.s.p == 'n') {
                rc = q2api_json_scan_value(&c.s, v, NULL);
                rc = (rc == Q2API_OK && v->type == Q2API_JSON_NULL)
                     ? Q2API_OK : Q2API_ERROR;

            } else {
                rc = q2api_claude_count_tools(&c);
            }

            break;

        case Q2API_CC_THINKING:
        case Q2API_CC_TOOL_CHOICE:
            v->type = Q2API_JSON_OBJECT;
            rc = q2api_claude_count_choice(&c.s,
                                           which == Q2API_CC_THINKING);
            break;

        case Q2API_CC_STOP_SEQUENCES:
            rc = q2api_claude_count_stops(&c.s, v);
            break;

        default:
            rc = q2api_json_scan_value(&c.s, v, NULL);
        }

        if (rc != Q2API_OK || q2api_json_scan_next(&c.s, &done) != Q2API_OK)
        {
            return Q2API_ERROR;
        }
    }

    if (q2api_json_scan_end(&c.s) != Q2API_OK
        || f[Q2API_CC_MESSAGES].type != Q2API_JSON_ARRAY
        || c.nmessages == 0
        || (c.nserver_tools && c.ntools == 0)
        || q2api_claude_count_scalars(f) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    q2api_claude_text_join(&c.system, &c.later);

    *tokens = q2api_estimate_tokens(q2api_claude_text_len(&c.system)
                                    + c.bytes);

    return Q2API_OK;
}
