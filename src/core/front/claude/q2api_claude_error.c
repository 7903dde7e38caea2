/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Errors in Anthropic's words: the error type of each canonical kind and
 * the error body.
 */


#include <stdio.h>

#include "q2api_claude.h"
#include "q2api_json.h"


const char *
q2api_claude_error_type(q2api_err_e kind)
{
    switch (kind) {
    case Q2API_ERR_INVALID_REQUEST:
    case Q2API_ERR_CONTEXT_EXCEEDED:
    case Q2API_ERR_METHOD:
        return "invalid_request_error";
    case Q2API_ERR_AUTHENTICATION:
        return "authentication_error";
    case Q2API_ERR_BILLING:
        return "billing_error";
    case Q2API_ERR_PERMISSION:
        return "permission_error";
    case Q2API_ERR_NOT_FOUND:
        return "not_found_error";
    case Q2API_ERR_TOO_LARGE:
        return "request_too_large";
    case Q2API_ERR_RATE_LIMIT:
        return "rate_limit_error";
    case Q2API_ERR_TIMEOUT:
        return "timeout_error";
    case Q2API_ERR_OVERLOADED:
        return "overloaded_error";
    default:
        return "api_error";
    }
}


int
q2api_claude_error_body(q2api_buf_t *out, q2api_err_e kind,
    const char *message, const char *request_id)
{
    char  text[Q2API_ERR_MSG_LEN];

    /*
     * The words Claude Code looks for before it compacts its context; the
     * whole stays within the bound every error message has.
     */
    if (kind == Q2API_ERR_CONTEXT_EXCEEDED) {
        snprintf(text, sizeof(text), "prompt is too long: %s", message);
        message = text;
    }

    /* key order matters: Claude Code matches on the text */
    if (q2api_buf_append_str(out, "{\"type\":\"error\",\"error\":{\"type\":\"")
        != Q2API_OK
        || q2api_buf_append_str(out, q2api_claude_error_type(kind))
           != Q2API_OK
        || q2api_buf_append_str(out, "\",\"message\":") != Q2API_OK
        || q2api_json_append_string(out, message, strlen(message))
           != Q2API_OK
        || q2api_buf_append_byte(out, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (request_id != NULL
        && (q2api_buf_append_str(out, ",\"request_id\":") != Q2API_OK
            || q2api_json_append_string(out, request_id, strlen(request_id))
               != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    return q2api_buf_append_byte(out, '}');
}

