/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The GenerateAssistantResponse body (AWS JSON 1.0): the history, the
 * current message with its tools, tool results and images, the model and
 * the profile.
 */


#include "q2api_amazonq.h"
#include "q2api_amazonq_internal.h"
#include "q2api_json.h"


/* what the CLI sends; the service keys some behaviour on it */
#define Q2API_AMAZONQ_ORIGIN      "KIRO_CLI"
#define Q2API_AMAZONQ_ENV_STATE                                            \
    "{\"operatingSystem\":\"macos\",\"currentWorkingDirectory\":\"/\"}"


static int q2api_amazonq_user(const q2api_message_t *m,
    const q2api_str_t *content, q2api_buf_t *out, const q2api_request_t *req,
    const q2api_amazonq_opts_t *opts, int current);
static int q2api_amazonq_assistant(const q2api_message_t *m,
    q2api_buf_t *out);
static int q2api_amazonq_append_result(q2api_buf_t *out,
    const q2api_block_t *b);
static const char *q2api_amazonq_image_format(const q2api_str_t *mime);


int
q2api_amazonq_build(const q2api_request_t *req,
    const q2api_amazonq_opts_t *opts, q2api_buf_t *out, q2api_error_t *err)
{
    int                     first;
    char                    uuid[37];
    q2api_buf_t             text;
    q2api_str_t             content;
    const q2api_message_t  *m, *last;

    q2api_buf_init(&text, 0);

    if (q2api_uuid4(uuid) != Q2API_OK) {
        q2api_error_set(err, Q2API_ERR_API, "RAND_bytes() failed");
        return Q2API_ERROR;
    }

    /* the last user turn is the current message; a final assistant turn
     * (a prefill) stays in the history and the model is asked to go on */
    last = req->last->role == Q2API_ROLE_USER ? req->last : NULL;

    if (q2api_put(out, "{\"conversationState\":{\"conversationId\":\"")
        != Q2API_OK
        || q2api_buf_append_str(out, uuid) != Q2API_OK
        || q2api_put(out, "\",\"history\":[") != Q2API_OK)
    {
        goto nomem;
    }

    first = 1;

    for (m = req->messages; m != NULL && m != last; m = m->next) {

        if (!first && q2api_buf_append_byte(out, ',') != Q2API_OK) {
            goto nomem;
        }

        if (m->role == Q2API_ROLE_USER) {
            q2api_buf_reset(&text);

            if (q2api_amazonq_message_text(m, &text) != Q2API_OK) {
                goto nomem;
            }

            content.data = (char *) text.data;
            content.len = text.len;

            if (q2api_amazonq_user(m, &content, out, req, opts, 0)
                != Q2API_OK)
            {
                goto nomem;
            }

        } else {
            /* the service wants the history to open with a user turn */
            if (first) {
                content = (q2api_str_t) q2api_str_lit(Q2API_AMAZONQ_CONTINUE);

                if (q2api_amazonq_user(NULL, &content, out, req, opts, 0)
                    != Q2API_OK
                    || q2api_buf_append_byte(out, ',') != Q2API_OK)
                {
                    goto nomem;
                }
            }

            if (q2api_amazonq_assistant(m, out) != Q2API_OK) {
                goto nomem;
            }
        }

        first = 0;
    }

    q2api_buf_reset(&text);

    if (q2api_amazonq_current_content(req, last, opts, &text) != Q2API_OK) {
        goto nomem;
    }

    content.data = (char *) text.data;
    content.len = text.len;

    if (q2api_put(out, "],\"currentMessage\":") != Q2API_OK
        || q2api_amazonq_user(last, &content, out, req, opts, 1) != Q2API_OK
        || q2api_put(out, ",\"chatTriggerType\":\"MANUAL\"}") != Q2API_OK)
    {
        goto nomem;
    }

    if (opts->profile_arn.len
        && (q2api_put(out, ",\"profileArn\":") != Q2API_OK
            || q2api_json_append_string(out, opts->profile_arn.data,
                                        opts->profile_arn.len) != Q2API_OK))
    {
        goto nomem;
    }

    if (q2api_buf_append_byte(out, '}') != Q2API_OK) {
        goto nomem;
    }

    q2api_buf_free(&text);

    return Q2API_OK;

nomem:

    q2api_buf_free(&text);
    q2api_error_set(err, Q2API_ERR_API, "out of memory building the "
                    "Amazon Q request");

    return Q2API_ERROR;
}


