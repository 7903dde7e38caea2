/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * generationConfig: the client's sampling, output limit, stop sequences,
 * answer format and thinking, in the form the model's family takes
 * (Gemini 2.5 a thinking budget in its range, Gemini 3 a level, Claude on
 * Antigravity a budget).
 */


#include <stdio.h>

#include "q2api_gemini.h"
#include "q2api_gemini_internal.h"
#include "q2api_json.h"


typedef enum {
    Q2API_GEMINI_FAMILY_OTHER = 0,
    Q2API_GEMINI_FAMILY_25_PRO,     /* budget 128..32768, never off */
    Q2API_GEMINI_FAMILY_25,         /* budget 0..24576 */
    Q2API_GEMINI_FAMILY_3,          /* thinkingLevel */
    Q2API_GEMINI_FAMILY_3_PRO,      /* thinkingLevel low or high only */
    Q2API_GEMINI_FAMILY_CLAUDE      /* Claude on Antigravity: a budget */
} q2api_gemini_family_e;


static q2api_gemini_family_e q2api_gemini_family(const q2api_str_t *model);
static int q2api_gemini_thinking(const q2api_request_t *req,
    q2api_gemini_family_e family, q2api_buf_t *out, unsigned *n);
static int q2api_gemini_key(q2api_buf_t *out, unsigned *n, const char *key);


static int
q2api_gemini_has(const q2api_str_t *s, const char *what)
{
    size_t  i, n;

    n = strlen(what);

    for (i = 0; i + n <= s->len; i++) {
        if (memcmp(s->data + i, what, n) == 0) {
            return 1;
        }
    }

    return 0;
}


static q2api_gemini_family_e
q2api_gemini_family(const q2api_str_t *model)
{
    if (model->len >= 7 && memcmp(model->data, "claude-", 7) == 0) {
        return Q2API_GEMINI_FAMILY_CLAUDE;
    }

    if (model->len >= 8 && memcmp(model->data, "gemini-3", 8) == 0) {
        /* 3-pro takes low and high; 3.1-pro and the flashes more */
        return (q2api_gemini_has(model, "-pro")
                && !q2api_gemini_has(model, "3.1"))
               ? Q2API_GEMINI_FAMILY_3_PRO : Q2API_GEMINI_FAMILY_3;
    }

    if (model->len >= 10 && memcmp(model->data, "gemini-2.5", 10) == 0) {
        return q2api_gemini_has(model, "-pro") ? Q2API_GEMINI_FAMILY_25_PRO
                                               : Q2API_GEMINI_FAMILY_25;
    }

    return Q2API_GEMINI_FAMILY_OTHER;
}


int
q2api_gemini_model_signs(const q2api_str_t *model)
{
    q2api_gemini_family_e  f;

    f = q2api_gemini_family(model);

    return f == Q2API_GEMINI_FAMILY_3 || f == Q2API_GEMINI_FAMILY_3_PRO;
}


