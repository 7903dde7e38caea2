/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The Code Assist envelope around a Gemini request: the gemini-cli or the
 * Antigravity form, the system instruction, and the conversation as
 * alternating user/model contents.
 */


#include <stdio.h>

#include <openssl/evp.h>

#include "q2api_gemini.h"
#include "q2api_gemini_internal.h"
#include "q2api_json.h"


/* what stands for a tool result the client did not send: an unpaired
 * call is a 400 upstream */
#define Q2API_GEMINI_NO_RESULT  "(no result)"


/* writes contents: a part opens a turn of its role, or goes on in it */
typedef struct {
    q2api_buf_t             *out;
    const q2api_request_t   *req;
    int                      role;       /* of the open turn; -1: none */
    unsigned                 nturns;
    unsigned                 signs:1;    /* calls must carry a signature */
    unsigned                 sig_on_thought:1;  /* Claude's sign thoughts */
    q2api_str_t              sig;        /* for the next model part */
} q2api_gemini_writer_t;


static int q2api_gemini_envelope(const q2api_request_t *req,
    const q2api_gemini_opts_t *opts, q2api_buf_t *out);
static int q2api_gemini_session(const q2api_request_t *req, unsigned flavour,
    q2api_buf_t *out);
static int q2api_gemini_system(const q2api_request_t *req, q2api_buf_t *out);
static int q2api_gemini_user(q2api_gemini_writer_t *w,
    const q2api_message_t *m, const q2api_message_t *prev);
static int q2api_gemini_model(q2api_gemini_writer_t *w,
    const q2api_message_t *m);
static int q2api_gemini_response(q2api_gemini_writer_t *w,
    const q2api_str_t *id, const q2api_str_t *name, const q2api_block_t *r);
static int q2api_gemini_result_text(q2api_buf_t *out, const q2api_block_t *r);
static int q2api_gemini_orphan(q2api_gemini_writer_t *w,
    const q2api_block_t *r);
static int q2api_gemini_image(q2api_gemini_writer_t *w, int role,
    const q2api_block_t *b);
static int q2api_gemini_part(q2api_gemini_writer_t *w, int role);
static int q2api_gemini_text(q2api_gemini_writer_t *w, int role,
    const q2api_str_t *text);
static int q2api_gemini_part_end(q2api_gemini_writer_t *w, int call);
static int q2api_gemini_blank(const q2api_str_t *s);


int
q2api_gemini_build(const q2api_request_t *req,
    const q2api_gemini_opts_t *opts, q2api_buf_t *out, q2api_error_t *err)
{
    int                     rc;
    q2api_gemini_writer_t   w;
    const q2api_message_t  *m, *prev;

    if (req->nstop_sequences > Q2API_GEMINI_STOP_MAX) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "stop_sequences: Gemini takes at most %d, %u given",
                        Q2API_GEMINI_STOP_MAX, req->nstop_sequences);
        return Q2API_ERROR;
    }

    memset(&w, 0, sizeof(q2api_gemini_writer_t));
    w.out = out;
    w.req = req;
    w.role = -1;
    w.signs = q2api_gemini_model_signs(&opts->model_id);
    w.sig_on_thought = opts->model_id.len >= 7
                       && memcmp(opts->model_id.data, "claude-", 7) == 0;

    if (q2api_gemini_envelope(req, opts, out) != Q2API_OK
        || q2api_gemini_put(out, "\"request\":{\"contents\":[") != Q2API_OK)
    {
        goto nomem;
    }

    prev = NULL;

    for (m = req->messages; m != NULL; m = m->next) {
        rc = (m->role == Q2API_ROLE_USER) ? q2api_gemini_user(&w, m, prev)
                                          : q2api_gemini_model(&w, m);
        if (rc != Q2API_OK) {
            goto nomem;
        }

        prev = m;
    }

    if (w.nturns == 0) {
        q2api_error_set(err, Q2API_ERR_INVALID_REQUEST,
                        "messages: nothing Gemini can take (every message "
                        "is empty)");
        return Q2API_ERROR;
    }

    if (q2api_gemini_put(out, "]}]") != Q2API_OK
        || q2api_gemini_system(req, out) != Q2API_OK
        || q2api_gemini_tools(req, out) != Q2API_OK)
    {
        goto nomem;
    }

    rc = q2api_gemini_generation(req, opts, out, err);
    if (rc != Q2API_OK) {
        return rc == Q2API_NOMEM ? Q2API_ERROR : rc;
    }

    if (q2api_buf_append_str(out, opts->flavour
                                  == Q2API_GEMINI_FLAVOUR_ANTIGRAVITY
                                  ? ",\"sessionId\":" : ",\"session_id\":")
        != Q2API_OK
        || q2api_gemini_session(req, opts->flavour, out) != Q2API_OK
        || q2api_gemini_put(out, "}}") != Q2API_OK)
    {
        goto nomem;
    }

    return Q2API_OK;

