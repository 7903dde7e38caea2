/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Types shared by the module's nginx glue.  The protocol itself lives in
 * src/core (no nginx types); these files move bytes between nginx and it.
 */

#ifndef _NGX_HTTP_Q2API_H_INCLUDED_
#define _NGX_HTTP_Q2API_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "q2api_buf.h"
#include "q2api_canon.h"
#include "q2api_front.h"
#include "q2api_back.h"

#include "ngx_http_q2api_kind.h"
#include "ngx_http_q2api_accounts.h"
#include "ngx_http_q2api_store.h"
#include "ngx_http_q2api_token.h"
#include "ngx_http_q2api_util.h"
#include "ngx_http_q2api_responses_store.h"



/* module ctx objects of both kinds start with this, so a filter can tell
 * the client request's state from one attempt's */
#define NGX_HTTP_Q2API_CTX_REQUEST      0x71327271
#define NGX_HTTP_Q2API_CTX_ATTEMPT      0x71326174
#define NGX_HTTP_Q2API_CTX_CALL         0x71326361

#define NGX_HTTP_Q2API_ERROR_BODY_MAX   4096

/* a token with less left than this is refreshed before it is used */
#define NGX_HTTP_Q2API_REFRESH_AHEAD    300


typedef struct {
    ngx_http_q2api_accounts_t     *accounts;
    ngx_shm_zone_t            *shm_zone;
    ngx_http_q2api_store_t    *store;
    ngx_flag_t                 zone_implicit;
    ngx_msec_t                 store_interval;
    ngx_http_q2api_seal_t     *store_key;     /* q2api_store_key */
    ngx_uint_t                 max_errors;
    ngx_http_q2api_responses_t *responses;    /* q2api_responses_store */
} ngx_http_q2api_main_conf_t;


/* where the attempts of one kind of account go */
typedef struct {
    ngx_str_t                  location;      /* internal, proxy_pass */
    ngx_http_complex_value_t  *url;           /* $q2api_upstream_url */
} ngx_http_q2api_kind_conf_t;


/* a client key of q2api_api_key; its name goes to logs and metrics, the
 * key nowhere */
typedef struct {
    ngx_str_t                  key;
    ngx_str_t                  name;          /* empty: none given */
    ngx_uint_t                 slot;          /* its metrics label */
} ngx_http_q2api_api_key_t;


typedef struct {
    const q2api_front_t       *front;         /* q2api_pass */
    ngx_http_q2api_kind_conf_t kinds[NGX_HTTP_Q2API_KINDS];
    ngx_str_t                  oidc_url;
    ngx_str_t                  kiro_auth_url;
    ngx_str_t                  kiro_usage_url;
    ngx_str_t                  kiro_profiles_url;
    ngx_str_t                  google_oauth_url;
    ngx_str_t                  code_assist_url; /* empty: the account's */
    ngx_msec_t                 gemini_onboard_poll;
    time_t                     gemini_quota_interval; /* 0: off */
    ngx_str_t                  gemini_client_id[NGX_HTTP_Q2API_GEMINI_FLAVOURS];
    ngx_str_t                  gemini_client_secret[
                                   NGX_HTTP_Q2API_GEMINI_FLAVOURS];
    size_t                     stream_buffer;
    ngx_array_t               *api_keys;      /* of ..._api_key_t */
    ngx_array_t               *models;        /* of q2api_model_t */
    ngx_str_t                  default_model;
    ngx_msec_t                 ping_interval;
    ngx_uint_t                 strategy;      /* q2api_select */
    ngx_flag_t                 affinity;
    time_t                     affinity_timeout;
    ngx_uint_t                 max_attempts;
    ngx_array_t               *account_header_keys; /* the same */
} ngx_http_q2api_loc_conf_t;


typedef enum {
    NGX_HTTP_Q2API_EP_NONE = 0,
    NGX_HTTP_Q2API_EP_MESSAGES,
    NGX_HTTP_Q2API_EP_COUNT_TOKENS,
    NGX_HTTP_Q2API_EP_MODELS,
    NGX_HTTP_Q2API_EP_MODEL
} ngx_http_q2api_endpoint_e;


