/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The conversation of a Messages request: system text, messages and their
 * content blocks, as canonical messages and blocks.
 */


#include <stdio.h>

#include "q2api_claude.h"
#include "q2api_claude_internal.h"
#include "q2api_check.h"
#include "q2api_json.h"


static int q2api_claude_parse_block(q2api_request_t *req,
    q2api_message_t *msg, cJSON *block, const char *path,
    q2api_error_t *err);
static int q2api_claude_parse_image(q2api_request_t *req, q2api_block_t *b,
    cJSON *block, const char *path, q2api_error_t *err);
static int q2api_claude_parse_tool_result(q2api_request_t *req,
    q2api_block_t *b, cJSON *block, const char *path, q2api_error_t *err);


int
q2api_claude_parse_system(q2api_request_t *req, cJSON *system,
    const char *path, q2api_error_t *err)
{
    int           i;
    cJSON        *block, *type, *text;
    q2api_str_t   s;

    if (cJSON_IsString(system)) {
        s = q2api_request_str(req, system);
        return q2api_request_append_text(req, &req->system, s.data, s.len);
    }

    if (!cJSON_IsArray(system)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected a string or an array of text blocks",
                        path);
        return Q2API_ERROR;
    }

    i = 0;

    cJSON_ArrayForEach(block, system) {
        type = cJSON_GetObjectItemCaseSensitive(block, "type");
        text = cJSON_GetObjectItemCaseSensitive(block, "text");

        if (!cJSON_IsObject(block) || !cJSON_IsString(type)
            || strcmp(type->valuestring, "text") != 0
            || !cJSON_IsString(text))
        {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.%d: expected a text block with a string "
                            "\"text\"", path, i);
            return Q2API_ERROR;
        }

        s = q2api_request_str(req, text);

        if (q2api_request_append_text(req, &req->system, s.data, s.len)
            != Q2API_OK)
        {
            q2api_error_set(err, Q2API_ERR_API, "out of memory");
            return Q2API_ERROR;
        }

        i++;
    }

    return Q2API_OK;
}


