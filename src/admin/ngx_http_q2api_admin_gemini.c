/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The admin routes of Gemini accounts: POST /v2/accounts/{id}/discover
 * (the Code Assist project looked up, or the account onboarded, now),
 * GET /v2/accounts/{id}/quota (amq2api's route: its quota read now) and
 * POST /v2/gemini/exchange (an account from a Google sign-in).
 */


#include "ngx_http_q2api_admin.h"
#include "q2api_check.h"
#include "q2api_json.h"


/* an authorization code or a PKCE verifier is far shorter */
#define NGX_HTTP_Q2API_ADMIN_CODE_MAX  4096


static void ngx_http_q2api_admin_discovered(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);
static void ngx_http_q2api_admin_quota_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *credits);
static ngx_int_t ngx_http_q2api_admin_gemini_only(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, const char *what, ngx_int_t *answer);
static ngx_int_t ngx_http_q2api_admin_gemini_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx);
static ngx_int_t ngx_http_q2api_admin_gemini_arg(cJSON *root,
    const char *name, ngx_uint_t required, ngx_str_t *value, u_char *err);
static void ngx_http_q2api_admin_exchanged(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_http_q2api_google_login_t *login,
    ngx_str_t *message);
static ngx_int_t ngx_http_q2api_admin_gemini_store(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_google_login_t *login,
    ngx_int_t *answer);
static void ngx_http_q2api_admin_gemini_looked_up(ngx_http_request_t *r,
    void *data, ngx_int_t rc, ngx_str_t *message);
static ngx_int_t ngx_http_q2api_admin_gemini_created(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *lookup);


/*
 * NGX_OK for a Gemini account; else NGX_DECLINED, *answer the result of
 * the answer that says why not (sent already)
 */
static ngx_int_t
ngx_http_q2api_admin_gemini_only(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, const char *what, ngx_int_t *answer)
{
    ngx_int_t                      rc;
    ngx_http_q2api_account_data_t  d;

    rc = ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d);

    if (rc == NGX_OK && d.type == NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        return NGX_OK;
    }

    if (rc == NGX_DECLINED) {
        *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                              "Account not found");

    } else if (rc != NGX_OK) {
        *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                              "type: %s for gemini "
                                              "accounts only", what);
    }

    return NGX_DECLINED;
}


/*
 * Answers the account as the listing shows it (its state says what came
 * of it: active with other.project, needs_validation with
 * other.validation_url, ineligible with Google's reasons); a 502 when
 * Google could not be asked, a 409 while another lookup runs.
 */
ngx_int_t
ngx_http_q2api_admin_discover(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_q2api_admin_gemini_only(r, ctx, "projects are looked up",
                                         &rc)
        != NGX_OK)
    {
        return rc;
    }

    r->connection->log->action = "looking up a Code Assist project";
    ctx->async = 1;

    rc = ngx_http_q2api_gemini_discover(r, &ctx->id, 0,
                                        ngx_http_q2api_admin_discovered, ctx);

    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    ctx->async = 0;
    r->connection->log->action = "serving the admin API";

    if (rc == NGX_BUSY) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_CONFLICT,
                                           "a lookup of this account's "
                                           "project runs already");
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "accessToken: the account has "
                                           "no access token");
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_q2api_admin_discovered(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    r->connection->log->action = "serving the admin API";

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                        "Project lookup failed: %V",
                                        message));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_q2api_admin_gemini_row(r, ctx));
}


/* the account as it is now, secrets masked */
static ngx_int_t
ngx_http_q2api_admin_gemini_row(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t   d;

    if (ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d)
        != NGX_OK)
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_row(j, &d, 0);

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/*
 * POST /v2/gemini/exchange {"code", "redirect_uri", "code_verifier"?,
 * "flavour"? (antigravity), "label"?}: the code exchanged with the
 * flavour's OAuth client, the account stored as "gemini-<Google subject>"
 * (the same Google account twice is one account, its tokens replaced),
 * its project looked up.  Answers {"created", "project_lookup",
 * "account"}.
 */
