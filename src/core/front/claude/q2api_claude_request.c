/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Messages request: the top-level fields of a client body, its tools,
 * tool_choice, thinking and sampling parameters.  The conversation itself
 * is read in q2api_claude_content.c.
 */


#include <stdio.h>

#include "q2api_claude.h"
#include "q2api_claude_internal.h"
#include "q2api_json.h"


static int q2api_claude_parse_tools(q2api_request_t *req, cJSON *tools,
    q2api_error_t *err);
static int q2api_claude_parse_thinking(q2api_request_t *req, cJSON *thinking,
    q2api_error_t *err);
static int q2api_claude_parse_tool_choice(q2api_request_t *req,
    cJSON *choice, q2api_error_t *err);
static int q2api_claude_parse_sampling(q2api_request_t *req, cJSON *root,
    q2api_error_t *err);


int
q2api_claude_parse(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err)
{
    int     i;
    cJSON  *root, *item, *msg;

    root = q2api_request_json(req, body, len, err);
    if (root == NULL) {
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (item == NULL || cJSON_IsNull(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "model: field required");
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "model: expected a non-empty string");
        return Q2API_ERROR;
    }

    req->model = q2api_request_str(req, item);

    item = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (item != NULL && !cJSON_IsNull(item)) {
        /* the bound first: converting a larger double is undefined */
        if (!cJSON_IsNumber(item) || item->valuedouble < 1
            || item->valuedouble >= 1e18
            || item->valuedouble != (double) (long long) item->valuedouble)
        {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "max_tokens: expected a positive integer");
            return Q2API_ERROR;
        }

        req->max_tokens = (long long) item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (!cJSON_IsBool(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "stream: expected a boolean");
            return Q2API_ERROR;
        }

        req->stream = cJSON_IsTrue(item);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "system");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (q2api_claude_parse_system(req, item, "system", err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "messages");
    if (item == NULL || cJSON_IsNull(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages: field required");
        return Q2API_ERROR;
    }

    if (!cJSON_IsArray(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages: expected an array");
        return Q2API_ERROR;
    }

    if (cJSON_GetArraySize(item) == 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages: at least one message is required");
        return Q2API_ERROR;
    }

    i = 0;

    cJSON_ArrayForEach(msg, item) {
        if (q2api_claude_parse_message(req, msg, i++, err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    if (req->nmessages == 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages: at least one user or assistant message "
                        "is required");
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "tools");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (q2api_claude_parse_tools(req, item, err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    /*
     * A request whose only tools are ones Anthropic runs on its servers
     * (Claude Code's WebSearch sends web_search_* alone) cannot be
     * answered as asked: say so rather than answer without the tool.
     */
    if (req->nserver_tools && req->ntools == 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "tools: \"%.64s\" is a server tool that Anthropic "
                        "runs itself; this gateway's backends cannot run "
                        "it", req->server_tool.data);
        return Q2API_ERROR;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "thinking");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (q2api_claude_parse_thinking(req, item, err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    item = cJSON_GetObjectItemCaseSensitive(item, "user_id");
    if (cJSON_IsString(item)) {
        req->user_id = q2api_request_str(req, item);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (q2api_claude_parse_tool_choice(req, item, err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    /* last: a body wrong in an older field is still told about that one */
    return q2api_claude_parse_sampling(req, root, err);
}


/*
 * temperature, top_p, top_k and stop_sequences, in the ranges Anthropic
 * takes; kept for the back ends that honour them.
 */
static int
q2api_claude_parse_sampling(q2api_request_t *req, cJSON *root,
    q2api_error_t *err)
{
    int     i, n;
    cJSON  *item, *seq;

    item = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0)
            || item->valuedouble > 1)
        {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "temperature: expected a number from 0 to 1");
            return Q2API_ERROR;
        }

        req->temperature = item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "top_p");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0)
            || item->valuedouble > 1)
        {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "top_p: expected a number from 0 to 1");
            return Q2API_ERROR;
        }

        req->top_p = item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "top_k");
    if (item != NULL && !cJSON_IsNull(item)) {
        /* the bound first: converting a larger double is undefined */
        if (!cJSON_IsNumber(item) || !(item->valuedouble >= 0)
            || item->valuedouble >= 1e18
            || item->valuedouble != (double) (long long) item->valuedouble)
        {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "top_k: expected a non-negative integer");
            return Q2API_ERROR;
        }

        req->top_k = (long long) item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "stop_sequences");
    if (item == NULL || cJSON_IsNull(item)) {
        return Q2API_OK;
    }

    if (!cJSON_IsArray(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "stop_sequences: expected an array of strings");
        return Q2API_ERROR;
    }

    n = cJSON_GetArraySize(item);
    if (n == 0) {
        return Q2API_OK;
    }

    req->stop_sequences = q2api_arena_calloc(&req->arena,
                                             n * sizeof(q2api_str_t));
    if (req->stop_sequences == NULL) {
        q2api_error_set(err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    i = 0;

    cJSON_ArrayForEach(seq, item) {
        if (!cJSON_IsString(seq)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "stop_sequences.%d: expected a string", i);
            return Q2API_ERROR;
        }

        req->stop_sequences[i++] = q2api_request_str(req, seq);
    }

    req->nstop_sequences = i;

    return Q2API_OK;
}


static int
q2api_claude_parse_tool_choice(q2api_request_t *req, cJSON *choice,
    q2api_error_t *err)
{
    cJSON  *type, *name;

    type = cJSON_GetObjectItemCaseSensitive(choice, "type");

    if (!cJSON_IsObject(choice) || !cJSON_IsString(type)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "tool_choice: expected an object with a \"type\"");
        return Q2API_ERROR;
    }

    if (strcmp(type->valuestring, "auto") == 0) {
        req->tool_choice = Q2API_TOOL_CHOICE_AUTO;

    } else if (strcmp(type->valuestring, "any") == 0) {
        req->tool_choice = Q2API_TOOL_CHOICE_ANY;

    } else if (strcmp(type->valuestring, "none") == 0) {
        req->tool_choice = Q2API_TOOL_CHOICE_NONE;

    } else if (strcmp(type->valuestring, "tool") == 0) {
        name = cJSON_GetObjectItemCaseSensitive(choice, "name");
        if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "tool_choice.name: expected a tool name");
            return Q2API_ERROR;
        }

        req->tool_choice = Q2API_TOOL_CHOICE_TOOL;
        req->tool_choice_name = q2api_request_str(req, name);

    } else {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "tool_choice.type: expected \"auto\", \"any\", "
                        "\"tool\" or \"none\"");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


