/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The public donate API (q2api_donate): people hand over Google accounts
 * for the Gemini back end.  Its location is open to anyone, so it answers
 * only what a donor needs and never a secret:
 *
 *   POST start      {"flavour"}: Google's authorisation URL, with PKCE
 *   POST exchange   {"url"}: the pasted localhost address; the code is
 *                   exchanged and the account stored (or found again)
 *   GET  status     counts, quota per model group, reset times, masked
 *                   labels (ngx_http_q2api_admin_donate_status.c)
 *
 * The server keeps nothing between start and exchange: the state is
 * sealed and the PKCE verifier derived from it
 * (ngx_http_q2api_admin_donate_state.c).  Attempts per address are
 * limited by nginx's limit_req in the location (conf/q2api_donate.conf);
 * its 429 comes back as an error_page.  The admin module's content
 * handler serves the location: a donate location has these routes only,
 * and none wants credentials.
 */


#include <openssl/sha.h>

#include "ngx_http_q2api.h"
#include "ngx_http_q2api_admin.h"
#include "ngx_http_q2api_admin_donate.h"
#include "ngx_http_q2api_metrics.h"


#define NGX_HTTP_Q2API_DONATE_CODE_MAX 2048


static ngx_int_t ngx_http_q2api_donate_query(ngx_http_request_t *r,
    ngx_str_t *query, const char *name, ngx_str_t *value);
static void ngx_http_q2api_donate_counted(void *data);
static ngx_int_t ngx_http_q2api_donate_store(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_uint_t flavour, ngx_str_t *code,
    ngx_str_t *verifier, ngx_str_t *redirect_uri);


