/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Chat Completions request: its top-level fields, what is refused
 * (n > 1, logprobs), what is taken and ignored, sampling, reasoning and
 * the reply format.  Tools are read in q2api_openai_tools.c and the
 * conversation in q2api_openai_content.c.
 */


#include <stdio.h>

#include "q2api_openai.h"
#include "q2api_openai_internal.h"
#include "q2api_json.h"


static int q2api_openai_parse_top(q2api_openai_parse_t *p, cJSON *root);
static int q2api_openai_parse_messages(q2api_openai_parse_t *p,
    cJSON *root);
static int q2api_openai_parse_refused(q2api_openai_parse_t *p, cJSON *root);
static int q2api_openai_parse_sampling(q2api_openai_parse_t *p, cJSON *root);
static int q2api_openai_parse_format(q2api_openai_parse_t *p, cJSON *root);


int
q2api_openai_parse(q2api_request_t *req, const char *body, size_t len,
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

    if (q2api_openai_parse_top(&p, root) != Q2API_OK
        || q2api_openai_parse_refused(&p, root) != Q2API_OK
        || q2api_openai_parse_messages(&p, root) != Q2API_OK
        || q2api_openai_parse_tools(&p, root) != Q2API_OK
        || q2api_openai_parse_reasoning(&p, root) != Q2API_OK
        || q2api_openai_parse_format(&p, root) != Q2API_OK
        || q2api_openai_parse_sampling(&p, root) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


static int
q2api_openai_parse_top(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON            *item, *opt;
    q2api_request_t  *req;

    req = p->req;

    item = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!q2api_openai_given(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "model: field required");
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "model: expected a non-empty string");
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

    item = cJSON_GetObjectItemCaseSensitive(root, "stream_options");
    if (q2api_openai_given(item)) {
        opt = cJSON_GetObjectItemCaseSensitive(item, "include_usage");

        if (!cJSON_IsObject(item)
            || (q2api_openai_given(opt) && !cJSON_IsBool(opt)))
        {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "stream_options: expected an object with a "
                            "boolean \"include_usage\"");
            return Q2API_ERROR;
        }

        /* the reply reads it from req->json */
    }

    /* both name the same limit; the newer wins */
    if (q2api_openai_count(p, root, "max_tokens", &req->max_tokens)
        != Q2API_OK
        || q2api_openai_count(p, root, "max_completion_tokens",
                              &req->max_tokens) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    /* a stable end-user id keeps a conversation on one account */
    item = cJSON_GetObjectItemCaseSensitive(root, "user");
    if (q2api_openai_given(item)) {
        if (!cJSON_IsString(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "user: expected a string");
            return Q2API_ERROR;
        }

        req->user_id = q2api_json_str(item);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    if (q2api_openai_given(item) && !cJSON_IsObject(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "metadata: expected an object");
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "store");
    if (q2api_openai_given(item) && !cJSON_IsBool(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "store: expected a boolean");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/*
 * What no back end here can give is refused rather than silently
 * dropped: a client asking for several choices or for log probabilities
 * would otherwise read a reply that is not what it asked for.
 */
static int
q2api_openai_parse_refused(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, "n");
    if (q2api_openai_given(item)
        && (!cJSON_IsNumber(item) || item->valuedouble != 1))
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "n: only 1 is supported; this gateway's backends "
                        "give one choice per request");
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "logprobs");
    if (q2api_openai_given(item)) {
        if (!cJSON_IsBool(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "logprobs: expected a boolean");
            return Q2API_ERROR;
        }

        if (cJSON_IsTrue(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "logprobs: log probabilities are not available "
                            "from this gateway's backends");
            return Q2API_ERROR;
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "top_logprobs");
    if (q2api_openai_given(item)
        && !(cJSON_IsNumber(item) && item->valuedouble == 0))
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "top_logprobs: log probabilities are not available "
                        "from this gateway's backends");
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "modalities");
    if (q2api_openai_given(item)) {
        cJSON  *m;

        cJSON_ArrayForEach(m, item) {
            if (!cJSON_IsString(m) || strcmp(m->valuestring, "text") != 0) {
                q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                "modalities: only \"text\" output is "
                                "supported");
                return Q2API_ERROR;
            }
        }
    }

    return Q2API_OK;
}


