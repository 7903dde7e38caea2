/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The text of the current message.  Amazon Q has no system field, no
 * tool_choice and no thinking switch: what the client asked for in those
 * is folded into the message, in the words the official CLI uses.
 */


#include <stdio.h>

#include "q2api_amazonq.h"
#include "q2api_amazonq_internal.h"


/* text and thinking blocks, joined by "\n" */
int
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
 * Nor has it a switch for parallel tool calls or a reply format: those
 * are asked for in words too, which the model mostly but not always obeys.
 */
static int
q2api_amazonq_ask_format(const q2api_request_t *req, q2api_buf_t *content)
{
    if (req->ntools && req->one_tool_call
        && req->tool_choice != Q2API_TOOL_CHOICE_NONE
        && ((content->len && q2api_put(content, "\n\n") != Q2API_OK)
            || q2api_put(content, "Call at most one tool in this answer.")
               != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (req->format == Q2API_FORMAT_TEXT) {
        return Q2API_OK;
    }

    if ((content->len && q2api_put(content, "\n\n") != Q2API_OK)
        || q2api_put(content, "Answer with one valid JSON ") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (req->format == Q2API_FORMAT_JSON_OBJECT) {
        return q2api_put(content, "object and nothing else: no prose, no "
                                  "code fences.");
    }

    if (q2api_put(content, "value that matches the JSON Schema \"")
        != Q2API_OK
        || q2api_buf_append(content, req->format_name.data,
                            req->format_name.len) != Q2API_OK
        || q2api_put(content, "\" below, and nothing else: no prose, no "
                              "code fences.\n") != Q2API_OK
        || q2api_buf_append(content, req->format_schema.data,
                            req->format_schema.len) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/*
 * There is no system field: like the official CLI, the system prompt, a
 * timestamp and the user's text are folded into the current message, in
 * parts separated by a blank line.  The system prompt goes on every turn,
 * tool-result turns included, so the model keeps its instructions through
 * an agentic loop (both Python seeds lose it there).
 */
int
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

    if (q2api_amazonq_ask_format(req, content) != Q2API_OK) {
        return Q2API_NOMEM;
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

