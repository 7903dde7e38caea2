/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Amazon Q (and its Kiro style) as an entry of the back-end table.
 */


#include "q2api_back.h"
#include "q2api_amazonq.h"


static int
q2api_amazonq_back_build(const q2api_request_t *req,
    const q2api_back_opts_t *o, q2api_buf_t *out, q2api_error_t *err)
{
    q2api_amazonq_opts_t  opts;

    memset(&opts, 0, sizeof(q2api_amazonq_opts_t));

    opts.model_id = o->model_id;
    opts.profile_arn = o->scope;
    opts.origin = (o->flavour == Q2API_AMAZONQ_FLAVOUR_KIRO) ? "AI_EDITOR"
                                                             : NULL;
    opts.now = o->now;

    return q2api_amazonq_build(req, &opts, out, err);
}


static void
q2api_amazonq_back_init(void *state, const q2api_request_t *req,
    q2api_event_handler_pt handler, void *data)
{
    q2api_amazonq_stream_init(state, req, handler, data);
}


static int
q2api_amazonq_back_feed(void *state, const unsigned char *in, size_t len,
    size_t *consumed)
{
    return q2api_amazonq_stream_feed(state, in, len, consumed);
}


static int
q2api_amazonq_back_finish(void *state)
{
    int  rc;

    rc = q2api_amazonq_stream_finish(state);

    return (rc == Q2API_ES_ETRUNCATED) ? Q2API_TRUNCATED : rc;
}


static void
q2api_amazonq_back_free(void *state)
{
    q2api_amazonq_stream_free(state);
}


const q2api_back_t  q2api_amazonq_back = {
    "amazonq",
    "application/vnd.amazon.eventstream",
    sizeof(q2api_amazonq_stream_t),
    q2api_amazonq_back_build,
    q2api_amazonq_back_init,
    q2api_amazonq_back_feed,
    q2api_amazonq_back_finish,
    q2api_amazonq_back_free,
    q2api_es_strerror,
    q2api_amazonq_classify
};
