/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The admin API's answers: a JSON writer over a buffer freed with the
 * request, q2api's account row, and the send helpers.
 */


#include "ngx_http_q2api_admin.h"
#include "q2api_time.h"
#include "q2api_json.h"


static void
ngx_http_q2api_admin_json_cleanup(void *data)
{
    ngx_http_q2api_admin_json_t  *j = data;

    q2api_buf_free(&j->b);
}


/* an output buffer that lives (and is freed) with the request */
ngx_http_q2api_admin_json_t *
ngx_http_q2api_admin_json(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_q2api_admin_json_t  *j;

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_q2api_admin_json_t));
    if (cln == NULL) {
        return NULL;
    }

    j = cln->data;
    q2api_buf_init(&j->b, 0);
    j->rc = Q2API_OK;

    cln->handler = ngx_http_q2api_admin_json_cleanup;

    return j;
}


void
ngx_http_q2api_admin_raw(ngx_http_q2api_admin_json_t *j, const void *p,
    size_t n)
{
    if (j->rc == Q2API_OK) {
        j->rc = q2api_buf_append(&j->b, p, n);
    }
}


void
ngx_http_q2api_admin_string(ngx_http_q2api_admin_json_t *j, u_char *p,
    size_t n)
{
    if (j->rc == Q2API_OK) {
        j->rc = q2api_json_append_string(&j->b, (char *) p, n);
    }
}


