/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdio.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "q2api_amazonq.h"
#include "q2api_json.h"


/* what the CLI sends; the service keys some behaviour on it */
#define Q2API_AMAZONQ_ORIGIN      "KIRO_CLI"
#define Q2API_AMAZONQ_ENV_STATE                                            \
    "{\"operatingSystem\":\"macos\",\"currentWorkingDirectory\":\"/\"}"

#define Q2API_AMAZONQ_CONTINUE    "Continue"


static int q2api_amazonq_message_text(const q2api_message_t *m,
    q2api_buf_t *text);
static int q2api_amazonq_user(const q2api_message_t *m,
    const q2api_str_t *content, q2api_buf_t *out, const q2api_request_t *req,
    const q2api_amazonq_opts_t *opts, int current);
static int q2api_amazonq_assistant(const q2api_message_t *m,
    q2api_buf_t *out);
static int q2api_amazonq_current_content(const q2api_request_t *req,
    const q2api_message_t *last, const q2api_amazonq_opts_t *opts,
    q2api_buf_t *content);
static int q2api_amazonq_has_tool_results(const q2api_message_t *m);

static int q2api_amazonq_frame(q2api_amazonq_stream_t *s,
    const q2api_es_message_t *msg);
static int q2api_amazonq_event(q2api_amazonq_stream_t *s,
    const q2api_str_t *type, cJSON *p);
static int q2api_amazonq_tool(q2api_amazonq_stream_t *s, cJSON *p);
static int q2api_amazonq_tool_stop(q2api_amazonq_stream_t *s);
static int q2api_amazonq_exception(q2api_amazonq_stream_t *s,
    const q2api_str_t *type, const q2api_es_message_t *msg);
static int q2api_amazonq_emit(q2api_amazonq_stream_t *s,
    q2api_event_type_e type, const char *text, size_t len);
static int q2api_amazonq_emit_error(q2api_amazonq_stream_t *s,
    q2api_err_e kind, const char *message);
static int q2api_amazonq_text(q2api_amazonq_stream_t *s, const char *text,
    size_t len);
static int q2api_amazonq_text_flush(q2api_amazonq_stream_t *s);


/* string literals only: "" lit does not compile for a pointer */
#define q2api_put(b, lit)  q2api_buf_append(b, "" lit, sizeof(lit) - 1)


