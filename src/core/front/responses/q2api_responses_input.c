/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The input of a Responses request: a string, or items -- messages
 * (text and image parts, output_text in history), function and custom
 * tool calls and their outputs, reasoning -- as canonical messages;
 * and the items of a stored reply put before them.
 */


#include <stdio.h>

#include "q2api_responses_internal.h"
#include "q2api_json.h"


static int q2api_responses_item(q2api_openai_parse_t *p, cJSON *item,
    const char *path);
static int q2api_responses_message(q2api_openai_parse_t *p, cJSON *item,
    const char *path);
static int q2api_responses_parts(q2api_openai_parse_t *p,
    q2api_message_t *m, cJSON *content, const char *path, int system);
static int q2api_responses_custom_call(q2api_openai_parse_t *p,
    cJSON *item, const char *path);
static int q2api_responses_output(q2api_openai_parse_t *p, cJSON *item,
    const char *path);
static int q2api_responses_reasoning(q2api_openai_parse_t *p, cJSON *item,
    const char *path);
static int q2api_responses_dropped(const char *type);


int
q2api_responses_parse_input(q2api_openai_parse_t *p, cJSON *input,
    const char *path)
{
    int               i;
    char              item_path[48];
    cJSON            *item;
    q2api_block_t    *b;
    q2api_message_t  *m;

    if (!q2api_openai_given(input)) {
        return Q2API_OK;
    }

    if (cJSON_IsString(input)) {
        m = q2api_request_add_message(p->req, Q2API_ROLE_USER);
        b = m ? q2api_message_add_block(p->req, m, Q2API_BLOCK_TEXT) : NULL;

        if (b == NULL) {
            q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
            return Q2API_ERROR;
        }

        b->text = q2api_request_str(p->req, input);
        return Q2API_OK;
    }

    if (!cJSON_IsArray(input)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected a string or an array of items", path);
        return Q2API_ERROR;
    }

    i = 0;

    cJSON_ArrayForEach(item, input) {
        snprintf(item_path, sizeof(item_path), "%s.%d", path, i++);

        if (q2api_responses_item(p, item, item_path) != Q2API_OK) {
            return Q2API_ERROR;
        }
    }

    return Q2API_OK;
}


static int
q2api_responses_item(q2api_openai_parse_t *p, cJSON *item, const char *path)
{
    cJSON            *type, *call_id;
    const char       *t;
    q2api_message_t  *m;

    if (!cJSON_IsObject(item)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s: expected an object", path);
        return Q2API_ERROR;
    }

    type = cJSON_GetObjectItemCaseSensitive(item, "type");

    /* a message may leave its type out */
    if (!q2api_openai_given(type)) {
        return q2api_responses_message(p, item, path);
    }

    if (!cJSON_IsString(type)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.type: expected a string", path);
        return Q2API_ERROR;
    }

    t = type->valuestring;

    if (strcmp(t, "message") == 0) {
        return q2api_responses_message(p, item, path);
    }

    if (strcmp(t, "function_call") == 0) {
        call_id = cJSON_GetObjectItemCaseSensitive(item, "call_id");
        if (!cJSON_IsString(call_id)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.call_id: expected a non-empty string",
                            path);
            return Q2API_ERROR;
        }

        m = q2api_request_add_message(p->req, Q2API_ROLE_ASSISTANT);
        if (m == NULL) {
            q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
            return Q2API_ERROR;
        }

        return q2api_openai_parse_call(p, m, call_id, item, path);
    }

    if (strcmp(t, "custom_tool_call") == 0) {
        return q2api_responses_custom_call(p, item, path);
    }

    if (strcmp(t, "function_call_output") == 0
        || strcmp(t, "custom_tool_call_output") == 0)
    {
        return q2api_responses_output(p, item, path);
    }

    if (strcmp(t, "reasoning") == 0) {
        return q2api_responses_reasoning(p, item, path);
    }

    /* OpenAI's hosted tools and server-side state: nothing to replay */
    if (q2api_responses_dropped(t)) {
        return Q2API_OK;
    }

    q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                    "%s.type: \"%.64s\" is not an input item type this "
                    "gateway takes (message, function_call, "
                    "function_call_output, custom_tool_call, "
                    "custom_tool_call_output, reasoning)", path, t);

    return Q2API_ERROR;
}