/* a string, or null when empty */
void
ngx_http_q2api_admin_nstr(ngx_http_q2api_admin_json_t *j, ngx_str_t *s)
{
    if (s->len == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    ngx_http_q2api_admin_string(j, s->data, s->len);
}


void
ngx_http_q2api_admin_cstr(ngx_http_q2api_admin_json_t *j, const char *s)
{
    ngx_http_q2api_admin_string(j, (u_char *) s, ngx_strlen(s));
}


void
ngx_http_q2api_admin_int(ngx_http_q2api_admin_json_t *j, int64_t v)
{
    if (j->rc == Q2API_OK) {
        j->rc = q2api_json_append_int(&j->b, (long long) v);
    }
}


void
ngx_http_q2api_admin_bool(ngx_http_q2api_admin_json_t *j, ngx_uint_t v)
{
    if (v) {
        ngx_http_q2api_admin_lit(j, "true");

    } else {
        ngx_http_q2api_admin_lit(j, "false");
    }
}


/* q2api's "%Y-%m-%dT%H:%M:%S" (UTC), or null */
void
ngx_http_q2api_admin_time(ngx_http_q2api_admin_json_t *j, time_t t)
{
    char    text[Q2API_TIME_LEN];
    size_t  n;

    n = (t > 0) ? q2api_time_format(t, text) : 0;

    if (n == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    ngx_http_q2api_admin_lit(j, "\"");
    ngx_http_q2api_admin_raw(j, (u_char *) text, n);
    ngx_http_q2api_admin_lit(j, "\"");
}


/*
 * A secret as listings show it: its first 4 characters (when it is long
 * enough for that to say nothing) and its length, e.g. "aoaA…(812)".
 */
static void
ngx_http_q2api_admin_secret(ngx_http_q2api_admin_json_t *j, ngx_str_t *s,
    ngx_uint_t clear)
{
    u_char  buf[64], *p;

    if (s->len == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    if (clear) {
        ngx_http_q2api_admin_string(j, s->data, s->len);
        return;
    }

    p = buf;

    if (s->len >= 16) {
        p = ngx_cpymem(p, s->data, 4);
    }

    p = ngx_sprintf(p, "\xe2\x80\xa6(%uz)", s->len);

    ngx_http_q2api_admin_string(j, buf, p - buf);
}


/* "other" is kept as text; it goes out as the object it holds */
static void
ngx_http_q2api_admin_other(ngx_http_q2api_admin_json_t *j, ngx_str_t *other)
{
    char   *printed;
    cJSON  *o;

    if (other->len == 0) {
        ngx_http_q2api_admin_lit(j, "null");
        return;
    }

    o = cJSON_ParseWithLength((char *) other->data, other->len);

    if (!cJSON_IsObject(o)) {
        /* not ours: an accounts file may hold any string there */
        cJSON_Delete(o);
        ngx_http_q2api_admin_string(j, other->data, other->len);
        return;
    }

    printed = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (printed == NULL) {
        j->rc = Q2API_NOMEM;
        return;
    }

    if (q2api_utf8_valid(printed, ngx_strlen(printed))) {
        ngx_http_q2api_admin_raw(j, printed, ngx_strlen(printed));

    } else {
        ngx_http_q2api_admin_lit(j, "null");
    }

    cJSON_free(printed);
}


/*
 * One account: q2api's row (secrets masked unless "secrets") and this
 * module's state.  last_refresh_status is derived: "failed" when the
 * account needs a new login, "success" once a token expiry is known,
 * else "never".
 */
void
ngx_http_q2api_admin_row(ngx_http_q2api_admin_json_t *j,
    ngx_http_q2api_account_data_t *d, ngx_uint_t secrets)
{
    ngx_str_t  *type;

    ngx_http_q2api_admin_lit(j, "{\"id\":");
    ngx_http_q2api_admin_string(j, d->id.data, d->id.len);
    ngx_http_q2api_admin_lit(j, ",\"label\":");
    ngx_http_q2api_admin_nstr(j, &d->label);
    ngx_http_q2api_admin_lit(j, ",\"clientId\":");
    ngx_http_q2api_admin_nstr(j, &d->client_id);
    ngx_http_q2api_admin_lit(j, ",\"clientSecret\":");
    ngx_http_q2api_admin_secret(j, &d->client_secret, secrets);
    ngx_http_q2api_admin_lit(j, ",\"refreshToken\":");
    ngx_http_q2api_admin_secret(j, &d->refresh_token, secrets);
    ngx_http_q2api_admin_lit(j, ",\"accessToken\":");
    ngx_http_q2api_admin_secret(j, &d->access_token, secrets);
    ngx_http_q2api_admin_lit(j, ",\"profileArn\":");
    ngx_http_q2api_admin_nstr(j, &d->profile_arn);
    ngx_http_q2api_admin_lit(j, ",\"other\":");
    ngx_http_q2api_admin_other(j, &d->other);
    ngx_http_q2api_admin_lit(j, ",\"enabled\":");
    ngx_http_q2api_admin_bool(j, d->enabled);
    ngx_http_q2api_admin_lit(j, ",\"created_at\":");
    ngx_http_q2api_admin_time(j, d->created_at);
    ngx_http_q2api_admin_lit(j, ",\"updated_at\":");
    ngx_http_q2api_admin_time(j, d->updated_at);
    ngx_http_q2api_admin_lit(j, ",\"last_refresh_time\":null"
                                ",\"last_refresh_status\":");
    ngx_http_q2api_admin_cstr(j,
        d->status == NGX_HTTP_Q2API_ST_NEEDS_LOGIN ? "failed"
        : d->token_expires ? "success" : "never");
    ngx_http_q2api_admin_lit(j, ",\"error_count\":");
    ngx_http_q2api_admin_int(j, d->consecutive_errors);
    ngx_http_q2api_admin_lit(j, ",\"success_count\":");
    ngx_http_q2api_admin_int(j, d->successes);
    ngx_http_q2api_admin_lit(j, ",\"expires_at\":");
    ngx_http_q2api_admin_time(j, d->token_expires);
    ngx_http_q2api_admin_lit(j, ",\"type\":");
    type = ngx_http_q2api_kind_name(d->type);
    ngx_http_q2api_admin_string(j, type->data, type->len);

    if (d->type == NGX_HTTP_Q2API_ACCOUNT_GEMINI) {
        /* derived (other.flavour, the client id, the endpoint) */
        ngx_http_q2api_admin_lit(j, ",\"flavour\":");
        type = &ngx_http_q2api_gemini_flavours[
                   d->flavour % NGX_HTTP_Q2API_GEMINI_FLAVOURS].name;
        ngx_http_q2api_admin_string(j, type->data, type->len);
    }
    ngx_http_q2api_admin_lit(j, ",\"status\":");
    ngx_http_q2api_admin_cstr(j, ngx_http_q2api_status_name(d->status));
    ngx_http_q2api_admin_lit(j, ",\"status_reason\":");
    ngx_http_q2api_admin_nstr(j, &d->reason);
    ngx_http_q2api_admin_lit(j, ",\"status_since\":");
    ngx_http_q2api_admin_time(j, d->status_since);
    ngx_http_q2api_admin_lit(j, ",\"status_until\":");
    ngx_http_q2api_admin_time(j, d->until);
    ngx_http_q2api_admin_lit(j, ",\"total_errors\":");
    ngx_http_q2api_admin_int(j, d->errors);
    ngx_http_q2api_admin_lit(j, ",\"tokens_in\":");
    ngx_http_q2api_admin_int(j, d->tokens_in);
    ngx_http_q2api_admin_lit(j, ",\"tokens_out\":");
    ngx_http_q2api_admin_int(j, d->tokens_out);
    ngx_http_q2api_admin_lit(j, ",\"last_used\":");
    ngx_http_q2api_admin_time(j, d->last_used);
    ngx_http_q2api_admin_lit(j, ",\"last_error\":");
    ngx_http_q2api_admin_nstr(j, &d->last_error);
    ngx_http_q2api_admin_lit(j, "}");
}


ngx_int_t
ngx_http_q2api_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_q2api_admin_json_t *j)
{
    if (j->rc != Q2API_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "q2api admin: out of memory writing an answer");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_admin_send_raw(r, status, "application/json",
                                         j->b.data, j->b.len);
}


/* every answer: account data, sometimes secrets, never in a cache */
ngx_int_t
ngx_http_q2api_admin_send_raw(ngx_http_request_t *r, ngx_uint_t status,
    char *type, u_char *data, size_t len)
{
    if (ngx_http_q2api_add_header(r, "Cache-Control", (u_char *) "no-store",
                                  8)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_q2api_send_body(r, status, type, data, len);
}


/* FastAPI's {"detail": "..."} */
ngx_int_t
ngx_http_q2api_admin_detail(ngx_http_request_t *r, ngx_uint_t status,
    const char *fmt, ...)
{
    u_char                       msg[512], *p;
    va_list                      args;
    ngx_http_q2api_admin_json_t  *j;

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);
    va_end(args);

    j = ngx_http_q2api_admin_json(r);
    if (j == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_q2api_admin_lit(j, "{\"detail\":");
    ngx_http_q2api_admin_string(j, msg, p - msg);
    ngx_http_q2api_admin_lit(j, "}");

    return ngx_http_q2api_admin_send(r, status, j);
}
