/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The tools a Chat Completions request offers: tools and tool_choice, the
 * legacy functions and function_call, and parallel_tool_calls.
 */


#include <stdio.h>

#include "q2api_openai.h"
#include "q2api_openai_internal.h"
#include "q2api_json.h"


static int q2api_openai_parse_choice(q2api_openai_parse_t *p, cJSON *choice,
    const char *path, int legacy);


int
q2api_openai_legacy(const q2api_request_t *req)
{
    cJSON  *root;

    root = req->json;

    return !q2api_openai_given(cJSON_GetObjectItemCaseSensitive(root,
                                                                "tools"))
           && q2api_openai_given(cJSON_GetObjectItemCaseSensitive(root,
                                                              "functions"));
}


int
q2api_openai_parse_tools(q2api_openai_parse_t *p, cJSON *root)
{
    int      i, legacy;
    char     path[48];
    cJSON   *tools, *tool, *type, *fn, *item;

    tools = cJSON_GetObjectItemCaseSensitive(root, "tools");
    legacy = !q2api_openai_given(tools);

    if (legacy) {
        tools = cJSON_GetObjectItemCaseSensitive(root, "functions");

    } else if (q2api_openai_given(cJSON_GetObjectItemCaseSensitive(root,
                                                              "functions")))
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "functions: send \"tools\" or the legacy "
                        "\"functions\", not both");
        return Q2API_ERROR;
    }

    if (q2api_openai_given(tools)) {
        if (!cJSON_IsArray(tools)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s: expected an array",
                            legacy ? "functions" : "tools");
            return Q2API_ERROR;
        }

        i = 0;

        cJSON_ArrayForEach(tool, tools) {
            snprintf(path, sizeof(path), "%s.%d",
                     legacy ? "functions" : "tools", i++);

            if (!cJSON_IsObject(tool)) {
                q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                "%s: expected an object", path);
                return Q2API_ERROR;
            }

            fn = tool;

            if (!legacy) {
                type = cJSON_GetObjectItemCaseSensitive(tool, "type");

                if (!cJSON_IsString(type)
                    || strcmp(type->valuestring, "function") != 0)
                {
                    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                    "%s.type: only \"function\" tools are "
                                    "supported", path);
                    return Q2API_ERROR;
                }

                fn = cJSON_GetObjectItemCaseSensitive(tool, "function");
                snprintf(path, sizeof(path), "tools.%d.function", i - 1);

                if (!cJSON_IsObject(fn)) {
                    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                    "%s: expected an object", path);
                    return Q2API_ERROR;
                }
            }

            if (q2api_openai_parse_tool(p, fn, path) != Q2API_OK) {
                return Q2API_ERROR;
            }
        }
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "parallel_tool_calls");
    if (q2api_openai_given(item)) {
        if (!cJSON_IsBool(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "parallel_tool_calls: expected a boolean");
            return Q2API_ERROR;
        }

        p->req->one_tool_call = cJSON_IsFalse(item);
    }

    /* a legacy function_call answers with one call at most */
    if (legacy && p->req->ntools) {
        p->req->one_tool_call = 1;
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    if (q2api_openai_given(item)) {
        return q2api_openai_parse_choice(p, item, "tool_choice", 0);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "function_call");
    if (q2api_openai_given(item)) {
        return q2api_openai_parse_choice(p, item, "function_call", 1);
    }

    return Q2API_OK;
}


int
q2api_openai_parse_tool(q2api_openai_parse_t *p, cJSON *fn, const char *path)
{
    cJSON            *name, *desc, *params;
    q2api_tool_t     *t, **tail;
    q2api_request_t  *req;

    req = p->req;

    name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
    params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");

    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.name: expected a non-empty string", path);
        return Q2API_ERROR;
    }

    if (q2api_openai_given(desc) && !cJSON_IsString(desc)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.description: expected a string", path);
        return Q2API_ERROR;
    }

    if (q2api_openai_given(params) && !cJSON_IsObject(params)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.parameters: expected a JSON Schema object", path);
        return Q2API_ERROR;
    }

    t = q2api_arena_calloc(&req->arena, sizeof(q2api_tool_t));
    if (t == NULL) {
        goto nomem;
    }

    t->name = q2api_json_str(name);

    if (cJSON_IsString(desc)) {
        t->description = q2api_json_str(desc);
    }

    /* a function without parameters takes none */
    if (!cJSON_IsObject(params)) {
        t->schema = (q2api_str_t)
                    q2api_str_lit("{\"type\":\"object\",\"properties\":{}}");

    } else if (q2api_json_print(&req->arena, params, &t->schema)
               != Q2API_OK)
    {
        goto nomem;
    }

    for (tail = &req->tools; *tail != NULL; tail = &(*tail)->next) {
        /* void */
    }

    *tail = t;
    req->ntools++;

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/*
 * tool_choice: "none", "auto", "required" or {"type":"function",
 * "function":{"name"}}; function_call: "none", "auto" or {"name"}.  A
 * named function must be one the request offers.
 */
static int
q2api_openai_parse_choice(q2api_openai_parse_t *p, cJSON *choice,
    const char *path, int legacy)
{
    cJSON            *type, *fn, *name;
    q2api_tool_t     *t;
    q2api_request_t  *req;

    req = p->req;

    if (cJSON_IsString(choice)) {
        if (strcmp(choice->valuestring, "auto") == 0) {
            req->tool_choice = Q2API_TOOL_CHOICE_AUTO;

        } else if (strcmp(choice->valuestring, "none") == 0) {
            req->tool_choice = Q2API_TOOL_CHOICE_NONE;

        } else if (!legacy && strcmp(choice->valuestring, "required") == 0) {
            req->tool_choice = Q2API_TOOL_CHOICE_ANY;

        } else {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            legacy ? "%s: expected \"auto\", \"none\" or "
                                     "{\"name\": ...}"
                                   : "%s: expected \"auto\", \"none\", "
                                     "\"required\" or a named function",
                            path);
            return Q2API_ERROR;
        }

        return Q2API_OK;
    }

    if (legacy) {
        fn = choice;

    } else {
        type = cJSON_GetObjectItemCaseSensitive(choice, "type");
        fn = cJSON_GetObjectItemCaseSensitive(choice, "function");

        if (!cJSON_IsString(type)
            || strcmp(type->valuestring, "function") != 0)
        {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.type: expected \"function\"", path);
            return Q2API_ERROR;
        }
    }

    name = cJSON_GetObjectItemCaseSensitive(fn, "name");

    if (!cJSON_IsObject(fn) || !cJSON_IsString(name)
        || name->valuestring[0] == '\0')
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        legacy ? "%s.name: expected a function name"
                               : "%s.function.name: expected a function "
                                 "name", path);
        return Q2API_ERROR;
    }

    for (t = req->tools; t != NULL; t = t->next) {
        if (t->name.len == strlen(name->valuestring)
            && memcmp(t->name.data, name->valuestring, t->name.len) == 0)
        {
            break;
        }
    }

    if (t == NULL) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: \"%.64s\" is not one of the request's %s", path,
                        name->valuestring, legacy ? "functions" : "tools");
        return Q2API_ERROR;
    }

    req->tool_choice = Q2API_TOOL_CHOICE_TOOL;
    req->tool_choice_name = q2api_json_str(name);

    return Q2API_OK;
}
