/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * q2api_models: how client model names are normalised, the aliases, and
 * the built-in table.
 */


#include <stdint.h>
#include <stdio.h>

#include "tap.h"
#include "q2api_models.h"
#include "q2api_time.h"


#define nelts(a)  (sizeof(a) / sizeof((a)[0]))


static void
test_normalize(void)
{
    int     thinking;
    char    out[64], name[160];
    size_t  i, n;

    static const struct {
        const char  *in;
        const char  *want;
        int          thinking;
    } cases[] = {
        /* one model, however the client spells it */
        { "claude-sonnet-4-5", "claude-sonnet-4-5", 0 },
        { "claude-sonnet-4.5", "claude-sonnet-4-5", 0 },
        { "claude-sonnet-4-5-20250929", "claude-sonnet-4-5", 0 },
        { "Claude-Sonnet-4-5", "claude-sonnet-4-5", 0 },
        { "CLAUDE-SONNET-4.5", "claude-sonnet-4-5", 0 },
        { "claude-sonnet-4-5-thinking", "claude-sonnet-4-5", 1 },
        { "claude-sonnet-4-5-20250929-thinking", "claude-sonnet-4-5", 1 },
        { "claude-sonnet-4-5-latest", "claude-sonnet-4-5", 0 },
        { "claude-opus-4-6", "claude-opus-4-6", 0 },
        { "claude-haiku-4-5-20251001", "claude-haiku-4-5", 0 },
        /* family aliases and retired generations */
        { "sonnet", "claude-sonnet-4-6", 0 },
        { "Opus", "claude-opus-4-6", 0 },
        { "haiku", "claude-haiku-4-5", 0 },
        { "sonnet-thinking", "claude-sonnet-4-6", 1 },
        { "claude-sonnet", "claude-sonnet-4-6", 0 },
        { "claude-sonnet-4-0", "claude-sonnet-4", 0 },
        { "claude-opus-4-1-20250805", "claude-opus-4-5", 0 },
        { "claude-3-7-sonnet-20250219", "claude-sonnet-4-5", 0 },
        { "claude-3-5-sonnet-latest", "claude-sonnet-4-5", 0 },
        { "claude-3-5-haiku-20241022", "claude-haiku-4-5", 0 },
        { "claude-3-opus-20240229", "claude-opus-4-5", 0 },
        /* what is not a date or an alias stays */
        { "claude-sonnet-4-5-2025092", "claude-sonnet-4-5-2025092", 0 },
        { "claude-sonnet-4-5-2025092x", "claude-sonnet-4-5-2025092x", 0 },
        { "gpt-4o", "gpt-4o", 0 },
        { "-thinking", "-thinking", 0 },
        { "x-thinking", "x", 1 },
        { "-20250101", "-20250101", 0 }
    };

    for (i = 0; i < nelts(cases); i++) {
        thinking = 0;
        n = q2api_model_normalize(cases[i].in, strlen(cases[i].in), out,
                                  sizeof(out), &thinking);

        snprintf(name, sizeof(name), "normalize \"%s\"", cases[i].in);
        if (!ok(n == strlen(cases[i].want) && strcmp(out, cases[i].want) == 0,
                name))
        {
            diag("got \"%s\" (%zu)", out, n);
        }

        snprintf(name, sizeof(name), "normalize \"%s\": thinking %d",
                 cases[i].in, cases[i].thinking);
        is_int(thinking, cases[i].thinking, name);
    }

    /* the length given is the name: no NUL needed */
    thinking = 0;
    n = q2api_model_normalize("sonnetXYZ", 6, out, sizeof(out), &thinking);
    ok(n == 17 && strcmp(out, "claude-sonnet-4-6") == 0,
       "only len bytes are read");

    /* what does not fit */
    thinking = 0;
    ok(q2api_model_normalize("", 0, out, sizeof(out), &thinking) == 0,
       "empty: 0");
    ok(q2api_model_normalize("abcdefgh", 8, out, 8, &thinking) == 0,
       "no room for the NUL: 0");
    n = q2api_model_normalize("abcdefg", 7, out, 8, &thinking);
    ok(n == 7 && strcmp(out, "abcdefg") == 0, "exactly fits");
    ok(q2api_model_normalize("sonnet", 6, out, 8, &thinking) == 0,
       "an alias longer than out: 0");
}


static void
test_builtin(void)
{
    int                   thinking;
    char                  out[64], name[128];
    size_t                n, count;
    time_t                t;
    const q2api_model_t  *m;

    count = 0;

    for (m = q2api_builtin_models; m->id != NULL; m++) {
        count++;

        snprintf(name, sizeof(name), "%s: every field set", m->id);
        ok(m->upstream != NULL && m->upstream[0] != '\0'
           && m->display != NULL && m->display[0] != '\0'
           && m->created != NULL, name);

        snprintf(name, sizeof(name), "%s: created is RFC 3339", m->id);
        ok(q2api_time_parse(m->created, strlen(m->created), &t) == Q2API_OK
           && t > 1700000000, name);

        thinking = 0;
        n = q2api_model_normalize(m->id, strlen(m->id), out, sizeof(out),
                                  &thinking);

        snprintf(name, sizeof(name), "%s: normalised already", m->id);
        ok(n == strlen(m->id) && strcmp(out, m->id) == 0 && !thinking,
           name);

        snprintf(name, sizeof(name), "%s: found by its id", m->id);
        ok(q2api_model_builtin(m->id) == m, name);

        /* the upstream id, as Amazon Q spells it, leads back here */
        thinking = 0;
        q2api_model_normalize(m->upstream, strlen(m->upstream), out,
                              sizeof(out), &thinking);

        snprintf(name, sizeof(name), "%s: its upstream id normalises to it",
                 m->id);
        ok(q2api_model_builtin(out) == m, name);
    }

    ok(count >= 6, "the built-in table has its models");

    ok(q2api_model_builtin("claude-sonnet-4.5") == NULL,
       "lookup wants the normalised id");
    ok(q2api_model_builtin("gpt-4o") == NULL, "unknown: NULL");
    ok(q2api_model_builtin("") == NULL, "empty: NULL");

    /* every alias leads to a built-in model */
    {
        static const char  *aliases[] = {
            "sonnet", "opus", "haiku", "claude-sonnet", "claude-opus",
            "claude-haiku", "claude-sonnet-4-0", "claude-opus-4",
            "claude-opus-4-0", "claude-opus-4-1", "claude-3-7-sonnet",
            "claude-3-5-sonnet", "claude-3-5-haiku", "claude-3-haiku",
            "claude-3-opus"
        };
        size_t  i;

        for (i = 0; i < nelts(aliases); i++) {
            thinking = 0;
            q2api_model_normalize(aliases[i], strlen(aliases[i]), out,
                                  sizeof(out), &thinking);

            snprintf(name, sizeof(name), "alias %s is a built-in model",
                     aliases[i]);
            ok(q2api_model_builtin(out) != NULL, name);
        }
    }
}


int
main(void)
{
    test_normalize();
    test_builtin();

    return done_testing();
}