static int
q2api_openai_parse_messages(q2api_openai_parse_t *p, cJSON *root)
{
    int     i;
    cJSON  *item, *msg;

    item = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (!q2api_openai_given(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "messages: field required");
        return Q2API_ERROR;
    }

    if (!cJSON_IsArray(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "messages: expected an array");
        return Q2API_ERROR;
    }

    i = 0;

    cJSON_ArrayForEach(msg, item) {
        if (q2api_openai_parse_message(p, msg, i++) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    if (p->req->nmessages == 0) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "messages: at least one user, assistant or tool "
                        "message is required");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/*
 * Taken for the back ends that honour them; Amazon Q and Kiro have no
 * such switches and ignore them (the README says so).
 */
static int
q2api_openai_parse_sampling(q2api_openai_parse_t *p, cJSON *root)
{
    int               i, n;
    cJSON            *item, *seq;
    double            v;
    q2api_request_t  *req;

    req = p->req;

    v = -1;
    if (q2api_openai_number(p, root, "temperature", 0, 2, &v) != Q2API_OK) {
        return Q2API_ERROR;
    }

    req->temperature = v;

    v = -1;
    if (q2api_openai_number(p, root, "top_p", 0, 1, &v) != Q2API_OK) {
        return Q2API_ERROR;
    }

    req->top_p = v;

    v = 0;
    if (q2api_openai_number(p, root, "presence_penalty", -2, 2, &v)
        != Q2API_OK
        || q2api_openai_number(p, root, "frequency_penalty", -2, 2, &v)
           != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (q2api_openai_given(item) && !cJSON_IsNumber(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "seed: expected an integer");
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "stop");
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    if (cJSON_IsString(item)) {
        n = 1;

    } else if (cJSON_IsArray(item) && cJSON_GetArraySize(item) <= 4) {
        n = cJSON_GetArraySize(item);

    } else {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "stop: expected a string or an array of up to 4 "
                        "strings");
        return Q2API_ERROR;
    }

    if (n == 0) {
        return Q2API_OK;
    }

    req->stop_sequences = q2api_arena_calloc(&req->arena,
                                             n * sizeof(q2api_str_t));
    if (req->stop_sequences == NULL) {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    if (cJSON_IsString(item)) {
        req->stop_sequences[0] = q2api_json_str(item);
        req->nstop_sequences = 1;
        return Q2API_OK;
    }

    i = 0;

    cJSON_ArrayForEach(seq, item) {
        if (!cJSON_IsString(seq)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "stop.%d: expected a string", i);
            return Q2API_ERROR;
        }

        req->stop_sequences[i++] = q2api_json_str(seq);
    }

    req->nstop_sequences = i;

    return Q2API_OK;
}


/*
 * reasoning_effort (Chat Completions) or reasoning.effort (as the
 * Responses API and some clients send it) turns thinking on with a budget
 * that grows with the effort; "none" leaves it off.
 */
int
q2api_openai_parse_reasoning(q2api_openai_parse_t *p, cJSON *root)
{
    size_t       i;
    cJSON       *item;
    const char  *path;

    static const struct {
        const char  *effort;
        long long    budget;
    } efforts[] = {
        { "none", 0 },
        { "minimal", 1024 },
        { "low", 4096 },
        { "medium", 16000 },
        { "high", 24576 },
        { "xhigh", 24576 }
    };

    path = "reasoning_effort";
    item = cJSON_GetObjectItemCaseSensitive(root, path);

    if (!q2api_openai_given(item)) {
        item = cJSON_GetObjectItemCaseSensitive(root, "reasoning");

        if (!q2api_openai_given(item)) {
            return Q2API_OK;
        }

        if (!cJSON_IsObject(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "reasoning: expected an object");
            return Q2API_ERROR;
        }

        path = "reasoning.effort";
        item = cJSON_GetObjectItemCaseSensitive(item, "effort");

        if (!q2api_openai_given(item)) {
            return Q2API_OK;
        }
    }

    for (i = 0; cJSON_IsString(item) && i < sizeof(efforts)
                                            / sizeof(efforts[0]); i++)
    {
        if (strcmp(item->valuestring, efforts[i].effort) == 0) {
            p->req->thinking = efforts[i].budget > 0;
            p->req->thinking_budget = efforts[i].budget;
            return Q2API_OK;
        }
    }

    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                    "%s: expected \"none\", \"minimal\", \"low\", "
                    "\"medium\" or \"high\"", path);

    return Q2API_ERROR;
}


static int
q2api_openai_parse_format(q2api_openai_parse_t *p, cJSON *root)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, "response_format");
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    return q2api_openai_format(p, item,
                               cJSON_GetObjectItemCaseSensitive(item,
                                                                "json_schema"),
                               "response_format", "response_format.json_schema");
}


