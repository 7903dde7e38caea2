/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account row codec.  The names are q2api's: its JSON keys are its
 * column names, except where its Python model renamed them (clientId,
 * profileArn); its columns are unquoted, so PostgreSQL folds clientId to
 * clientid.
 */


#include "ngx_http_q2api_kind.h"
#include "ngx_http_q2api_row.h"
#include "q2api_check.h"
#include "q2api_time.h"
#include "q2api_json.h"
#include "q2api_json_scan.h"


#define q2api_row(f)  offsetof(ngx_http_q2api_account_data_t, f)

/* 2^64, the first double a counter cannot hold */
#define NGX_HTTP_Q2API_ROW_COUNTER_MAX  18446744073709551616.0


static ngx_int_t ngx_http_q2api_row_type(ngx_str_t *name, ngx_uint_t *type);
static ngx_int_t ngx_http_q2api_row_string(ngx_http_q2api_row_field_e field,
    ngx_str_t *value, ngx_str_t *to);
static uint64_t ngx_http_q2api_row_number(ngx_str_t *text);
static ngx_int_t ngx_http_q2api_row_member(q2api_json_field_t *f,
    q2api_check_e what);
static ngx_uint_t ngx_http_q2api_row_object(const char *text, size_t len);


/* in the order of ngx_http_q2api_row_field_e */
ngx_http_q2api_row_field_t  ngx_http_q2api_row_fields[] = {

    /* name, column, kind, offset, text, secret, key */

    { "id", "id", NGX_HTTP_Q2API_ROW_IS_STRING, q2api_row(id), 0, 0, 1 },
    { "label", "label", NGX_HTTP_Q2API_ROW_IS_STRING, q2api_row(label),
      0, 0, 0 },
    { "clientId", "clientId", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(client_id), 0, 0, 0 },
    { "clientSecret", "clientSecret", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(client_secret), 0, 1, 0 },
    { "refreshToken", "refreshToken", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(refresh_token), 0, 1, 0 },
    { "accessToken", "accessToken", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(access_token), 0, 1, 0 },
    { "profileArn", "profile_arn", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(profile_arn), 0, 0, 0 },
    { "type", "type", NGX_HTTP_Q2API_ROW_IS_TYPE, q2api_row(type),
      0, 0, 0 },
    { "enabled", "enabled", NGX_HTTP_Q2API_ROW_IS_FLAG, q2api_row(enabled),
      0, 0, 0 },
    { "other", "other", NGX_HTTP_Q2API_ROW_IS_JSON, q2api_row(other),
      0, 0, 0 },
    { "status", "status", NGX_HTTP_Q2API_ROW_IS_STATUS, q2api_row(status),
      0, 0, 0 },
    { "status_reason", "status_reason", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(reason), 0, 0, 0 },
    { "status_since", "status_since", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(status_since), 0, 0, 0 },
    { "status_until", "status_until", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(until), 0, 0, 0 },
    { "expires_at", "expires_at", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(token_expires), 1, 0, 0 },
    { "token_expires", "token_expires", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(token_expires), 0, 0, 0 },
    { "success_count", "success_count", NGX_HTTP_Q2API_ROW_IS_COUNTER,
      q2api_row(successes), 0, 0, 0 },
    { "error_count", "error_count", NGX_HTTP_Q2API_ROW_IS_COUNTER,
      q2api_row(consecutive_errors), 0, 0, 0 },
    { "total_errors", "total_errors", NGX_HTTP_Q2API_ROW_IS_COUNTER,
      q2api_row(errors), 0, 0, 0 },
    { "tokens_in", "tokens_in", NGX_HTTP_Q2API_ROW_IS_COUNTER,
      q2api_row(tokens_in), 0, 0, 0 },
    { "tokens_out", "tokens_out", NGX_HTTP_Q2API_ROW_IS_COUNTER,
      q2api_row(tokens_out), 0, 0, 0 },
    { "last_used", "last_used", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(last_used), 0, 0, 0 },
    { "last_error", "last_error", NGX_HTTP_Q2API_ROW_IS_STRING,
      q2api_row(last_error), 0, 0, 0 },
    { "created_at", "created_at", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(created_at), 1, 0, 0 },
    { "updated_at", "updated_at", NGX_HTTP_Q2API_ROW_IS_TIME,
      q2api_row(updated_at), 1, 0, 0 }
};