ngx_int_t
ngx_http_q2api_admin_gemini_exchange(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    u_char                         err[NGX_HTTP_Q2API_ADMIN_ERR_LEN];
    cJSON                         *root, *v;
    ngx_int_t                      rc, flavour;
    ngx_str_t                      code, verifier, uri, name, label;
    ngx_http_q2api_account_data_t *d;

    root = ngx_http_q2api_admin_parse(r, &ctx->body, err);

    if (root == NULL) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    flavour = NGX_HTTP_Q2API_GEMINI_ANTIGRAVITY;

    rc = ngx_http_q2api_admin_gemini_arg(root, "code", 1, &code, err);

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_gemini_arg(root, "redirect_uri", 1, &uri,
                                             err);
    }

    if (rc == NGX_OK
        && !((uri.len > 7 && ngx_strncmp(uri.data, "http://", 7) == 0)
             || (uri.len > 8 && ngx_strncmp(uri.data, "https://", 8) == 0)))
    {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "redirect_uri: must be the http:// or https:// URI "
                     "the code was asked with%Z");
        rc = NGX_DECLINED;
    }

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_gemini_arg(root, "code_verifier", 0,
                                             &verifier, err);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_q2api_admin_gemini_arg(root, "flavour", 0, &name, err);
    }

    if (rc == NGX_OK && name.len) {
        flavour = ngx_http_q2api_gemini_flavour_named(name.data, name.len);

        if (flavour == NGX_ERROR) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "flavour: must be \"gemini-cli\" or "
                         "\"antigravity\"%Z");
            rc = NGX_DECLINED;
        }
    }

    label.len = 0;
    v = cJSON_GetObjectItemCaseSensitive(root, "label");

    if (rc == NGX_OK && v != NULL && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v)
            || q2api_check(Q2API_CHECK_LABEL, v->valuestring,
                           ngx_strlen(v->valuestring))
               != Q2API_OK)
        {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "label: %s%Z", q2api_check_rule(Q2API_CHECK_LABEL));
            rc = NGX_DECLINED;

        } else {
            label.len = ngx_strlen(v->valuestring);
            label.data = (u_char *) v->valuestring;
        }
    }

    /* the strings stay in root, which lives as long as the request */

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST, "%s",
                                           err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* what the answer will store: the flavour and the label given */
    d = ngx_pcalloc(r->pool, sizeof(ngx_http_q2api_account_data_t));
    if (d == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    d->flavour = (ngx_uint_t) flavour;
    d->label = label;
    ctx->account = d;

    r->connection->log->action = "exchanging a Google sign-in's code";
    ctx->async = 1;

    if (ngx_http_q2api_google_exchange(r, (ngx_uint_t) flavour, &code,
                                       &verifier, &uri,
                                       ngx_http_q2api_admin_exchanged, ctx)
        == NGX_OK)
    {
        return NGX_DONE;
    }

    ctx->async = 0;

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/* a string member of the body, checked as a credential */
static ngx_int_t
ngx_http_q2api_admin_gemini_arg(cJSON *root, const char *name,
    ngx_uint_t required, ngx_str_t *value, u_char *err)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(root, name);

    value->len = 0;
    value->data = NULL;

    if (v == NULL || cJSON_IsNull(v)) {
        if (!required) {
            return NGX_OK;
        }

        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN, "%s: required%Z",
                     name);
        return NGX_DECLINED;
    }

    if (!cJSON_IsString(v)
        || ngx_strlen(v->valuestring) > NGX_HTTP_Q2API_ADMIN_CODE_MAX
        || q2api_check(Q2API_CHECK_TOKEN, v->valuestring,
                       ngx_strlen(v->valuestring))
           != Q2API_OK)
    {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%s: must be 1 to %d printable ASCII characters "
                     "without spaces%Z", name, NGX_HTTP_Q2API_ADMIN_CODE_MAX);
        return NGX_DECLINED;
    }

    value->data = (u_char *) v->valuestring;
    value->len = ngx_strlen(v->valuestring);

    return NGX_OK;
}


