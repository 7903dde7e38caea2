/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Errors in OpenAI's words: the status, type and code of each canonical
 * kind, and {"error":{"message","type","param","code"}}.
 */


#include "q2api_openai.h"
#include "q2api_json.h"


typedef struct {
    const char  *type;
    const char  *code;   /* NULL: null */
} q2api_openai_err_t;


static q2api_openai_err_t
q2api_openai_error_kind(q2api_err_e kind, const char *message)
{
    q2api_openai_err_t  e;

    e.type = "invalid_request_error";
    e.code = NULL;

    switch (kind) {
    case Q2API_ERR_INVALID_REQUEST:
    case Q2API_ERR_METHOD:
        break;
    case Q2API_ERR_CONTEXT_EXCEEDED:
        e.code = "context_length_exceeded";
        break;
    case Q2API_ERR_AUTHENTICATION:
        e.code = "invalid_api_key";
        break;
    case Q2API_ERR_BILLING:
        e.type = "insufficient_quota";
        e.code = "insufficient_quota";
        break;
    case Q2API_ERR_PERMISSION:
        e.type = "permission_error";
        e.code = "permission_denied";
        break;
    case Q2API_ERR_NOT_FOUND:
        /* the glue names a missing model as "model: <name>" */
        e.code = strncmp(message, "model: ", 7) == 0 ? "model_not_found"
                                                     : "not_found";
        break;
    case Q2API_ERR_TOO_LARGE:
        e.code = "request_too_large";
        break;
    case Q2API_ERR_RATE_LIMIT:
        e.type = "requests";
        e.code = "rate_limit_exceeded";
        break;
    case Q2API_ERR_BAD_GATEWAY:
        e.type = "server_error";
        e.code = "bad_gateway";
        break;
    case Q2API_ERR_UNAVAILABLE:
    case Q2API_ERR_OVERLOADED:
        e.type = "server_error";
        e.code = "service_unavailable";
        break;
    case Q2API_ERR_TIMEOUT:
        e.type = "server_error";
        e.code = "timeout";
        break;
    default:
        e.type = "server_error";
    }

    return e;
}


/* OpenAI has no 529: an overloaded backend is its 503 */
int
q2api_openai_error_status(q2api_err_e kind)
{
    return kind == Q2API_ERR_OVERLOADED ? 503 : q2api_err_status(kind);
}


/*
 * Request errors read "<field>: <problem>"; the field is the error's
 * param, as OpenAI names the offending parameter there.
 */
static size_t
q2api_openai_param(const char *message)
{
    size_t  n;

    for (n = 0; message[n] != '\0' && n < 128; n++) {
        if (message[n] == ':' && message[n + 1] == ' ') {
            return n;
        }

        if (!((message[n] >= 'a' && message[n] <= 'z')
              || (message[n] >= '0' && message[n] <= '9')
              || message[n] == '_' || message[n] == '.'))
        {
            return 0;
        }
    }

    return 0;
}


int
q2api_openai_error_body(q2api_buf_t *out, q2api_err_e kind,
    const char *message, const char *request_id)
{
    size_t              param;
    q2api_openai_err_t  e;

    e = q2api_openai_error_kind(kind, message);

    param = (kind == Q2API_ERR_INVALID_REQUEST
             || kind == Q2API_ERR_NOT_FOUND)
            ? q2api_openai_param(message) : 0;

    if (q2api_buf_append_str(out, "{\"error\":{\"message\":") != Q2API_OK
        || q2api_json_append_string(out, message, strlen(message))
           != Q2API_OK
        || q2api_buf_append_str(out, ",\"type\":\"") != Q2API_OK
        || q2api_buf_append_str(out, e.type) != Q2API_OK
        || q2api_buf_append_str(out, "\",\"param\":") != Q2API_OK
        || (param ? q2api_json_append_string(out, message, param)
                  : q2api_buf_append_str(out, "null")) != Q2API_OK
        || q2api_buf_append_str(out, ",\"code\":") != Q2API_OK
        || (e.code ? q2api_json_append_string(out, e.code, strlen(e.code))
                   : q2api_buf_append_str(out, "null")) != Q2API_OK
        || q2api_buf_append_byte(out, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    /* as the Claude front end does: the id a log line can be found by */
    if (request_id != NULL
        && (q2api_buf_append_str(out, ",\"request_id\":") != Q2API_OK
            || q2api_json_append_string(out, request_id, strlen(request_id))
               != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    return q2api_buf_append_byte(out, '}');
}