size_t
q2api_amazonq_tool_name(const char *name, size_t len, char *out)
{
    char      c;
    size_t    i, n, max;
    uint32_t  crc;
    int       changed;

    changed = (len == 0 || len > Q2API_AMAZONQ_TOOL_NAME_MAX);
    n = 0;

    if (len == 0 || !((name[0] >= 'a' && name[0] <= 'z')
                      || (name[0] >= 'A' && name[0] <= 'Z')))
    {
        out[n++] = 't';
        out[n++] = '_';
        changed = 1;
    }

    /* room for "_" and 8 hex digits when the name had to change */
    max = Q2API_AMAZONQ_TOOL_NAME_MAX - 9;

    for (i = 0; i < len && n < Q2API_AMAZONQ_TOOL_NAME_MAX; i++) {
        c = name[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_'))
        {
            c = '_';
            changed = 1;
        }

        out[n++] = c;
    }

    if (changed) {
        if (n > max) {
            n = max;
        }

        crc = q2api_crc32(0, name, len);
        n += snprintf(out + n, 10, "_%08x", crc);
    }

    out[n] = '\0';

    return n;
}


/* the client's name of a tool Amazon Q named "name" */
static q2api_str_t
q2api_amazonq_client_tool_name(const q2api_request_t *req, const char *name,
    size_t len)
{
    char                 buf[Q2API_AMAZONQ_TOOL_NAME_MAX + 1];
    size_t               n;
    q2api_str_t          found;
    const q2api_tool_t  *t;

    found.data = name;
    found.len = len;

    for (t = req ? req->tools : NULL; t != NULL; t = t->next) {
        n = q2api_amazonq_tool_name(t->name.data, t->name.len, buf);

        if (n == len && memcmp(buf, name, len) == 0) {
            return t->name;
        }
    }

    return found;
}


static int
q2api_amazonq_tool_name_raw(q2api_buf_t *out, const q2api_str_t *name)
{
    char    buf[Q2API_AMAZONQ_TOOL_NAME_MAX + 1];
    size_t  n;

    n = q2api_amazonq_tool_name(name->data, name->len, buf);

    return q2api_buf_append(out, buf, n);
}


static int
q2api_amazonq_append_tool_name(q2api_buf_t *out, const q2api_str_t *name)
{
    char    buf[Q2API_AMAZONQ_TOOL_NAME_MAX + 1];
    size_t  n;

    n = q2api_amazonq_tool_name(name->data, name->len, buf);

    return q2api_json_append_string(out, buf, n);
}


/* request ----------------------------------------------------------------- */


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


/* text and thinking blocks, joined by "\n" */
static int
q2api_amazonq_message_text(const q2api_message_t *m, q2api_buf_t *text)
{
    size_t                start;
    const q2api_block_t  *b;

    start = text->len;

    for (b = m->blocks; b != NULL; b = b->next) {

        if (b->type != Q2API_BLOCK_TEXT && b->type != Q2API_BLOCK_THINKING) {
            continue;
        }

        if (text->len > start
            && q2api_buf_append_byte(text, '\n') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        if (b->type == Q2API_BLOCK_THINKING) {
            if (q2api_put(text, "<thinking>") != Q2API_OK
                || q2api_buf_append(text, b->text.data, b->text.len)
                   != Q2API_OK
                || q2api_put(text, "</thinking>") != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            continue;
        }

        if (q2api_buf_append(text, b->text.data, b->text.len) != Q2API_OK) {
            return Q2API_NOMEM;
        }
    }

    return Q2API_OK;
}


static int
q2api_amazonq_has_tool_results(const q2api_message_t *m)
{
    const q2api_block_t  *b;

    for (b = m ? m->blocks : NULL; b != NULL; b = b->next) {
        if (b->type == Q2API_BLOCK_TOOL_RESULT) {
            return 1;
        }
    }

    return 0;
}


/*
 * There is no system field: like the official CLI, the system prompt, a
 * timestamp and the user's text are folded into the current message, in
 * parts separated by a blank line.  The system prompt goes on every turn,
 * tool-result turns included, so the model keeps its instructions through
 * an agentic loop (both Python seeds lose it there).
 */
static int
q2api_amazonq_current_content(const q2api_request_t *req,
    const q2api_message_t *last, const q2api_amazonq_opts_t *opts,
    q2api_buf_t *content)
{
    int                  docs;
    char                 line[160];
    struct tm            tm;
    q2api_buf_t          prompt;
    long long            budget;
    const q2api_tool_t  *t;
    static const char   *days[] = { "Sunday", "Monday", "Tuesday",
                                    "Wednesday", "Thursday", "Friday",
                                    "Saturday" };

#define q2api_part_sep(c)                                                 \
    ((c)->len == 0 ? Q2API_OK : q2api_put(c, "\n\n"))

    docs = 0;

    for (t = req->tools; t != NULL; t = t->next) {
        if (t->description.len <= Q2API_AMAZONQ_TOOL_DESC_MAX) {
            continue;
        }

        if ((docs++ == 0
             && q2api_put(content, "--- TOOL DOCUMENTATION BEGIN ---\n")
                != Q2API_OK)
            || q2api_put(content, "Tool: ") != Q2API_OK
            || q2api_amazonq_tool_name_raw(content, &t->name) != Q2API_OK
            || q2api_put(content, "\nFull Description:\n") != Q2API_OK
            || q2api_buf_append(content, t->description.data,
                                t->description.len) != Q2API_OK
            || q2api_buf_append_byte(content, '\n') != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    if (docs && q2api_put(content, "--- TOOL DOCUMENTATION END ---")
                != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (req->system.len
        && (q2api_part_sep(content) != Q2API_OK
            || q2api_put(content, "--- SYSTEM PROMPT BEGIN ---\n") != Q2API_OK
            || q2api_buf_append(content, req->system.data, req->system.len)
               != Q2API_OK
            || q2api_put(content, "\n--- SYSTEM PROMPT END ---") != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    q2api_buf_init(&prompt, 0);

    if (last != NULL && q2api_amazonq_message_text(last, &prompt) != Q2API_OK)
    {
        goto nomem;
    }

    /* a tool-result turn without text: the results are the message */
    if (prompt.len || !q2api_amazonq_has_tool_results(last)) {
        gmtime_r(&opts->now, &tm);
        snprintf(line, sizeof(line),
                 "Current time: %s, %04d-%02d-%02dT%02d:%02d:%02d.000+00:00\n",
                 days[tm.tm_wday % 7], tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);

        if (q2api_part_sep(content) != Q2API_OK
            || q2api_put(content, "--- CONTEXT ENTRY BEGIN ---\n") != Q2API_OK
            || q2api_buf_append_str(content, line) != Q2API_OK
            || q2api_put(content, "--- CONTEXT ENTRY END ---\n\n"
                                  "--- USER MESSAGE BEGIN ---\n") != Q2API_OK
            || (prompt.len
                ? q2api_buf_append(content, prompt.data, prompt.len)
                : q2api_put(content, Q2API_AMAZONQ_CONTINUE)) != Q2API_OK
            || q2api_put(content, "\n--- USER MESSAGE END ---") != Q2API_OK)
        {
            goto nomem;
        }
    }

    q2api_buf_free(&prompt);

    /* the backend has no tool_choice: it is asked for in words */
    switch (req->ntools ? req->tool_choice : Q2API_TOOL_CHOICE_AUTO) {

    case Q2API_TOOL_CHOICE_ANY:
        if (q2api_part_sep(content) != Q2API_OK
            || q2api_put(content, "You must answer by calling one of the "
                                  "available tools.") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_TOOL_CHOICE_TOOL:
        if (q2api_part_sep(content) != Q2API_OK
            || q2api_put(content, "You must answer by calling the tool \"")
               != Q2API_OK
            || q2api_amazonq_tool_name_raw(content, &req->tool_choice_name)
               != Q2API_OK
            || q2api_put(content, "\".") != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    case Q2API_TOOL_CHOICE_NONE:
        if (q2api_part_sep(content) != Q2API_OK
            || q2api_put(content, "Answer without calling any tool.")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        break;

    default:
        break;
    }

    if (req->thinking) {
        /* Amazon Q thinks when asked in these words; it answers with
         * <thinking> tags, which the stream side turns into blocks */
        budget = req->thinking_budget ? req->thinking_budget : 16000;
        budget = budget < 1024 ? 1024 : budget > 24576 ? 24576 : budget;

        snprintf(line, sizeof(line),
                 "<thinking_mode>interleaved</thinking_mode>"
                 "<max_thinking_length>%lld</max_thinking_length>", budget);

        if ((content->len && q2api_buf_append_byte(content, '\n')
                             != Q2API_OK)
            || q2api_buf_append_str(content, line) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

#undef q2api_part_sep

    return Q2API_OK;

nomem:

    q2api_buf_free(&prompt);

    return Q2API_NOMEM;
}


/*
 * An empty description is refused upstream; one over the limit is cut and
 * its full text goes to the tool documentation section of the message.
 */

#define Q2API_AMAZONQ_DESC_NOTE                                            \
    " ... (the full description is in the tool documentation above)"

static int
q2api_amazonq_append_description(q2api_buf_t *out, const q2api_tool_t *t)
{
    size_t  len;

    if (t->description.len == 0) {
        return q2api_json_append_string(out, t->name.data, t->name.len);
    }

    if (t->description.len <= Q2API_AMAZONQ_TOOL_DESC_MAX) {
        return q2api_json_append_string(out, t->description.data,
                                        t->description.len);
    }

    /* the cut must not fall inside a UTF-8 sequence */
    len = q2api_utf8_complete_prefix(t->description.data,
                                     Q2API_AMAZONQ_TOOL_DESC_MAX
                                     - (sizeof(Q2API_AMAZONQ_DESC_NOTE) - 1));

    if (q2api_json_append_string(out, t->description.data, len) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    /* the note goes inside the string, before its closing quote */
    out->len--;

    return q2api_put(out, Q2API_AMAZONQ_DESC_NOTE "\"");
}


static int
q2api_amazonq_user(const q2api_message_t *m, const q2api_str_t *content,
    q2api_buf_t *out, const q2api_request_t *req,
    const q2api_amazonq_opts_t *opts, int current)
{
    int                   n;
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
            || q2api_json_append_string(out, b->text.data, b->text.len)
               != Q2API_OK
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

        if (q2api_buf_append_str(out, n++ ? "," : ",\"images\":[")
            != Q2API_OK
            || q2api_put(out, "{\"format\":\"") != Q2API_OK
            || q2api_buf_append(out, b->media_type.data, b->media_type.len)
               != Q2API_OK
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


/* response stream ------------------------------------------------------- */


void
q2api_amazonq_stream_init(q2api_amazonq_stream_t *s,
    const q2api_request_t *req, q2api_event_handler_pt handler, void *data)
{
    memset(s, 0, sizeof(q2api_amazonq_stream_t));

    s->req = req;
    s->parse_thinking = req != NULL && req->thinking;
    q2api_thinking_init(&s->thinking);

    q2api_es_decoder_init(&s->es);
    q2api_buf_init(&s->tool_id, 1024);
    q2api_buf_init(&s->seen_tools, 64 * 1024);

    s->handler = handler;
    s->data = data;
    s->context_window = 200000;
}


void
q2api_amazonq_stream_free(q2api_amazonq_stream_t *s)
{
    q2api_es_decoder_free(&s->es);
    q2api_buf_free(&s->tool_id);
    q2api_buf_free(&s->seen_tools);
}


int
q2api_amazonq_stream_feed(q2api_amazonq_stream_t *s,
    const unsigned char *in, size_t len, size_t *consumed)
{
    int                 rc;
    size_t              used;
    q2api_es_message_t  msg;

    *consumed = 0;

    for ( ;; ) {
        rc = q2api_es_decode(&s->es, in + *consumed, len - *consumed, &used,
                             &msg);
        *consumed += used;

        if (rc == Q2API_AGAIN) {
            return Q2API_OK;
        }

        if (rc != Q2API_OK) {
            return rc;
        }

        rc = q2api_amazonq_frame(s, &msg);
        if (rc != Q2API_OK) {
            return rc;
        }
    }
}


int
q2api_amazonq_stream_finish(q2api_amazonq_stream_t *s)
{
    int  rc;

    rc = q2api_es_finish(&s->es);
    if (rc != Q2API_OK) {
        return rc;
    }

    if (s->ended) {
        return Q2API_OK;
    }

    rc = q2api_amazonq_text_flush(s);
    if (rc != Q2API_OK) {
        return rc;
    }

    /* a tool the service never stopped is closed rather than lost */
    return q2api_amazonq_tool_stop(s);
}


static int
q2api_amazonq_emit(q2api_amazonq_stream_t *s, q2api_event_type_e type,
    const char *text, size_t len)
{
    q2api_event_t  ev;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);

    ev.type = type;
    ev.text.data = text;
    ev.text.len = len;

    if (type == Q2API_EV_TOOL_START) {
        ev.id.data = (char *) s->tool_id.data;
        ev.id.len = s->tool_id.len;
        ev.name.data = text;
        ev.name.len = len;
        ev.text.data = NULL;
        ev.text.len = 0;
    }

    return s->handler(s->data, &ev);
}


static int
q2api_amazonq_split_emit(void *data, int thinking, const char *p, size_t len)
{
    return q2api_amazonq_emit(data, thinking ? Q2API_EV_THINKING
                                             : Q2API_EV_TEXT, p, len);
}


/* text, split into thinking and text when thinking was asked for */
static int
q2api_amazonq_text(q2api_amazonq_stream_t *s, const char *text, size_t len)
{
    if (!s->parse_thinking) {
        return q2api_amazonq_emit(s, Q2API_EV_TEXT, text, len);
    }

    return q2api_thinking_feed(&s->thinking, text, len,
                               q2api_amazonq_split_emit, s);
}


/* bytes held back as a possible tag are text after all */
static int
q2api_amazonq_text_flush(q2api_amazonq_stream_t *s)
{
    if (!s->parse_thinking) {
        return Q2API_OK;
    }

    return q2api_thinking_finish(&s->thinking, q2api_amazonq_split_emit, s);
}


static int
q2api_amazonq_emit_error(q2api_amazonq_stream_t *s, q2api_err_e kind,
    const char *message)
{
    q2api_event_t  ev;

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);

    ev.type = Q2API_EV_ERROR;
    ev.error = kind;
    ev.text.data = message;
    ev.text.len = strlen(message);

    s->ended = 1;

    return s->handler(s->data, &ev);
}


static int
q2api_amazonq_frame(q2api_amazonq_stream_t *s, const q2api_es_message_t *msg)
{
    int          rc;
    char         text[Q2API_ERR_MSG_LEN];
    cJSON       *p;
    q2api_str_t  mtype, etype, code, emsg;

    if (s->ended) {
        /* nothing after an error reaches the client */
        return Q2API_OK;
    }

    s->frames++;

    if (q2api_es_header_string(msg, ":message-type", &mtype) != Q2API_OK) {
        mtype = (q2api_str_t) q2api_str_lit("event");
    }

    if (q2api_str_eq_lit(&mtype, "exception")) {
        if (q2api_es_header_string(msg, ":exception-type", &etype)
            != Q2API_OK)
        {
            etype = (q2api_str_t) q2api_str_lit("UnknownException");
        }

        return q2api_amazonq_exception(s, &etype, msg);
    }

    if (q2api_str_eq_lit(&mtype, "error")) {
        if (q2api_es_header_string(msg, ":error-code", &code) != Q2API_OK) {
            code = (q2api_str_t) q2api_str_lit("InternalFailure");
        }

        if (q2api_es_header_string(msg, ":error-message", &emsg)
            != Q2API_OK)
        {
            emsg = (q2api_str_t) q2api_str_lit("no message");
        }

        snprintf(text, sizeof(text), "Amazon Q stream error %.*s: %.*s",
                 (int) (code.len > 64 ? 64 : code.len), code.data,
                 (int) (emsg.len > 256 ? 256 : emsg.len), emsg.data);

        return q2api_amazonq_emit_error(s, Q2API_ERR_API, text);
    }

    if (q2api_es_header_string(msg, ":event-type", &etype) != Q2API_OK) {
        return Q2API_OK;
    }

    if (!s->begun) {
        s->begun = 1;

        rc = q2api_amazonq_emit(s, Q2API_EV_BEGIN, NULL, 0);
        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (msg->payload_len == 0) {
        return Q2API_OK;
    }

    p = cJSON_ParseWithLength((const char *) msg->payload, msg->payload_len);

    if (!cJSON_IsObject(p)) {
        cJSON_Delete(p);

        snprintf(text, sizeof(text),
                 "Amazon Q sent a malformed %.*s event",
                 (int) (etype.len > 64 ? 64 : etype.len), etype.data);

        return q2api_amazonq_emit_error(s, Q2API_ERR_API, text);
    }

    rc = q2api_amazonq_event(s, &etype, p);

    cJSON_Delete(p);

    return rc;
}


static int
q2api_amazonq_event(q2api_amazonq_stream_t *s, const q2api_str_t *type,
    cJSON *p)
{
    int             rc;
    cJSON          *item, *usage;
    q2api_event_t   ev;

    if (q2api_str_eq_lit(type, "assistantResponseEvent")) {
        item = cJSON_GetObjectItemCaseSensitive(p, "content");
        if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
            return Q2API_OK;
        }

        rc = q2api_amazonq_tool_stop(s);
        if (rc != Q2API_OK) {
            return rc;
        }

        return q2api_amazonq_text(s, item->valuestring,
                                  strlen(item->valuestring));
    }

    if (q2api_str_eq_lit(type, "toolUseEvent")) {
        return q2api_amazonq_tool(s, p);
    }

    if (q2api_str_eq_lit(type, "reasoningContentEvent")) {
        rc = Q2API_OK;

        item = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (cJSON_IsString(item) && item->valuestring[0] != '\0') {
            rc = q2api_amazonq_text_flush(s);

            if (rc == Q2API_OK) {
                rc = q2api_amazonq_tool_stop(s);
            }

            if (rc == Q2API_OK) {
                rc = q2api_amazonq_emit(s, Q2API_EV_THINKING,
                                        item->valuestring,
                                        strlen(item->valuestring));
            }
        }

        item = cJSON_GetObjectItemCaseSensitive(p, "signature");
        if (rc == Q2API_OK && cJSON_IsString(item)
            && item->valuestring[0] != '\0')
        {
            rc = q2api_amazonq_emit(s, Q2API_EV_SIGNATURE, item->valuestring,
                                    strlen(item->valuestring));
        }

        item = cJSON_GetObjectItemCaseSensitive(p, "redactedContent");
        if (rc == Q2API_OK && cJSON_IsString(item)
            && item->valuestring[0] != '\0')
        {
            rc = q2api_amazonq_emit(s, Q2API_EV_REDACTED_THINKING,
                                    item->valuestring,
                                    strlen(item->valuestring));
        }

        return rc;
    }

    memset(&ev, 0, sizeof(q2api_event_t));
    q2api_usage_init(&ev.usage);
    ev.type = Q2API_EV_USAGE;

    if (q2api_str_eq_lit(type, "metadataEvent")) {
        usage = cJSON_GetObjectItemCaseSensitive(p, "tokenUsage");
        if (!cJSON_IsObject(usage)) {
            return Q2API_OK;
        }

        /* valueint: cJSON's int, saturated; a cast of valuedouble is
         * undefined for what does not fit */
        item = cJSON_GetObjectItemCaseSensitive(usage, "uncachedInputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.input_tokens = item->valueint;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage, "outputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.output_tokens = item->valueint;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage,
                                                "cacheReadInputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.cache_read_tokens = item->valueint;
        }

        item = cJSON_GetObjectItemCaseSensitive(usage,
                                                "cacheWriteInputTokens");
        if (cJSON_IsNumber(item)) {
            ev.usage.cache_write_tokens = item->valueint;
        }

        return s->handler(s->data, &ev);
    }

    if (q2api_str_eq_lit(type, "contextUsageEvent")) {
        item = cJSON_GetObjectItemCaseSensitive(p, "contextUsagePercentage");
        if (!cJSON_IsNumber(item) || item->valuedouble < 0) {
            return Q2API_OK;
        }

        /*
         * The service reports how full the context window is; that, not a
         * local estimate, is what Claude Code's context meter needs.
         */
        ev.usage.context_percent = item->valuedouble;
        ev.usage.input_tokens = (long long) ((item->valuedouble < 100.0
                                              ? item->valuedouble : 100.0)
                                             * s->context_window / 100.0
                                             + 0.5);

        rc = s->handler(s->data, &ev);

        if (rc == Q2API_OK && item->valuedouble >= 100.0) {
            ev.type = Q2API_EV_STOP;
            ev.stop = Q2API_STOP_CONTEXT_EXCEEDED;
            rc = s->handler(s->data, &ev);
        }

        return rc;
    }

    if (q2api_str_eq_lit(type, "invalidStateEvent")) {
        item = cJSON_GetObjectItemCaseSensitive(p, "message");

        return q2api_amazonq_emit_error(s, Q2API_ERR_API,
                                        cJSON_IsString(item)
                                        ? item->valuestring
                                        : "Amazon Q reported an invalid "
                                          "state");
    }

    /* initial-response, messageMetadataEvent, meteringEvent,
     * followupPromptEvent, citations...: nothing for the client */
    return Q2API_OK;
}


static int
q2api_amazonq_tool_seen(q2api_amazonq_stream_t *s, const char *id,
    size_t len)
{
    const unsigned char  *p, *end;
    size_t                n;

    if (s->seen_tools.len == 0) {
        /* data may be NULL: no arithmetic on it */
        return 0;
    }

    p = s->seen_tools.data;
    end = p + s->seen_tools.len;

    while (p < end) {
        n = strlen((const char *) p);

        if (n == len && memcmp(p, id, len) == 0) {
            return 1;
        }

        p += n + 1;
    }

    return 0;
}


static int
q2api_amazonq_tool(q2api_amazonq_stream_t *s, cJSON *p)
{
    int          rc;
    char        *printed;
    size_t       id_len;
    cJSON       *id, *name, *input, *stop;
    const char  *idp;
    q2api_str_t  client;

    id = cJSON_GetObjectItemCaseSensitive(p, "toolUseId");
    name = cJSON_GetObjectItemCaseSensitive(p, "name");
    input = cJSON_GetObjectItemCaseSensitive(p, "input");
    stop = cJSON_GetObjectItemCaseSensitive(p, "stop");

    if (cJSON_IsString(id) && id->valuestring[0] != '\0') {
        idp = id->valuestring;
        id_len = strlen(idp);

    } else if (s->tool_open) {
        /* a fragment without an id continues the open tool */
        idp = (const char *) s->tool_id.data;
        id_len = s->tool_id.len;

    } else {
        return Q2API_OK;
    }

    if (!s->tool_open || id_len != s->tool_id.len
        || memcmp(idp, s->tool_id.data, id_len) != 0)
    {
        /* the service repeats frames of a finished tool: drop them, and
         * leave the tool that is open alone */
        if (q2api_amazonq_tool_seen(s, idp, id_len)) {
            return Q2API_OK;
        }

        rc = q2api_amazonq_tool_stop(s);
        if (rc != Q2API_OK) {
            return rc;
        }

        rc = q2api_amazonq_text_flush(s);
        if (rc != Q2API_OK) {
            return rc;
        }

        q2api_buf_reset(&s->tool_id);

        if (q2api_buf_append(&s->tool_id, idp, id_len) != Q2API_OK) {
            return q2api_amazonq_emit_error(s, Q2API_ERR_API,
                                            "tool use id too long");
        }

        s->tool_open = 1;
        s->tool_has_input = 0;

        client = q2api_amazonq_client_tool_name(s->req,
                                 cJSON_IsString(name) ? name->valuestring : "",
                                 cJSON_IsString(name)
                                 ? strlen(name->valuestring) : 0);

        rc = q2api_amazonq_emit(s, Q2API_EV_TOOL_START, client.data,
                                client.len);
        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (cJSON_IsString(input) && input->valuestring[0] != '\0') {
        s->tool_has_input = 1;

        rc = q2api_amazonq_emit(s, Q2API_EV_TOOL_INPUT, input->valuestring,
                                strlen(input->valuestring));
        if (rc != Q2API_OK) {
            return rc;
        }

    } else if (cJSON_IsObject(input)
               && (input->child != NULL
                   || (cJSON_IsTrue(stop) && !s->tool_has_input)))
    {
        /*
         * Some frames carry the input, or a piece of it, as an object: it
         * stands in the fragment sequence as its JSON text.  An empty one
         * before any fragment only says that fragments follow.
         */
        printed = cJSON_PrintUnformatted(input);
        if (printed == NULL) {
            return Q2API_NOMEM;
        }

        s->tool_has_input = 1;

        rc = q2api_amazonq_emit(s, Q2API_EV_TOOL_INPUT, printed,
                                strlen(printed));
        cJSON_free(printed);

        if (rc != Q2API_OK) {
            return rc;
        }
    }

    if (cJSON_IsTrue(stop)) {
        return q2api_amazonq_tool_stop(s);
    }

    return Q2API_OK;
}


static int
q2api_amazonq_tool_stop(q2api_amazonq_stream_t *s)
{
    if (!s->tool_open) {
        return Q2API_OK;
    }

    s->tool_open = 0;

    if (q2api_buf_append(&s->seen_tools, s->tool_id.data, s->tool_id.len)
        != Q2API_OK
        || q2api_buf_append_byte(&s->seen_tools, '\0') != Q2API_OK)
    {
        /* past the bound only duplicate detection is lost */
    }

    return q2api_amazonq_emit(s, Q2API_EV_TOOL_STOP, NULL, 0);
}


static int
q2api_amazonq_exception(q2api_amazonq_stream_t *s, const q2api_str_t *type,
    const q2api_es_message_t *msg)
{
    char            text[Q2API_ERR_MSG_LEN];
    cJSON          *p, *m;
    q2api_err_e     kind;
    q2api_event_t   ev;
    const char     *detail;

    p = NULL;
    detail = "";

    if (msg->payload_len) {
        p = cJSON_ParseWithLength((const char *) msg->payload,
                                  msg->payload_len);

        m = cJSON_GetObjectItemCaseSensitive(p, "message");
        if (!cJSON_IsString(m)) {
            m = cJSON_GetObjectItemCaseSensitive(p, "Message");
        }

        if (cJSON_IsString(m)) {
            detail = m->valuestring;
        }
    }

    if (q2api_str_eq_lit(type, "ContentLengthExceededException")) {
        cJSON_Delete(p);

        /* the answer hit the output limit: a stop, not a failure */
        memset(&ev, 0, sizeof(q2api_event_t));
        q2api_usage_init(&ev.usage);
        ev.type = Q2API_EV_STOP;
        ev.stop = Q2API_STOP_MAX_TOKENS;

        return s->handler(s->data, &ev);
    }

    if (q2api_str_eq_lit(type, "ThrottlingException")) {
        kind = strstr(detail, "capacity") || strstr(detail, "high traffic")
               ? Q2API_ERR_OVERLOADED : Q2API_ERR_RATE_LIMIT;

    } else if (q2api_str_eq_lit(type, "InternalServerException")) {
        kind = Q2API_ERR_OVERLOADED;

    } else if (q2api_str_eq_lit(type, "ValidationException")) {
        kind = Q2API_ERR_INVALID_REQUEST;

    } else if (q2api_str_eq_lit(type, "AccessDeniedException")) {
        kind = Q2API_ERR_PERMISSION;

    } else if (q2api_str_eq_lit(type, "ServiceQuotaExceededException")) {
        kind = Q2API_ERR_RATE_LIMIT;

    } else {
        kind = Q2API_ERR_API;
    }

    if (kind == Q2API_ERR_INVALID_REQUEST
        && strstr(detail, "Input is too long") != NULL)
    {
        snprintf(text, sizeof(text), "prompt is too long: %s", detail);

    } else {
        snprintf(text, sizeof(text), "Amazon Q %.*s%s%.300s",
                 (int) (type->len > 80 ? 80 : type->len), type->data,
                 detail[0] ? ": " : "", detail);
    }

    cJSON_Delete(p);

    return q2api_amazonq_emit_error(s, kind, text);
}


/* upstream errors --------------------------------------------------------- */


void
q2api_amazonq_classify(int status, const char *body, size_t len,
    q2api_upstream_error_t *ue)
{
    cJSON       *p, *item;
    const char  *type, *message, *reason, *hash;

    memset(ue, 0, sizeof(q2api_upstream_error_t));

    p = (body && len) ? cJSON_ParseWithLength(body, len) : NULL;

    item = cJSON_GetObjectItemCaseSensitive(p, "__type");
    type = cJSON_IsString(item) ? item->valuestring : "";

    hash = strrchr(type, '#');
    if (hash != NULL) {
        type = hash + 1;
    }

    item = cJSON_GetObjectItemCaseSensitive(p, "message");
    if (!cJSON_IsString(item)) {
        item = cJSON_GetObjectItemCaseSensitive(p, "Message");
    }

    message = cJSON_IsString(item) ? item->valuestring : "";

    item = cJSON_GetObjectItemCaseSensitive(p, "reason");
    reason = cJSON_IsString(item) ? item->valuestring : "";

    snprintf(ue->reason, sizeof(ue->reason), "%s",
             reason[0] ? reason : type);

    if (status == 400 || status == 413) {
        ue->health = Q2API_HEALTH_CLIENT;
        ue->client_error = Q2API_ERR_INVALID_REQUEST;

        /* the words Claude Code looks for before compacting its context */
        if (strcmp(reason, "CONTENT_LENGTH_EXCEEDS_THRESHOLD") == 0
            || strstr(message, "Input is too long") != NULL)
        {
            snprintf(ue->message, sizeof(ue->message),
                     "prompt is too long: the conversation exceeds what "
                     "the backend accepts (%s)", message);

        } else {
            snprintf(ue->message, sizeof(ue->message),
                     "Amazon Q rejected the request: %.300s",
                     message[0] ? message : "no message");
        }

    } else if (status == 401) {
        ue->health = Q2API_HEALTH_AUTH;
        ue->client_error = Q2API_ERR_UNAVAILABLE;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account's token was rejected");

    } else if (status == 403) {
        if (strcmp(reason, "TEMPORARILY_SUSPENDED") == 0
            || strstr(message, "suspended") != NULL)
        {
            ue->health = Q2API_HEALTH_SUSPENDED;

        } else if (strstr(message, "token") != NULL
                   || strstr(message, "Token") != NULL)
        {
            ue->health = Q2API_HEALTH_AUTH;

        } else {
            ue->health = Q2API_HEALTH_FORBIDDEN;
        }

        ue->client_error = Q2API_ERR_UNAVAILABLE;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend account was refused (%s)", ue->reason);

    } else if (status == 429 || status == 402) {
        if (strstr(reason, "REQUEST_COUNT") != NULL
            || strcmp(reason, "OVERAGE_REQUEST_LIMIT_EXCEEDED") == 0)
        {
            ue->health = Q2API_HEALTH_QUOTA;
            ue->client_error = Q2API_ERR_RATE_LIMIT;
            snprintf(ue->message, sizeof(ue->message),
                     "the backend account's quota is used up (%s)", reason);

        } else if (strcmp(reason, "CONVERSATION_LIMIT_EXCEEDED") == 0) {
            ue->health = Q2API_HEALTH_CLIENT;
            ue->client_error = Q2API_ERR_INVALID_REQUEST;
            snprintf(ue->message, sizeof(ue->message),
                     "prompt is too long: the conversation exceeds the "
                     "backend's limit");

        } else if (strcmp(reason, "INSUFFICIENT_MODEL_CAPACITY") == 0) {
            ue->health = Q2API_HEALTH_CAPACITY;
            ue->client_error = Q2API_ERR_OVERLOADED;
            snprintf(ue->message, sizeof(ue->message), "Overloaded");

        } else {
            ue->health = Q2API_HEALTH_THROTTLED;
            ue->client_error = Q2API_ERR_RATE_LIMIT;
            snprintf(ue->message, sizeof(ue->message),
                     "the backend is rate limiting requests");
        }

    } else if (status == 504) {
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = Q2API_ERR_TIMEOUT;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend did not answer in time");

    } else if (status == 502 || status == 503) {
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = Q2API_ERR_BAD_GATEWAY;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend could not be reached");

    } else if (status >= 500) {
        ue->health = Q2API_HEALTH_CAPACITY;
        ue->client_error = strcmp(reason, "MODEL_TEMPORARILY_UNAVAILABLE")
                           == 0 ? Q2API_ERR_OVERLOADED : Q2API_ERR_API;
        snprintf(ue->message, sizeof(ue->message),
                 "the backend failed: %.300s",
                 message[0] ? message : "internal error");

    } else {
        ue->health = Q2API_HEALTH_CLIENT;
        ue->client_error = Q2API_ERR_API;
        snprintf(ue->message, sizeof(ue->message),
                 "unexpected backend status %d", status);
    }

    cJSON_Delete(p);
}