static void
ngx_http_q2api_admin_exchanged(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_http_q2api_google_login_t *login, ngx_str_t *message)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_str_t  lookup;

    r->connection->log->action = "serving the admin API";

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                        "Google refused the code: %V",
                                        message));
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                        "Code exchange failed: %V",
                                        message));
        return;
    }

    if (login->refresh_token.len == 0) {
        /* a pool account lives on its refresh token */
        ngx_http_finalize_request(r,
            ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                        "Google gave no refresh token: "
                                        "sign in again with "
                                        "access_type=offline and "
                                        "prompt=consent"));
        return;
    }

    if (ngx_http_q2api_admin_gemini_store(r, ctx, login, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    ctx->async = 1;

    rc = ngx_http_q2api_gemini_discover(r, &ctx->id, 0,
                                        ngx_http_q2api_admin_gemini_looked_up,
                                        ctx);
    if (rc == NGX_OK) {
        return;
    }

    ngx_str_set(&lookup, "a lookup of this account's project runs already");

    if (rc != NGX_BUSY) {
        ngx_str_set(&lookup, "the project lookup could not start");
    }

    ngx_http_finalize_request(r,
                              ngx_http_q2api_admin_gemini_created(r, ctx,
                                                                  &lookup));
}


/*
 * The account of the Google subject: new, or the one it was before with
 * new tokens (its state, counters and other kept).  NGX_DECLINED: not
 * stored, *answer the result of the answer sent.
 */
static ngx_int_t
ngx_http_q2api_admin_gemini_store(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_http_q2api_google_login_t *login,
    ngx_int_t *answer)
{
    u_char                         *p;
    ngx_str_t                      *name;
    ngx_http_q2api_account_data_t  *given, d;

    given = ctx->account;

    ctx->id.len = sizeof("gemini-") - 1 + login->subject.len;
    ctx->id.data = ngx_pnalloc(r->pool, ctx->id.len);
    if (ctx->id.data == NULL) {
        *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DECLINED;
    }

    p = ngx_cpymem(ctx->id.data, "gemini-", sizeof("gemini-") - 1);
    ngx_memcpy(p, login->subject.data, login->subject.len);

    if (q2api_check(Q2API_CHECK_ID, (char *) ctx->id.data, ctx->id.len)
        != Q2API_OK)
    {
        *answer = ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                              "Google's subject is too "
                                              "long for an account id");
        return NGX_DECLINED;
    }

    if (ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d)
        == NGX_OK)
    {
        ctx->created = 0;

        if (given->label.len) {
            d.label = given->label;
        }

        d.refresh_token = login->refresh_token;
        d.access_token = login->access_token;
        d.token_expires = login->token_expires;
        d.updated_at = ngx_time();

        if (ngx_http_q2api_accounts_upsert(ctx->accounts, &d,
                                           NGX_HTTP_Q2API_SET_CONFIG
                                           |NGX_HTTP_Q2API_SET_DIRTY, 0)
            != NGX_OK)
        {
            *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DECLINED;
        }

    } else {
        ctx->created = 1;

        ngx_memzero(&d, sizeof(ngx_http_q2api_account_data_t));

        d.id = ctx->id;
        d.label = given->label.len ? given->label : login->email;
        d.type = NGX_HTTP_Q2API_ACCOUNT_GEMINI;
        d.refresh_token = login->refresh_token;
        d.access_token = login->access_token;
        d.token_expires = login->token_expires;
        d.enabled = 1;
        d.status = NGX_HTTP_Q2API_ST_ACTIVE;
        d.created_at = ngx_time();
        d.updated_at = d.created_at;
        d.flavour = given->flavour;
        d.flavour_named = 1;

        /* the flavour (the client its refresh token is bound to) */
        name = &ngx_http_q2api_gemini_flavours[
                   given->flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS].name;

        d.other.len = sizeof("{\"flavour\":\"\"}") - 1 + name->len;
        d.other.data = ngx_pnalloc(r->pool, d.other.len);
        if (d.other.data == NULL) {
            *answer = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_DECLINED;
        }

        ngx_sprintf(d.other.data, "{\"flavour\":\"%V\"}", name);

        if (ngx_http_q2api_admin_insert(r, ctx, &d) != NGX_OK) {
            *answer = ngx_http_q2api_admin_detail(r,
                                              NGX_HTTP_SERVICE_UNAVAILABLE,
                                              "no room in the shared zone");
            return NGX_DECLINED;
        }
    }

    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                  "q2api admin: Google sign-in %s account \"%V\"",
                  ctx->created ? "created" : "renewed", &ctx->id);

    return NGX_OK;
}


static void
ngx_http_q2api_admin_gemini_looked_up(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *message)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_str_t  ok;

    r->connection->log->action = "serving the admin API";

    ngx_str_set(&ok, "ok");

    ngx_http_finalize_request(r,
        ngx_http_q2api_admin_gemini_created(r, ctx,
                                            rc == NGX_OK ? &ok : message));
}


static ngx_int_t
ngx_http_q2api_admin_gemini_created(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx, ngx_str_t *lookup)
{
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t   d;

    if (ctx->conf->donate) {
        /* a donor's exchange: the public API says less */
        return ngx_http_q2api_admin_donate_answer(r, ctx);
    }

    if (ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d)
        != NGX_OK)
    {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_NOT_FOUND,
                                           "Account not found");
    }

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"created\":");
    ngx_http_q2api_admin_bool(j, ctx->created);
    ngx_http_q2api_admin_lit(j, ",\"project_lookup\":");
    ngx_http_q2api_admin_string(j, lookup->data, lookup->len);
    ngx_http_q2api_admin_lit(j, ",\"account\":");
    ngx_http_q2api_admin_row(j, &d, 0);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j);
}


/*
 * GET /v2/accounts/{id}/quota: {"account_id", "flavour", "project",
 * "creditsInfo"}, read from Code Assist now and kept in other (with the
 * earliest reset as other.resetTime); a 502 when Code Assist could not
 * tell.
 */
