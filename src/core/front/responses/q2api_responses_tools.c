/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The tools a Responses request offers: function tools (Chat Completions'
 * shape without its "function" wrapper), freeform custom tools (a
 * function of one string for the back ends), namespaces (flattened),
 * OpenAI's hosted tools (dropped: no back end here runs them),
 * tool_choice and parallel_tool_calls.
 */


#include <stdio.h>

#include "q2api_responses_internal.h"
#include "q2api_json.h"


static int q2api_responses_tool(q2api_openai_parse_t *p, cJSON *tool,
    const char *path);
static int q2api_responses_custom_tool(q2api_openai_parse_t *p,
    cJSON *tool, const char *path);
static int q2api_responses_choice(q2api_openai_parse_t *p, cJSON *choice);


int
q2api_responses_parse_tools(q2api_openai_parse_t *p, cJSON *root)
{
    int     i;
    char    path[48];
    cJSON  *tools, *tool, *item;

    tools = cJSON_GetObjectItemCaseSensitive(root, "tools");

    if (q2api_openai_given(tools)) {
        if (!cJSON_IsArray(tools)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "tools: expected an array");
            return Q2API_ERROR;
        }

        i = 0;

        cJSON_ArrayForEach(tool, tools) {
            snprintf(path, sizeof(path), "tools.%d", i++);

            if (q2api_responses_tool(p, tool, path) != Q2API_OK) {
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

    item = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    if (q2api_openai_given(item)) {
        return q2api_responses_choice(p, item);
    }

    return Q2API_OK;
}


static int
q2api_responses_tool(q2api_openai_parse_t *p, cJSON *tool, const char *path)
{
    int          j;
    char         sub[64];
    cJSON       *type, *child;
    const char  *t;

    type = cJSON_GetObjectItemCaseSensitive(tool, "type");

    if (!cJSON_IsObject(tool) || !cJSON_IsString(type)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected an object with a \"type\"", path);
        return Q2API_ERROR;
    }

    t = type->valuestring;

    if (strcmp(t, "function") == 0) {
        return q2api_openai_parse_tool(p, tool, path);
    }

    if (strcmp(t, "custom") == 0) {
        return q2api_responses_custom_tool(p, tool, path);
    }

    /* Codex groups some functions; their calls name the child alone */
    if (strcmp(t, "namespace") == 0) {
        j = 0;

        cJSON_ArrayForEach(child,
                           cJSON_GetObjectItemCaseSensitive(tool, "tools"))
        {
            snprintf(sub, sizeof(sub), "%s.tools.%d", path, j++);

            if (q2api_responses_tool(p, child, sub) != Q2API_OK) {
                return Q2API_ERROR;
            }
        }

        return Q2API_OK;
    }

    /* web_search, file_search, tool_search, shells, mcp, ...: OpenAI
     * runs them, no back end here can */
    return Q2API_OK;
}


/*
 * A freeform tool: the back end sees a function taking one string, the
 * description says so and carries the grammar the input must follow.
 */
static int
q2api_responses_custom_tool(q2api_openai_parse_t *p, cJSON *tool,
    const char *path)
{
    cJSON            *name, *desc, *format, *def;
    q2api_str_t       v;
    q2api_tool_t     *t, **tail;
    q2api_request_t  *req;

    static const char  note[] =
        "This tool takes free text, not JSON: put the whole text in "
        "\"input\".";
    static const char  grammar[] = "The text must follow this grammar:";

    req = p->req;

    name = cJSON_GetObjectItemCaseSensitive(tool, "name");
    desc = cJSON_GetObjectItemCaseSensitive(tool, "description");
    format = cJSON_GetObjectItemCaseSensitive(tool, "format");
    def = cJSON_GetObjectItemCaseSensitive(format, "definition");

    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.name: expected a non-empty string", path);
        return Q2API_ERROR;
    }

    if ((q2api_openai_given(desc) && !cJSON_IsString(desc))
        || (q2api_openai_given(format) && !cJSON_IsObject(format))
        || (q2api_openai_given(def) && !cJSON_IsString(def)))
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected a string \"description\" and a "
                        "\"format\" object", path);
        return Q2API_ERROR;
    }

    t = q2api_arena_calloc(&req->arena, sizeof(q2api_tool_t));
    if (t == NULL) {
        goto nomem;
    }

    t->name = q2api_json_str(name);
    t->schema = (q2api_str_t) q2api_str_lit(Q2API_RESPONSES_CUSTOM_SCHEMA);

    if (cJSON_IsString(desc)) {
        v = q2api_request_str(req, desc);

        if (q2api_request_append_text(req, &t->description, v.data, v.len)
            != Q2API_OK)
        {
            goto nomem;
        }
    }

    if (q2api_request_append_text(req, &t->description, note,
                                  sizeof(note) - 1) != Q2API_OK)
    {
        goto nomem;
    }

    if (cJSON_IsString(def)) {
        v = q2api_request_str(req, def);

        if (q2api_request_append_text(req, &t->description, grammar,
                                      sizeof(grammar) - 1) != Q2API_OK
            || q2api_request_append_text(req, &t->description, v.data,
                                         v.len) != Q2API_OK)
        {
            goto nomem;
        }
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


int
q2api_responses_custom(const q2api_request_t *req, const char *name,
    size_t len)
{
    cJSON  *tools, *tool, *type, *n, *child;

    tools = cJSON_GetObjectItemCaseSensitive((cJSON *) req->json, "tools");

    cJSON_ArrayForEach(tool, tools) {
        type = cJSON_GetObjectItemCaseSensitive(tool, "type");
        n = cJSON_GetObjectItemCaseSensitive(tool, "name");

        if (!cJSON_IsString(type) || !cJSON_IsString(n)) {
            continue;
        }

        if (strcmp(type->valuestring, "custom") == 0
            && strlen(n->valuestring) == len
            && memcmp(n->valuestring, name, len) == 0)
        {
            return 1;
        }

        if (strcmp(type->valuestring, "namespace") != 0) {
            continue;
        }

        cJSON_ArrayForEach(child,
                           cJSON_GetObjectItemCaseSensitive(tool, "tools"))
        {
            type = cJSON_GetObjectItemCaseSensitive(child, "type");
            n = cJSON_GetObjectItemCaseSensitive(child, "name");

            if (cJSON_IsString(type) && cJSON_IsString(n)
                && strcmp(type->valuestring, "custom") == 0
                && strlen(n->valuestring) == len
                && memcmp(n->valuestring, name, len) == 0)
            {
                return 1;
            }
        }
    }

    return 0;
}


/*
 * "auto", "none", "required", {"type":"function"|"custom","name"},
 * {"type":"allowed_tools","mode":"auto"|"required"}; forcing one of
 * OpenAI's hosted tools cannot be honoured here and is refused.
 */
static int
q2api_responses_choice(q2api_openai_parse_t *p, cJSON *choice)
{
    cJSON            *type, *name, *mode;
    const char       *s;
    q2api_tool_t     *t;
    q2api_request_t  *req;

    req = p->req;

    if (cJSON_IsString(choice)) {
        s = choice->valuestring;

        if (strcmp(s, "auto") == 0) {
            req->tool_choice = Q2API_TOOL_CHOICE_AUTO;

        } else if (strcmp(s, "none") == 0) {
            req->tool_choice = Q2API_TOOL_CHOICE_NONE;

        } else if (strcmp(s, "required") == 0) {
            req->tool_choice = Q2API_TOOL_CHOICE_ANY;

        } else {
            goto invalid;
        }

        return Q2API_OK;
    }

    type = cJSON_GetObjectItemCaseSensitive(choice, "type");
    if (!cJSON_IsObject(choice) || !cJSON_IsString(type)) {
        goto invalid;
    }

    s = type->valuestring;

    if (strcmp(s, "allowed_tools") == 0) {
        mode = cJSON_GetObjectItemCaseSensitive(choice, "mode");

        req->tool_choice = (cJSON_IsString(mode)
                            && strcmp(mode->valuestring, "required") == 0)
                           ? Q2API_TOOL_CHOICE_ANY : Q2API_TOOL_CHOICE_AUTO;
        return Q2API_OK;
    }

    if (strcmp(s, "function") != 0 && strcmp(s, "custom") != 0) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "tool_choice.type: \"%.32s\" is a tool OpenAI "
                        "hosts; this gateway's backends cannot run it", s);
        return Q2API_ERROR;
    }

    name = cJSON_GetObjectItemCaseSensitive(choice, "name");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "tool_choice.name: expected a tool name");
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
                        "tool_choice: \"%.64s\" is not one of the request's "
                        "tools", name->valuestring);
        return Q2API_ERROR;
    }

    req->tool_choice = Q2API_TOOL_CHOICE_TOOL;
    req->tool_choice_name = q2api_json_str(name);

    return Q2API_OK;

invalid:

    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                    "tool_choice: expected \"auto\", \"none\", \"required\" "
                    "or {\"type\": \"function\", \"name\": ...}");
    return Q2API_ERROR;
}
