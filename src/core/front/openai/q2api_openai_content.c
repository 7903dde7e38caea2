/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The conversation of a Chat Completions request: system and developer
 * text, user parts (text, data-URL images), assistant text and tool
 * calls, and the tool (or legacy function) messages that answer them, as
 * canonical messages and blocks.
 */


#include <stdio.h>

#include "q2api_openai.h"
#include "q2api_openai_internal.h"
#include "q2api_json.h"


static int q2api_openai_parse_system(q2api_openai_parse_t *p,
    cJSON *content, const char *path);
static int q2api_openai_parse_user(q2api_openai_parse_t *p, cJSON *content,
    const char *path);
static int q2api_openai_parse_assistant(q2api_openai_parse_t *p,
    cJSON *msg, const char *path, int i);
static int q2api_openai_parse_result(q2api_openai_parse_t *p, cJSON *msg,
    const char *path, int legacy);
static int q2api_openai_text_parts(q2api_openai_parse_t *p, cJSON *content,
    const char *path, q2api_str_t *text, int refusal);


int
q2api_openai_parse_message(q2api_openai_parse_t *p, cJSON *msg, int i)
{
    char         path[48];
    cJSON       *role, *content;
    const char  *r;

    if (!cJSON_IsObject(msg)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d: expected an object", i);
        return Q2API_ERROR;
    }

    role = cJSON_GetObjectItemCaseSensitive(msg, "role");
    content = cJSON_GetObjectItemCaseSensitive(msg, "content");

    if (!cJSON_IsString(role)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "messages.%d.role: field required", i);
        return Q2API_ERROR;
    }

    r = role->valuestring;
    snprintf(path, sizeof(path), "messages.%d", i);

    if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
        return q2api_openai_parse_system(p, content, path);
    }

    if (strcmp(r, "user") == 0) {
        return q2api_openai_parse_user(p, content, path);
    }

    if (strcmp(r, "assistant") == 0) {
        return q2api_openai_parse_assistant(p, msg, path, i);
    }

    if (strcmp(r, "tool") == 0) {
        return q2api_openai_parse_result(p, msg, path, 0);
    }

    if (strcmp(r, "function") == 0) {
        return q2api_openai_parse_result(p, msg, path, 1);
    }

    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                    "messages.%d.role: expected \"system\", \"developer\", "
                    "\"user\", \"assistant\" or \"tool\"", i);

    return Q2API_ERROR;
}


/* every system and developer message joins the one system prompt */
static int
q2api_openai_parse_system(q2api_openai_parse_t *p, cJSON *content,
    const char *path)
{
    q2api_str_t  text;

    if (q2api_openai_text_parts(p, content, path, &text, 0) != Q2API_OK) {
        return Q2API_ERROR;
    }

    if (q2api_request_append_text(p->req, &p->req->system, text.data, text.len)
        != Q2API_OK)
    {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


static int
q2api_openai_parse_user(q2api_openai_parse_t *p, cJSON *content,
    const char *path)
{
    int               j;
    char              part_path[80];
    cJSON            *part, *type, *text;
    const char       *t;
    q2api_block_t    *b;
    q2api_message_t  *m;

    if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.content: expected a string or an array of "
                        "content parts", path);
        return Q2API_ERROR;
    }

    m = q2api_request_add_message(p->req, Q2API_ROLE_USER);
    if (m == NULL) {
        goto nomem;
    }

    if (cJSON_IsString(content)) {
        b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TEXT);
        if (b == NULL) {
            goto nomem;
        }

        b->text = q2api_request_str(p->req, content);
        return Q2API_OK;
    }

    j = 0;

    cJSON_ArrayForEach(part, content) {
        snprintf(part_path, sizeof(part_path), "%s.content.%d", path, j++);

        type = cJSON_GetObjectItemCaseSensitive(part, "type");

        if (!cJSON_IsObject(part) || !cJSON_IsString(type)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s: expected a content part with a \"type\"",
                            part_path);
            return Q2API_ERROR;
        }

        t = type->valuestring;

        if (strcmp(t, "text") == 0) {
            text = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (!cJSON_IsString(text)) {
                q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                "%s.text: expected a string", part_path);
                return Q2API_ERROR;
            }

            b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TEXT);
            if (b == NULL) {
                goto nomem;
            }

            b->text = q2api_request_str(p->req, text);
            continue;
        }

        if (strcmp(t, "image_url") == 0) {
            if (q2api_openai_parse_image(p, m, part, part_path) != Q2API_OK) {
                return Q2API_ERROR;
            }

            continue;
        }

        if (strcmp(t, "input_audio") == 0 || strcmp(t, "file") == 0) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.type: \"%s\" parts are not supported by "
                            "this gateway's backends; send text or images",
                            part_path, t);
            return Q2API_ERROR;
        }

        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.type: expected \"text\" or \"image_url\"",
                        part_path);
        return Q2API_ERROR;
    }

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/*
 * "data:image/png;base64,...": the back ends take the bytes, not a link
 * they would have to fetch, so a remote URL is refused with what to do.
 */
