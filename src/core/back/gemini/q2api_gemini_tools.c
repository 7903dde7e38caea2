/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Tools as Gemini takes them: names in Google's pattern, mapped back to
 * the client's in answers; declarations with cleaned schemas; tool_choice
 * as functionCallingConfig.
 */


#include "q2api_gemini.h"
#include "q2api_gemini_internal.h"
#include "q2api_json.h"
#include "q2api_tool_name.h"


/* what a tool without a schema is declared with */
#define Q2API_GEMINI_EMPTY_SCHEMA  "{\"type\":\"object\",\"properties\":{}}"


static int q2api_gemini_append_tool_name(q2api_buf_t *out,
    const q2api_str_t *name);


size_t
q2api_gemini_tool_name(const char *name, size_t len, char *out)
{
    return q2api_tool_name_fit(name, len, out, Q2API_GEMINI_TOOL_NAME_MAX,
                               "_", ".:-", "_");
}


q2api_str_t
q2api_gemini_client_tool_name(const q2api_request_t *req, const char *name,
    size_t len)
{
    char                    buf[Q2API_GEMINI_TOOL_NAME_MAX + 1];
    size_t                  n;
    q2api_str_t             found;
    const q2api_tool_t     *t;
    const q2api_block_t    *b;
    const q2api_message_t  *m;

    found.data = name;
    found.len = len;

    for (t = req ? req->tools : NULL; t != NULL; t = t->next) {
        n = q2api_gemini_tool_name(t->name.data, t->name.len, buf);

        if (n == len && memcmp(buf, name, len) == 0) {
            return t->name;
        }
    }

    /* a tool only the history names */
    for (m = req ? req->messages : NULL; m != NULL; m = m->next) {
        for (b = m->blocks; b != NULL; b = b->next) {
            if (b->type != Q2API_BLOCK_TOOL_USE) {
                continue;
            }

            n = q2api_gemini_tool_name(b->name.data, b->name.len, buf);

            if (n == len && memcmp(buf, name, len) == 0) {
                return b->name;
            }
        }
    }

    return found;
}


int
q2api_gemini_tools(const q2api_request_t *req, q2api_buf_t *out)
{
    int                  rc;
    const char          *mode;
    const q2api_tool_t  *t;

    if (req->tools == NULL) {
        return Q2API_OK;
    }

    /* all declarations in one object, as gemini-cli sends them */
    if (q2api_gemini_put(out, ",\"tools\":[{\"functionDeclarations\":[")
        != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    for (t = req->tools; t != NULL; t = t->next) {
        if ((t != req->tools && q2api_buf_append_byte(out, ',') != Q2API_OK)
            || q2api_gemini_put(out, "{\"name\":") != Q2API_OK
            || q2api_gemini_append_tool_name(out, &t->name) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        if (t->description.len
            && (q2api_gemini_put(out, ",\"description\":") != Q2API_OK
                || q2api_json_append_string(out, t->description.data,
                                            t->description.len)
                   != Q2API_OK))
        {
            return Q2API_NOMEM;
        }

        if (q2api_gemini_put(out, ",\"parametersJsonSchema\":") != Q2API_OK) {
            return Q2API_NOMEM;
        }

        rc = t->schema.len
             ? q2api_gemini_clean_schema(t->schema.data, t->schema.len, out)
             : Q2API_ERROR;

        if (rc == Q2API_NOMEM) {
            return rc;
        }

        if (rc != Q2API_OK
            && q2api_gemini_put(out, Q2API_GEMINI_EMPTY_SCHEMA) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        if (q2api_buf_append_byte(out, '}') != Q2API_OK) {
            return Q2API_NOMEM;
        }
    }

    if (q2api_gemini_put(out, "]}]") != Q2API_OK) {
        return Q2API_NOMEM;
    }

    switch (req->tool_choice) {
    case Q2API_TOOL_CHOICE_ANY:
    case Q2API_TOOL_CHOICE_TOOL:
        mode = "ANY";
        break;
    case Q2API_TOOL_CHOICE_NONE:
        mode = "NONE";
        break;
    default:
        /* AUTO is Gemini's default: nothing to say */
        return Q2API_OK;
    }

    if (q2api_gemini_put(out, ",\"toolConfig\":{\"functionCallingConfig\":"
                              "{\"mode\":\"") != Q2API_OK
        || q2api_buf_append_str(out, mode) != Q2API_OK
        || q2api_buf_append_byte(out, '"') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (req->tool_choice == Q2API_TOOL_CHOICE_TOOL
        && (q2api_gemini_put(out, ",\"allowedFunctionNames\":[") != Q2API_OK
            || q2api_gemini_append_tool_name(out, &req->tool_choice_name)
               != Q2API_OK
            || q2api_buf_append_byte(out, ']') != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    return q2api_gemini_put(out, "}}");
}


static int
q2api_gemini_append_tool_name(q2api_buf_t *out, const q2api_str_t *name)
{
    char    buf[Q2API_GEMINI_TOOL_NAME_MAX + 1];
    size_t  n;

    n = q2api_gemini_tool_name(name->data, name->len, buf);

    return q2api_json_append_string(out, buf, n);
}
