/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api_thinking: "<thinking>" tags split out of a text stream however the
 * stream is cut into chunks; no byte dropped, none invented.
 */


#include <stdint.h>
#include <stdio.h>

#include "tap.h"
#include "q2api_buf.h"
#include "q2api_thinking.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


/* pieces merged by kind: "T[...]" text, "K[...]" thinking */
typedef struct {
    q2api_buf_t   out;
    int           last;         /* kind of the open piece, -1: none */
    int           calls;
    int           fail_at;      /* fail on this call, 0: never */
} sink_t;


static int
emit(void *data, int thinking, const char *p, size_t len)
{
    sink_t  *k = data;

    if (++k->calls == k->fail_at) {
        return Q2API_ERROR;
    }

    if (len == 0) {
        q2api_buf_append_str(&k->out, "EMPTY");
        return Q2API_OK;
    }

    if (k->last != thinking) {
        if (k->last != -1) {
            q2api_buf_append_byte(&k->out, ']');
        }

        q2api_buf_append_str(&k->out, thinking ? "K[" : "T[");
        k->last = thinking;
    }

    q2api_buf_append(&k->out, p, len);

    return Q2API_OK;
}


static void
sink_init(sink_t *k)
{
    memset(k, 0, sizeof(sink_t));
    q2api_buf_init(&k->out, 0);
    k->last = -1;
}


/* the merged pieces as a C string (the sink keeps them) */
static const char *
sink_str(sink_t *k)
{
    if (k->last != -1) {
        q2api_buf_append_byte(&k->out, ']');
        k->last = -1;
    }

    q2api_buf_append_byte(&k->out, '\0');
    k->out.len--;

    return (const char *) k->out.data;
}


/* in, fed in chunks of the given sizes (0 ends the list; the rest whole) */
static int
split_feed(const char *in, const size_t *sizes, sink_t *k)
{
    int               rc;
    size_t            len, n;
    q2api_thinking_t  t;

    q2api_thinking_init(&t);
    len = strlen(in);

    for ( ; len; sizes++) {
        n = (*sizes == 0 || *sizes > len) ? len : *sizes;

        rc = q2api_thinking_feed(&t, in, n, emit, k);
        if (rc != Q2API_OK) {
            return rc;
        }

        in += n;
        len -= n;

        if (*sizes == 0) {
            sizes--;
        }
    }

    return q2api_thinking_finish(&t, emit, k);
}


static void
test_whole(void)
{
    size_t  i;
    char    name[160];
    sink_t  k;

    static const size_t  whole[] = { 0 };

    static const struct {
        const char  *in;
        const char  *want;
    } cases[] = {
        { "hello", "T[hello]" },
        { "<thinking>hmm</thinking>answer", "K[hmm]T[answer]" },
        { "a<thinking>b</thinking>c<thinking>d</thinking>e",
          "T[a]K[b]T[c]K[d]T[e]" },
        { "<thinking>unclosed", "K[unclosed]" },
        { "text<thin", "T[text<thin]" },
        { "<thinking>x</thin", "K[x</thin]" },
        { "a<b>c", "T[a<b>c]" },
        { "</thinking>", "T[</thinking>]" },
        { "<thinking><thinking>x</thinking>", "K[<thinking>x]" },
        { "<thinking></thinking>", "" },
        { "<<thinking>x", "T[<]K[x]" },
        { "<", "T[<]" },
        { "<thinking>\n\n</thinking>\n\nok", "K[\n\n]T[\n\nok]" }
    };

    for (i = 0; i < nelts(cases); i++) {
        sink_init(&k);
        split_feed(cases[i].in, whole, &k);

        snprintf(name, sizeof(name), "whole: %zu", i);
        is_str(sink_str(&k), cases[i].want, name);

        q2api_buf_free(&k.out);
    }
}


/* every way of cutting the input in two, and one byte at a time */
static void
test_splits(void)
{
    int          bad;
    size_t       i, cut, len;
    sink_t       k, w;
    const char  *in;

    static const size_t  whole[] = { 0 };
    static const size_t  bytes[] = { 1, 0 };

    static const char  *inputs[] = {
        "<thinking>hmm</thinking>answer",
        "pre<thinking>a<b</thinking>post</thinking>",
        "x<thinking",
        "<thinking>only thinking</thinking",
        "<thi<thinking>nested?</thinking></thinking>tail",
        "plain text without tags at all, long enough to cross 16 bytes"
    };

    bad = 0;

    for (i = 0; i < nelts(inputs); i++) {
        in = inputs[i];
        len = strlen(in);

        sink_init(&w);
        split_feed(in, whole, &w);
        sink_str(&w);

        for (cut = 1; cut < len; cut++) {
            size_t  sizes[] = { cut, 0 };

            sink_init(&k);
            split_feed(in, sizes, &k);

            if (strcmp(sink_str(&k), (char *) w.out.data) != 0) {
                if (bad++ < 5) {
                    diag("\"%s\" cut at %zu: %s", in, cut,
                         (char *) k.out.data);
                }
            }

            q2api_buf_free(&k.out);
        }

        sink_init(&k);
        split_feed(in, bytes, &k);

        if (strcmp(sink_str(&k), (char *) w.out.data) != 0) {
            if (bad++ < 5) {
                diag("\"%s\" byte by byte: %s", in, (char *) k.out.data);
            }
        }

        q2api_buf_free(&k.out);
        q2api_buf_free(&w.out);
    }

    is_int(bad, 0, "every cut gives what the whole gives");
}


static void
test_errors(void)
{
    sink_t            k;
    q2api_thinking_t  t;

    static const size_t  bytes[] = { 1, 0 };

    /* the emitter's error stops the feed and is returned */
    sink_init(&k);
    k.fail_at = 2;
    is_int(split_feed("a<thinking>b</thinking>c", bytes, &k), Q2API_ERROR,
           "an emit error is returned");
    q2api_buf_free(&k.out);

    /* finish returns what is held, once */
    sink_init(&k);
    q2api_thinking_init(&t);
    q2api_thinking_feed(&t, "x</th", 5, emit, &k);
    is_str(sink_str(&k), "T[x</th]", "outside thinking '</th' is text");
    q2api_buf_free(&k.out);

    sink_init(&k);
    q2api_thinking_init(&t);
    q2api_thinking_feed(&t, "x<thin", 6, emit, &k);
    is_str(sink_str(&k), "T[x]", "a possible tag is held back");
    q2api_thinking_finish(&t, emit, &k);
    q2api_thinking_finish(&t, emit, &k);
    is_str(sink_str(&k), "T[x]T[<thin]", "finish gives it, once");
    q2api_buf_free(&k.out);

    /* nothing emitted for nothing */
    sink_init(&k);
    q2api_thinking_init(&t);
    is_int(q2api_thinking_feed(&t, "", 0, emit, &k), Q2API_OK, "empty feed");
    is_int(q2api_thinking_finish(&t, emit, &k), Q2API_OK, "empty finish");
    is_int(k.calls, 0, "no emit for no input");
    q2api_buf_free(&k.out);
}


int
main(void)
{
    test_whole();
    test_splits();
    test_errors();

    return done_testing();
}