static int
q2api_claude_parse_tools(q2api_request_t *req, cJSON *tools,
    q2api_error_t *err)
{
    int            i;
    cJSON         *tool, *type, *name, *desc, *schema;
    q2api_tool_t  *t, **tail;

    if (!cJSON_IsArray(tools)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "tools: expected an array");
        return Q2API_ERROR;
    }

    tail = &req->tools;
    i = 0;

    cJSON_ArrayForEach(tool, tools) {
        if (!cJSON_IsObject(tool)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "tools.%d: expected an object", i);
            return Q2API_ERROR;
        }

        type = cJSON_GetObjectItemCaseSensitive(tool, "type");
        name = cJSON_GetObjectItemCaseSensitive(tool, "name");
        desc = cJSON_GetObjectItemCaseSensitive(tool, "description");
        schema = cJSON_GetObjectItemCaseSensitive(tool, "input_schema");

        /* Anthropic-hosted tools (web_search_..., code_execution_...)
         * have no schema and no backend here can run them */
        if (cJSON_IsString(type) && strcmp(type->valuestring, "custom") != 0
            && schema == NULL)
        {
            if (req->nserver_tools++ == 0) {
                req->server_tool = q2api_request_str(req, type);
            }

            i++;
            continue;
        }

        if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "tools.%d.name: expected a non-empty string", i);
            return Q2API_ERROR;
        }

        if (desc != NULL && !cJSON_IsNull(desc) && !cJSON_IsString(desc)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "tools.%d.description: expected a string", i);
            return Q2API_ERROR;
        }

        if (!cJSON_IsObject(schema)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "tools.%d.input_schema: expected an object", i);
            return Q2API_ERROR;
        }

        t = q2api_arena_calloc(&req->arena, sizeof(q2api_tool_t));
        if (t == NULL) {
            goto nomem;
        }

        t->name = q2api_request_str(req, name);

        if (cJSON_IsString(desc)) {
            t->description = q2api_request_str(req, desc);
        }

        if (q2api_json_print(&req->arena, schema, &t->schema) != Q2API_OK) {
            goto nomem;
        }

        *tail = t;
        tail = &t->next;
        req->ntools++;
        i++;
    }

    return Q2API_OK;

nomem:

    q2api_error_set(err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


static int
q2api_claude_parse_thinking(q2api_request_t *req, cJSON *thinking,
    q2api_error_t *err)
{
    cJSON  *type, *budget;

    type = cJSON_GetObjectItemCaseSensitive(thinking, "type");

    if (!cJSON_IsObject(thinking) || !cJSON_IsString(type)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "thinking: expected an object with a \"type\"");
        return Q2API_ERROR;
    }

    if (strcmp(type->valuestring, "enabled") == 0) {
        budget = cJSON_GetObjectItemCaseSensitive(thinking, "budget_tokens");
        if (!cJSON_IsNumber(budget) || budget->valuedouble < 1
            || budget->valuedouble >= 1e18)
        {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "thinking.budget_tokens: expected a positive "
                            "integer");
            return Q2API_ERROR;
        }

        req->thinking = 1;
        req->thinking_budget = (long long) budget->valuedouble;

    } else if (strcmp(type->valuestring, "adaptive") == 0) {
        req->thinking = 1;

    } else if (strcmp(type->valuestring, "disabled") != 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "thinking.type: expected \"enabled\", \"adaptive\" "
                        "or \"disabled\"");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}