typedef struct ngx_http_q2api_ctx_s  ngx_http_q2api_ctx_t;


/* one upstream call, the module ctx of its subrequest */
typedef struct {
    uint32_t                   magic;
    ngx_http_q2api_ctx_t      *ctx;
    ngx_http_request_t        *request;       /* the subrequest */
    ngx_http_q2api_pick_t      account;
    u_char                     invocation_id[37];
    ngx_str_t                  body;          /* what this attempt sends */
    q2api_str_t                model_id;      /* the model it asks for */

    ngx_int_t                  status;        /* upstream HTTP status */
    ngx_msec_t                 last_input;    /* when bytes last came */
    ngx_buf_t                 *error_body;    /* first bytes of a failure */

    unsigned                   header_seen:1;
    unsigned                   streaming:1;   /* 200, decoding frames */
    unsigned                   eof:1;         /* last_in_chain seen */
    unsigned                   timed_out:1;   /* proxy_read_timeout */
    unsigned                   framed:1;      /* a length or chunked: its
                                                 end proves the answer whole */
    unsigned                   corrupt:1;     /* bad frame / truncated */
    unsigned                   finalized:1;   /* post_subrequest ran */
} ngx_http_q2api_attempt_t;


/* the client request */
struct ngx_http_q2api_ctx_s {
    uint32_t                   magic;
    ngx_http_request_t        *request;
    ngx_http_q2api_loc_conf_t *conf;

    q2api_request_t            req;           /* canonical request */
    q2api_str_t                model_id;      /* the backend's model */
    const char                *back_name;     /* the back end serving it */
    q2api_str_t                alt_model_id;  /* a Claude model's id on
                                                 Antigravity accounts */
    q2api_buf_t                body;          /* the attempt's body */
    q2api_buf_t                out;           /* bytes for the client */
    ngx_str_t                  history;       /* previous_response_id's */

    const q2api_front_t       *front;
    void                      *front_state;
    const q2api_back_t        *back;          /* the attempt's back end */
    void                      *back_state;    /* the largest back end's */

    /* the answer's size, for the account's counters, from the canonical
     * events: the back end's figures, else an estimate */
    q2api_usage_t              usage;
    long long                  input_estimate;
    size_t                     output_bytes;

    ngx_http_q2api_endpoint_e  endpoint;
    ngx_http_q2api_attempt_t  *attempt;
    ngx_uint_t                 attempts;
    ngx_event_t                ping;          /* keep-alive while silent */
    ngx_msec_t                 last_output;
    u_char                     request_id[48];

    ngx_chain_t               *in;            /* upstream bytes held back */
    ngx_chain_t               *in_free;       /* links for them, reused */
    ngx_chain_t               *page;          /* replaces nginx's page */
    ngx_chain_t               *free;          /* recycled output buffers */
    ngx_chain_t               *busy;
    ngx_uint_t                 stream_buffers; /* links and buffers taken */

    q2api_err_e                error;         /* failure to report */
    u_char                     error_message[Q2API_ERR_MSG_LEN];
    ngx_http_q2api_outcome_e   outcome;       /* for the account's health */
    u_char                     reason[64];

    ngx_str_t                  client_key;
    ngx_http_q2api_api_key_t  *key;           /* client_key's entry */

    /* for metrics and the access log */
    ngx_msec_t                 ttfb;          /* ms to the header, + 1 */
    q2api_stop_e               stop;
    q2api_err_e                answered;      /* the error sent */
    ngx_http_q2api_attempt_t  *counted;       /* the last attempt counted */
    ngx_uint_t                 counted_back;
    ngx_uint_t                 counted_class;
    ngx_str_t                  affinity;      /* conversation key */
    ngx_str_t                  want;          /* X-Account-ID */
    ngx_str_t                 *tried;         /* accounts of this request */
    time_t                     retry_after;
    ngx_str_t                  refreshing;    /* the account waited for */