/*
 * A reply format: item holds its "type"; a json_schema's "name" and
 * "schema" are in spec (response_format.json_schema; the Responses
 * API's text.format holds them itself).  path and spec_path name them in
 * errors.
 */
int
q2api_openai_format(q2api_openai_parse_t *p, cJSON *item, cJSON *spec,
    const char *path, const char *spec_path)
{
    cJSON            *type, *name, *schema;
    q2api_request_t  *req;

    req = p->req;

    type = cJSON_GetObjectItemCaseSensitive(item, "type");

    if (!cJSON_IsObject(item) || !cJSON_IsString(type)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected an object with a \"type\"", path);
        return Q2API_ERROR;
    }

    if (strcmp(type->valuestring, "text") == 0) {
        return Q2API_OK;
    }

    if (strcmp(type->valuestring, "json_object") == 0) {
        req->format = Q2API_FORMAT_JSON_OBJECT;
        return Q2API_OK;
    }

    if (strcmp(type->valuestring, "json_schema") != 0) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.type: expected \"text\", \"json_object\" or "
                        "\"json_schema\"", path);
        return Q2API_ERROR;
    }

    name = cJSON_GetObjectItemCaseSensitive(spec, "name");
    schema = cJSON_GetObjectItemCaseSensitive(spec, "schema");

    if (!cJSON_IsObject(spec) || !cJSON_IsString(name)
        || name->valuestring[0] == '\0')
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.name: expected a non-empty string", spec_path);
        return Q2API_ERROR;
    }

    if (q2api_openai_given(schema) && !cJSON_IsObject(schema)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.schema: expected an object", spec_path);
        return Q2API_ERROR;
    }

    req->format = Q2API_FORMAT_JSON_SCHEMA;
    req->format_name = q2api_json_str(name);

    if (!cJSON_IsObject(schema)) {
        req->format_schema = (q2api_str_t) q2api_str_lit("{}");
        return Q2API_OK;
    }

    if (q2api_json_print(&req->arena, schema, &req->format_schema)
        != Q2API_OK)
    {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/* an optional number in [min, max] into *out */
int
q2api_openai_number(q2api_openai_parse_t *p, cJSON *root, const char *name,
    double min, double max, double *out)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    if (!cJSON_IsNumber(item) || !(item->valuedouble >= min)
        || item->valuedouble > max)
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected a number from %g to %g", name, min,
                        max);
        return Q2API_ERROR;
    }

    *out = item->valuedouble;

    return Q2API_OK;
}


/* an optional positive integer into *out */
int
q2api_openai_count(q2api_openai_parse_t *p, cJSON *root, const char *name,
    long long *out)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!q2api_openai_given(item)) {
        return Q2API_OK;
    }

    /* the bound first: converting a larger double is undefined */
    if (!cJSON_IsNumber(item) || item->valuedouble < 1
        || item->valuedouble >= 1e18
        || item->valuedouble != (double) (long long) item->valuedouble)
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected a positive integer", name);
        return Q2API_ERROR;
    }

    *out = (long long) item->valuedouble;

    return Q2API_OK;
}
