/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Gemini Code Assist back end (cloudcode-pa v1internal
 * streamGenerateContent): canonical request -> Code Assist envelope in
 * the gemini-cli or the Antigravity flavour, and its SSE answer ->
 * canonical events.
 */

#ifndef _Q2API_GEMINI_H_INCLUDED_
#define _Q2API_GEMINI_H_INCLUDED_


#include <time.h>

#include "q2api_buf.h"
#include "q2api_canon.h"
#include "q2api_sse_reader.h"


/* the styles of account this back end serves (q2api_back_opts_t) */
#define Q2API_GEMINI_FLAVOUR_CLI           0   /* gemini-cli, cloudcode-pa */
#define Q2API_GEMINI_FLAVOUR_ANTIGRAVITY   1   /* Antigravity, daily host */


/* Google's function names: [A-Za-z_][A-Za-z0-9_.:-]{0,63} */
#define Q2API_GEMINI_TOOL_NAME_MAX   64

/* what Google documents for a function call whose signature is unknown */
#define Q2API_GEMINI_DUMMY_SIGNATURE  "skip_thought_signature_validator"

/* Gemini takes this many stop sequences at most */
#define Q2API_GEMINI_STOP_MAX        5

/* an upstream SSE line holds one chunk, images included */
#define Q2API_GEMINI_LINE_MAX        (16 * 1024 * 1024)


typedef struct {
    q2api_str_t              model_id;      /* the upstream model */
    q2api_str_t              project;       /* cloudaicompanionProject */
    unsigned                 flavour;       /* Q2API_GEMINI_FLAVOUR_* */
} q2api_gemini_opts_t;


int q2api_gemini_build(const q2api_request_t *req,
    const q2api_gemini_opts_t *opts, q2api_buf_t *out, q2api_error_t *err);

/*
 * The name Google is given for a client tool name: names outside its
 * pattern are rewritten (other characters become "_", a leading "_" when
 * the first may not start a name) and get a hash of the original so that
 * two tools never collide; answers are mapped back.  out must hold
 * Q2API_GEMINI_TOOL_NAME_MAX + 1 bytes; returns the length.
 */
size_t q2api_gemini_tool_name(const char *name, size_t len, char *out);

/* the client's name of a tool Google named "name" */
q2api_str_t q2api_gemini_client_tool_name(const q2api_request_t *req,
    const char *name, size_t len);

/*
 * A JSON schema as Gemini's parametersJsonSchema takes it (compact JSON
 * into out): local $refs inlined, allOf merged, anyOf/oneOf and type
 * arrays reduced to one type, enums made strings, keywords it refuses
 * dropped or moved into the description as hints.  Property names are
 * never taken for keywords.  Q2API_OK, Q2API_NOMEM, or Q2API_ERROR for a
 * schema that is not a JSON object.
 */
int q2api_gemini_clean_schema(const char *schema, size_t len,
    q2api_buf_t *out);


#define Q2API_GEMINI_EJSON      -120    /* a data line is not an object */


typedef struct {
    q2api_sse_reader_t       sse;
    q2api_event_handler_pt   handler;
    void                    *data;
    const q2api_request_t   *req;           /* tool names, thinking */
    q2api_buf_t              scratch;       /* args JSON, made-up ids */

    unsigned                 ncalls;
    unsigned                 begun:1;
    unsigned                 thinking_open:1;  /* a signature closes it */
    unsigned                 finished:1;    /* a finishReason came */
    unsigned                 ended:1;       /* an error event was sent */
} q2api_gemini_stream_t;


/* req may be NULL (no tool names to restore, no thinking asked for) */
void q2api_gemini_stream_init(q2api_gemini_stream_t *s,
    const q2api_request_t *req, q2api_event_handler_pt handler, void *data);
void q2api_gemini_stream_free(q2api_gemini_stream_t *s);

/* as q2api_back_t's stream_feed */
int q2api_gemini_stream_feed(q2api_gemini_stream_t *s,
    const unsigned char *in, size_t len, size_t *consumed);

/*
 * The end of the upstream body: Q2API_OK, or Q2API_TRUNCATED when the
 * stream ended without a finishReason (never an end_turn).
 */
int q2api_gemini_stream_finish(q2api_gemini_stream_t *s);

const char *q2api_gemini_strerror(int rc);


/*
 * A Google RPC error answer (status and body; the body may be an object
 * or a one-element array of one; a message may hold another error as
 * JSON) as a client error and an account health, with the model and the
 * reset time of a per-model quota.
 */
void q2api_gemini_classify(int status, const char *body, size_t len,
    q2api_upstream_error_t *ue);


#endif /* _Q2API_GEMINI_H_INCLUDED_ */
