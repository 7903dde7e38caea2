/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The reply of a stream: false call: one message JSON holding the blocks
 * the stream would have described.
 */


#include <stdlib.h>

#include "q2api_claude.h"
#include "q2api_claude_internal.h"
#include "q2api_json.h"


int
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
            input = q2api_json_document((char *) blk->text.data,
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