ngx_int_t
ngx_http_q2api_admin_quota(ngx_http_request_t *r,
    ngx_http_q2api_admin_ctx_t *ctx)
{
    ngx_int_t  rc;

    if (ngx_http_q2api_admin_gemini_only(r, ctx, "quota is read", &rc)
        != NGX_OK)
    {
        return rc;
    }

    r->connection->log->action = "reading a Gemini account's quota";
    ctx->async = 1;

    rc = ngx_http_q2api_gemini_quota(r, &ctx->id,
                                     ngx_http_q2api_admin_quota_done, ctx);
    if (rc == NGX_OK) {
        return NGX_DONE;
    }

    ctx->async = 0;
    r->connection->log->action = "serving the admin API";

    if (rc == NGX_DECLINED) {
        return ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_REQUEST,
                                           "other.project: the account has "
                                           "no project yet (POST "
                                           "/v2/accounts/%V/discover)",
                                           &ctx->id);
    }

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static void
ngx_http_q2api_admin_quota_done(ngx_http_request_t *r, void *data,
    ngx_int_t rc, ngx_str_t *credits)
{
    ngx_http_q2api_admin_ctx_t *ctx = data;

    ngx_str_t                      *name;
    ngx_http_q2api_admin_json_t    *j;
    ngx_http_q2api_account_data_t   d;

    r->connection->log->action = "serving the admin API";

    if (rc != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_q2api_admin_detail(r, NGX_HTTP_BAD_GATEWAY,
                                        "Quota read failed: %V", credits));
        return;
    }

    j = ngx_http_q2api_admin_json(r);

    if (j == NULL
        || ngx_http_q2api_accounts_get(ctx->accounts, &ctx->id, r->pool, &d)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    name = &ngx_http_q2api_gemini_flavours[
               d.flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS].name;

    ngx_http_q2api_admin_lit(j, "{\"account_id\":");
    ngx_http_q2api_admin_string(j, d.id.data, d.id.len);
    ngx_http_q2api_admin_lit(j, ",\"flavour\":");
    ngx_http_q2api_admin_string(j, name->data, name->len);
    ngx_http_q2api_admin_lit(j, ",\"project\":");
    ngx_http_q2api_admin_nstr(j, &d.project);
    ngx_http_q2api_admin_lit(j, ",\"creditsInfo\":");
    ngx_http_q2api_admin_raw(j, (char *) credits->data, credits->len);
    ngx_http_q2api_admin_lit(j, "}");

    ngx_http_finalize_request(r,
                              ngx_http_q2api_admin_send(r, NGX_HTTP_OK, j));
}


/*
 * The stats of a Gemini account add its flavour, project and the last
 * quota read (other.creditsInfo, other.resetTime; null before the first).
 */
void
ngx_http_q2api_admin_gemini_stats(ngx_http_q2api_admin_json_t *j,
    ngx_http_q2api_account_data_t *d)
{
    char       *printed;
    cJSON      *o, *credits, *reset;
    ngx_str_t  *name;

    name = &ngx_http_q2api_gemini_flavours[
               d->flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS].name;

    ngx_http_q2api_admin_lit(j, ",\"flavour\":");
    ngx_http_q2api_admin_string(j, name->data, name->len);
    ngx_http_q2api_admin_lit(j, ",\"project\":");
    ngx_http_q2api_admin_nstr(j, &d->project);

    o = d->other.len ? cJSON_ParseWithLength((char *) d->other.data,
                                             d->other.len)
                     : NULL;

    credits = cJSON_GetObjectItemCaseSensitive(o, "creditsInfo");
    reset = cJSON_GetObjectItemCaseSensitive(o, "resetTime");

    printed = cJSON_IsObject(credits) ? cJSON_PrintUnformatted(credits)
                                      : NULL;

    ngx_http_q2api_admin_lit(j, ",\"quota\":");

    if (printed != NULL && q2api_utf8_valid(printed, ngx_strlen(printed))) {
        ngx_http_q2api_admin_raw(j, printed, ngx_strlen(printed));

    } else {
        ngx_http_q2api_admin_lit(j, "null");
    }

    ngx_http_q2api_admin_lit(j, ",\"quota_reset\":");

    if (cJSON_IsString(reset)
        && q2api_utf8_valid(reset->valuestring, ngx_strlen(reset->valuestring)))
    {
        ngx_http_q2api_admin_string(j, (u_char *) reset->valuestring,
                                    ngx_strlen(reset->valuestring));

    } else {
        ngx_http_q2api_admin_lit(j, "null");
    }

    if (printed != NULL) {
        cJSON_free(printed);
    }

    cJSON_Delete(o);
}