char *
ngx_http_q2api_admin_donate_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_q2api_admin_loc_conf_t *alcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i, f;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_q2api_admin_main_conf_t  *amcf;

    if (alcf->donate != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    alcf->donate = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        f = ngx_http_q2api_donate_flavour(&value[i]);

        if (f == NGX_HTTP_Q2API_DONATE_NO_FLAVOUR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"%V\": unknown flavour \"%V\" (expected "
                               "\"antigravity\" or \"gemini-cli\")",
                               &cmd->name, &value[i]);
            return NGX_CONF_ERROR;
        }

        if (alcf->donate & (1 << f)) {
            return "names a flavour twice";
        }

        if (alcf->donate == 0) {
            alcf->donate_default = f;
        }

        alcf->donate |= 1 << f;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_q2api_admin_handler;

    /* the master secret that seals states lives in the admin zone */
    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_q2api_admin_module);

    if (ngx_http_q2api_admin_add_zone(cf, amcf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the donate location's routes, by the end of the URI */
ngx_http_q2api_admin_route_e
ngx_http_q2api_admin_donate_route(ngx_http_request_t *r)
{
    u_char  *start, *end;

    start = r->uri.data;
    end = r->uri.data + r->uri.len;

    while (end > start && end[-1] == '/') {
        end--;
    }

#define q2api_ends_with(lit)                                               \
    ((size_t) (end - start) >= sizeof(lit) - 1                             \
     && ngx_strncmp(end - (sizeof(lit) - 1), lit, sizeof(lit) - 1) == 0)

    if (q2api_ends_with("/start")) {
        return NGX_HTTP_Q2API_ROUTE_DONATE_START;
    }

    if (q2api_ends_with("/exchange")) {
        return NGX_HTTP_Q2API_ROUTE_DONATE_EXCHANGE;
    }

    if (q2api_ends_with("/status")) {
        return NGX_HTTP_Q2API_ROUTE_DONATE_STATUS;
    }

#undef q2api_ends_with

    return NGX_HTTP_Q2API_ROUTE_NONE;
}


/* a query argument of a pasted URL, unescaped; NGX_DECLINED: none */
static ngx_int_t
ngx_http_q2api_donate_query(ngx_http_request_t *r, ngx_str_t *query,
    const char *name, ngx_str_t *value)
{
    u_char  *p, *end, *amp, *eq, *dst, *src;
    size_t   n;

    n = ngx_strlen(name);
    end = query->data + query->len;

    for (p = query->data; p < end; p = amp + 1) {
        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        eq = ngx_strlchr(p, amp, '=');

        if (eq == NULL || (size_t) (eq - p) != n
            || ngx_strncmp(p, name, n) != 0)
        {
            continue;
        }

        value->data = ngx_pnalloc(r->pool, amp - eq);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        dst = value->data;
        src = eq + 1;

        ngx_unescape_uri(&dst, &src, amp - eq - 1, NGX_UNESCAPE_URI);
        value->len = dst - value->data;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* POST start {"flavour"}: the authorisation URL a donor opens */
ngx_int_t
ngx_http_q2api_admin_donate_start(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                       err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    u_char                       hash[SHA256_DIGEST_LENGTH], *p;
    cJSON                       *root, *item;
    ngx_str_t                    name, state, verifier, challenge, src, url;
    ngx_uint_t                   flavour;
    ngx_http_q2api_donate_oauth_t  oauth;
    ngx_http_q2api_admin_json_t  *j;

    flavour = ctx->conf->donate_default;

    if (ctx->body.len) {
        root = ngx_http_q2api_admin_parse(r, &ctx->body, err);
        if (root == NULL) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "%s", err);
        }

        if (!cJSON_IsObject(root)) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "body: expected an object");
        }

        item = cJSON_GetObjectItemCaseSensitive(root, "flavour");

        if (item != NULL && !cJSON_IsNull(item)) {
            if (!cJSON_IsString(item)) {
                return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                                   "flavour: expected a "
                                                   "string");
            }

            name.data = (u_char *) item->valuestring;
            name.len = ngx_strlen(item->valuestring);

            flavour = ngx_http_q2api_donate_flavour(&name);

            if (flavour == NGX_HTTP_Q2API_DONATE_NO_FLAVOUR
                || !(ctx->conf->donate & (1 << flavour)))
            {
                return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                                   "flavour: not offered "
                                                   "here");
            }
        }
    }

    if (ngx_http_q2api_donate_oauth(r, flavour, &oauth) != NGX_OK
        || ngx_http_q2api_donate_seal(r, ctx->conf, flavour, &state)
           != NGX_OK
        || ngx_http_q2api_donate_verifier(r, ctx->conf, &state, &verifier)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    SHA256(verifier.data, verifier.len, hash);

    challenge.data = ngx_pnalloc(r->pool, NGX_HTTP_Q2API_DONATE_MAC);
    if (challenge.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    src.data = hash;
    src.len = sizeof(hash);
    ngx_encode_base64url(&challenge, &src);

    /* google-auth-library's order; consent asked again, so that a second
     * login of the same account still brings a refresh token */
    url.len = oauth.auth_url.len + 3 * oauth.redirect_uri.len
              + 3 * oauth.scope.len + 3 * oauth.client_id.len + state.len
              + challenge.len + 256;

    url.data = ngx_pnalloc(r->pool, url.len);
    if (url.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

#define q2api_escape(p, s)                                                 \
    (u_char *) ngx_escape_uri(p, (s).data, (s).len, NGX_ESCAPE_URI_COMPONENT)

    p = ngx_cpymem(url.data, oauth.auth_url.data, oauth.auth_url.len);
    p = ngx_cpymem(p, "?redirect_uri=", 14);
    p = q2api_escape(p, oauth.redirect_uri);
    p = ngx_cpymem(p, "&access_type=offline&scope=", 27);
    p = q2api_escape(p, oauth.scope);
    p = ngx_sprintf(p, "&state=%V&response_type=code&client_id=", &state);
    p = q2api_escape(p, oauth.client_id);

#undef q2api_escape

    p = ngx_sprintf(p, "&prompt=consent&code_challenge=%V"
                    "&code_challenge_method=S256", &challenge);
    url.len = p - url.data;

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"url\":");
    ngx_http_q2api_admin_nstr(j, &url);
    ngx_http_q2api_admin_lit(j, ",\"flavour\":");
    ngx_http_q2api_admin_nstr(j,
                              ngx_http_q2api_donate_flavour_name(flavour));
    ngx_http_q2api_admin_lit(j, ",\"redirect_uri\":");
    ngx_http_q2api_admin_nstr(j, &oauth.redirect_uri);
    ngx_http_q2api_admin_lit(j, ",\"expires_in\":");
    ngx_http_q2api_admin_int(j, NGX_HTTP_Q2API_DONATE_TTL);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/*
 * POST exchange {"url"}: the address the donor's browser landed on after
 * Google (http://localhost:PORT/...?state=&code=).  The state must be one
 * this server sealed, still young; then the code, the verifier and the
 * redirect URI go to the Gemini back end's exchange, which stores the
 * account (the same Google account twice is one account).
 */
ngx_int_t
ngx_http_q2api_admin_donate_exchange(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    u_char                        *p, *end, *q;
    cJSON                         *root, *item;
    ngx_str_t                      url, query, state, code, error, verifier;
    ngx_uint_t                     flavour;
    const char                    *why;
    ngx_pool_cleanup_t            *cln;
    ngx_http_q2api_donate_oauth_t  oauth;

    /* counted once the answer has gone, whichever way it went */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_q2api_donate_counted;
    cln->data = r;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);
    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    item = cJSON_IsObject(root)
           ? cJSON_GetObjectItemCaseSensitive(root, "url") : NULL;

    if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "url: paste the whole address "
                                           "your browser shows after "
                                           "Google");
    }

    url.data = (u_char *) item->valuestring;
    url.len = ngx_strlen(item->valuestring);

    if (url.len > 8192) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "url: longer than 8192 bytes");
    }

    /* the query, without a fragment or spaces around the paste */
    end = url.data + url.len;

    while (end > url.data && (end[-1] == ' ' || end[-1] == '\n'
                              || end[-1] == '\r' || end[-1] == '\t'))
    {
        end--;
    }

    q = ngx_strlchr(url.data, end, '?');
    p = ngx_strlchr(url.data, end, '#');

    if (p != NULL) {
        end = p;
    }

    if (q == NULL || q >= end) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "url: it has no \"?code=...\": "
                                           "paste the whole address");
    }

    query.data = q + 1;
    query.len = end - q - 1;

    if (ngx_http_q2api_donate_query(r, &query, "error", &error) == NGX_OK) {
        /* the donor said no, or Google refused: only its own word back */
        for (p = error.data; p < error.data + error.len; p++) {
            if (!(*p == '_' || (*p >= 'a' && *p <= 'z'))) {
                error.len = 0;
                break;
            }
        }

        if (error.len == 0) {
            return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                               "Google did not grant "
                                               "access");
        }

        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "Google did not grant access "
                                           "(%V)", &error);
    }

    if (ngx_http_q2api_donate_query(r, &query, "state", &state) != NGX_OK
        || ngx_http_q2api_donate_query(r, &query, "code", &code) != NGX_OK)
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "url: it has no state or no "
                                           "code: paste the whole address");
    }

    switch (ngx_http_q2api_donate_open(r, ctx->conf, &state, &flavour,
                                       &why))
    {
    case NGX_OK:
        break;

    case NGX_DECLINED:
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           why);

    default:
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* Google's codes: "4/0A..." of URL-safe characters */
    if (code.len == 0 || code.len > NGX_HTTP_Q2API_DONATE_CODE_MAX
        || q2api_check(Q2API_CHECK_TOKEN, (char *) code.data, code.len)
           != Q2API_OK)
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "url: its code is not one "
                                           "Google gives");
    }

    if (ngx_http_q2api_donate_oauth(r, flavour, &oauth) != NGX_OK
        || ngx_http_q2api_donate_verifier(r, ctx->conf, &state, &verifier)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_donate_store(r, ctx, flavour, &code, &verifier,
                                       &oauth.redirect_uri);
}


