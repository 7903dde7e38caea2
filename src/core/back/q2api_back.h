/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The back-end table.  A back end speaks one upstream API: it builds the
 * upstream body for a chosen account, turns the upstream's bytes into
 * canonical events as they arrive, and classifies an upstream failure into
 * the canonical health vocabulary.  The glue dispatches on this table and
 * never names a back end.
 */

#ifndef _Q2API_BACK_H_INCLUDED_
#define _Q2API_BACK_H_INCLUDED_


#include <time.h>

#include "q2api_buf.h"
#include "q2api_canon.h"


/* what the chosen account and the model table add to a request */
typedef struct {
    q2api_str_t    model_id;      /* the upstream's model id */
    q2api_str_t    scope;         /* the account's own: a profileArn for
                                     Amazon Q, a project for Gemini */
    unsigned       flavour;       /* the back end's style of the account
                                     (Q2API_*_FLAVOUR_*) */
    time_t         now;
} q2api_back_opts_t;


/* the upstream body ended inside a message (finish) */
#define Q2API_TRUNCATED  -4


typedef struct q2api_back_s  q2api_back_t;

struct q2api_back_s {
    const char   *name;
    const char   *content_type;   /* of the upstream's stream */
    size_t        stream_size;    /* bytes of per-stream state */

    int         (*build)(const q2api_request_t *req,
                         const q2api_back_opts_t *opts, q2api_buf_t *out,
                         q2api_error_t *err);

    /*
     * One upstream answer.  feed decodes what it can of in and delivers
     * events to handler; *consumed says how much was used.  It returns
     * Q2API_OK, Q2API_NOMEM, the handler's error, or another negative
     * code for a corrupt stream that strerror names.  finish is the end
     * of the upstream body: Q2API_OK, or Q2API_TRUNCATED.  free may be
     * called on zeroed state that init never saw.
     */
    void        (*stream_init)(void *state, const q2api_request_t *req,
                               q2api_event_handler_pt handler, void *data);
    int         (*stream_feed)(void *state, const unsigned char *in,
                               size_t len, size_t *consumed);
    int         (*stream_finish)(void *state);
    void        (*stream_free)(void *state);
    const char *(*strerror)(int rc);

    /* an upstream error answer (status, body) for the client and health */
    void        (*classify)(int status, const char *body, size_t len,
                            q2api_upstream_error_t *ue);
};


/* NULL-terminated */
extern const q2api_back_t  *q2api_backs[];

/* the back end named name, or NULL */
const q2api_back_t *q2api_back_find(const char *name, size_t len);


#endif /* _Q2API_BACK_H_INCLUDED_ */