/* token_expires is the database's alone: the file has expires_at */
ngx_http_q2api_row_field_e  ngx_http_q2api_row_file[] = {
    NGX_HTTP_Q2API_ROW_ID,
    NGX_HTTP_Q2API_ROW_LABEL,
    NGX_HTTP_Q2API_ROW_CLIENT_ID,
    NGX_HTTP_Q2API_ROW_CLIENT_SECRET,
    NGX_HTTP_Q2API_ROW_REFRESH_TOKEN,
    NGX_HTTP_Q2API_ROW_ACCESS_TOKEN,
    NGX_HTTP_Q2API_ROW_PROFILE_ARN,
    NGX_HTTP_Q2API_ROW_TYPE,
    NGX_HTTP_Q2API_ROW_ENABLED,
    NGX_HTTP_Q2API_ROW_OTHER,
    NGX_HTTP_Q2API_ROW_STATUS,
    NGX_HTTP_Q2API_ROW_STATUS_REASON,
    NGX_HTTP_Q2API_ROW_STATUS_SINCE,
    NGX_HTTP_Q2API_ROW_STATUS_UNTIL,
    NGX_HTTP_Q2API_ROW_EXPIRES_AT,
    NGX_HTTP_Q2API_ROW_SUCCESS_COUNT,
    NGX_HTTP_Q2API_ROW_ERROR_COUNT,
    NGX_HTTP_Q2API_ROW_TOTAL_ERRORS,
    NGX_HTTP_Q2API_ROW_TOKENS_IN,
    NGX_HTTP_Q2API_ROW_TOKENS_OUT,
    NGX_HTTP_Q2API_ROW_LAST_USED,
    NGX_HTTP_Q2API_ROW_LAST_ERROR,
    NGX_HTTP_Q2API_ROW_CREATED_AT,
    NGX_HTTP_Q2API_ROW_UPDATED_AT,
    NGX_HTTP_Q2API_ROW_END
};


/* reading ----------------------------------------------------------------- */


