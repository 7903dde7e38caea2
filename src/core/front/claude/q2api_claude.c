/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdio.h>
#include <stdlib.h>

#include <cjson/cJSON.h>
#include <openssl/rand.h>

#include "q2api_claude.h"
#include "q2api_json.h"
#include "q2api_sse.h"


#define Q2API_CLAUDE_BLOCK_NONE      0
#define Q2API_CLAUDE_BLOCK_TEXT      1
#define Q2API_CLAUDE_BLOCK_THINKING  2
#define Q2API_CLAUDE_BLOCK_TOOL      3
#define Q2API_CLAUDE_BLOCK_REDACTED  4


struct q2api_claude_block_s {
    int             type;
    q2api_buf_t     text;         /* text, thinking, or tool input JSON */
    q2api_buf_t     signature;
    char           *id;
    char           *name;
};


static int q2api_claude_parse_system(q2api_request_t *req, cJSON *system,
    const char *path, q2api_error_t *err);
static int q2api_claude_parse_message(q2api_request_t *req, cJSON *msg,
    int i, q2api_error_t *err);
static int q2api_claude_parse_block(q2api_request_t *req,
    q2api_message_t *msg, cJSON *block, const char *path,
    q2api_error_t *err);
static int q2api_claude_parse_image(q2api_request_t *req, q2api_block_t *b,
    cJSON *block, const char *path, q2api_error_t *err);
static int q2api_claude_parse_tool_result(q2api_request_t *req,
    q2api_block_t *b, cJSON *block, const char *path, q2api_error_t *err);
static int q2api_claude_parse_tools(q2api_request_t *req, cJSON *tools,
    q2api_error_t *err);
static int q2api_claude_parse_thinking(q2api_request_t *req, cJSON *thinking,
    q2api_error_t *err);
static int q2api_claude_parse_tool_choice(q2api_request_t *req,
    cJSON *choice, q2api_error_t *err);
static int q2api_claude_print(q2api_request_t *req, cJSON *item,
    q2api_str_t *out);
static cJSON *q2api_claude_json(const char *p, size_t len, const char **at);
static int q2api_claude_append_text(q2api_request_t *req, q2api_str_t *dst,
    const char *s, size_t len);

static int q2api_claude_emit(q2api_claude_stream_t *s, const char *name);
static int q2api_claude_begin(q2api_claude_stream_t *s);
static int q2api_claude_open(q2api_claude_stream_t *s, int type,
    const q2api_event_t *ev);
static int q2api_claude_close(q2api_claude_stream_t *s);
static int q2api_claude_delta(q2api_claude_stream_t *s, const char *kind,
    const char *field, const q2api_str_t *text);
static int q2api_claude_write_usage(q2api_claude_stream_t *s, int full);
static int q2api_claude_write_message(q2api_claude_stream_t *s);
static const char *q2api_claude_stop_reason(q2api_claude_stream_t *s);
static q2api_claude_block_t *q2api_claude_block_new(q2api_claude_stream_t *s,
    int type, const q2api_event_t *ev);


/* request parsing ------------------------------------------------------- */


#define q2api_json_str(item)                                               \
    ((q2api_str_t) { (item)->valuestring, strlen((item)->valuestring) })