static int
q2api_responses_dropped(const char *type)
{
    size_t  i;

    static const char  *dropped[] = {
        "item_reference", "compaction", "compaction_trigger",
        "local_shell_call", "local_shell_call_output", "shell_call",
        "shell_call_output", "apply_patch_call", "apply_patch_call_output",
        "web_search_call", "file_search_call", "computer_call",
        "computer_call_output", "image_generation_call",
        "code_interpreter_call", "tool_search_call", "tool_search_output",
        "tool_search_call_output", "additional_tools"
    };

    if (strncmp(type, "mcp_", 4) == 0) {
        return 1;
    }

    for (i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
        if (strcmp(type, dropped[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
q2api_responses_message(q2api_openai_parse_t *p, cJSON *item,
    const char *path)
{
    cJSON            *role, *content;
    const char       *r;
    q2api_message_t  *m;

    role = cJSON_GetObjectItemCaseSensitive(item, "role");
    content = cJSON_GetObjectItemCaseSensitive(item, "content");

    if (!cJSON_IsString(role)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.role: field required", path);
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(content) && !cJSON_IsArray(content)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.content: expected a string or an array of "
                        "content parts", path);
        return Q2API_ERROR;
    }

    r = role->valuestring;

    if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
        return q2api_responses_parts(p, NULL, content, path, 1);
    }

    if (strcmp(r, "user") == 0) {
        m = q2api_request_add_message(p->req, Q2API_ROLE_USER);

    } else if (strcmp(r, "assistant") == 0) {
        m = q2api_request_add_message(p->req, Q2API_ROLE_ASSISTANT);

    } else {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.role: expected \"user\", \"assistant\", "
                        "\"system\" or \"developer\"", path);
        return Q2API_ERROR;
    }

    if (m == NULL) {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    return q2api_responses_parts(p, m, content, path, 0);
}


/*
 * Content parts as blocks of m, or (system) joined into the system
 * prompt.  Text parts are input_text, output_text and refusal alike:
 * a client replays its history with whichever it got.
 */
static int
q2api_responses_parts(q2api_openai_parse_t *p, q2api_message_t *m,
    cJSON *content, const char *path, int system)
{
    int             j;
    char            part_path[80];
    cJSON          *part, *type, *text;
    const char     *t, *field;
    q2api_str_t     v;
    q2api_block_t  *b;

    if (cJSON_IsString(content)) {
        v = q2api_request_str(p->req, content);
        goto text;
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
        field = strcmp(t, "refusal") == 0 ? "refusal" : "text";

        if (strcmp(t, "input_text") == 0 || strcmp(t, "output_text") == 0
            || strcmp(t, "refusal") == 0 || strcmp(t, "text") == 0)
        {
            text = cJSON_GetObjectItemCaseSensitive(part, field);
            if (!cJSON_IsString(text)) {
                q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                                "%s.%s: expected a string", part_path,
                                field);
                return Q2API_ERROR;
            }

            v = q2api_request_str(p->req, text);

            if (system) {
                if (q2api_request_append_text(p->req, &p->req->system,
                                              v.data, v.len)
                    != Q2API_OK)
                {
                    goto nomem;
                }

                continue;
            }

            b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TEXT);
            if (b == NULL) {
                goto nomem;
            }

            b->text = v;
            continue;
        }

        if (strcmp(t, "input_image") == 0 && !system) {
            if (q2api_openai_parse_image(p, m, part, part_path)
                != Q2API_OK)
            {
                return Q2API_ERROR;
            }

            continue;
        }

        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.type: \"%.32s\" parts are not supported here; "
                        "send input_text%s", part_path, t,
                        system ? "" : " or input_image (a data URL)");
        return Q2API_ERROR;
    }

    return Q2API_OK;

text:

    if (system) {
        if (q2api_request_append_text(p->req, &p->req->system, v.data, v.len)
            != Q2API_OK)
        {
            goto nomem;
        }

        return Q2API_OK;
    }

    b = q2api_message_add_block(p->req, m, Q2API_BLOCK_TEXT);
    if (b == NULL) {
        goto nomem;
    }

    b->text = v;

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/* the free text goes to the back end as the one string of its wrapper */
static int
q2api_responses_custom_call(q2api_openai_parse_t *p, cJSON *item,
    const char *path)
{
    int               rc;
    cJSON            *call_id, *name, *input;
    q2api_buf_t       json;
    q2api_str_t       v;
    q2api_block_t    *b;
    q2api_message_t  *m;

    call_id = cJSON_GetObjectItemCaseSensitive(item, "call_id");
    name = cJSON_GetObjectItemCaseSensitive(item, "name");
    input = cJSON_GetObjectItemCaseSensitive(item, "input");

    if (!cJSON_IsString(call_id) || call_id->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.call_id: expected a non-empty string", path);
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(name) || name->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.name: expected a non-empty string", path);
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(input)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.input: expected a string", path);
        return Q2API_ERROR;
    }

    m = q2api_request_add_message(p->req, Q2API_ROLE_ASSISTANT);
    b = m ? q2api_message_add_block(p->req, m, Q2API_BLOCK_TOOL_USE) : NULL;
    if (b == NULL) {
        goto nomem;
    }

    b->id = q2api_request_str(p->req, call_id);
    b->name = q2api_request_str(p->req, name);

    v = q2api_request_str(p->req, input);

    q2api_buf_init(&json, 0);

    rc = q2api_buf_append_str(&json, "{\"input\":")
         | q2api_json_append_string(&json, v.data, v.len)
         | q2api_buf_append_byte(&json, '}');

    b->data.data = rc == Q2API_OK
                   ? q2api_arena_strndup(&p->req->arena, (char *) json.data,
                                         json.len)
                   : NULL;
    b->data.len = json.len;

    q2api_buf_free(&json);

    if (b->data.data == NULL) {
        goto nomem;
    }

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/*
 * A function's or custom tool's output: a string, or parts (text and
 * images) kept in order as the tool result's blocks.
 */
static int
q2api_responses_output(q2api_openai_parse_t *p, cJSON *item,
    const char *path)
{
    cJSON            *call_id, *output;
    char              out_path[64];
    q2api_block_t    *b;
    q2api_message_t  *m, parts;

    call_id = cJSON_GetObjectItemCaseSensitive(item, "call_id");
    output = cJSON_GetObjectItemCaseSensitive(item, "output");

    if (!cJSON_IsString(call_id) || call_id->valuestring[0] == '\0') {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.call_id: expected the call_id of the call this "
                        "answers", path);
        return Q2API_ERROR;
    }

    if (!cJSON_IsString(output) && !cJSON_IsArray(output)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.output: expected a string or an array of "
                        "content parts", path);
        return Q2API_ERROR;
    }

    m = q2api_request_add_message(p->req, Q2API_ROLE_USER);
    b = m ? q2api_message_add_block(p->req, m, Q2API_BLOCK_TOOL_RESULT)
          : NULL;
    if (b == NULL) {
        q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
        return Q2API_ERROR;
    }

    b->id = q2api_request_str(p->req, call_id);

    if (cJSON_IsString(output)) {
        b->text = q2api_request_str(p->req, output);
        return Q2API_OK;
    }

    memset(&parts, 0, sizeof(q2api_message_t));
    snprintf(out_path, sizeof(out_path), "%s.output", path);

    /* parts is only a list head: the blocks become the result's */
    if (q2api_responses_parts(p, &parts, output, out_path, 0) != Q2API_OK) {
        return Q2API_ERROR;
    }

    b->content = parts.blocks;

    return Q2API_OK;
}


