/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Requests to the gateway's test location: POST /v2/chat/test (an
 * internal redirect), and the test subrequests of jobs, whose answers the
 * filters here keep for the verdict instead of sending them.
 */


#include "ngx_http_q2api.h"
#include "ngx_http_q2api_admin.h"


static ngx_int_t ngx_http_q2api_admin_test_uri(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *uri);
static ngx_int_t ngx_http_q2api_admin_probe_done(ngx_http_request_t *sr,
    void *data, ngx_int_t rc);
static void ngx_http_q2api_admin_wake(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_q2api_admin_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


static ngx_str_t  ngx_http_q2api_admin_post = ngx_string("POST");

/* what the deep health check and a fed account's test send */
static char  ngx_http_q2api_admin_probe_body[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":16,\"stream\":false,"
    "\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}";


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_q2api_admin_filter_init(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_q2api_admin_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_q2api_admin_body_filter;

    return NGX_OK;
}


/* the test location's arguments naming account "id" */
static ngx_int_t
ngx_http_q2api_admin_test_args(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *args)
{
    u_char     *p;
    uintptr_t   escape;

    escape = ngx_escape_uri(NULL, id->data, id->len, NGX_ESCAPE_ARGS);

    args->len = sizeof("q2api_account=") - 1 + id->len + 2 * escape;
    args->data = ngx_pnalloc(r->pool, args->len);
    if (args->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(args->data, "q2api_account=",
                   sizeof("q2api_account=") - 1);
    (void) ngx_escape_uri(p, id->data, id->len, NGX_ESCAPE_ARGS);

    return NGX_OK;
}


/*
 * The account_id argument and the test location's arguments naming it:
 * NGX_OK (none given, or a known account), NGX_DECLINED (unknown),
 * NGX_ERROR.
 */
ngx_int_t
ngx_http_q2api_admin_account_arg(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *args)
{
    ngx_int_t                       rc;
    ngx_str_t                       id;
    ngx_http_q2api_account_data_t   d;

    ngx_str_null(args);

    rc = ngx_http_q2api_admin_arg(r, "account_id", &id);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED || id.len == 0) {
        return NGX_OK;
    }

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &id, r->pool, &d);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->id = id;

    return ngx_http_q2api_admin_test_args(r, &id, args);
}


/*
 * The test location's URI for the body's dialect: its API root (the test
 * location without the tail a front end answers under) and the tail of
 * the front end that ?dialect= names, or else the body's shape shows:
 * Anthropic requires max_tokens, so a body without it, or with OpenAI's
 * own max_completion_tokens or stream_options, is a Chat Completions one
 * (as q2api's console sends it).
 */
static ngx_int_t
ngx_http_q2api_admin_test_uri(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *uri)
{
    size_t                 n, root;
    cJSON                 *body;
    ngx_int_t              rc;
    ngx_str_t              name, *loc;
    const q2api_front_t   *front, **f;

    loc = &ctx->conf->test_location;

    rc = ngx_http_q2api_admin_arg(r, "dialect", &name);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        front = q2api_front_find((char *) name.data, name.len);

        if (front == NULL) {
            return NGX_DECLINED;
        }

    } else {
        body = cJSON_ParseWithLength((char *) ctx->body.data, ctx->body.len);

        front = q2api_front_find("claude", 6);

        if (cJSON_IsObject(body)
            && (!cJSON_HasObjectItem(body, "max_tokens")
                || cJSON_HasObjectItem(body, "max_completion_tokens")
                || cJSON_HasObjectItem(body, "stream_options")))
        {
            front = q2api_front_find("openai", 6);
        }

        cJSON_Delete(body);

        if (front == NULL) {
            return NGX_ERROR;
        }
    }

    root = loc->len;

    for (f = q2api_fronts; *f != NULL; f++) {
        n = ngx_strlen((*f)->messages_path);

        if (loc->len > n
            && ngx_strncmp(loc->data + loc->len - n, (*f)->messages_path, n)
               == 0)
        {
            root = loc->len - n;
            break;
        }
    }

    n = ngx_strlen(front->messages_path);

    uri->data = ngx_pnalloc(r->pool, root + n);
    if (uri->data == NULL) {
        return NGX_ERROR;
    }

    uri->len = ngx_cpymem(ngx_cpymem(uri->data, loc->data, root),
                          front->messages_path, n)
               - uri->data;

    return NGX_OK;
}


/*
 * POST /v2/chat/test?account_id=&dialect=: the body (a Claude Messages or
 * an OpenAI Chat Completions request) goes to the internal test location
 * on that account, or on one the pool chooses; the client gets that
 * location's answer as it is, in the body's dialect.
 */
ngx_int_t
ngx_http_q2api_admin_chat_test(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t  rc;
    ngx_str_t  args, uri;

    rc = ngx_http_q2api_admin_account_arg(r, ctx, &args);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->body.len == 0) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "body: a Claude Messages request "
                                           "is required");
    }

    rc = ngx_http_q2api_admin_test_uri(r, ctx, &uri);

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "dialect: expected \"claude\" "
                                           "or \"openai\"");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the admin credentials are not the gateway's client key */
    r->headers_in.authorization = NULL;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "q2api admin: chat test on %s\"%V\"",
                  ctx->id.len ? "account " : "any account", &ctx->id);

    return ngx_http_internal_redirect(r, &uri, &args);
}


/*
 * A Claude request to the test location (q2api_pass claude), on the
 * item's account when it names one; its answer is swallowed by the
 * filters below and only its status and first bytes are kept.
 */