nomem:

    q2api_error_set(err, Q2API_ERR_API, "out of memory building the "
                    "Gemini request");

    return Q2API_ERROR;
}


/* everything before "request": the model, the project, the ids */
static int
q2api_gemini_envelope(const q2api_request_t *req,
    const q2api_gemini_opts_t *opts, q2api_buf_t *out)
{
    char  uuid[37];

    if (q2api_uuid4(uuid) != Q2API_OK) {
        return Q2API_ERROR;
    }

    if (q2api_gemini_put(out, "{\"model\":") != Q2API_OK
        || q2api_json_append_string(out, opts->model_id.data,
                                    opts->model_id.len) != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    /* without one Google answers 403 about the project, which sends the
     * account to discovery */
    if (opts->project.len
        && (q2api_gemini_put(out, ",\"project\":") != Q2API_OK
            || q2api_json_append_string(out, opts->project.data,
                                        opts->project.len) != Q2API_OK))
    {
        return Q2API_NOMEM;
    }

    if (opts->flavour == Q2API_GEMINI_FLAVOUR_ANTIGRAVITY) {
        if (q2api_gemini_put(out, ",\"requestId\":\"agent-") != Q2API_OK
            || q2api_buf_append_str(out, uuid) != Q2API_OK
            || q2api_gemini_put(out, "\",\"userAgent\":\"antigravity\","
                                     "\"requestType\":\"agent\",")
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        return Q2API_OK;
    }

    if (q2api_gemini_put(out, ",\"user_prompt_id\":\"") != Q2API_OK
        || q2api_buf_append_str(out, uuid) != Q2API_OK
        || q2api_gemini_put(out, "\",") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/*
 * One conversation, one session, whoever sends it: a hash of the system
 * prompt and the first user turn, so that Google groups its turns (and
 * its prompt cache) without linking the conversations of different users.
 */
static int
q2api_gemini_session(const q2api_request_t *req, unsigned flavour,
    q2api_buf_t *out)
{
    int                   rc;
    char                  buf[48];
    unsigned              i;
    EVP_MD_CTX           *ctx;
    unsigned char         md[EVP_MAX_MD_SIZE];
    unsigned long long    v;
    const q2api_block_t  *b;

    ctx = EVP_MD_CTX_new();

    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(ctx, req->system.data ? req->system.data : "",
                            req->system.len) != 1
        || EVP_DigestUpdate(ctx, "", 1) != 1)
    {
        EVP_MD_CTX_free(ctx);
        return Q2API_ERROR;
    }

    for (b = req->messages ? req->messages->blocks : NULL; b != NULL;
         b = b->next)
    {
        if (b->type == Q2API_BLOCK_TEXT && b->text.len
            && EVP_DigestUpdate(ctx, b->text.data, b->text.len) != 1)
        {
            EVP_MD_CTX_free(ctx);
            return Q2API_ERROR;
        }
    }

    rc = EVP_DigestFinal_ex(ctx, md, NULL);
    EVP_MD_CTX_free(ctx);

    if (rc != 1) {
        return Q2API_ERROR;
    }

    if (flavour == Q2API_GEMINI_FLAVOUR_ANTIGRAVITY) {
        /* Antigravity's form: "-" and a positive 63-bit decimal */
        v = 0;

        for (i = 0; i < 8; i++) {
            v = (v << 8) | md[i];
        }

        snprintf(buf, sizeof(buf), "\"-%llu\"", v & 0x7fffffffffffffffULL);

    } else {
        buf[0] = '"';

        for (i = 0; i < 16; i++) {
            snprintf(buf + 1 + 2 * i, 3, "%02x", md[i]);
        }

        buf[33] = '"';
        buf[34] = '\0';
    }

    return q2api_buf_append_str(out, buf);
}


static int
q2api_gemini_system(const q2api_request_t *req, q2api_buf_t *out)
{
    if (q2api_gemini_blank(&req->system)) {
        return Q2API_OK;
    }

    if (q2api_gemini_put(out, ",\"systemInstruction\":{\"role\":\"user\","
                              "\"parts\":[{\"text\":") != Q2API_OK
        || q2api_json_append_string(out, req->system.data, req->system.len)
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_gemini_put(out, "}]}");
}


/*
 * A user turn: the answers to the calls of the model turn before it
 * first, one per call in the calls' order (all in this one turn), then
 * its text and images.
 */
static int
q2api_gemini_user(q2api_gemini_writer_t *w, const q2api_message_t *m,
    const q2api_message_t *prev)
{
    q2api_buf_t          *out;
    const q2api_block_t  *b, *c, *r;

    out = w->out;

    for (c = (prev && prev->role == Q2API_ROLE_ASSISTANT) ? prev->blocks
                                                          : NULL;
         c != NULL; c = c->next)
    {
        if (c->type != Q2API_BLOCK_TOOL_USE) {
            continue;
        }

        for (r = m->blocks; r != NULL; r = r->next) {
            if (r->type == Q2API_BLOCK_TOOL_RESULT && r->id.len == c->id.len
                && memcmp(r->id.data, c->id.data, r->id.len) == 0)
            {
                break;
            }
        }

        if (q2api_gemini_response(w, &c->id, &c->name, r) != Q2API_OK) {
            return Q2API_NOMEM;
        }
    }

    for (b = m->blocks; b != NULL; b = b->next) {

        switch (b->type) {

        case Q2API_BLOCK_TOOL_RESULT:
            for (c = (prev && prev->role == Q2API_ROLE_ASSISTANT)
                     ? prev->blocks : NULL;
                 c != NULL; c = c->next)
            {
                if (c->type == Q2API_BLOCK_TOOL_USE && c->id.len == b->id.len
                    && memcmp(c->id.data, b->id.data, c->id.len) == 0)
                {
                    break;
                }
            }

            if (c == NULL && q2api_gemini_orphan(w, b) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            /* images of a result follow the responses */
            for (c = b->content; c != NULL; c = c->next) {
                if (c->type == Q2API_BLOCK_IMAGE
                    && q2api_gemini_image(w, Q2API_ROLE_USER, c) != Q2API_OK)
                {
                    return Q2API_NOMEM;
                }
            }

            break;

        case Q2API_BLOCK_TEXT:
            if (q2api_gemini_blank(&b->text)) {
                break;
            }

            if (q2api_gemini_text(w, Q2API_ROLE_USER, &b->text) != Q2API_OK
                || q2api_buf_append_byte(out, '}') != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            break;

        case Q2API_BLOCK_IMAGE:
            if (q2api_gemini_image(w, Q2API_ROLE_USER, b) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            break;

        default:
            /* thinking in a user turn has no meaning upstream */
            break;
        }
    }

    return Q2API_OK;
}


/* a model turn: thoughts with their signatures, text, calls */
static int
q2api_gemini_model(q2api_gemini_writer_t *w, const q2api_message_t *m)
{
    char                  name[Q2API_GEMINI_TOOL_NAME_MAX + 1];
    size_t                n;
    q2api_buf_t          *out;
    const char           *p;
    const q2api_block_t  *b;

    out = w->out;
    w->sig.len = 0;

    for (b = m->blocks; b != NULL; b = b->next) {

        switch (b->type) {

        case Q2API_BLOCK_THINKING:
            /* a thought without its signature is refused on replay */
            if (b->data.len == 0) {
                break;
            }

            w->sig = b->data;

            if (q2api_gemini_blank(&b->text)) {
                break;
            }

            if (q2api_gemini_text(w, Q2API_ROLE_ASSISTANT, &b->text)
                != Q2API_OK
                || q2api_gemini_put(out, ",\"thought\":true") != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            if (!w->sig_on_thought) {
                /* Gemini signs the part after its thoughts */
                if (q2api_buf_append_byte(out, '}') != Q2API_OK) {
                    return Q2API_NOMEM;
                }

                break;
            }

            if (q2api_gemini_part_end(w, 0) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            break;

        case Q2API_BLOCK_TEXT:
            if (q2api_gemini_blank(&b->text)) {
                break;
            }

            if (q2api_gemini_text(w, Q2API_ROLE_ASSISTANT, &b->text)
                != Q2API_OK
                || q2api_gemini_part_end(w, 0) != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            break;

        case Q2API_BLOCK_TOOL_USE:
            n = q2api_gemini_tool_name(b->name.data, b->name.len, name);

            for (p = b->data.data; p && p < b->data.data + b->data.len
                 && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
                 p++)
            {
                /* void */
            }

            if (q2api_gemini_part(w, Q2API_ROLE_ASSISTANT) != Q2API_OK
                || q2api_gemini_put(out, "{\"functionCall\":{") != Q2API_OK
                || (b->id.len
                    && (q2api_gemini_put(out, "\"id\":") != Q2API_OK
                        || q2api_json_append_string(out, b->id.data,
                                                    b->id.len) != Q2API_OK
                        || q2api_buf_append_byte(out, ',') != Q2API_OK))
                || q2api_gemini_put(out, "\"name\":") != Q2API_OK
                || q2api_json_append_string(out, name, n) != Q2API_OK
                || q2api_gemini_put(out, ",\"args\":") != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            /* args are an object; anything else the client's tool took
             * is wrapped so that it still reaches the model */
            if (p != NULL && p < b->data.data + b->data.len && *p == '{') {
                if (q2api_buf_append(out, b->data.data, b->data.len)
                    != Q2API_OK)
                {
                    return Q2API_NOMEM;
                }

            } else if (b->data.len) {
                if (q2api_gemini_put(out, "{\"input\":") != Q2API_OK
                    || q2api_buf_append(out, b->data.data, b->data.len)
                       != Q2API_OK
                    || q2api_buf_append_byte(out, '}') != Q2API_OK)
                {
                    return Q2API_NOMEM;
                }

            } else if (q2api_gemini_put(out, "{}") != Q2API_OK) {
                return Q2API_NOMEM;
            }

            if (q2api_buf_append_byte(out, '}') != Q2API_OK
                || q2api_gemini_part_end(w, 1) != Q2API_OK)
            {
                return Q2API_NOMEM;
            }

            break;

        case Q2API_BLOCK_IMAGE:
            if (q2api_gemini_image(w, Q2API_ROLE_ASSISTANT, b) != Q2API_OK) {
                return Q2API_NOMEM;
            }

            break;

        default:
            /* redacted thinking: nothing Gemini can read */
            break;
        }
    }

    if (w->sig.len) {
        /* a signature with no part after it travels alone */
        if (q2api_gemini_part(w, Q2API_ROLE_ASSISTANT) != Q2API_OK
            || q2api_gemini_put(out, "{\"text\":\"\"") != Q2API_OK
            || q2api_gemini_part_end(w, 0) != Q2API_OK)
        {
            return Q2API_NOMEM;
        }
    }

    return Q2API_OK;
}


static int
q2api_gemini_response(q2api_gemini_writer_t *w, const q2api_str_t *id,
    const q2api_str_t *name, const q2api_block_t *r)
{
    char          gname[Q2API_GEMINI_TOOL_NAME_MAX + 1];
    size_t        n;
    q2api_buf_t  *out;

    out = w->out;
    n = q2api_gemini_tool_name(name->data, name->len, gname);

    if (q2api_gemini_part(w, Q2API_ROLE_USER) != Q2API_OK
        || q2api_gemini_put(out, "{\"functionResponse\":{") != Q2API_OK
        || (id->len
            && (q2api_gemini_put(out, "\"id\":") != Q2API_OK
                || q2api_json_append_string(out, id->data, id->len)
                   != Q2API_OK
                || q2api_buf_append_byte(out, ',') != Q2API_OK))
        || q2api_gemini_put(out, "\"name\":") != Q2API_OK
        || q2api_json_append_string(out, gname, n) != Q2API_OK
        || q2api_gemini_put(out, ",\"response\":{") != Q2API_OK
        || q2api_buf_append_str(out, (r && r->is_error) ? "\"error\":"
                                                        : "\"output\":")
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    if (r == NULL) {
        if (q2api_gemini_put(out, "\"" Q2API_GEMINI_NO_RESULT "\"")
            != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

    } else if (q2api_gemini_result_text(out, r) != Q2API_OK) {
        return Q2API_NOMEM;
    }

    return q2api_gemini_put(out, "}}}");
}


/*
 * A result of no call just made (the client's history was cut or
 * reordered): Gemini refuses an unpaired response, so the model reads it
 * as text.
 */
static int
q2api_gemini_orphan(q2api_gemini_writer_t *w, const q2api_block_t *r)
{
    int                   rc;
    q2api_str_t           t;
    q2api_buf_t           text;
    const q2api_block_t  *c;

    q2api_buf_init(&text, 0);

    rc = (q2api_gemini_put(&text, "[result of tool call ") == Q2API_OK
          && q2api_buf_append(&text, r->id.data, r->id.len) == Q2API_OK
          && q2api_buf_append_str(&text, r->is_error ? " (error)]\n" : "]\n")
             == Q2API_OK
          && q2api_buf_append(&text, r->text.data, r->text.len) == Q2API_OK)
         ? Q2API_OK : Q2API_NOMEM;

    for (c = r->content; c != NULL && rc == Q2API_OK; c = c->next) {
        if (c->type == Q2API_BLOCK_TEXT) {
            rc = q2api_buf_append(&text, c->text.data, c->text.len);
        }
    }

    t.data = (char *) text.data;
    t.len = text.len;

    if (rc == Q2API_OK
        && (q2api_gemini_text(w, Q2API_ROLE_USER, &t) != Q2API_OK
            || q2api_buf_append_byte(w->out, '}') != Q2API_OK))
    {
        rc = Q2API_NOMEM;
    }

    q2api_buf_free(&text);

    return rc;
}


/* a result's text as a JSON string: its text blocks joined by "\n" (its
 * images become parts of their own) */
static int
q2api_gemini_result_text(q2api_buf_t *out, const q2api_block_t *r)
{
    int                   rc;
    q2api_buf_t           text;
    const q2api_block_t  *c;

    if (r->content == NULL) {
        return q2api_json_append_string(out, r->text.data, r->text.len);
    }

    q2api_buf_init(&text, 0);
    rc = Q2API_OK;

    for (c = r->content; c != NULL && rc == Q2API_OK; c = c->next) {
        if (c->type != Q2API_BLOCK_TEXT) {
            continue;
        }

        if (text.len) {
            rc = q2api_buf_append_byte(&text, '\n');
        }

        if (rc == Q2API_OK) {
            rc = q2api_buf_append(&text, c->text.data, c->text.len);
        }
    }

    if (rc == Q2API_OK) {
        rc = q2api_json_append_string(out, (char *) text.data, text.len);
    }

    q2api_buf_free(&text);

    return rc;
}


static int
q2api_gemini_image(q2api_gemini_writer_t *w, int role, const q2api_block_t *b)
{
    if (b->data.len == 0) {
        return Q2API_OK;
    }

    if (q2api_gemini_part(w, role) != Q2API_OK
        || q2api_gemini_put(w->out, "{\"inlineData\":{\"mimeType\":")
           != Q2API_OK
        || q2api_json_append_string(w->out, b->media_type.data,
                                    b->media_type.len) != Q2API_OK
        || q2api_gemini_put(w->out, ",\"data\":") != Q2API_OK
        || q2api_json_append_string(w->out, b->data.data, b->data.len)
           != Q2API_OK
        || q2api_gemini_put(w->out, "}}") != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/*
 * Before a part: a turn of the part's role opens (closing the other), or
 * the part joins the open one.  Turns thus alternate and are never empty,
 * whatever blocks were dropped.
 */
static int
q2api_gemini_part(q2api_gemini_writer_t *w, int role)
{
    if (w->role == role) {
        return q2api_buf_append_byte(w->out, ',');
    }

    if (w->role >= 0 && q2api_gemini_put(w->out, "]},") != Q2API_OK) {
        return Q2API_NOMEM;
    }

    w->role = role;
    w->nturns++;

    return q2api_buf_append_str(w->out, role == Q2API_ROLE_USER
                                        ? "{\"role\":\"user\",\"parts\":["
                                        : "{\"role\":\"model\",\"parts\":[");
}


/* a text part, open for what else it carries */
static int
q2api_gemini_text(q2api_gemini_writer_t *w, int role, const q2api_str_t *text)
{
    if (q2api_gemini_part(w, role) != Q2API_OK
        || q2api_gemini_put(w->out, "{\"text\":") != Q2API_OK
        || q2api_json_append_string(w->out, text->data, text->len)
           != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return Q2API_OK;
}


/* the end of a model part: the signature it carries, if any */
static int
q2api_gemini_part_end(q2api_gemini_writer_t *w, int call)
{
    if (w->sig.len) {
        if (q2api_gemini_put(w->out, ",\"thoughtSignature\":") != Q2API_OK
            || q2api_json_append_string(w->out, w->sig.data, w->sig.len)
               != Q2API_OK)
        {
            return Q2API_NOMEM;
        }

        w->sig.len = 0;

    } else if (call && w->signs
               && q2api_gemini_put(w->out, ",\"thoughtSignature\":\""
                                   Q2API_GEMINI_DUMMY_SIGNATURE "\"")
                  != Q2API_OK)
    {
        return Q2API_NOMEM;
    }

    return q2api_buf_append_byte(w->out, '}');
}


static int
q2api_gemini_blank(const q2api_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] != ' ' && s->data[i] != '\t' && s->data[i] != '\n'
            && s->data[i] != '\r')
        {
            return 0;
        }
    }

    return 1;
}
