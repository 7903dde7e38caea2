/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Responses request: its top-level fields, what is refused
 * (background, server-side conversations and prompts), what is taken
 * and ignored, reasoning, the reply format and previous_response_id.
 * The input items are read in q2api_responses_input.c, the tools in
 * q2api_responses_tools.c.
 */


#include <stdio.h>

#include "q2api_responses_internal.h"
#include "q2api_json.h"


static int q2api_responses_parse_top(q2api_openai_parse_t *p, cJSON *root);
static int q2api_responses_parse_refused(q2api_openai_parse_t *p,
    cJSON *root);
static int q2api_responses_parse_reasoning(q2api_openai_parse_t *p,
    cJSON *root);
static int q2api_responses_parse_format(q2api_openai_parse_t *p,
    cJSON *root);
static int q2api_responses_parse_include(q2api_openai_parse_t *p,
    cJSON *root);


int
q2api_responses_parse(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err)
{
    cJSON                 *root;
    q2api_openai_parse_t   p;

    memset(&p, 0, sizeof(q2api_openai_parse_t));
    p.req = req;
    p.err = err;

    root = q2api_request_json(req, body, len, err);
    if (root == NULL) {
        return Q2API_ERROR;
    }

    if (q2api_responses_parse_top(&p, root) != Q2API_OK
        || q2api_responses_parse_refused(&p, root) != Q2API_OK
        || q2api_responses_parse_input(&p,
               cJSON_GetObjectItemCaseSensitive(root, "input"), "input")
           != Q2API_OK
        || q2api_responses_parse_tools(&p, root) != Q2API_OK
        || q2api_responses_parse_reasoning(&p, root) != Q2API_OK
        || q2api_responses_parse_format(&p, root) != Q2API_OK
        || q2api_responses_parse_include(&p, root) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    if (req->nmessages == 0
        && !q2api_openai_given(cJSON_GetObjectItemCaseSensitive(root,
                                                "previous_response_id")))
    {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "input: at least one message or tool output is "
                        "required");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


static int
q2api_responses_parse_top(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON            *item, *v;
    q2api_str_t       text;
    q2api_request_t  *req;

    req = p->req;

    item = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        q2api_openai_given(item)
                        ? "model: expected a non-empty string"
                        : "model: field required");
        return Q2API_ERROR;
    }

    req->model = q2api_json_str(item);

    item = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (q2api_openai_given(item)) {
        if (!cJSON_IsBool(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "stream: expected a boolean");
            return Q2API_ERROR;
        }

        req->stream = cJSON_IsTrue(item);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "store");
    if (q2api_openai_given(item) && !cJSON_IsBool(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "store: expected a boolean");
        return Q2API_ERROR;
    }

    /* the system prompt comes first; developer messages follow it */
    item = cJSON_GetObjectItemCaseSensitive(root, "instructions");
    if (q2api_openai_given(item)) {
        if (!cJSON_IsString(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "instructions: expected a string");
            return Q2API_ERROR;
        }

        text = q2api_request_str(req, item);

        if (text.len
            && q2api_request_append_text(req, &req->system, text.data,
                                         text.len) != Q2API_OK)
        {
            q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
            return Q2API_ERROR;
        }
    }

    if (q2api_openai_count(p, root, "max_output_tokens", &req->max_tokens)
        != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    /* echoed in the Response; at most 16 string values, as OpenAI's */
    item = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (q2api_openai_given(item)) {
        if (!cJSON_IsObject(item) || cJSON_GetArraySize(item) > 16) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "metadata: expected an object of at most 16 "
                            "keys");
            return Q2API_ERROR;
        }

        cJSON_ArrayForEach(v, item) {
            if (!cJSON_IsString(v) || strlen(v->valuestring) > 512
                || strlen(v->string) > 64)
            {
                q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                "metadata: expected string values of at "
                                "most 512 characters under keys of at "
                                "most 64");
                return Q2API_ERROR;
            }
        }
    }

    /* a stable end-user id keeps a conversation on one account */
    item = cJSON_GetObjectItemCaseSensitive(root, "prompt_cache_key");
    if (!q2api_openai_given(item)) {
        item = cJSON_GetObjectItemCaseSensitive(root, "user");
    }

    if (q2api_openai_given(item)) {
        if (!cJSON_IsString(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s: expected a string", item->string);
            return Q2API_ERROR;
        }

        req->user_id = q2api_json_str(item);
    }

    if (q2api_openai_number(p, root, "temperature", 0, 2, &req->temperature)
        != Q2API_OK
        || q2api_openai_number(p, root, "top_p", 0, 1, &req->top_p)
           != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/*
 * What the gateway cannot do is refused rather than silently dropped: a
 * background job would be polled for, a conversation or a prompt
 * template would be looked up on OpenAI's side.
 */
static int
q2api_responses_parse_refused(q2api_openai_parse_t *p, cJSON *root)
{
    size_t   i;
    cJSON   *item;

    static const char  *absent[] = { "conversation", "prompt" };

    item = cJSON_GetObjectItemCaseSensitive(root, "background");
    if (q2api_openai_given(item) && !cJSON_IsFalse(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "background: background responses are not "
                        "supported by this gateway; send background: "
                        "false");
        return Q2API_ERROR;
    }

    for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        item = cJSON_GetObjectItemCaseSensitive(root, absent[i]);

        if (q2api_openai_given(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s: not supported by this gateway; send the "
                            "conversation in \"input\" (or use "
                            "previous_response_id)", absent[i]);
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


/*
 * reasoning.effort picks the thinking budget as for Chat Completions;
 * a summary asked for without an effort turns thinking on at "medium",
 * since the summary is the thinking the back end gives.
 */
static int
q2api_responses_parse_reasoning(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON  *item, *summary, *effort;

    item = cJSON_GetObjectItemCaseSensitive(root, "reasoning");
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    if (!cJSON_IsObject(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "reasoning: expected an object");
        return Q2API_ERROR;
    }

    if (q2api_openai_parse_reasoning(p, root) != Q2API_OK) {
        return Q2API_ERROR;
    }

    summary = cJSON_GetObjectItemCaseSensitive(item, "summary");
    if (!q2api_openai_given(summary)) {
        summary = cJSON_GetObjectItemCaseSensitive(item, "generate_summary");
    }

    if (!q2api_openai_given(summary)) {
        return Q2API_OK;
    }

    if (!cJSON_IsString(summary)
        || (strcmp(summary->valuestring, "auto") != 0
            && strcmp(summary->valuestring, "concise") != 0
            && strcmp(summary->valuestring, "detailed") != 0
            && strcmp(summary->valuestring, "none") != 0))
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "reasoning.summary: expected \"auto\", \"concise\" "
                        "or \"detailed\"");
        return Q2API_ERROR;
    }

    effort = cJSON_GetObjectItemCaseSensitive(item, "effort");

    if (!q2api_openai_given(effort)
        && strcmp(summary->valuestring, "none") != 0)
    {
        p->req->thinking = 1;
        p->req->thinking_budget = 16000;
    }

    return Q2API_OK;
}


/* text.format: the shape asked for, in words (as response_format) */
static int
q2api_responses_parse_format(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON  *text, *item, *verbosity;

    text = cJSON_GetObjectItemCaseSensitive(root, "text");
    if (!q2api_openai_given(text)) {
        return Q2API_OK;
    }

    verbosity = cJSON_GetObjectItemCaseSensitive(text, "verbosity");

    if (!cJSON_IsObject(text)
        || (q2api_openai_given(verbosity) && !cJSON_IsString(verbosity)))
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "text: expected an object with \"format\" and "
                        "\"verbosity\"");
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(text, "format");
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    /* a json_schema's name and schema are in text.format itself */
    return q2api_openai_format(p, item, item, "text.format", "text.format");
}


/* include: the reply reads it; only its shape is checked here */
static int
q2api_responses_parse_include(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON  *item, *v;

    item = cJSON_GetObjectItemCaseSensitive(root, "include");
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    if (!cJSON_IsArray(item)) {
        goto invalid;
    }

    cJSON_ArrayForEach(v, item) {
        if (!cJSON_IsString(v)) {
            goto invalid;
        }
    }

    return Q2API_OK;

invalid:

    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                    "include: expected an array of strings");
    return Q2API_ERROR;
}


/*
 * Ids this gateway makes are "resp_" and hex; anything else cannot be
 * stored here, and is refused before it reaches a log or a lookup.
 */
int
q2api_responses_previous(const q2api_request_t *req, q2api_str_t *id,
    q2api_error_t *err)
{
    size_t       i, n;
    cJSON       *item;
    const char  *s;

    id->data = "";
    id->len = 0;

    item = cJSON_GetObjectItemCaseSensitive((cJSON *) req->json,
                                            "previous_response_id");
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    if (!cJSON_IsString(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "previous_response_id: expected a string");
        return Q2API_ERROR;
    }

    s = item->valuestring;
    n = strlen(s);

    for (i = 0; i < n && i < 64; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')
              || s[i] == '_'))
        {
            break;
        }
    }

    if (n < 6 || n > 64 || i != n || strncmp(s, "resp_", 5) != 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "previous_response_id: not an id of a response "
                        "this gateway made (\"resp_\" and hex digits)");
        return Q2API_ERROR;
    }

    id->data = s;
    id->len = n;

    return Q2API_OK;
}