    unsigned                   stream:1;
    unsigned                   committed:1;   /* bytes went to the client */
    unsigned                   failed:1;      /* error before commit */
    unsigned                   stream_error:1;/* error event was written */
    unsigned                   done:1;
    unsigned                   replied:1;     /* we set the response */
    unsigned                   waiting:1;     /* for a token refresh */
    unsigned                   force:1;       /* want an account as it is */
    unsigned                   auth_retried:1;
    unsigned                   discovered:1;  /* the account's project was
                                                 looked up for this request */
    unsigned                   project_refused:1;
    unsigned                   tool_open:1;
    unsigned                   rewrite:1;     /* an nginx error page is
                                                 being replaced */
    unsigned                   no_account:1;  /* none could be tried */
    unsigned                   had_tool:1;
    unsigned                   gemini_alias:1;/* /v1/gemini/messages */
};


extern ngx_module_t  ngx_http_q2api_module;


/* variables */
ngx_int_t ngx_http_q2api_add_variables(ngx_conf_t *cf);

/* handler */
ngx_int_t ngx_http_q2api_handler(ngx_http_request_t *r);

/* attempts on Gemini accounts */
void ngx_http_q2api_model_out(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_upstream_error_t *ue);
void ngx_http_q2api_quota_when_due(ngx_http_request_t *r,
    ngx_http_q2api_pick_t *pick);
ngx_int_t ngx_http_q2api_discover_then_launch(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id, ngx_uint_t flags);
/* a refresh or lookup over: the attempt it held back, or the next one */
void ngx_http_q2api_resume(ngx_http_request_t *r, ngx_http_q2api_ctx_t *ctx,
    ngx_int_t rc, ngx_str_t *message, const char *failure);

/* models */
char *ngx_http_q2api_model_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_q2api_resolve_model(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_str_t *upstream, q2api_error_t *err);
ngx_int_t ngx_http_q2api_models_handler(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id);


/* attempt: pick an account and start its subrequest (NGX_DECLINED, or
 * NGX_BUSY for a named account: none to start, see no_account) */
ngx_int_t ngx_http_q2api_start_attempt(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
ngx_int_t ngx_http_q2api_launch_attempt(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_http_q2api_pick_t *pick);
/* the attempt is over: health, counters, the failure's name */
void ngx_http_q2api_attempt_done(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
/* NGX_OK: another attempt started; NGX_DECLINED: answer the failure */
ngx_int_t ngx_http_q2api_attempt_again(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
/* the answer when no attempt could start */
ngx_int_t ngx_http_q2api_no_account(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_int_t rc);
ngx_int_t ngx_http_q2api_refresh_then_launch(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_str_t *id);
ngx_int_t ngx_http_q2api_subrequest_body(ngx_http_request_t *r,
    ngx_http_request_t *sr, u_char *data, size_t len);

/* filter */
ngx_int_t ngx_http_q2api_filter_init(ngx_conf_t *cf);
ngx_chain_t *ngx_http_q2api_take_out(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_uint_t last);
void ngx_http_q2api_recycle_out(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_chain_t *out);
void ngx_http_q2api_drop_in(ngx_http_q2api_ctx_t *ctx);

/* response */
ngx_http_q2api_ctx_t *ngx_http_q2api_create_ctx(ngx_http_request_t *r);
ngx_int_t ngx_http_q2api_error_page(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_chain_t **out);
ngx_int_t ngx_http_q2api_send_error(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_err_e kind, const char *message);
ngx_int_t ngx_http_q2api_send_stream_header(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);
ngx_int_t ngx_http_q2api_send_json(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, ngx_uint_t status, u_char *data, size_t len);

/* responses: previous_response_id before the backend, store after it */
ngx_int_t ngx_http_q2api_responses_continue(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx, q2api_error_t *err);
void ngx_http_q2api_responses_keep(ngx_http_request_t *r,
    ngx_http_q2api_ctx_t *ctx);


#endif /* _NGX_HTTP_Q2API_H_INCLUDED_ */
