/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The canonical conversation and the canonical event stream.  Front ends
 * (Claude Messages, OpenAI Chat Completions) translate client bodies into a
 * q2api_request_t and canonical events back into their wire format; back
 * ends (Amazon Q, Gemini) translate q2api_request_t into their body and
 * their stream into canonical events.  Front ends and back ends meet only
 * here, so adding one of either is one file, not a row of files.
 */

#ifndef _Q2API_CANON_H_INCLUDED_
#define _Q2API_CANON_H_INCLUDED_


#include <time.h>

#include "q2api_core.h"
#include "q2api_arena.h"
#include "q2api_nul.h"


typedef enum {
    Q2API_ROLE_USER = 0,
    Q2API_ROLE_ASSISTANT
} q2api_role_e;


typedef enum {
    Q2API_BLOCK_TEXT = 0,
    Q2API_BLOCK_IMAGE,
    Q2API_BLOCK_TOOL_USE,
    Q2API_BLOCK_TOOL_RESULT,
    Q2API_BLOCK_THINKING,
    Q2API_BLOCK_REDACTED_THINKING
} q2api_block_type_e;


typedef struct q2api_block_s  q2api_block_t;

struct q2api_block_s {
    q2api_block_type_e   type;
    q2api_str_t          text;        /* text, thinking, tool result text */
    q2api_str_t          id;          /* tool_use id, tool_result's use id */
    q2api_str_t          name;        /* tool name */
    q2api_str_t          media_type;  /* image: its MIME type, "image/png" */
    q2api_str_t          data;        /* image base64; tool input JSON;
                                         thinking signature; redacted data */
    unsigned             is_error:1;  /* tool result */

    /*
     * A tool result given as blocks: its text and image blocks in the
     * client's order (text is then empty); a back end that cannot take
     * some of them decides what stands in for them.
     */
    q2api_block_t       *content;
    q2api_block_t       *next;
};


typedef struct q2api_message_s  q2api_message_t;

struct q2api_message_s {
    q2api_role_e         role;
    q2api_block_t       *blocks;
    q2api_message_t     *next;
};


typedef struct q2api_tool_s  q2api_tool_t;

struct q2api_tool_s {
    q2api_str_t          name;        /* as the client named it */
    q2api_str_t          description;
    q2api_str_t          schema;      /* input schema, compact JSON */
    q2api_tool_t        *next;
};


typedef enum {
    Q2API_TOOL_CHOICE_AUTO = 0,
    Q2API_TOOL_CHOICE_ANY,
    Q2API_TOOL_CHOICE_TOOL,
    Q2API_TOOL_CHOICE_NONE
} q2api_tool_choice_e;


/* the shape the client wants the answer in (OpenAI's response_format) */
typedef enum {
    Q2API_FORMAT_TEXT = 0,
    Q2API_FORMAT_JSON_OBJECT,
    Q2API_FORMAT_JSON_SCHEMA
} q2api_format_e;


typedef struct {
    q2api_arena_t        arena;       /* owns everything below */
    void                *json;        /* the parsed client body (cJSON *);
                                         strings above point into it */
    unsigned             json_in_arena:1; /* that tree is on the arena
                                         (q2api_arena_json_begin) */

    q2api_str_t          model;       /* the client's model string */
    q2api_str_t          user_id;     /* metadata.user_id, opaque */
    q2api_str_t          system;      /* all system text, joined by "\n" */
    q2api_message_t     *messages;    /* alternating, user first */
    q2api_message_t     *last;
    unsigned             nmessages;
    q2api_tool_t        *tools;
    unsigned             ntools;
    unsigned             nserver_tools;  /* Anthropic-hosted, dropped */
    q2api_str_t          server_tool;    /* the first one's type */
    q2api_tool_choice_e  tool_choice;
    q2api_str_t          tool_choice_name;
    unsigned             one_tool_call:1;  /* no parallel tool calls */

    q2api_format_e       format;
    q2api_str_t          format_name;    /* JSON_SCHEMA: its name */
    q2api_str_t          format_schema;  /* JSON_SCHEMA: compact JSON */

    long long            max_tokens;  /* -1: not given */

    /* sampling, for the back ends that honour it */
    double               temperature; /* < 0: not given */
    double               top_p;       /* < 0: not given */
    long long            top_k;       /* -1: not given */
    q2api_str_t         *stop_sequences;
    unsigned             nstop_sequences;

    unsigned             stream:1;
    unsigned             thinking:1;
    long long            thinking_budget;
} q2api_request_t;


/*
 * A string member of req->json with the NULs the client sent in it: they
 * are marked in the tree (q2api_nul.h), cJSON would cut them.  Every
 * client string the canonical request keeps goes through it.
 */
#define q2api_request_str(req, item)                                       \
    q2api_nul_string(&(req)->arena, (item)->valuestring)


/*
 * Errors in one vocabulary; each front end renders them in its dialect
 * (status, type string, envelope).
 */
typedef enum {
    Q2API_ERR_NONE = 0,
    Q2API_ERR_INVALID_REQUEST,       /* 400 */
    Q2API_ERR_AUTHENTICATION,        /* 401 */
    Q2API_ERR_BILLING,               /* 402 */
    Q2API_ERR_PERMISSION,            /* 403 */
    Q2API_ERR_NOT_FOUND,             /* 404 */
    Q2API_ERR_METHOD,                /* 405 */
    Q2API_ERR_TOO_LARGE,             /* 413 */
    Q2API_ERR_RATE_LIMIT,            /* 429 */
    Q2API_ERR_API,                   /* 500 */
    Q2API_ERR_BAD_GATEWAY,           /* 502 */
    Q2API_ERR_UNAVAILABLE,           /* 503 */
    Q2API_ERR_TIMEOUT,               /* 504 */
    Q2API_ERR_OVERLOADED,            /* 529 */

    /*
     * 400: the conversation is larger than the back end takes.  Its own
     * kind because clients act on it (Claude Code compacts its context
     * when told in the words its front end chooses).
     */
    Q2API_ERR_CONTEXT_EXCEEDED
} q2api_err_e;