/*
 * A reasoning item as the thinking block it was: its summary (or raw
 * reasoning_text) as the text, and encrypted_content, where this
 * gateway put the thinking signature, as the signature.
 */
static int
q2api_responses_reasoning(q2api_openai_parse_t *p, cJSON *item,
    const char *path)
{
    cJSON            *list, *part, *text, *enc;
    q2api_str_t       all, v;
    q2api_block_t    *b;
    q2api_message_t  *m;

    all.data = "";
    all.len = 0;

    list = cJSON_GetObjectItemCaseSensitive(item, "content");
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0) {
        list = cJSON_GetObjectItemCaseSensitive(item, "summary");
    }

    if (q2api_openai_given(list) && !cJSON_IsArray(list)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.summary: expected an array", path);
        return Q2API_ERROR;
    }

    cJSON_ArrayForEach(part, list) {
        text = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (!cJSON_IsString(text)) {
            q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                            "%s.summary: expected parts with a string "
                            "\"text\"", path);
            return Q2API_ERROR;
        }

        v = q2api_request_str(p->req, text);

        if (q2api_request_append_text(p->req, &all, v.data, v.len)
            != Q2API_OK)
        {
            goto nomem;
        }
    }

    enc = cJSON_GetObjectItemCaseSensitive(item, "encrypted_content");
    if (q2api_openai_given(enc) && !cJSON_IsString(enc)) {
        q2api_error_set(p->err, Q2API_ERR_INVALID_REQUEST,
                        "%s.encrypted_content: expected a string", path);
        return Q2API_ERROR;
    }

    if (all.len == 0) {
        /* nothing the back end could be shown */
        return Q2API_OK;
    }

    m = q2api_request_add_message(p->req, Q2API_ROLE_ASSISTANT);
    b = m ? q2api_message_add_block(p->req, m, Q2API_BLOCK_THINKING) : NULL;
    if (b == NULL) {
        goto nomem;
    }

    b->text = all;

    if (cJSON_IsString(enc)) {
        b->data = q2api_json_str(enc);
    }

    return Q2API_OK;