ngx_int_t
ngx_http_q2api_row_from_json(cJSON *obj, ngx_http_q2api_row_field_e *view,
    ngx_pool_t *pool, ngx_http_q2api_account_data_t *d,
    ngx_http_q2api_row_field_e *bad)
{
    cJSON      *v;
    ngx_int_t   rc;

    for ( /* void */ ; *view != NGX_HTTP_Q2API_ROW_END; view++) {

        v = cJSON_GetObjectItemCaseSensitive(obj,
                                         ngx_http_q2api_row_fields[*view].name);

        rc = ngx_http_q2api_row_json_in(*view, v, pool, d);

        if (rc != NGX_OK) {
            if (bad) {
                *bad = *view;
            }

            return rc;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_q2api_row_json_in(ngx_http_q2api_row_field_e field, cJSON *v,
    ngx_pool_t *pool, ngx_http_q2api_account_data_t *d)
{
    char                        *printed;
    u_char                      *p;
    time_t                       t;
    ngx_int_t                    rc;
    ngx_str_t                   *s, name;
    ngx_http_q2api_row_field_t  *f;

    f = &ngx_http_q2api_row_fields[field];
    p = (u_char *) d + f->offset;
    s = (ngx_str_t *) p;

    switch (f->kind) {

    case NGX_HTTP_Q2API_ROW_IS_FLAG:
        /* q2api keeps 0/1, amq2api a boolean; absent: the column default */
        *(ngx_flag_t *) p = v == NULL || cJSON_IsNull(v) || cJSON_IsTrue(v)
                            || (cJSON_IsNumber(v) && v->valuedouble != 0);
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_TIME:
        t = 0;

        /* a number past the type is undefined to convert: no time */
        if (cJSON_IsNumber(v) && v->valuedouble > 0
            && v->valuedouble < Q2API_TIME_MAX)
        {
            t = (time_t) v->valuedouble;

        } else if (cJSON_IsString(v)) {
            t = ngx_http_q2api_row_parse_time((u_char *) v->valuestring,
                                              ngx_strlen(v->valuestring));
        }

        if (t) {
            *(time_t *) p = t;
        }

        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_COUNTER:
        *(uint64_t *) p = (cJSON_IsNumber(v) && v->valuedouble > 0
                           && v->valuedouble < NGX_HTTP_Q2API_ROW_COUNTER_MAX)
                          ? (uint64_t) v->valuedouble : 0;
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_JSON:

        if (!cJSON_IsObject(v)) {
            /* q2api's database export has it as text */
            break;
        }

        printed = cJSON_PrintUnformatted(v);
        if (printed == NULL) {
            return NGX_ERROR;
        }

        s->len = ngx_strlen(printed);

        if (!q2api_utf8_valid(printed, s->len)) {
            /* a NUL mark (q2api_nul.h) would be written raw */
            cJSON_free(printed);
            return NGX_DECLINED;
        }

        s->data = ngx_pnalloc(pool, s->len);

        if (s->data != NULL) {
            ngx_memcpy(s->data, printed, s->len);
        }

        cJSON_free(printed);

        if (s->data == NULL) {
            return NGX_ERROR;
        }

        return ngx_http_q2api_row_other(s, d, NULL);

    default:
        break;
    }

    name.len = 0;
    name.data = NULL;

    if (cJSON_IsString(v)) {
        name.data = (u_char *) v->valuestring;
        name.len = ngx_strlen(v->valuestring);
    }

    switch (f->kind) {

    case NGX_HTTP_Q2API_ROW_IS_TYPE:
        return ngx_http_q2api_row_type(&name, (ngx_uint_t *) p);

    case NGX_HTTP_Q2API_ROW_IS_STATUS:
        *(ngx_uint_t *) p = ngx_http_q2api_status_from_name(name.data,
                                                            name.len);
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_JSON:
        /* text that is no one object would be written back as it is */
        rc = ngx_http_q2api_row_string(field, &name, s);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_q2api_row_other(s, d, NULL);

    default:
        return ngx_http_q2api_row_string(field, &name, s);
    }
}


ngx_int_t
ngx_http_q2api_row_from_text(ngx_http_q2api_row_field_e field,
    ngx_str_t *text, ngx_http_q2api_account_data_t *d)
{
    u_char                      *p;
    time_t                       t;
    ngx_int_t                    rc;
    ngx_http_q2api_row_field_t  *f;

    f = &ngx_http_q2api_row_fields[field];
    p = (u_char *) d + f->offset;

    switch (f->kind) {

    case NGX_HTTP_Q2API_ROW_IS_FLAG:
        /* q2api's 0/1; NULL is the column's default */
        *(ngx_flag_t *) p = !(text->len == 1 && text->data[0] == '0');
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_TIME:
        t = f->text ? ngx_http_q2api_row_parse_time(text->data, text->len)
                    : (time_t) ngx_http_q2api_row_number(text);

        if (t) {
            *(time_t *) p = t;
        }

        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_COUNTER:
        *(uint64_t *) p = ngx_http_q2api_row_number(text);
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_TYPE:
        return ngx_http_q2api_row_type(text, (ngx_uint_t *) p);

    case NGX_HTTP_Q2API_ROW_IS_STATUS:
        *(ngx_uint_t *) p = ngx_http_q2api_status_from_name(text->data,
                                                            text->len);
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_JSON:
        rc = ngx_http_q2api_row_string(field, text, (ngx_str_t *) p);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_q2api_row_other(text, d, NULL);

    default:
        return ngx_http_q2api_row_string(field, text, (ngx_str_t *) p);
    }
}


/*
 * A Gemini account keeps its Code Assist project and endpoint in other,
 * amq2api's shape: the project goes into request bodies and the endpoint
 * chooses the host a Google token is sent to, so both are held to their
 * checks here, where a row enters.  Values with JSON escapes are refused
 * (no real one has any), so that the copies point into other's text.
 * other that is no JSON object carries none of them.
 */
ngx_int_t
ngx_http_q2api_row_other(ngx_str_t *other, ngx_http_q2api_account_data_t *d,
    const char **bad)
{
    ngx_int_t           named;
    const char         *member;
    q2api_json_field_t  f[3];

    ngx_memzero(f, sizeof(f));
    f[0].name = "project";
    f[1].name = "api_endpoint";
    f[2].name = "flavour";

    ngx_str_null(&d->project);
    ngx_str_null(&d->api_endpoint);
    d->flavour = 0;
    d->flavour_named = 0;

    if (other->len == 0
        || q2api_json_fields((const char *) other->data, other->len, f, 3)
           != Q2API_OK)
    {
        return NGX_OK;
    }

    member = NULL;

    if (ngx_http_q2api_row_member(&f[0], Q2API_CHECK_PROJECT) != NGX_OK) {
        member = "project";

    } else if (ngx_http_q2api_row_member(&f[1], Q2API_CHECK_ENDPOINT)
               != NGX_OK)
    {
        member = "api_endpoint";

    } else if (f[2].type != Q2API_JSON_ABSENT && f[2].type != Q2API_JSON_NULL) {
        named = (f[2].type == Q2API_JSON_STRING)
                ? ngx_http_q2api_gemini_flavour_named((u_char *) f[2].value,
                                                      f[2].len)
                : NGX_ERROR;

        if (named == NGX_ERROR) {
            member = "flavour";

        } else {
            d->flavour = (ngx_uint_t) named;
            d->flavour_named = 1;
        }
    }

    if (member) {
        if (bad) {
            *bad = member;
        }

        return NGX_DECLINED;
    }

    if (f[0].type == Q2API_JSON_STRING) {
        d->project.data = (u_char *) f[0].value;
        d->project.len = f[0].len;
    }

    if (f[1].type == Q2API_JSON_STRING) {
        d->api_endpoint.data = (u_char *) f[1].value;
        d->api_endpoint.len = f[1].len;
    }

    return NGX_OK;
}


/* absent, null, "" or a string of the class without escapes */
static ngx_int_t
ngx_http_q2api_row_member(q2api_json_field_t *f, q2api_check_e what)
{
    if (f->type == Q2API_JSON_ABSENT || f->type == Q2API_JSON_NULL) {
        return NGX_OK;
    }

    if (f->type != Q2API_JSON_STRING || f->escaped
        || (f->len && q2api_check(what, f->value, f->len) != Q2API_OK))
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The class a field is checked as where it enters (q2api_check.h); -1:
 * a field that reaches no header, URL or host (reasons, errors).
 */
static int
ngx_http_q2api_row_class(ngx_http_q2api_row_field_e field)
{
    switch (field) {

    case NGX_HTTP_Q2API_ROW_ID:
        return Q2API_CHECK_ID;

    case NGX_HTTP_Q2API_ROW_LABEL:
        return Q2API_CHECK_LABEL;

    case NGX_HTTP_Q2API_ROW_CLIENT_ID:
    case NGX_HTTP_Q2API_ROW_CLIENT_SECRET:
    case NGX_HTTP_Q2API_ROW_REFRESH_TOKEN:
    case NGX_HTTP_Q2API_ROW_ACCESS_TOKEN:
        return Q2API_CHECK_TOKEN;

    case NGX_HTTP_Q2API_ROW_PROFILE_ARN:
        return Q2API_CHECK_ARN;

    default:
        return -1;
    }
}


/* a row read from a file or a database is held to the admin API's rules */
static ngx_int_t
ngx_http_q2api_row_string(ngx_http_q2api_row_field_e field,
    ngx_str_t *value, ngx_str_t *to)
{
    int  what;

    what = ngx_http_q2api_row_class(field);

    if (value->len && what != -1
        && q2api_check(what, (char *) value->data, value->len) != Q2API_OK)
    {
        return NGX_DECLINED;
    }

    if (value->len
        && ngx_http_q2api_row_fields[field].kind == NGX_HTTP_Q2API_ROW_IS_JSON
        && !ngx_http_q2api_row_object((char *) value->data, value->len))
    {
        return NGX_DECLINED;
    }

    *to = *value;

    return NGX_OK;
}


/*
 * JSON text is written back into files and answers as it is: anything
 * but one object (q2api's database has "other" as text) would break them
 */
static ngx_uint_t
ngx_http_q2api_row_object(const char *text, size_t len)
{
    cJSON       *o;
    ngx_uint_t   ok;
    const char  *at;

    if (!q2api_utf8_valid(text, len)) {
        return 0;
    }

    o = q2api_json_document(text, len, &at);
    ok = cJSON_IsObject(o);
    cJSON_Delete(o);

    return ok;
}


const char *
ngx_http_q2api_row_rule(ngx_http_q2api_row_field_e field)
{
    int  what;

    if (field == NGX_HTTP_Q2API_ROW_OTHER) {
        return NGX_HTTP_Q2API_ROW_OTHER_RULE;
    }

    what = ngx_http_q2api_row_class(field);

    return (what == -1) ? "is not acceptable" : q2api_check_rule(what);
}


/* no type is amazonq: q2api's rows are older than any other kind */
static ngx_int_t
ngx_http_q2api_row_type(ngx_str_t *name, ngx_uint_t *type)
{
    if (name->len == 0) {
        *type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
        return NGX_OK;
    }

    *type = ngx_http_q2api_kind_type(name->data, name->len);

    return (*type == NGX_HTTP_Q2API_ACCOUNT_UNKNOWN) ? NGX_DECLINED : NGX_OK;
}


static uint64_t
ngx_http_q2api_row_number(ngx_str_t *text)
{
    off_t  n;

    if (text->len == 0) {
        return 0;
    }

    n = ngx_atoof(text->data, text->len);

    return (n == NGX_ERROR) ? 0 : (uint64_t) n;
}


/* writing ----------------------------------------------------------------- */


ngx_int_t
ngx_http_q2api_row_to_json(q2api_buf_t *b, ngx_http_q2api_account_data_t *d,
    ngx_http_q2api_row_field_e *view, ngx_uint_t flags)
{
    const char                  *name;
    ngx_http_q2api_row_field_e  *f;

    if (q2api_buf_append_byte(b, '{') != Q2API_OK) {
        return NGX_ERROR;
    }

    for (f = view; *f != NGX_HTTP_Q2API_ROW_END; f++) {

        name = ngx_http_q2api_row_fields[*f].name;

        if ((f != view && q2api_buf_append_byte(b, ',') != Q2API_OK)
            || q2api_json_append_string(b, name, ngx_strlen(name))
               != Q2API_OK
            || q2api_buf_append_byte(b, ':') != Q2API_OK
            || ngx_http_q2api_row_json_out(b, *f, d, flags) != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return (q2api_buf_append_byte(b, '}') == Q2API_OK) ? NGX_OK : NGX_ERROR;
}


ngx_int_t
ngx_http_q2api_row_json_out(q2api_buf_t *b, ngx_http_q2api_row_field_e field,
    ngx_http_q2api_account_data_t *d, ngx_uint_t flags)
{
    int                          rc;
    u_char                      *p, *q, buf[NGX_HTTP_Q2API_ROW_TIME_LEN + 2];
    time_t                       t;
    ngx_str_t                   *s;
    const char                  *name;
    ngx_http_q2api_row_field_t  *f;

    f = &ngx_http_q2api_row_fields[field];
    p = (u_char *) d + f->offset;
    s = (ngx_str_t *) p;

    switch (f->kind) {

    case NGX_HTTP_Q2API_ROW_IS_FLAG:
        rc = q2api_buf_append_str(b, (flags & NGX_HTTP_Q2API_ROW_FLAG_NUMS)
                                     ? (*(ngx_flag_t *) p ? "1" : "0")
                                     : (*(ngx_flag_t *) p ? "true" : "false"));
        break;

    case NGX_HTTP_Q2API_ROW_IS_TIME:
        t = *(time_t *) p;

        if (!(flags & NGX_HTTP_Q2API_ROW_TEXT_TIMES)
            && !((flags & NGX_HTTP_Q2API_ROW_Q2API_TIMES) && f->text))
        {
            rc = q2api_json_append_int(b, (long long) t);
            break;
        }

        if (t <= 0) {
            rc = q2api_buf_append_str(b, "null");
            break;
        }

        q = buf;
        *q++ = '"';
        q = ngx_http_q2api_row_print_time(q, t);
        *q++ = '"';

        rc = q2api_buf_append(b, buf, q - buf);
        break;

    case NGX_HTTP_Q2API_ROW_IS_COUNTER:
        rc = q2api_json_append_int(b, (long long) *(uint64_t *) p);
        break;

    case NGX_HTTP_Q2API_ROW_IS_JSON:
        /* the object's text as it is */
        rc = s->len ? q2api_buf_append(b, s->data, s->len)
                    : q2api_buf_append_str(b, "null");
        break;

    case NGX_HTTP_Q2API_ROW_IS_TYPE:
        s = ngx_http_q2api_kind_name(*(ngx_uint_t *) p);
        rc = q2api_json_append_string(b, (char *) s->data, s->len);
        break;

    case NGX_HTTP_Q2API_ROW_IS_STATUS:
        name = ngx_http_q2api_status_name(*(ngx_uint_t *) p);
        rc = q2api_json_append_string(b, name, ngx_strlen(name));
        break;

    default:
        rc = (s->len == 0 && !f->key)
             ? q2api_buf_append_str(b, "null")
             : q2api_json_append_string(b, (char *) s->data, s->len);
        break;
    }

    return (rc == Q2API_OK) ? NGX_OK : NGX_ERROR;
}


/* an empty string is NULL, as q2api leaves unset columns */
ngx_int_t
ngx_http_q2api_row_text(ngx_pool_t *pool, ngx_http_q2api_row_field_e field,
    ngx_http_q2api_account_data_t *d, const char **value)
{
    u_char                      *p, *buf;
    time_t                       t;
    ngx_str_t                   *s;
    ngx_http_q2api_row_field_t  *f;

    f = &ngx_http_q2api_row_fields[field];
    p = (u_char *) d + f->offset;
    s = (ngx_str_t *) p;

    *value = NULL;

    switch (f->kind) {

    case NGX_HTTP_Q2API_ROW_IS_FLAG:
        *value = *(ngx_flag_t *) p ? "1" : "0";
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_TYPE:
        *value = (const char *) ngx_http_q2api_kind_name(
                                    *(ngx_uint_t *) p)->data;
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_STATUS:
        *value = ngx_http_q2api_status_name(*(ngx_uint_t *) p);
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_TIME:
        t = *(time_t *) p;

        if (t == 0) {
            return NGX_OK;
        }

        buf = ngx_pnalloc(pool, NGX_HTTP_Q2API_ROW_TIME_LEN);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        *(f->text ? ngx_http_q2api_row_print_time(buf, t)
                  : ngx_sprintf(buf, "%uL", (uint64_t) t)) = '\0';

        *value = (const char *) buf;
        return NGX_OK;

    case NGX_HTTP_Q2API_ROW_IS_COUNTER:
        buf = ngx_pnalloc(pool, NGX_INT64_LEN + 1);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        *ngx_sprintf(buf, "%uL", *(uint64_t *) p) = '\0';

        *value = (const char *) buf;
        return NGX_OK;

    default:

        if (s->len == 0) {
            return NGX_OK;
        }

        buf = ngx_pnalloc(pool, s->len + 1);
        if (buf == NULL) {
            return NGX_ERROR;
        }

        *ngx_cpymem(buf, s->data, s->len) = '\0';

        *value = (const char *) buf;
        return NGX_OK;
    }
}


u_char *
ngx_http_q2api_row_columns(ngx_pool_t *pool, ngx_http_q2api_row_field_e *view)
{
    u_char                      *p, *buf;
    size_t                       len;
    const char                  *column;
    ngx_http_q2api_row_field_e  *f;

    len = 1;

    for (f = view; *f != NGX_HTTP_Q2API_ROW_END; f++) {
        len += ngx_strlen(ngx_http_q2api_row_fields[*f].column) + 2;
    }

    buf = ngx_pnalloc(pool, len);
    if (buf == NULL) {
        return NULL;
    }

    p = buf;

    for (f = view; *f != NGX_HTTP_Q2API_ROW_END; f++) {

        if (f != view) {
            *p++ = ',';
            *p++ = ' ';
        }

        column = ngx_http_q2api_row_fields[*f].column;
        p = ngx_cpymem(p, column, ngx_strlen(column));
    }

    *p = '\0';

    return buf;
}


ngx_uint_t
ngx_http_q2api_row_count(ngx_http_q2api_row_field_e *view)
{
    ngx_uint_t  n;

    for (n = 0; view[n] != NGX_HTTP_Q2API_ROW_END; n++) {
        /* void */
    }

    return n;
}


/* times ------------------------------------------------------------------- */


/* the core's one timestamp parser; 0 (no time) for what it refuses */
time_t
ngx_http_q2api_row_parse_time(u_char *p, size_t len)
{
    time_t  t;

    if (q2api_time_parse((char *) p, len, &t) != Q2API_OK) {
        return 0;
    }

    return t;
}


/* q2api's format, without a NUL; buf has NGX_HTTP_Q2API_ROW_TIME_LEN */
u_char *
ngx_http_q2api_row_print_time(u_char *buf, time_t t)
{
    char  text[Q2API_TIME_LEN];

    return ngx_cpymem(buf, text, q2api_time_format(t, text));
}