static int
q2api_amazonq_user(const q2api_message_t *m, const q2api_str_t *content,
    q2api_buf_t *out, const q2api_request_t *req,
    const q2api_amazonq_opts_t *opts, int current)
{
    int                   n;
    const char           *format;
    const q2api_tool_t   *t;
    const q2api_block_t  *b;

    if (q2api_put(out, "{\"userInputMessage\":{\"content\":") != Q2API_OK
        || q2api_json_append_string(out, content->data, content->len)
           != Q2API_OK
        || q2api_put(out, ",\"userInputMessageContext\":{\"envState\":"
                          Q2API_AMAZONQ_ENV_STATE) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (current && req->tools != NULL) {
        if (q2api_put(out, ",\"tools\":[") != Q2API_OK) {
            return Q2API_NOMEM;
        }

        for (t = req->tools; t != NULL; t = t->next) {
            if ((t != req->tools && q2api_buf_append_byte(out, ',')
                 != Q2API_OK)
                || q2api_put(out, "{\"toolSpecification\":{\"name\":")
                   != Q2API_OK
                || q2api_amazonq_append_tool_name(out, &t->name) != Q2API_OK
                || q2api_put(out, ",\"description\":") != Q2API_OK
                || q2api_amazonq_append_description(out, t) != Q2API_OK
                || q2api_put(out, ",\"inputSchema\":{\"json\":") != Q2API_OK
                || q2api_buf_append(out, t->schema.data, t->schema.len)
                   != Q2API_OK
                || q2api_put(out, "}}}") != Q2API_OK)
            {
                return Q2API_NOMEM;
            }
        }

        if (q2api_buf_append_byte(out, ']') != Q2API_OK) {
            return Q2API_NOMEM;
        }
    }

    n = 0;

    for (b = m ? m->blocks : NULL; b != NULL; b = b->next) {
        if (b->type != Q2API_BLOCK_TOOL_RESULT) {
            continue;
        }

        if (q2api_buf_append_str(out, n++ ? "," : ",\"toolResults\":[")
            != Q2API_OK
            || q2api_put(out, "{\"toolUseId\":") != Q2API_OK
            || q2api_json_append_string(out, b->id.data, b->id.len)
               != Q2API_OK
            || q2api_put(out, ",\"content\":[{\"text\":") != Q2API_OK
            || q2api_amazonq_append_result(out, b) != Q2API_OK
            || q2api_put(out, "}],\"status\":") != Q2API_OK
            || q2api_buf_append_str(out, b->is_error ? "\"error\"}"
                                                     : "\"success\"}")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if ((n && q2api_buf_append_byte(out, ']') != Q2API_OK)
        || q2api_put(out, "},\"origin\":\"") != Q2API_OK
        || q2api_buf_append_str(out, opts->origin ? opts->origin
                                                  : Q2API_AMAZONQ_ORIGIN)
           != Q2API_OK
        || q2api_buf_append_byte(out, '"') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (current
        && (q2api_put(out, ",\"modelId\":") != Q2API_OK
            || q2api_json_append_string(out, opts->model_id.data,
                                        opts->model_id.len) != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    n = 0;

    for (b = m ? m->blocks : NULL; b != NULL; b = b->next) {
        if (b->type != Q2API_BLOCK_IMAGE) {
            continue;
        }

        format = q2api_amazonq_image_format(&b->media_type);
        if (format == NULL) {
            /* a type Amazon Q does not take: the turn goes without it */
            continue;
        }

        if (q2api_buf_append_str(out, n++ ? "," : ",\"images\":[")
            != Q2API_OK
            || q2api_put(out, "{\"format\":\"") != Q2API_OK
            || q2api_buf_append_str(out, format) != Q2API_OK
            || q2api_put(out, "\",\"source\":{\"bytes\":") != Q2API_OK
            || q2api_json_append_string(out, b->data.data, b->data.len)
               != Q2API_OK
            || q2api_put(out, "}}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if ((n && q2api_buf_append_byte(out, ']') != Q2API_OK)
        || q2api_put(out, "}}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


static int
q2api_amazonq_assistant(const q2api_message_t *m, q2api_buf_t *out)
{
    int                   n, rc;
    char                  uuid[37];
    q2api_buf_t           text;
    const q2api_block_t  *b;

    if (q2api_uuid4(uuid) != Q2API_OK) {
        return Q2API_ERROR;
    }

    q2api_buf_init(&text, 0);

    rc = q2api_amazonq_message_text(m, &text);

    if (rc != Q2API_OK
        || q2api_put(out, "{\"assistantResponseMessage\":{\"messageId\":\"")
           != Q2API_OK
        || q2api_buf_append_str(out, uuid) != Q2API_OK
        || q2api_put(out, "\",\"content\":") != Q2API_OK
        || q2api_json_append_string(out, (char *) text.data, text.len)
           != Q2API_OK)
    {
        q2api_buf_free(&text);
        return Q2API_NOMEM;
    }

    q2api_buf_free(&text);

    n = 0;

    for (b = m->blocks; b != NULL; b = b->next) {
        if (b->type != Q2API_BLOCK_TOOL_USE) {
            continue;
        }

        if (q2api_buf_append_str(out, n++ ? "," : ",\"toolUses\":[")
            != Q2API_OK
            || q2api_put(out, "{\"toolUseId\":") != Q2API_OK
            || q2api_json_append_string(out, b->id.data, b->id.len)
               != Q2API_OK
            || q2api_put(out, ",\"name\":") != Q2API_OK
            || q2api_amazonq_append_tool_name(out, &b->name) != Q2API_OK
            || q2api_put(out, ",\"input\":") != Q2API_OK
            || q2api_buf_append(out, b->data.data, b->data.len) != Q2API_OK
            || q2api_buf_append_byte(out, '}') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if ((n && q2api_buf_append_byte(out, ']') != Q2API_OK)
        || q2api_put(out, "}}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/*
 * A tool result's text as a JSON string.  Amazon Q's tool results take
 * text and JSON only: a result given as blocks becomes their text joined
 * by "\n", with an image named so that the model knows one was there.
 */

#define Q2API_AMAZONQ_IMAGE_OMITTED                                        \
    "[image omitted: the backend does not accept images in tool results]"

static int
q2api_amazonq_append_result(q2api_buf_t *out, const q2api_block_t *b)
{
    int                   rc;
    q2api_buf_t           text;
    const q2api_block_t  *c;

    if (b->content == NULL) {
        return q2api_json_append_string(out, b->text.data, b->text.len);
    }

    q2api_buf_init(&text, 0);

    rc = Q2API_OK;

    for (c = b->content; c != NULL && rc == Q2API_OK; c = c->next) {
        if (text.len && q2api_buf_append_byte(&text, '\n') != Q2API_OK) {
            rc = Q2API_NOMEM;
            break;
        }

        rc = (c->type == Q2API_BLOCK_IMAGE)
             ? q2api_put(&text, Q2API_AMAZONQ_IMAGE_OMITTED)
             : q2api_buf_append(&text, c->text.data, c->text.len);
    }

    if (rc == Q2API_OK) {
        rc = q2api_json_append_string(out, (char *) text.data, text.len);
    }

    q2api_buf_free(&text);

    return rc;
}


/* Amazon Q's word for an image's MIME type, or NULL if it takes none */
static const char *
q2api_amazonq_image_format(const q2api_str_t *mime)
{
    if (q2api_str_eq_lit(mime, "image/png")) {
        return "png";
    }

    if (q2api_str_eq_lit(mime, "image/jpeg")) {
        return "jpeg";
    }

    if (q2api_str_eq_lit(mime, "image/gif")) {
        return "gif";
    }

    if (q2api_str_eq_lit(mime, "image/webp")) {
        return "webp";
    }

    return NULL;
}