int
q2api_openai_parse_image(q2api_openai_parse_t *p, q2api_message_t *m,
    cJSON *part, const char *path)
{
    size_t          i, n;
    cJSON          *image, *url;
    const char     *u, *comma;
    q2api_block_t  *b;

    static const char  *types[] = {
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/jpg"
    };

    image = cJSON_GetObjectItemCaseSensitive(part, "image_url");
    url = cJSON_IsObject(image)
          ? cJSON_GetObjectItemCaseSensitive(image, "url") : image;

    if (!cJSON_IsString(url)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.image_url.url: expected a string", path);
        return Q2API_ERROR;
    }

    u = url->valuestring;

    if (strncmp(u, "data:", 5) != 0) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.image_url.url: remote image URLs are not "
                        "supported; send the image inline as a data URL "
                        "(data:image/png;base64,...)", path);
        return Q2API_ERROR;
    }

    comma = strchr(u, ',');

    for (i = 0; comma != NULL && i < sizeof(types) / sizeof(types[0]); i++) {
        n = strlen(types[i]);

        if ((size_t) (comma - u) == 5 + n + 7
            && strncmp(u + 5, types[i], n) == 0
            && strncmp(u + 5 + n, ";base64", 7) == 0)
        {
            break;
        }
    }

    if (comma == NULL || i == sizeof(types) / sizeof(types[0])) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.image_url.url: expected a base64 data URL of "
                        "image/png, image/jpeg, image/gif or image/webp",
                        path);
        return Q2API_ERROR;
    }

    if (comma[1] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.image_url.url: the data URL holds no image",
                        path);
        return Q2API_ERROR;
    }

    b = q2api_message_add_block(p->req, m, Q2API_BLOCK_IMAGE);
    if (b == NULL) {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    /* image/jpg is a common misspelling that OpenAI takes */
    if (strcmp(types[i], "image/jpg") == 0) {
        b->media_type = (q2api_str_t) q2api_str_lit("image/jpeg");

    } else {
        b->media_type.data = types[i];
        b->media_type.len = strlen(types[i]);
    }

    b->data.data = comma + 1;
    b->data.len = strlen(comma + 1);

    return Q2API_OK;
}


static int
q2api_openai_parse_assistant(q2api_openai_parse_t *p, cJSON *msg,
    const char *path, int i)
{
    int               j;
    char              call_path[96], *id;
    cJSON            *content, *calls, *call, *type, *fc;
    q2api_str_t       text;
    q2api_block_t    *b;
    q2api_message_t  *m;

    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    calls = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
    fc = cJSON_GetObjectItemCaseSensitive(msg, "function_call");

    text.len = 0;

    if (q2api_openai_given(content)
        && q2api_openai_text_parts(p, content, path, &text, 1) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    m = q2api_request_add_message(p->req, Q2API_ROLE_ASSISTANT);
    if (m == NULL) {
        goto nomem;
    }

    if (text.len) {
        b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TEXT);
        if (b == NULL) {
            goto nomem;
        }

        b->text = text;
    }

    if (q2api_openai_given(calls)) {
        if (!cJSON_IsArray(calls)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.tool_calls: expected an array", path);
            return Q2API_ERROR;
        }

        j = 0;

        cJSON_ArrayForEach(call, calls) {
            snprintf(call_path, sizeof(call_path), "%s.tool_calls.%d", path,
                     j++);

            type = cJSON_GetObjectItemCaseSensitive(call, "type");

            if (!cJSON_IsObject(call)
                || (q2api_openai_given(type)
                    && (!cJSON_IsString(type)
                        || strcmp(type->valuestring, "function") != 0)))
            {
                q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                "%s: expected a function tool call",
                                call_path);
                return Q2API_ERROR;
            }

            if (q2api_openai_parse_call(p, m,
                    cJSON_GetObjectItemCaseSensitive(call, "id"),
                    cJSON_GetObjectItemCaseSensitive(call, "function"),
                    call_path)
                != Q2API_OK)
            {
                return Q2API_ERROR;
            }
        }
    }

    if (q2api_openai_given(fc)) {
        /* the id a later "function" message answers */
        id = q2api_arena_alloc(&p->req->arena, 32);
        if (id == NULL) {
            goto nomem;
        }

        snprintf(id, 32, "call_function_%d", i);

        snprintf(call_path, sizeof(call_path), "%s.function_call", path);

        if (q2api_openai_parse_call(p, m, NULL, fc, call_path) != Q2API_OK) {
            return Q2API_ERROR;
        }

        p->legacy_id.data = id;
        p->legacy_id.len = strlen(id);

        for (b = m->blocks; b->next != NULL; b = b->next) {
            /* void */
        }

        b->id = p->legacy_id;
    }

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/* one call: its id, and {"name","arguments":"<JSON object>"} */
int
q2api_openai_parse_call(q2api_openai_parse_t *p, q2api_message_t *m,
    cJSON *id, cJSON *fn, const char *path)
{
    cJSON          *name, *args, *input;
    const char     *at;
    q2api_block_t  *b;

    if (id != NULL && (!cJSON_IsString(id) || id->valuestring[0] == '\0')) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.id: expected a non-empty string", path);
        return Q2API_ERROR;
    }

    name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");

    if (!cJSON_IsObject(fn) || !cJSON_IsString(name)
        || name->valuestring[0] == '\0')
    {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s%s.name: expected a non-empty string", path,
                        id ? ".function" : "");
        return Q2API_ERROR;
    }

    b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TOOL_USE);
    if (b == NULL) {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    if (id != NULL) {
        b->id = q2api_request_str(p->req, id);
    }

    b->name = q2api_request_str(p->req, name);

    if (!q2api_openai_given(args)
        || (cJSON_IsString(args) && args->valuestring[0] == '\0'))
    {
        b->data = (q2api_str_t) q2api_str_lit("{}");
        return Q2API_OK;
    }

    /* the arguments are a JSON object inside a string */
    input = cJSON_IsString(args)
            ? q2api_json_document(args->valuestring,
                                  strlen(args->valuestring), &at)
            : NULL;

    if (!cJSON_IsObject(input)) {
        cJSON_Delete(input);
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s%s.arguments: expected a string holding a JSON "
                        "object", path, id ? ".function" : "");
        return Q2API_ERROR;
    }

    cJSON_Delete(input);

    /* JSON text: a NUL the client sent stays the \u0000 it was */
    b->data.len = strlen(args->valuestring);
    b->data.data = q2api_nul_json(&p->req->arena, args->valuestring,
                                  &b->data.len);
    if (b->data.data == NULL) {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    return Q2API_OK;
}