/* a donation's result for q2api_donations_total, from its answer */
static void
ngx_http_q2api_donate_counted(void *data)
{
    ngx_http_request_t *r = data;

    ngx_uint_t                   result;
    ngx_http_q2api_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_q2api_admin_module);

    if (r->headers_out.status == NGX_HTTP_OK) {
        result = (ctx && ctx->created) ? NGX_HTTP_Q2API_M_DONATION_NEW
                                       : NGX_HTTP_Q2API_M_DONATION_AGAIN;

    } else if (r->headers_out.status >= NGX_HTTP_BAD_REQUEST
               && r->headers_out.status < NGX_HTTP_INTERNAL_SERVER_ERROR)
    {
        result = NGX_HTTP_Q2API_M_DONATION_REFUSED;

    } else {
        result = NGX_HTTP_Q2API_M_DONATION_ERROR;
    }

    ngx_http_q2api_metrics_donation(result);
}


/*
 * The exchange proper is the admin API's (POST v2/gemini/exchange: the
 * code exchanged, the account of the Google subject created or renewed,
 * its project looked up), given the body it reads; its answer comes back
 * to ngx_http_q2api_admin_donate_answer() in a donate location.
 */
static ngx_int_t
ngx_http_q2api_donate_store(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_uint_t flavour, ngx_str_t *code,
    ngx_str_t *verifier, ngx_str_t *redirect_uri)
{
    ngx_int_t                      rc;
    ngx_http_q2api_admin_json_t   *j;

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the values are checked: a JSON string each, escaped as one */
    ngx_http_q2api_admin_lit(j, "{\"code\":");
    ngx_http_q2api_admin_nstr(j, code);
    ngx_http_q2api_admin_lit(j, ",\"code_verifier\":");
    ngx_http_q2api_admin_nstr(j, verifier);
    ngx_http_q2api_admin_lit(j, ",\"redirect_uri\":");
    ngx_http_q2api_admin_nstr(j, redirect_uri);
    ngx_http_q2api_admin_lit(j, ",\"flavour\":");
    ngx_http_q2api_admin_nstr(j, ngx_http_q2api_donate_flavour_name(flavour));
    ngx_http_q2api_admin_lit(j, "}");

    if (j->rc != Q2API_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->body.data = j->b.data;
    ctx->body.len = j->b.len;

    rc = ngx_http_q2api_admin_gemini_exchange(r, ctx);

    return rc;
}


/*
 * What a donor learns of the donation: whether the Google account is new
 * here, its label and project masked, its state.  Nothing else of the
 * account leaves.
 */
ngx_int_t
ngx_http_q2api_admin_donate_answer(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_str_t                       label, project;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t   d;

    if (ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d)
        != NGX_OK)
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "the account is gone");
    }

    /* this worker's next status shows it */
    ngx_http_q2api_donate_status_stale();

    ngx_http_q2api_donate_mask(r->pool, &d.label, 3, 0, &label);
    ngx_http_q2api_donate_mask(r->pool, &d.project, 4, 2, &project);

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"created\":");
    ngx_http_q2api_admin_bool(j, ctx->created);
    ngx_http_q2api_admin_lit(j, ",\"label\":");
    ngx_http_q2api_admin_nstr(j, &label);
    ngx_http_q2api_admin_lit(j, ",\"project\":");
    ngx_http_q2api_admin_nstr(j, &project);
    ngx_http_q2api_admin_lit(j, ",\"status\":");
    ngx_http_q2api_admin_cstr(j, ngx_http_q2api_status_name(d.status));
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}