ngx_int_t
ngx_http_q2api_admin_start_probe(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_admin_item_t *it)
{
    ngx_str_t                      args;
    ngx_http_request_t            *sr;
    ngx_http_post_subrequest_t    *ps;
    ngx_http_q2api_admin_probe_t  *probe;

    probe = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_admin_probe_t));
    if (probe == NULL) {
        return NGX_ERROR;
    }

    probe->magic = NGX_HTTP_Q2API_ADMIN_PROBE;
    probe->start = ngx_current_msec;

    probe->body = ngx_pnalloc(r->pool, NGX_HTTP_Q2API_ADMIN_PROBE_BODY);
    if (probe->body == NULL) {
        return NGX_ERROR;
    }

    ngx_str_null(&args);

    if (it->id.len
        && ngx_http_q2api_admin_test_args(r, &it->id, &args) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ps == NULL) {
        return NGX_ERROR;
    }

    ps->handler = ngx_http_q2api_admin_probe_done;
    ps->data = probe;

    if (ngx_http_subrequest(r, &ctx->conf->test_location,
                            args.len ? &args : NULL, &sr, ps,
                            NGX_HTTP_SUBREQUEST_WAITED)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_set_ctx(sr, probe, ngx_http_q2api_admin_module);
    probe->request = sr;

    if (ngx_http_q2api_subrequest_body(r, sr,
            (u_char *) ngx_http_q2api_admin_probe_body,
            sizeof(ngx_http_q2api_admin_probe_body) - 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    sr->method = NGX_HTTP_POST;
    sr->method_name = ngx_http_q2api_admin_post;

    /* the admin credentials are not the gateway's client key */
    sr->headers_in.authorization = NULL;

    ctx->probe = probe;
    ctx->waiting = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_probe_done(ngx_http_request_t *sr, void *data,
    ngx_int_t rc)
{
    ngx_http_q2api_admin_probe_t  *probe = data;

    if (probe->finalized) {
        return NGX_OK;
    }

    probe->finalized = 1;
    probe->elapsed = ngx_current_msec - probe->start;

    if (probe->status == 0) {
        probe->status = sr->headers_out.status
                        ? sr->headers_out.status
                        : (rc >= NGX_HTTP_SPECIAL_RESPONSE
                           ? (ngx_uint_t) rc : NGX_HTTP_BAD_GATEWAY);
    }

    /* whoever waited on it before, the admin request goes on now */
    sr->parent->write_event_handler = ngx_http_q2api_admin_wake;

    /* NGX_OK: no error page of nginx's into this request */
    return NGX_OK;
}


static void
ngx_http_q2api_admin_wake(ngx_http_request_t *r)
{
    cJSON                         *o, *e, *m;
    ngx_http_q2api_admin_ctx_t    *ctx;
    ngx_http_q2api_admin_item_t   *it;
    ngx_http_q2api_admin_probe_t  *probe;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    probe = ctx->probe;

    if (probe == NULL || !probe->finalized) {
        return;
    }

    ctx->probe = NULL;

    it = (ngx_http_q2api_admin_item_t *) ctx->items.elts + ctx->current;

    it->status = probe->status;
    it->elapsed = probe->elapsed;
    it->ok = probe->status == NGX_HTTP_OK;

    if (!it->ok) {
        /* the gateway's error envelope says why */
        o = cJSON_ParseWithLength((char *) probe->body, probe->len);
        e = cJSON_GetObjectItemCaseSensitive(o, "error");
        m = cJSON_GetObjectItemCaseSensitive(e, "message");

        if (cJSON_IsString(m)) {
            it->message.len = ngx_min(ngx_strlen(m->valuestring), 512);
            it->message.data = ngx_pnalloc(r->pool, it->message.len);

            if (it->message.data) {
                ngx_memcpy(it->message.data, m->valuestring,
                           it->message.len);

            } else {
                it->message.len = 0;
            }

        } else {
            it->message.data = ngx_pnalloc(r->pool, 64);

            if (it->message.data) {
                it->message.len = ngx_sprintf(it->message.data,
                                              "the test request failed with "
                                              "status %ui", probe->status)
                                  - it->message.data;
            }
        }

        cJSON_Delete(o);
    }

    ngx_http_q2api_admin_continue(r);
}


static ngx_http_q2api_admin_probe_t *
ngx_http_q2api_admin_get_probe(ngx_http_request_t *r)
{
    ngx_http_q2api_admin_probe_t  *probe;

    if (r == r->main) {
        return NULL;
    }

    probe = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    if (probe == NULL || probe->magic != NGX_HTTP_Q2API_ADMIN_PROBE) {
        return NULL;
    }

    return probe;
}


static ngx_int_t
ngx_http_q2api_admin_header_filter(ngx_http_request_t *r)
{
    ngx_http_q2api_admin_probe_t  *probe;

    probe = ngx_http_q2api_admin_get_probe(r);
    if (probe == NULL) {
        return ngx_http_next_header_filter(r);
    }

    probe->status = r->headers_out.status;

    /* like lua's capture filter: this is no response of the client's */
    r->header_sent = 1;
    r->filter_need_in_memory = 1;

    return NGX_OK;
}


static ngx_int_t
ngx_http_q2api_admin_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    size_t                         n;
    ngx_chain_t                   *cl;
    ngx_http_q2api_admin_probe_t  *probe;

    probe = ngx_http_q2api_admin_get_probe(r);
    if (probe == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        if (ngx_buf_in_memory(cl->buf)) {
            n = ngx_min((size_t) (cl->buf->last - cl->buf->pos),
                        NGX_HTTP_Q2API_ADMIN_PROBE_BODY - probe->len);

            ngx_memcpy(probe->body + probe->len, cl->buf->pos, n);
            probe->len += n;

            cl->buf->pos = cl->buf->last;
        }

        if (cl->buf->in_file) {
            cl->buf->file_pos = cl->buf->file_last;
        }
    }

    return NGX_OK;
}