int
q2api_claude_parse(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err)
{
    int          i;
    cJSON       *root, *item, *msg;
    const char  *at;

    if (len == 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is empty; expected a JSON object");
        return Q2API_ERROR;
    }

    if (!q2api_utf8_valid(body, len)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is not valid UTF-8");
        return Q2API_ERROR;
    }

    root = q2api_claude_json(body, len, &at);
    if (root == NULL) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body is not valid JSON (error near byte "
                        "%ld)", (at && at >= body && at <= body + len)
                                ? (long) (at - body) : 0L);
        return Q2API_ERROR;
    }

    req->json = root;

    if (!cJSON_IsObject(root)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "request body must be a JSON object");
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

    req->model = q2api_json_str(item);

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
        req->user_id = q2api_json_str(item);
    }

    item = cJSON_GetObjectItemCaseSensitive(root, "tool_choice");
    if (item != NULL && !cJSON_IsNull(item)) {
        if (q2api_claude_parse_tool_choice(req, item, err) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

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
        req->tool_choice_name = q2api_json_str(name);

    } else {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "tool_choice.type: expected \"auto\", \"any\", "
                        "\"tool\" or \"none\"");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


static int
q2api_claude_parse_system(q2api_request_t *req, cJSON *system,
    const char *path, q2api_error_t *err)
{
    int     i;
    cJSON  *block, *type, *text;

    if (cJSON_IsString(system)) {
        return q2api_claude_append_text(req, &req->system,
                                        system->valuestring,
                                        strlen(system->valuestring));
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

        if (q2api_claude_append_text(req, &req->system, text->valuestring,
                                     strlen(text->valuestring))
            != Q2API_OK)
        {
            q2api_error_set(err, Q2API_ERR_API, "out of memory");
            return Q2API_ERROR;
        }

        i++;
    }

    return Q2API_OK;
}


static int
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

        b->text = q2api_json_str(content);
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

        b->text = q2api_json_str(item);
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

        b->id = q2api_json_str(item);

        item = cJSON_GetObjectItemCaseSensitive(block, "name");
        if (!cJSON_IsString(item)) {
            q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                            "%s.name: expected a string", path);
            return Q2API_ERROR;
        }

        b->name = q2api_json_str(item);

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

        if (q2api_claude_print(req, item, &b->data) != Q2API_OK) {
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

        b->text = q2api_json_str(item);

        item = cJSON_GetObjectItemCaseSensitive(block, "signature");
        if (cJSON_IsString(item)) {
            b->data = q2api_json_str(item);
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

        b->data = q2api_json_str(item);
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

            b->text = q2api_json_str(item);
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

    if (!cJSON_IsString(data) || data->valuestring[0] == '\0') {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source.data: expected base64 image data", path);
        return Q2API_ERROR;
    }

    mt = media->valuestring;

    if (strcmp(mt, "image/png") == 0) {
        b->media_type = (q2api_str_t) q2api_str_lit("png");

    } else if (strcmp(mt, "image/jpeg") == 0 || strcmp(mt, "image/jpg") == 0)
    {
        b->media_type = (q2api_str_t) q2api_str_lit("jpeg");

    } else if (strcmp(mt, "image/gif") == 0) {
        b->media_type = (q2api_str_t) q2api_str_lit("gif");

    } else if (strcmp(mt, "image/webp") == 0) {
        b->media_type = (q2api_str_t) q2api_str_lit("webp");

    } else {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.source.media_type: \"%.64s\" is not supported; "
                        "use image/jpeg, image/png, image/gif or image/webp",
                        path, mt);
        return Q2API_ERROR;
    }

    b->data = q2api_json_str(data);

    return Q2API_OK;
}