/*
 * {"role":"tool","tool_call_id","content"}, or the legacy
 * {"role":"function","name","content"}: a tool result in a user turn.
 */
static int
q2api_openai_parse_result(q2api_openai_parse_t *p, cJSON *msg,
    const char *path, int legacy)
{
    cJSON            *id, *content;
    q2api_str_t       text;
    q2api_block_t    *b;
    q2api_message_t  *m;

    content = cJSON_GetObjectItemCaseSensitive(msg, "content");
    id = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id");

    if (!legacy && (!cJSON_IsString(id) || id->valuestring[0] == '\0')) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.tool_call_id: expected the id of the tool call "
                        "this answers", path);
        return Q2API_ERROR;
    }

    if (legacy && p->legacy_id.len == 0) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: a \"function\" message must follow an assistant "
                        "message with a function_call", path);
        return Q2API_ERROR;
    }

    text.len = 0;

    if (q2api_openai_given(content)
        && q2api_openai_text_parts(p, content, path, &text, 0) != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    m = q2api_request_add_message(p->req, Q2API_ROLE_USER);
    if (m == NULL) {
        goto nomem;
    }

    b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TOOL_RESULT);
    if (b == NULL) {
        goto nomem;
    }

    if (legacy) {
        b->id = p->legacy_id;
        p->legacy_id.len = 0;

    } else {
        b->id = q2api_request_str(p->req, id);
    }

    b->text = text;

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/*
 * content as a string or as text parts (refusal parts too, in an
 * assistant's history), joined by "\n" into *text.
 */
static int
q2api_openai_text_parts(q2api_openai_parse_t *p, cJSON *content,
    const char *path, q2api_str_t *text, int refusal)
{
    int          j;
    cJSON       *part, *type, *item;
    const char  *field;
    q2api_str_t  v;

    text->data = "";
    text->len = 0;

    if (cJSON_IsString(content)) {
        *text = q2api_request_str(p->req, content);
        return Q2API_OK;
    }

    if (!cJSON_IsArray(content)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.content: expected a string or an array of text "
                        "parts", path);
        return Q2API_ERROR;
    }

    j = 0;

    cJSON_ArrayForEach(part, content) {
        type = cJSON_GetObjectItemCaseSensitive(part, "type");
        field = "text";

        if (refusal && cJSON_IsString(type)
            && strcmp(type->valuestring, "refusal") == 0)
        {
            field = "refusal";

        } else if (!cJSON_IsString(type)
                   || strcmp(type->valuestring, "text") != 0)
        {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.content.%d.type: expected \"text\"", path,
                            j);
            return Q2API_ERROR;
        }

        item = cJSON_GetObjectItemCaseSensitive(part, field);
        if (!cJSON_IsString(item)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.content.%d.%s: expected a string", path, j,
                            field);
            return Q2API_ERROR;
        }

        v = q2api_request_str(p->req, item);

        if (q2api_request_append_text(p->req, text, v.data, v.len)
            != Q2API_OK)
        {
            q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
            return Q2API_ERROR;
        }

        j++;
    }

    return Q2API_OK;
}
