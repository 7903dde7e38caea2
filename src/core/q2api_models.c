/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <ctype.h>
#include <strings.h>

#include "q2api_models.h"


const q2api_model_t  q2api_builtin_models[] = {
    { "claude-opus-4-6", "claude-opus-4.6", "Claude Opus 4.6",
      "2026-02-05T00:00:00Z", "amazonq" },
    { "claude-sonnet-4-6", "claude-sonnet-4.6", "Claude Sonnet 4.6",
      "2026-02-17T00:00:00Z", "amazonq" },
    { "claude-opus-4-5", "claude-opus-4.5", "Claude Opus 4.5",
      "2025-11-24T00:00:00Z", "amazonq" },
    { "claude-haiku-4-5", "claude-haiku-4.5", "Claude Haiku 4.5",
      "2025-10-15T00:00:00Z", "amazonq" },
    { "claude-sonnet-4-5", "claude-sonnet-4.5", "Claude Sonnet 4.5",
      "2025-09-29T00:00:00Z", "amazonq" },
    { "claude-sonnet-4", "claude-sonnet-4", "Claude Sonnet 4",
      "2025-05-22T00:00:00Z", "amazonq" },
    { NULL, NULL, NULL, NULL, NULL }
};


/* short names and retired generations clients still send */
static const struct {
    const char  *alias;
    const char  *id;
} q2api_model_aliases[] = {
    { "sonnet", "claude-sonnet-4-6" },
    { "opus", "claude-opus-4-6" },
    { "haiku", "claude-haiku-4-5" },
    { "claude-sonnet", "claude-sonnet-4-6" },
    { "claude-opus", "claude-opus-4-6" },
    { "claude-haiku", "claude-haiku-4-5" },
    { "claude-sonnet-4-0", "claude-sonnet-4" },
    { "claude-opus-4", "claude-opus-4-5" },
    { "claude-opus-4-0", "claude-opus-4-5" },
    { "claude-opus-4-1", "claude-opus-4-5" },
    { "claude-3-7-sonnet", "claude-sonnet-4-5" },
    { "claude-3-5-sonnet", "claude-sonnet-4-5" },
    { "claude-3-5-haiku", "claude-haiku-4-5" },
    { "claude-3-haiku", "claude-haiku-4-5" },
    { "claude-3-opus", "claude-opus-4-5" },
    { NULL, NULL }
};


static int
q2api_model_strip(char *s, size_t *len, const char *suffix)
{
    size_t  n;

    n = strlen(suffix);

    if (*len > n && memcmp(s + *len - n, suffix, n) == 0) {
        *len -= n;
        s[*len] = '\0';
        return 1;
    }

    return 0;
}


size_t
q2api_model_normalize(const char *name, size_t len, char *out, size_t size,
    int *thinking)
{
    size_t  i, n;

    if (len == 0 || len >= size) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        out[i] = (char) tolower((unsigned char) name[i]);

        if (out[i] == '.') {
            out[i] = '-';
        }
    }

    out[len] = '\0';
    n = len;

    if (q2api_model_strip(out, &n, "-thinking")) {
        *thinking = 1;
    }

    q2api_model_strip(out, &n, "-latest");

    /* a release date, -YYYYMMDD */
    if (n > 9 && out[n - 9] == '-') {
        for (i = n - 8; i < n && isdigit((unsigned char) out[i]); i++) {
            /* void */
        }

        if (i == n) {
            n -= 9;
            out[n] = '\0';
        }
    }

    for (i = 0; q2api_model_aliases[i].alias; i++) {
        if (strcmp(out, q2api_model_aliases[i].alias) == 0) {
            n = strlen(q2api_model_aliases[i].id);

            if (n >= size) {
                return 0;
            }

            memcpy(out, q2api_model_aliases[i].id, n + 1);
            break;
        }
    }

    return n;
}


const q2api_model_t *
q2api_model_builtin(const char *name)
{
    const q2api_model_t  *m;

    for (m = q2api_builtin_models; m->id; m++) {
        if (strcmp(m->id, name) == 0) {
            return m;
        }
    }

    return NULL;
}


const char *
q2api_model_back(const char *name, size_t len)
{
    if (len >= 7 && strncasecmp(name, "gemini-", 7) == 0) {
        return "gemini";
    }

    return "amazonq";
}