static int
q2api_claude_parse_tool_result(q2api_request_t *req, q2api_block_t *b,
    cJSON *block, const char *path, q2api_error_t *err)
{
    cJSON  *item, *content, *part, *type, *text;

    item = cJSON_GetObjectItemCaseSensitive(block, "tool_use_id");
    if (!cJSON_IsString(item)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.tool_use_id: expected a string", path);
        return Q2API_ERROR;
    }

    b->id = q2api_json_str(item);

    item = cJSON_GetObjectItemCaseSensitive(block, "is_error");
    b->is_error = cJSON_IsTrue(item);

    content = cJSON_GetObjectItemCaseSensitive(block, "content");

    if (content == NULL || cJSON_IsNull(content)) {
        return Q2API_OK;
    }

    if (cJSON_IsString(content)) {
        b->text = q2api_json_str(content);
        return Q2API_OK;
    }

    if (!cJSON_IsArray(content)) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "%s.content: expected a string or an array of "
                        "blocks", path);
        return Q2API_ERROR;
    }

    cJSON_ArrayForEach(part, content) {
        type = cJSON_GetObjectItemCaseSensitive(part, "type");
        text = cJSON_GetObjectItemCaseSensitive(part, "text");

        if (cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0
            && cJSON_IsString(text))
        {
            if (q2api_claude_append_text(req, &b->text, text->valuestring,
                                         strlen(text->valuestring))
                != Q2API_OK)
            {
                q2api_error_set(err, Q2API_ERR_API, "out of memory");
                return Q2API_ERROR;
            }

            continue;
        }

        if (cJSON_IsString(type) && strcmp(type->valuestring, "image") == 0)
        {
            /*
             * Amazon Q's tool results take text and JSON only; the image is
             * named so that the model knows one was there.
             */
            if (q2api_claude_append_text(req, &b->text,
                                         "[image omitted: the backend does "
                                         "not accept images in tool "
                                         "results]", 67)
                != Q2API_OK)
            {
                q2api_error_set(err, Q2API_ERR_API, "out of memory");
                return Q2API_ERROR;
            }
        }
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
                req->server_tool = q2api_json_str(type);
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

        t->name = q2api_json_str(name);

        if (cJSON_IsString(desc)) {
            t->description = q2api_json_str(desc);
        }

        if (q2api_claude_print(req, schema, &t->schema) != Q2API_OK) {
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


/* compact JSON of item, copied into the arena */
static int
q2api_claude_print(q2api_request_t *req, cJSON *item, q2api_str_t *out)
{
    char    *p;
    size_t   len;

    p = cJSON_PrintUnformatted(item);
    if (p == NULL) {
        return Q2API_NOMEM;
    }

    len = strlen(p);
    out->data = q2api_arena_strndup(&req->arena, p, len);
    out->len = len;

    cJSON_free(p);

    return out->data ? Q2API_OK : Q2API_NOMEM;
}


/*
 * cJSON_ParseWithLength() stops after the first value and ignores what
 * follows; a document is valid only if nothing but blanks comes after it.
 * *at: where the error is.
 */
static cJSON *
q2api_claude_json(const char *p, size_t len, const char **at)
{
    cJSON       *root;
    const char  *end;

    root = cJSON_ParseWithLengthOpts(p, len, &end, 0);
    if (root == NULL) {
        *at = cJSON_GetErrorPtr();
        return NULL;
    }

    /* what cJSON itself skips as blanks */
    while (end < p + len && (unsigned char) *end <= ' ') {
        end++;
    }

    if (end < p + len) {
        cJSON_Delete(root);
        *at = end;
        return NULL;
    }

    return root;
}


/* dst = dst + "\n" + s, in the arena */
static int
q2api_claude_append_text(q2api_request_t *req, q2api_str_t *dst,
    const char *s, size_t len)
{
    char    *p;
    size_t   sep;

    if (dst->len == 0) {
        dst->data = s;
        dst->len = len;
        return Q2API_OK;
    }

    sep = 1;

    p = q2api_arena_alloc(&req->arena, dst->len + sep + len + 1);
    if (p == NULL) {
        return Q2API_NOMEM;
    }

    memcpy(p, dst->data, dst->len);
    p[dst->len] = '\n';
    memcpy(p + dst->len + sep, s, len);
    p[dst->len + sep + len] = '\0';

    dst->data = p;
    dst->len += sep + len;

    return Q2API_OK;
}


/* errors ------------------------------------------------------------------ */


const char *
q2api_claude_error_type(q2api_err_e kind)
{
    switch (kind) {
    case Q2API_ERR_INVALID_REQUEST:
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


/* the response ------------------------------------------------------------ */


int
q2api_claude_stream_init(q2api_claude_stream_t *s, q2api_buf_t *out,
    const q2api_request_t *req)
{
    int            i;
    unsigned char  r[12];

    memset(s, 0, sizeof(q2api_claude_stream_t));

    s->out = out;
    s->model = req->model;
    s->stream = req->stream;
    s->input_tokens = q2api_request_estimate_tokens(req);
    s->open = Q2API_CLAUDE_BLOCK_NONE;
    q2api_usage_init(&s->usage);
    q2api_buf_init(&s->scratch, 0);

    if (RAND_bytes(r, sizeof(r)) != 1) {
        return Q2API_ERROR;
    }

    memcpy(s->id, "msg_", 4);

    for (i = 0; i < (int) sizeof(r); i++) {
        snprintf(s->id + 4 + 2 * i, 3, "%02x", r[i]);
    }

    return Q2API_OK;
}


void
q2api_claude_stream_free(q2api_claude_stream_t *s)
{
    int  i;

    q2api_buf_free(&s->scratch);

    for (i = 0; i < s->nblocks && s->blocks != NULL; i++) {
        q2api_buf_free(&s->blocks[i].text);
        q2api_buf_free(&s->blocks[i].signature);
        free(s->blocks[i].id);
        free(s->blocks[i].name);
    }

    free(s->blocks);
    s->blocks = NULL;
}


/* writes the scratch JSON as one SSE event */
static int
q2api_claude_emit(q2api_claude_stream_t *s, const char *name)
{
    int  rc;

    rc = q2api_sse_event(s->out, name, s->scratch.data, s->scratch.len);
    q2api_buf_reset(&s->scratch);

    return rc;
}


/* string literals only: "" lit does not compile for a pointer */
#define q2api_claude_put(s, lit)                                           \
    q2api_buf_append(&(s)->scratch, "" lit, sizeof(lit) - 1)


static int
q2api_claude_write_usage(q2api_claude_stream_t *s, int full)
{
    long long   in, out;
    q2api_buf_t *b;

    b = &s->scratch;

    in = s->usage.input_tokens >= 0 ? s->usage.input_tokens
                                    : s->input_tokens;

    out = s->usage.output_tokens >= 0
          ? s->usage.output_tokens
          : q2api_estimate_tokens(s->output_bytes);

    if (!full) {
        /* message_start reports output_tokens as the real API does */
        out = s->finished ? out : 1;
    }

    if (q2api_claude_put(s, "{\"input_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, in) != Q2API_OK
        || q2api_claude_put(s, ",\"cache_creation_input_tokens\":")
           != Q2API_OK
        || q2api_json_append_int(b, s->usage.cache_write_tokens) != Q2API_OK
        || q2api_claude_put(s, ",\"cache_read_input_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, s->usage.cache_read_tokens) != Q2API_OK
        || q2api_claude_put(s, ",\"output_tokens\":") != Q2API_OK
        || q2api_json_append_int(b, out) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


static int
q2api_claude_begin(q2api_claude_stream_t *s)
{
    q2api_buf_t  *b;

    if (s->started) {
        return Q2API_OK;
    }

    s->started = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"message_start\",\"message\":"
                            "{\"id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->id) != Q2API_OK
        || q2api_claude_put(s, "\",\"type\":\"message\",\"role\":"
                               "\"assistant\",\"model\":") != Q2API_OK
        || q2api_json_append_string(b, s->model.data, s->model.len)
           != Q2API_OK
        || q2api_claude_put(s, ",\"content\":[],\"stop_reason\":null,"
                               "\"stop_sequence\":null,\"usage\":")
           != Q2API_OK
        || q2api_claude_write_usage(s, 0) != Q2API_OK
        || q2api_claude_put(s, "}}") != Q2API_OK
        || q2api_claude_emit(s, "message_start") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_claude_stream_ping(s);
}


int
q2api_claude_stream_ping(q2api_claude_stream_t *s)
{
    static const char  ping[] = "{\"type\":\"ping\"}";

    if (!s->stream) {
        return Q2API_OK;
    }

    if (!s->started) {
        /* nothing may come before message_start, which pings itself */
        return q2api_claude_begin(s);
    }

    return q2api_sse_event(s->out, "ping", ping, sizeof(ping) - 1);
}


static q2api_claude_block_t *
q2api_claude_block_new(q2api_claude_stream_t *s, int type,
    const q2api_event_t *ev)
{
    int                    n;
    q2api_claude_block_t  *blocks, *b;

    if (s->nblocks == s->nalloc) {
        n = s->nalloc ? s->nalloc * 2 : 4;

        blocks = realloc(s->blocks, n * sizeof(q2api_claude_block_t));
        if (blocks == NULL) {
            return NULL;
        }

        s->blocks = blocks;
        s->nalloc = n;
    }

    b = &s->blocks[s->nblocks];
    memset(b, 0, sizeof(q2api_claude_block_t));

    b->type = type;
    q2api_buf_init(&b->text, 0);
    q2api_buf_init(&b->signature, 0);

    if (type == Q2API_CLAUDE_BLOCK_REDACTED
        && q2api_buf_append(&b->text, ev->text.data, ev->text.len)
           != Q2API_OK)
    {
        return NULL;
    }

    if (type == Q2API_CLAUDE_BLOCK_TOOL) {
        b->id = strndup(ev->id.data ? ev->id.data : "", ev->id.len);
        b->name = strndup(ev->name.data ? ev->name.data : "", ev->name.len);

        if (b->id == NULL || b->name == NULL) {
            free(b->id);
            free(b->name);
            return NULL;
        }
    }

    return b;
}


static int
q2api_claude_open(q2api_claude_stream_t *s, int type, const q2api_event_t *ev)
{
    q2api_buf_t  *b;

    if (s->open == type && type != Q2API_CLAUDE_BLOCK_TOOL
        && type != Q2API_CLAUDE_BLOCK_REDACTED)
    {
        return Q2API_OK;
    }

    if (q2api_claude_close(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    if (!s->stream) {
        if (q2api_claude_block_new(s, type, ev) == NULL) {
            return Q2API_NOMEM;
        }

        s->nblocks++;
        s->open = type;

        return Q2API_OK;
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"content_block_start\",\"index\":")
        != Q2API_OK
        || q2api_json_append_int(b, s->nblocks) != Q2API_OK
        || q2api_claude_put(s, ",\"content_block\":") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    switch (type) {

    case Q2API_CLAUDE_BLOCK_TEXT:
        if (q2api_claude_put(s, "{\"type\":\"text\",\"text\":\"\"}")
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_CLAUDE_BLOCK_THINKING:
        if (q2api_claude_put(s, "{\"type\":\"thinking\",\"thinking\":\"\","
                                "\"signature\":\"\"}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_CLAUDE_BLOCK_REDACTED:
        /* arrives whole in its start event, with no deltas */
        if (q2api_claude_put(s, "{\"type\":\"redacted_thinking\","
                                "\"data\":") != Q2API_OK
            || q2api_json_append_string(b, ev->text.data, ev->text.len)
               != Q2API_OK
            || q2api_buf_append_byte(b, '}') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    default: /* Q2API_CLAUDE_BLOCK_TOOL */
        if (q2api_claude_put(s, "{\"type\":\"tool_use\",\"id\":") != Q2API_OK
            || q2api_json_append_string(b, ev->id.data, ev->id.len)
               != Q2API_OK
            || q2api_claude_put(s, ",\"name\":") != Q2API_OK
            || q2api_json_append_string(b, ev->name.data, ev->name.len)
               != Q2API_OK
            || q2api_claude_put(s, ",\"input\":{}}") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (q2api_buf_append_byte(b, '}') != Q2API_OK
        || q2api_claude_emit(s, "content_block_start") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->nblocks++;
    s->open = type;

    return Q2API_OK;
}


static int
q2api_claude_close(q2api_claude_stream_t *s)
{
    if (s->open == Q2API_CLAUDE_BLOCK_NONE) {
        return Q2API_OK;
    }

    s->open = Q2API_CLAUDE_BLOCK_NONE;

    if (!s->stream) {
        return Q2API_OK;
    }

    if (q2api_claude_put(s, "{\"type\":\"content_block_stop\",\"index\":")
        != Q2API_OK
        || q2api_json_append_int(&s->scratch, s->nblocks - 1) != Q2API_OK
        || q2api_buf_append_byte(&s->scratch, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_claude_emit(s, "content_block_stop");
}


static int
q2api_claude_delta(q2api_claude_stream_t *s, const char *kind,
    const char *field, const q2api_str_t *text)
{
    q2api_buf_t           *b;
    q2api_claude_block_t  *blk;

    if (!s->stream) {
        blk = &s->blocks[s->nblocks - 1];

        if (strcmp(kind, "signature_delta") == 0) {
            /* a signature replaces the previous one */
            q2api_buf_reset(&blk->signature);
            return q2api_buf_append(&blk->signature, text->data, text->len);
        }

        return q2api_buf_append(&blk->text, text->data, text->len);
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"content_block_delta\",\"index\":")
        != Q2API_OK
        || q2api_json_append_int(b, s->nblocks - 1) != Q2API_OK
        || q2api_claude_put(s, ",\"delta\":{\"type\":\"") != Q2API_OK
        || q2api_buf_append_str(b, kind) != Q2API_OK
        || q2api_claude_put(s, "\",\"") != Q2API_OK
        || q2api_buf_append_str(b, field) != Q2API_OK
        || q2api_claude_put(s, "\":") != Q2API_OK
        || q2api_json_append_string(b, text->data, text->len) != Q2API_OK
        || q2api_claude_put(s, "}}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_claude_emit(s, "content_block_delta");
}


int
q2api_claude_stream_event(void *data, const q2api_event_t *ev)
{
    q2api_claude_stream_t  *s = data;

    if (s->finished) {
        return Q2API_OK;
    }

    if (ev->type == Q2API_EV_ERROR) {
        return q2api_claude_stream_error(s, ev->error, ev->text.data);
    }

    if (q2api_claude_begin(s) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    switch (ev->type) {

    case Q2API_EV_BEGIN:
        return Q2API_OK;

    case Q2API_EV_TEXT:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_TEXT, ev) != Q2API_OK) {
            return Q2API_NOMEM;
        }

        return q2api_claude_delta(s, "text_delta", "text", &ev->text);

    case Q2API_EV_THINKING:
        if (ev->text.len == 0) {
            return Q2API_OK;
        }

        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_THINKING, ev)
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_claude_delta(s, "thinking_delta", "thinking",
                                  &ev->text);

    case Q2API_EV_SIGNATURE:
        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_THINKING, ev)
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_claude_delta(s, "signature_delta", "signature",
                                  &ev->text);

    case Q2API_EV_REDACTED_THINKING:
        if (q2api_claude_open(s, Q2API_CLAUDE_BLOCK_REDACTED, ev)
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return q2api_claude_close(s);

    case Q2API_EV_TOOL_START:
        s->had_tool = 1;
        return q2api_claude_open(s, Q2API_CLAUDE_BLOCK_TOOL, ev);

    case Q2API_EV_TOOL_INPUT:
        if (s->open != Q2API_CLAUDE_BLOCK_TOOL) {
            return Q2API_OK;
        }

        s->output_bytes += ev->text.len;

        return q2api_claude_delta(s, "input_json_delta", "partial_json",
                                  &ev->text);

    case Q2API_EV_TOOL_STOP:
        if (s->open != Q2API_CLAUDE_BLOCK_TOOL) {
            return Q2API_OK;
        }

        return q2api_claude_close(s);

    case Q2API_EV_USAGE:
        if (ev->usage.input_tokens >= 0) {
            s->usage.input_tokens = ev->usage.input_tokens;
        }

        if (ev->usage.output_tokens >= 0) {
            s->usage.output_tokens = ev->usage.output_tokens;
        }

        if (ev->usage.cache_read_tokens > 0) {
            s->usage.cache_read_tokens = ev->usage.cache_read_tokens;
        }

        if (ev->usage.cache_write_tokens > 0) {
            s->usage.cache_write_tokens = ev->usage.cache_write_tokens;
        }

        return Q2API_OK;

    case Q2API_EV_STOP:
        s->stop = ev->stop;
        return Q2API_OK;

    default:
        return Q2API_OK;
    }
}


static const char *
q2api_claude_stop_reason(q2api_claude_stream_t *s)
{
    switch (s->stop) {
    case Q2API_STOP_MAX_TOKENS:
        return "max_tokens";
    case Q2API_STOP_CONTEXT_EXCEEDED:
        return "model_context_window_exceeded";
    case Q2API_STOP_TOOL_USE:
        return "tool_use";
    case Q2API_STOP_END_TURN:
        return "end_turn";
    default:
        return s->had_tool ? "tool_use" : "end_turn";
    }
}


int
q2api_claude_stream_finish(q2api_claude_stream_t *s)
{
    q2api_buf_t  *b;

    if (s->finished) {
        return Q2API_OK;
    }

    if (q2api_claude_begin(s) != Q2API_OK
        || q2api_claude_close(s) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    s->finished = 1;

    if (!s->stream) {
        return q2api_claude_write_message(s);
    }

    b = &s->scratch;

    if (q2api_claude_put(s, "{\"type\":\"message_delta\",\"delta\":"
                            "{\"stop_reason\":\"") != Q2API_OK
        || q2api_buf_append_str(b, q2api_claude_stop_reason(s)) != Q2API_OK
        || q2api_claude_put(s, "\",\"stop_sequence\":null},\"usage\":")
           != Q2API_OK
        || q2api_claude_write_usage(s, 1) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK
        || q2api_claude_emit(s, "message_delta") != Q2API_OK
        || q2api_claude_put(s, "{\"type\":\"message_stop\"}") != Q2API_OK
        || q2api_claude_emit(s, "message_stop") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* stream: false -- the message the stream would have described */
static int
q2api_claude_write_message(q2api_claude_stream_t *s)
{
    int                    i, rc;
    char                  *printed;
    cJSON                 *input;
    const char            *at;
    q2api_buf_t           *b;
    q2api_claude_block_t  *blk;

    b = s->out;

    if (q2api_buf_append_str(b, "{\"id\":\"") != Q2API_OK
        || q2api_buf_append_str(b, s->id) != Q2API_OK
        || q2api_buf_append_str(b, "\",\"type\":\"message\",\"role\":"
                                   "\"assistant\",\"model\":") != Q2API_OK
        || q2api_json_append_string(b, s->model.data, s->model.len)
           != Q2API_OK
        || q2api_buf_append_str(b, ",\"content\":[") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    for (i = 0; i < s->nblocks; i++) {
        blk = &s->blocks[i];

        if (i > 0 && q2api_buf_append_byte(b, ',') != Q2API_OK) {
            return Q2API_NOMEM;
        }

        switch (blk->type) {

        case Q2API_CLAUDE_BLOCK_TEXT:
            if (q2api_buf_append_str(b, "{\"type\":\"text\",\"text\":")
                != Q2API_OK
                || q2api_json_append_string(b, (char *) blk->text.data,
                                            blk->text.len) != Q2API_OK
                || q2api_buf_append_byte(b, '}') != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            break;

        case Q2API_CLAUDE_BLOCK_REDACTED:
            if (q2api_buf_append_str(b, "{\"type\":\"redacted_thinking\","
                                        "\"data\":") != Q2API_OK
                || q2api_json_append_string(b, (char *) blk->text.data,
                                            blk->text.len) != Q2API_OK
                || q2api_buf_append_byte(b, '}') != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            break;

        case Q2API_CLAUDE_BLOCK_THINKING:
            if (q2api_buf_append_str(b, "{\"type\":\"thinking\","
                                        "\"thinking\":") != Q2API_OK
                || q2api_json_append_string(b, (char *) blk->text.data,
                                            blk->text.len) != Q2API_OK
                || q2api_buf_append_str(b, ",\"signature\":") != Q2API_OK
                || q2api_json_append_string(b, (char *) blk->signature.data,
                                            blk->signature.len) != Q2API_OK
                || q2api_buf_append_byte(b, '}') != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            break;

        default: /* Q2API_CLAUDE_BLOCK_TOOL */
            if (q2api_buf_append_str(b, "{\"type\":\"tool_use\",\"id\":")
                != Q2API_OK
                || q2api_json_append_string(b, blk->id, strlen(blk->id))
                   != Q2API_OK
                || q2api_buf_append_str(b, ",\"name\":") != Q2API_OK
                || q2api_json_append_string(b, blk->name, strlen(blk->name))
                   != Q2API_OK
                || q2api_buf_append_str(b, ",\"input\":") != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            /*
             * The fragments concatenate to the input's JSON; when the
             * backend cut it short, an empty object is what Claude Code
             * itself falls back to.
             */
            input = q2api_claude_json((char *) blk->text.data,
                                      blk->text.len, &at);

            /*
             * Printed again rather than copied: cJSON takes more than JSON
             * ("01", "1.", control characters as blanks); and the bytes of
             * its strings go out as they came, so they must be UTF-8.
             */
            printed = NULL;

            if (cJSON_IsObject(input)
                && q2api_utf8_valid((char *) blk->text.data, blk->text.len))
            {
                printed = cJSON_PrintUnformatted(input);
            }

            cJSON_Delete(input);

            rc = q2api_buf_append_str(b, printed ? printed : "{}");
            cJSON_free(printed);

            if (rc != Q2API_OK || q2api_buf_append_byte(b, '}') != Q2API_OK) {
                return Q2API_NOMEM;
            }
        }
    }

    if (q2api_buf_append_str(b, "],\"stop_reason\":\"") != Q2API_OK
        || q2api_buf_append_str(b, q2api_claude_stop_reason(s)) != Q2API_OK
        || q2api_buf_append_str(b, "\",\"stop_sequence\":null,\"usage\":")
           != Q2API_OK
        || q2api_claude_write_usage(s, 1) != Q2API_OK
        || q2api_buf_append(b, s->scratch.data, s->scratch.len) != Q2API_OK
        || q2api_buf_append_byte(b, '}') != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    q2api_buf_reset(&s->scratch);

    return Q2API_OK;
}


int
q2api_claude_stream_error(q2api_claude_stream_t *s, q2api_err_e kind,
    const char *message)
{
    int  rc;

    if (s->finished) {
        return Q2API_OK;
    }

    s->finished = 1;

    if (!s->stream) {
        return Q2API_OK;
    }

    rc = q2api_claude_error_body(&s->scratch, kind,
                                 message ? message : "upstream error", NULL);
    if (rc != Q2API_OK) {
        return rc;
    }

    return q2api_claude_emit(s, "error");
}