#define Q2API_ERR_MSG_LEN  512

typedef struct {
    q2api_err_e          kind;
    char                 message[Q2API_ERR_MSG_LEN];
} q2api_error_t;


void q2api_error_set(q2api_error_t *err, q2api_err_e kind, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
int q2api_err_status(q2api_err_e kind);


/*
 * Account health in one vocabulary: each back end classifies its upstream
 * failures into it, the pool acts on it, and the front end renders
 * client_error in its dialect.
 */
typedef enum {
    Q2API_HEALTH_OK = 0,
    Q2API_HEALTH_CLIENT,         /* the request's fault: no penalty */
    Q2API_HEALTH_AUTH,           /* token expired or invalid: refresh */
    Q2API_HEALTH_SUSPENDED,      /* account locked: out of rotation */
    Q2API_HEALTH_QUOTA,          /* quota used up: out until reset */
    Q2API_HEALTH_THROTTLED,      /* rate limited: cool down */
    Q2API_HEALTH_CAPACITY,       /* service side: next account */
    Q2API_HEALTH_FORBIDDEN,      /* other 403 */

    /*
     * Back ends whose quota is per model (Gemini): the account stays in
     * rotation for other models.
     */
    Q2API_HEALTH_MODEL_QUOTA,    /* this model out on it until reset */
    Q2API_HEALTH_MODEL_UNSERVED, /* this model is not served by it */
    Q2API_HEALTH_PROJECT         /* its project is wrong: discover again */
} q2api_health_e;

typedef struct {
    q2api_health_e           health;
    q2api_err_e              client_error;
    char                     message[Q2API_ERR_MSG_LEN];
    char                     reason[64];
    char                     model[64];    /* the model it is about, "" */
    time_t                   reset_at;     /* when it is over; 0: unknown */
    long long                retry_after;  /* or in seconds; 0: unknown */
} q2api_upstream_error_t;


typedef enum {
    Q2API_STOP_NONE = 0,
    Q2API_STOP_END_TURN,
    Q2API_STOP_TOOL_USE,
    Q2API_STOP_MAX_TOKENS,
    Q2API_STOP_CONTEXT_EXCEEDED,
    Q2API_STOP_REFUSAL           /* the back end's safety filter stopped it */
} q2api_stop_e;


typedef enum {
    Q2API_EV_BEGIN = 0,           /* first backend frame: the reply exists */
    Q2API_EV_TEXT,                /* text: a text delta */
    Q2API_EV_THINKING,            /* text: a thinking delta */
    Q2API_EV_SIGNATURE,           /* text: signature of the thinking block */
    Q2API_EV_REDACTED_THINKING,   /* text: opaque data */
    Q2API_EV_TOOL_START,          /* id, name */
    Q2API_EV_TOOL_INPUT,          /* text: a fragment of the input JSON */
    Q2API_EV_TOOL_STOP,
    Q2API_EV_USAGE,               /* usage figures from the backend */
    Q2API_EV_STOP,                /* stop: a reason the backend decided */
    Q2API_EV_ERROR                /* error, text: message; ends the reply */
} q2api_event_type_e;


typedef struct {
    long long            input_tokens;     /* -1: unknown */
    long long            output_tokens;    /* -1: unknown */
    long long            cache_read_tokens;
    long long            cache_write_tokens;
    double               context_percent;  /* < 0: unknown */
} q2api_usage_t;


typedef struct {
    q2api_event_type_e   type;
    q2api_str_t          text;
    q2api_str_t          id;
    q2api_str_t          name;
    q2api_stop_e         stop;
    q2api_err_e          error;
    q2api_usage_t        usage;
} q2api_event_t;


/* where a back end delivers events; a non-OK return stops the decoding */
typedef int (*q2api_event_handler_pt)(void *data, const q2api_event_t *ev);


void q2api_request_init(q2api_request_t *req);
void q2api_request_free(q2api_request_t *req);

/* appends a message, merging into the previous one when the role repeats
 * (the backends want strictly alternating turns) */
q2api_message_t *q2api_request_add_message(q2api_request_t *req,
    q2api_role_e role);
q2api_block_t *q2api_message_add_block(q2api_request_t *req,
    q2api_message_t *msg, q2api_block_type_e type);

/* *dst = *dst + "\n" + s, in the arena (system prompts, joined parts) */
int q2api_request_append_text(q2api_request_t *req, q2api_str_t *dst,
    const char *s, size_t len);

/* a rough count of the request's input tokens (chars / 4 of every text) */
long long q2api_request_estimate_tokens(const q2api_request_t *req);
long long q2api_estimate_tokens(size_t bytes);

void q2api_usage_init(q2api_usage_t *u);

/* the figures from gives over u's (a back end sends them in pieces) */
void q2api_usage_merge(q2api_usage_t *u, const q2api_usage_t *from);

/*
 * A client body as a JSON object, kept in req->json; NULL and err (the
 * body is empty, not UTF-8, not one JSON document, not an object)
 * otherwise.  Returned as void * to keep cJSON out of this header.
 */
void *q2api_request_json(q2api_request_t *req, const char *body, size_t len,
    q2api_error_t *err);

/* a random UUIDv4 into out[37] (NUL-terminated); Q2API_OK or Q2API_ERROR */
int q2api_uuid4(char *out);


#endif /* _Q2API_CANON_H_INCLUDED_ */
