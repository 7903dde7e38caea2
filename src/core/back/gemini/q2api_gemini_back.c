/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Gemini Code Assist (gemini-cli and Antigravity accounts) as an entry of
 * the back-end table.
 */


#include "q2api_back.h"
#include "q2api_gemini.h"


static int
q2api_gemini_back_build(const q2api_request_t *req,
    const q2api_back_opts_t *o, q2api_buf_t *out, q2api_error_t *err)
{
    q2api_gemini_opts_t  opts;

    memset(&opts, 0, sizeof(q2api_gemini_opts_t));

    opts.model_id = o->model_id;
    opts.project = o->scope;
    opts.flavour = o->flavour;

    return q2api_gemini_build(req, &opts, out, err);
}


static void
q2api_gemini_back_init(void *state, const q2api_request_t *req,
    q2api_event_handler_pt handler, void *data)
{
    q2api_gemini_stream_init(state, req, handler, data);
}


static int
q2api_gemini_back_feed(void *state, const unsigned char *in, size_t len,
    size_t *consumed)
{
    return q2api_gemini_stream_feed(state, in, len, consumed);
}


static int
q2api_gemini_back_finish(void *state)
{
    return q2api_gemini_stream_finish(state);
}


static void
q2api_gemini_back_free(void *state)
{
    q2api_gemini_stream_free(state);
}


const q2api_back_t  q2api_gemini_back = {
    "gemini",
    "text/event-stream",
    sizeof(q2api_gemini_stream_t),
    q2api_gemini_back_build,
    q2api_gemini_back_init,
    q2api_gemini_back_feed,
    q2api_gemini_back_finish,
    q2api_gemini_back_free,
    q2api_gemini_strerror,
    q2api_gemini_classify
};