int
q2api_gemini_generation(const q2api_request_t *req,
    const q2api_gemini_opts_t *opts, q2api_buf_t *out, q2api_error_t *err)
{
    char                   num[64];
    unsigned               i, n;
    q2api_gemini_family_e  family;

    family = q2api_gemini_family(&opts->model_id);
    n = 0;

    if (req->temperature >= 0) {
        snprintf(num, sizeof(num), "%.6g", req->temperature);

        if (q2api_gemini_key(out, &n, "temperature") != Q2API_OK
            || q2api_buf_append_str(out, num) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (req->top_p >= 0) {
        snprintf(num, sizeof(num), "%.6g", req->top_p);

        if (q2api_gemini_key(out, &n, "topP") != Q2API_OK
            || q2api_buf_append_str(out, num) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (req->top_k >= 0
        && (q2api_gemini_key(out, &n, "topK") != Q2API_OK
            || q2api_json_append_int(out, req->top_k) != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    /* the limit includes thinking on Gemini, as max_tokens does on Claude */
    if (req->max_tokens > 0
        && (q2api_gemini_key(out, &n, "maxOutputTokens") != Q2API_OK
            || q2api_json_append_int(out, req->max_tokens) != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (req->nstop_sequences) {
        if (q2api_gemini_key(out, &n, "stopSequences") != Q2API_OK
            || q2api_buf_append_byte(out, '[') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        for (i = 0; i < req->nstop_sequences; i++) {
            if ((i && q2api_buf_append_byte(out, ',') != Q2API_OK)
                || q2api_json_append_string(out,
                                            req->stop_sequences[i].data,
                                            req->stop_sequences[i].len)
                   != Q2API_OK)
            {
                return Q2API_NOMEM;
            }
        }

        if (q2api_buf_append_byte(out, ']') != Q2API_OK) {
            return Q2API_NOMEM;
        }
    }

    if (req->format != Q2API_FORMAT_TEXT
        && (q2api_gemini_key(out, &n, "responseMimeType") != Q2API_OK
            || q2api_gemini_put(out, "\"application/json\"") != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (req->format == Q2API_FORMAT_JSON_SCHEMA && req->format_schema.len
        && (q2api_gemini_key(out, &n, "responseJsonSchema") != Q2API_OK
            || q2api_buf_append(out, req->format_schema.data,
                                req->format_schema.len) != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (q2api_gemini_thinking(req, family, out, &n) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (n && q2api_buf_append_byte(out, '}') != Q2API_OK) {
        return Q2API_NOMEM;
    }

    (void) err;

    return Q2API_OK;
}


static int
q2api_gemini_thinking(const q2api_request_t *req,
    q2api_gemini_family_e family, q2api_buf_t *out, unsigned *n)
{
    long long    b;
    const char  *level;

    if (!req->thinking) {
        if (family == Q2API_GEMINI_FAMILY_CLAUDE
            || family == Q2API_GEMINI_FAMILY_OTHER)
        {
            return Q2API_OK;
        }

        /* the model still thinks, but no thoughts reach a client that
         * did not ask for them */
        return (q2api_gemini_key(out, n, "thinkingConfig") == Q2API_OK
                && q2api_gemini_put(out, "{\"includeThoughts\":false}")
                   == Q2API_OK) ? Q2API_OK : Q2API_NOMEM;
    }

    b = req->thinking_budget;

    if (q2api_gemini_key(out, n, "thinkingConfig") != Q2API_OK
        || q2api_gemini_put(out, "{\"includeThoughts\":true,") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (family == Q2API_GEMINI_FAMILY_3 || family == Q2API_GEMINI_FAMILY_3_PRO)
    {
        level = (b > 0 && b <= 1024) ? "low"
              : (b > 0 && b <= 8192 && family == Q2API_GEMINI_FAMILY_3)
                ? "medium" : "high";

        return (q2api_gemini_put(out, "\"thinkingLevel\":\"") == Q2API_OK
                && q2api_buf_append_str(out, level) == Q2API_OK
                && q2api_gemini_put(out, "\"}") == Q2API_OK)
               ? Q2API_OK : Q2API_NOMEM;
    }

    switch (family) {
    case Q2API_GEMINI_FAMILY_25_PRO:
        b = (b <= 0) ? -1 : (b < 128) ? 128 : (b > 32768) ? 32768 : b;
        break;
    case Q2API_GEMINI_FAMILY_25:
        b = (b <= 0) ? -1 : (b > 24576) ? 24576 : b;
        break;
    case Q2API_GEMINI_FAMILY_CLAUDE:
        /* Claude's own minimum */
        b = (b < 1024) ? 1024 : b;
        break;
    default:
        b = (b <= 0) ? -1 : b;
        break;
    }

    return (q2api_gemini_put(out, "\"thinkingBudget\":") == Q2API_OK
            && q2api_json_append_int(out, b) == Q2API_OK
            && q2api_buf_append_byte(out, '}') == Q2API_OK)
           ? Q2API_OK : Q2API_NOMEM;
}


/* ,"generationConfig":{"key": or ,"key": */
static int
q2api_gemini_key(q2api_buf_t *out, unsigned *n, const char *key)
{
    if (q2api_buf_append_str(out, (*n)++ ? ",\"" : ",\"generationConfig\":{\"")
        != Q2API_OK
        || q2api_buf_append_str(out, key) != Q2API_OK
        || q2api_gemini_put(out, "\":") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}