int
q2api_claude_parse_message(q2api_request_t *req, cJSON *msg, int i,
    q2api_error_t *err)
{
    int               j;
    char              path[64];
    cJSON            *role, *content, *block;
    q2api_block_t    *b;
    q2api_role_e      r;
    q2api_message_t  *m;

    if (!cJSON_IsObject(msg)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d: expected an object", i);
        return Q2API_ERROR;
    }

    role = cJSON_GetObjectItemCaseSensitive(msg, "role");
    content = cJSON_GetObjectItemCaseSensitive(msg, "content");

    if (!cJSON_IsString(role)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d.role: field required (\"user\" or "
                        "\"assistant\")", i);
        return Q2API_ERROR;
    }

    if (content == NULL || cJSON_IsNull(content)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d.content: field required", i);
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d.content: expected a string or an array "
                        "of content blocks", i);
        return Q2API_ERROR;
    }

    snprintf(path, sizeof(path), "messages.%d.content", i);

    /*
     * Current Claude Code sends "system" messages inside messages[]; they
     * join the system prompt, which every backend turn carries.
     */
    if (strcmp(role->valuestring, "system") == 0) {
        return q2api_claude_parse_system(req, content, path, err);
    }

    if (strcmp(role->valuestring, "user") == 0) {
        r = Q2API_ROLE_USER;

    } else if (strcmp(role->valuestring, "assistant") == 0) {
        r = Q2API_ROLE_ASSISTANT;

    } else {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d.role: expected \"user\", \"assistant\" "
                        "or \"system\"", i);
        return Q2API_ERROR;
    }

    m = q2api_request_add_message(req, r);
    if (m == NULL) {
        goto nomem;
    }

    if (cJSON_IsString(content)) {
        b = q2api_message_add_block(req, m, Q2API_BLOCK_TEXT);
        if (b == NULL) {
            goto nomem;
        }

        b->text = q2api_request_str(req, content);
        return Q2API_OK;
    }

    j = 0;

    cJSON_ArrayForEach(block, content) {
        snprintf(path, sizeof(path), "messages.%d.content.%d", i, j++);

        if (q2api_claude_parse_block(req, m, block, path, err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;

nomem:

    q2api_error_set(err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


static int
q2api_claude_parse_block(q2api_request_t *req, q2api_message_t *msg,
    cJSON *block, const char *path, q2api_error_t *err)
{
    cJSON          *type, *item, *source;
    const char     *t;
    q2api_block_t  *b;

    type = cJSON_GetObjectItemCaseSensitive(block, "type");

    if (!cJSON_IsObject(block) || !cJSON_IsString(type)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected a content block with a \"type\"",
                        path);
        return Q2API_ERROR;
    }

    t = type->valuestring;

    if (strcmp(t, "text") == 0) {
        item = cJSON_GetObjectItemCaseSensitive(block, "text");
        if (!cJSON_IsString(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.text: expected a string", path);
            return Q2API_ERROR;
        }

        b = q2api_message_add_block(req, msg, Q2API_BLOCK_TEXT);
        if (b == NULL) {
            goto nomem;
        }

        b->text = q2api_request_str(req, item);
        return Q2API_OK;
    }

    if (strcmp(t, "image") == 0) {
        b = q2api_message_add_block(req, msg, Q2API_BLOCK_IMAGE);
        if (b == NULL) {
            goto nomem;
        }

        return q2api_claude_parse_image(req, b, block, path, err);
    }

    if (strcmp(t, "tool_use") == 0 || strcmp(t, "server_tool_use") == 0) {
        b = q2api_message_add_block(req, msg, Q2API_BLOCK_TOOL_USE);
        if (b == NULL) {
            goto nomem;
        }

        item = cJSON_GetObjectItemCaseSensitive(block, "id");
        if (!cJSON_IsString(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.id: expected a string", path);
            return Q2API_ERROR;
        }

        b->id = q2api_request_str(req, item);

        item = cJSON_GetObjectItemCaseSensitive(block, "name");
        if (!cJSON_IsString(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.name: expected a string", path);
            return Q2API_ERROR;
        }

        b->name = q2api_request_str(req, item);

        item = cJSON_GetObjectItemCaseSensitive(block, "input");
        if (item == NULL || cJSON_IsNull(item)) {
            b->data = (q2api_str_t) q2api_str_lit("{}");
            return Q2API_OK;
        }

        if (!cJSON_IsObject(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.input: expected an object", path);
            return Q2API_ERROR;
        }

        if (q2api_json_print(&req->arena, item, &b->data) != Q2API_OK) {
            goto nomem;
        }

        return Q2API_OK;
    }

    if (strcmp(t, "tool_result") == 0) {
        b = q2api_message_add_block(req, msg, Q2API_BLOCK_TOOL_RESULT);
        if (b == NULL) {
            goto nomem;
        }

        return q2api_claude_parse_tool_result(req, b, block, path, err);
    }

    if (strcmp(t, "thinking") == 0) {
        item = cJSON_GetObjectItemCaseSensitive(block, "thinking");
        if (!cJSON_IsString(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.thinking: expected a string", path);
            return Q2API_ERROR;
        }

        b = q2api_message_add_block(req, msg, Q2API_BLOCK_THINKING);
        if (b == NULL) {
            goto nomem;
        }

        b->text = q2api_request_str(req, item);

        item = cJSON_GetObjectItemCaseSensitive(block, "signature");
        if (cJSON_IsString(item)) {
            b->data = q2api_request_str(req, item);
        }

        return Q2API_OK;
    }

    if (strcmp(t, "redacted_thinking") == 0) {
        item = cJSON_GetObjectItemCaseSensitive(block, "data");
        if (!cJSON_IsString(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.data: expected a string", path);
            return Q2API_ERROR;
        }

        b = q2api_message_add_block(req, msg,
                                    Q2API_BLOCK_REDACTED_THINKING);
        if (b == NULL) {
            goto nomem;
        }

        b->data = q2api_request_str(req, item);
        return Q2API_OK;
    }

    if (strcmp(t, "document") == 0) {
        source = cJSON_GetObjectItemCaseSensitive(block, "source");
        type = cJSON_GetObjectItemCaseSensitive(source, "type");
        item = cJSON_GetObjectItemCaseSensitive(source, "data");

        if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0
            && cJSON_IsString(item))
        {
            b = q2api_message_add_block(req, msg, Q2API_BLOCK_TEXT);
            if (b == NULL) {
                goto nomem;
            }

            b->text = q2api_request_str(req, item);
            return Q2API_OK;
        }

        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s: only documents with a \"text\" source are "
                        "supported by this gateway's backends", path);
        return Q2API_ERROR;
    }

    /*
     * Blocks only Anthropic's own servers produce (web search results,
     * container uploads, ...) carry nothing a backend here can use; a
     * replayed history keeps working without them.
     */
    return Q2API_OK;

nomem:

    q2api_error_set(err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


static int
q2api_claude_parse_image(q2api_request_t *req, q2api_block_t *b,
    cJSON *block, const char *path, q2api_error_t *err)
{
    cJSON       *source, *type, *media, *data;
    const char  *mt;

    source = cJSON_GetObjectItemCaseSensitive(block, "source");
    type = cJSON_GetObjectItemCaseSensitive(source, "type");

    if (!cJSON_IsObject(source) || !cJSON_IsString(type)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source: expected an object with a \"type\"",
                        path);
        return Q2API_ERROR;
    }

    if (strcmp(type->valuestring, "base64") != 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source.type: \"%.32s\" image sources are not "
                        "supported; send the image as base64", path,
                        type->valuestring);
        return Q2API_ERROR;
    }

    media = cJSON_GetObjectItemCaseSensitive(source, "media_type");
    data = cJSON_GetObjectItemCaseSensitive(source, "data");

    if (!cJSON_IsString(media)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source.media_type: expected a string", path);
        return Q2API_ERROR;
    }

    /* a back end would take anything and answer about an image it
     * could not read */
    if (!cJSON_IsString(data)
        || q2api_check(Q2API_CHECK_BASE64, data->valuestring,
                       strlen(data->valuestring)) != Q2API_OK)
    {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source.data: expected base64 image data "
                        "(A-Z a-z 0-9 + /, padded with =)", path);
        return Q2API_ERROR;
    }

    mt = media->valuestring;

    if (strcmp(mt, "image/jpg") == 0) {
        /* a common misspelling that Anthropic takes */
        b->media_type = (q2api_str_t) q2api_str_lit("image/jpeg");

    } else if (strcmp(mt, "image/png") == 0
               || strcmp(mt, "image/jpeg") == 0
               || strcmp(mt, "image/gif") == 0
               || strcmp(mt, "image/webp") == 0)
    {
        b->media_type = q2api_request_str(req, media);

    } else {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source.media_type: \"%.64s\" is not supported; "
                        "use image/jpeg, image/png, image/gif or image/webp",
                        path, mt);
        return Q2API_ERROR;
    }

    b->data = q2api_request_str(req, data);

    return Q2API_OK;
}


static int
q2api_claude_parse_tool_result(q2api_request_t *req, q2api_block_t *b,
    cJSON *block, const char *path, q2api_error_t *err)
{
    cJSON          *item, *content, *part, *type, *text, *source, *field;
    q2api_block_t  *c, **tail;

    item = cJSON_GetObjectItemCaseSensitive(block, "tool_use_id");
    if (!cJSON_IsString(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.tool_use_id: expected a string", path);
        return Q2API_ERROR;
    }

    b->id = q2api_request_str(req, item);

    item = cJSON_GetObjectItemCaseSensitive(block, "is_error");
    b->is_error = cJSON_IsTrue(item);

    content = cJSON_GetObjectItemCaseSensitive(block, "content");

    if (content == NULL || cJSON_IsNull(content)) {
        return Q2API_OK;
    }

    if (cJSON_IsString(content)) {
        b->text = q2api_request_str(req, content);
        return Q2API_OK;
    }

    if (!cJSON_IsArray(content)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.content: expected a string or an array of "
                        "blocks", path);
        return Q2API_ERROR;
    }

    tail = &b->content;

    /*
     * Text and images are kept in order; what else a result may hold
     * (search results, documents) no back end here takes.  An image is
     * not checked: a back end may have no use for it.
     */
    cJSON_ArrayForEach(part, content) {
        type = cJSON_GetObjectItemCaseSensitive(part, "type");
        text = cJSON_GetObjectItemCaseSensitive(part, "text");

        if (!cJSON_IsString(type)) {
            continue;
        }

        if (strcmp(type->valuestring, "text") == 0 && cJSON_IsString(text))
        {
            c = q2api_arena_calloc(&req->arena, sizeof(q2api_block_t));
            if (c == NULL) {
                goto nomem;
            }

            c->type = Q2API_BLOCK_TEXT;
            c->text = q2api_request_str(req, text);

        } else if (strcmp(type->valuestring, "image") == 0) {
            c = q2api_arena_calloc(&req->arena, sizeof(q2api_block_t));
            if (c == NULL) {
                goto nomem;
            }

            c->type = Q2API_BLOCK_IMAGE;
            source = cJSON_GetObjectItemCaseSensitive(part, "source");

            field = cJSON_GetObjectItemCaseSensitive(source, "media_type");
            if (cJSON_IsString(field)) {
                c->media_type = q2api_request_str(req, field);
            }

            field = cJSON_GetObjectItemCaseSensitive(source, "data");
            if (cJSON_IsString(field)) {
                c->data = q2api_request_str(req, field);
            }

        } else {
            continue;
        }

        *tail = c;
        tail = &c->next;
    }

    return Q2API_OK;

nomem:

    q2api_error_set(err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}
