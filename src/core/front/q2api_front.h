/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The front-end table.  A front end speaks one client dialect: it parses a
 * client body into the canonical request, renders canonical events as the
 * client's stream (or as one JSON for a non-streaming call), and renders
 * errors, pings, model lists and request ids in that dialect.  The glue
 * dispatches on this table and never names a front end.
 */

#ifndef _Q2API_FRONT_H_INCLUDED_
#define _Q2API_FRONT_H_INCLUDED_


#include "q2api_buf.h"
#include "q2api_canon.h"
#include "q2api_models.h"


typedef struct q2api_front_s  q2api_front_t;

struct q2api_front_s {
    const char   *name;               /* "q2api_pass <name>" */
    const char   *request_id_prefix;  /* "req_" */
    const char   *request_id_header;  /* where the SDK looks: "request-id" */
    size_t        stream_size;        /* bytes of per-stream state */

    /* the client body into req; err in the dialect's words */
    int         (*parse)(q2api_request_t *req, const char *body, size_t len,
                         q2api_error_t *err);

    /*
     * One reply.  init binds the state to out, where the client's bytes
     * go; event is a q2api_event_handler_pt; finish ends a reply that went
     * well; error ends one that failed after it started; ping keeps a
     * silent stream alive.  free releases what init took, and may be
     * called on state that init never saw if it is zeroed.
     */
    int         (*stream_init)(void *state, q2api_buf_t *out,
                               const q2api_request_t *req);
    int         (*stream_event)(void *data, const q2api_event_t *ev);
    int         (*stream_finish)(void *state);
    int         (*stream_error)(void *state, q2api_err_e kind,
                                const char *message);
    int         (*stream_ping)(void *state);
    void        (*stream_free)(void *state);

    /* an error answer before the reply started: its HTTP status and body */
    int         (*error_status)(q2api_err_e kind);
    int         (*error_body)(q2api_buf_t *out, q2api_err_e kind,
                              const char *message, const char *request_id);

    /* GET .../models/{id}, and one page of GET .../models */
    int         (*model)(q2api_buf_t *out, const q2api_model_t *m);
    int         (*model_page)(q2api_buf_t *out, const q2api_model_t **list,
                              size_t first, size_t last, int more);

    /*
     * The URI tails it answers under any q2api_pass location: the tail of
     * a POST picks the dialect.  count_tokens_path may be NULL.
     */
    const char   *messages_path;      /* "/messages" */
    const char   *count_tokens_path;  /* "/messages/count_tokens" */
    int         (*count_tokens)(q2api_buf_t *out, long long tokens);

    /*
     * Request headers only this dialect's clients send, NULL-terminated.
     * A request whose URI names no dialect (GET .../models, an unknown
     * path, nginx's own error pages there) is answered in the dialect
     * whose marker it carries, else in the one with no markers (NULL),
     * else in q2api_pass's.
     */
    const char  *const *markers;

    /* GET .../models takes Anthropic's limit, after_id and before_id;
     * 0: the whole list in one answer */
    int           models_paged;

    /*
     * count_tokens from one pass over the body, without parse: the
     * estimate parse's request would give, or Q2API_ERROR to parse it
     * after all (the body is wrong, or the pass is not sure).  May be NULL.
     */
    int         (*count_estimate)(const char *body, size_t len,
                                  long long *tokens);

    /*
     * Stored replies (the Responses API's store and
     * previous_response_id); NULL in dialects without them.  previous:
     * after parse, the id of the stored reply the request continues (a
     * zero length if none), checked to be one the front end could have
     * made.  history: puts the items a stored reply kept before the
     * request's own.  record: after a reply went well, its id and what a
     * later turn needs of it (a zero-length id: not to be stored).
     */
    int         (*previous)(const q2api_request_t *req, q2api_str_t *id,
                            q2api_error_t *err);
    int         (*history)(q2api_request_t *req, const char *items,
                           size_t len, q2api_error_t *err);
    int         (*record)(void *state, q2api_str_t *id, q2api_buf_t *items);
};


/* NULL-terminated, in the order "q2api_pass" lists them */
extern const q2api_front_t  *q2api_fronts[];

/* the front end named name, or NULL */
const q2api_front_t *q2api_front_find(const char *name, size_t len);


#endif /* _Q2API_FRONT_H_INCLUDED_ */