nomem:

    q2api_error_set(p->err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}


/*
 * The stored items become the first messages: the request's own are
 * set aside, the stored ones parsed, and the request's put back after
 * them (joined to the last when the side is the same).
 */
int
q2api_responses_history(q2api_request_t *req, const char *items,
    size_t len, q2api_error_t *err)
{
    int                    nul;
    char                  *copy;
    cJSON                 *root;
    unsigned               n;
    const char            *at;
    q2api_block_t        **tail;
    q2api_message_t       *own, *last;
    q2api_openai_parse_t   p;

    copy = q2api_arena_strndup(&req->arena, items, len);
    if (copy == NULL) {
        goto nomem;
    }

    nul = q2api_nul_found(copy, len);
    if (nul == 1) {
        len = q2api_nul_mark(copy, len);
    }

    q2api_arena_json_begin(&req->arena);
    root = q2api_json_document(copy, len, &at);
    q2api_arena_json_end();

    if (!cJSON_IsArray(root)) {
        q2api_error_set(err, Q2API_ERR_API,
                        "a stored response is not a JSON array");
        return Q2API_ERROR;
    }

    own = req->messages;
    last = req->last;
    n = req->nmessages;

    req->messages = NULL;
    req->last = NULL;
    req->nmessages = 0;

    memset(&p, 0, sizeof(q2api_openai_parse_t));
    p.req = req;
    p.err = err;

    if (q2api_responses_parse_input(&p, root, "previous_response_id")
        != Q2API_OK)
    {
        return Q2API_ERROR;
    }

    if (own == NULL) {
        return Q2API_OK;
    }

    if (req->last == NULL) {
        req->messages = own;
        req->last = last;
        req->nmessages = n;
        return Q2API_OK;
    }

    if (req->last->role == own->role) {
        for (tail = &req->last->blocks; *tail != NULL;
             tail = &(*tail)->next)
        {
            /* void */
        }

        *tail = own->blocks;
        req->last->next = own->next;
        n--;

        if (own == last) {
            last = req->last;
        }

    } else {
        req->last->next = own;
    }

    req->last = last;
    req->nmessages += n;

    return Q2API_OK;

nomem:

    q2api_error_set(err, Q2API_ERR_API, "out of memory");
    return Q2API_ERROR;
}
