/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * Account input: the request body as JSON, the checks of each field an
 * account may be given (the same for create, patch, feed and import), a
 * new account's defaults, and query arguments.
 */


#include "ngx_http_q2api_admin.h"
#include "q2api_canon.h"
#include "q2api_check.h"
#include "q2api_json.h"
#include "q2api_nul.h"
#include "q2api_time.h"
#include "ngx_http_q2api_row.h"


/* what a field's value must be */
#define NGX_HTTP_Q2API_VALUE_ID         1
#define NGX_HTTP_Q2API_VALUE_TEXT       2
#define NGX_HTTP_Q2API_VALUE_TOKEN      3
#define NGX_HTTP_Q2API_VALUE_OTHER      4
#define NGX_HTTP_Q2API_VALUE_BOOL       5
#define NGX_HTTP_Q2API_VALUE_TYPE       6
#define NGX_HTTP_Q2API_VALUE_TIME       7
#define NGX_HTTP_Q2API_VALUE_ARN        8


typedef struct {
    const char                *name;
    ngx_uint_t                 bit;
    ngx_uint_t                 value;
    size_t                     offset;        /* in the account data */
    size_t                     max;
    ngx_uint_t                 import_only;
} ngx_http_q2api_admin_field_t;


static ngx_http_q2api_admin_field_t  ngx_http_q2api_admin_fields[] = {

    { "id", NGX_HTTP_Q2API_F_ID, NGX_HTTP_Q2API_VALUE_ID,
      offsetof(ngx_http_q2api_account_data_t, id),
      NGX_HTTP_Q2API_ADMIN_ID_MAX, 0 },

    { "label", NGX_HTTP_Q2API_F_LABEL, NGX_HTTP_Q2API_VALUE_TEXT,
      offsetof(ngx_http_q2api_account_data_t, label),
      NGX_HTTP_Q2API_ADMIN_LABEL_MAX, 0 },

    { "clientId", NGX_HTTP_Q2API_F_CLIENT_ID, NGX_HTTP_Q2API_VALUE_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, client_id),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "clientSecret", NGX_HTTP_Q2API_F_CLIENT_SECRET,
      NGX_HTTP_Q2API_VALUE_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, client_secret),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "refreshToken", NGX_HTTP_Q2API_F_REFRESH, NGX_HTTP_Q2API_VALUE_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, refresh_token),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "accessToken", NGX_HTTP_Q2API_F_ACCESS, NGX_HTTP_Q2API_VALUE_TOKEN,
      offsetof(ngx_http_q2api_account_data_t, access_token),
      NGX_HTTP_Q2API_ADMIN_TOKEN_MAX, 0 },

    { "profileArn", NGX_HTTP_Q2API_F_ARN, NGX_HTTP_Q2API_VALUE_ARN,
      offsetof(ngx_http_q2api_account_data_t, profile_arn),
      NGX_HTTP_Q2API_ADMIN_ARN_MAX, 0 },

    { "other", NGX_HTTP_Q2API_F_OTHER, NGX_HTTP_Q2API_VALUE_OTHER,
      offsetof(ngx_http_q2api_account_data_t, other),
      NGX_HTTP_Q2API_ADMIN_OTHER_MAX, 0 },

    { "enabled", NGX_HTTP_Q2API_F_ENABLED, NGX_HTTP_Q2API_VALUE_BOOL,
      0, 0, 0 },

    { "type", NGX_HTTP_Q2API_F_TYPE, NGX_HTTP_Q2API_VALUE_TYPE, 0, 0, 0 },

    { "created_at", NGX_HTTP_Q2API_F_CREATED, NGX_HTTP_Q2API_VALUE_TIME,
      offsetof(ngx_http_q2api_account_data_t, created_at), 0, 1 },

    { "expires_at", NGX_HTTP_Q2API_F_EXPIRES, NGX_HTTP_Q2API_VALUE_TIME,
      offsetof(ngx_http_q2api_account_data_t, token_expires), 0, 1 },

    { NULL, 0, 0, 0, 0, 0 }
};


/* names under /v2/accounts/ that are routes, not accounts */
static char  *ngx_http_q2api_admin_reserved[] = {
    "feed", "import", "export", "refresh-all", NULL
};


static void
ngx_http_q2api_admin_cjson_cleanup(void *data)
{
    cJSON_Delete(data);
}


/* the body as JSON, freed with the request; NULL and err when it is not */
cJSON *
ngx_http_q2api_admin_parse(ngx_http_request_t *r, ngx_str_t *text,
    u_char *err)
{
    int                  nul;
    u_char              *p;
    cJSON               *root;
    const char          *at;
    ngx_pool_cleanup_t  *cln;

    if (text->len == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "body: a JSON body is required%Z");
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN, "out of memory%Z");
        return NULL;
    }

    if (!q2api_utf8_valid((char *) text->data, text->len)) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "body: not valid UTF-8%Z");
        return NULL;
    }

    nul = q2api_nul_found((char *) text->data, text->len);

    if (nul == -1) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "body: invalid JSON (a \\u escape without four hex "
                     "digits)%Z");
        return NULL;
    }

    if (nul) {
        /* cJSON would cut "a\u0000b" to "a": mark the NULs, so that the
         * field that holds one is refused by name */
        p = ngx_pnalloc(r->pool, text->len);
        if (p == NULL) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN, "out of memory%Z");
            return NULL;
        }

        ngx_memcpy(p, text->data, text->len);
        text->len = q2api_nul_mark((char *) p, text->len);
        text->data = p;
    }

    root = cJSON_ParseWithLength((char *) text->data, text->len);

    if (root == NULL) {
        at = cJSON_GetErrorPtr();
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "body: invalid JSON near byte %uz%Z",
                     (at >= (char *) text->data
                      && at <= (char *) text->data + text->len)
                     ? (size_t) (at - (char *) text->data) : (size_t) 0);
        return NULL;
    }

    cln->handler = ngx_http_q2api_admin_cjson_cleanup;
    cln->data = root;

    return root;
}


/* a name under /v2/accounts/ that is a route */
static ngx_uint_t
ngx_http_q2api_admin_reserved_id(u_char *p, size_t len)
{
    ngx_uint_t  i;

    for (i = 0; ngx_http_q2api_admin_reserved[i]; i++) {
        if (len == ngx_strlen(ngx_http_q2api_admin_reserved[i])
            && ngx_strncmp(p, ngx_http_q2api_admin_reserved[i], len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* epoch seconds, or q2api's "%Y-%m-%dT%H:%M:%S" text (UTC) */
static ngx_int_t
ngx_http_q2api_admin_time_in(cJSON *v, time_t *t)
{
    if (cJSON_IsNumber(v) && v->valuedouble >= 0
        && v->valuedouble < 253402300800.0)
    {
        *t = (time_t) v->valuedouble;
        return NGX_OK;
    }

    if (!cJSON_IsString(v)
        || q2api_time_parse(v->valuestring, ngx_strlen(v->valuestring), t)
           != Q2API_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * One account from a request body into in->d, naming the first bad field
 * in err ("<prefix><field>: <problem>").  Unknown fields are refused on
 * create and patch (a typo would otherwise silently lose a credential)
 * and ignored on import (an export carries this module's state).  null
 * means "not given", as in q2api.  Strings point into the cJSON tree.
 */
ngx_int_t
ngx_http_q2api_admin_input(ngx_http_request_t *r, cJSON *obj,
    ngx_uint_t mode, ngx_http_q2api_admin_input_t *in, const char *prefix,
    u_char *err)
{
    char                          *printed;
    size_t                         len;
    cJSON                         *v, *o;
    const char                    *member;
    u_char                        *s;
    ngx_str_t                     *str;
    ngx_http_q2api_admin_field_t  *f;

    ngx_memzero(in, sizeof(ngx_http_q2api_admin_input_t));

    if (!cJSON_IsObject(obj)) {
        /* "accounts[2].": the element itself is wrong */
        len = ngx_strlen(prefix);

        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%*s: expected a JSON object%Z",
                     len ? len - 1 : sizeof("body") - 1,
                     len ? prefix : "body");
        return NGX_DECLINED;
    }

    cJSON_ArrayForEach(v, obj) {

        for (f = ngx_http_q2api_admin_fields; f->name; f++) {
            if (ngx_strcmp(v->string, f->name) == 0) {
                break;
            }
        }

        if (f->name == NULL
            || (f->import_only && mode != NGX_HTTP_Q2API_INPUT_IMPORT))
        {
            if (mode == NGX_HTTP_Q2API_INPUT_IMPORT) {
                continue;
            }

            len = ngx_min(ngx_strlen(v->string), 64);
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%*s: unknown or read-only field%Z", prefix, len,
                         v->string);
            return NGX_DECLINED;
        }

        if (in->set & f->bit) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: given twice%Z", prefix, f->name);
            return NGX_DECLINED;
        }

        if (cJSON_IsNull(v)) {
            continue;
        }

        in->set |= f->bit;
        str = (ngx_str_t *) ((u_char *) &in->d + f->offset);

        switch (f->value) {

        case NGX_HTTP_Q2API_VALUE_BOOL:
            if (cJSON_IsBool(v)) {
                in->d.enabled = cJSON_IsTrue(v) ? 1 : 0;

            } else if (cJSON_IsNumber(v)
                       && (v->valuedouble == 0 || v->valuedouble == 1))
            {
                /* q2api's database keeps 0 and 1 */
                in->d.enabled = v->valuedouble == 1;

            } else {
                goto bool_expected;
            }

            continue;

        case NGX_HTTP_Q2API_VALUE_TYPE:
            if (!cJSON_IsString(v)) {
                goto type_expected;
            }

            in->d.type = ngx_http_q2api_kind_type((u_char *) v->valuestring,
                                                  ngx_strlen(v->valuestring));

            if (in->d.type == NGX_HTTP_Q2API_ACCOUNT_UNKNOWN) {
                goto type_expected;
            }

            continue;

        case NGX_HTTP_Q2API_VALUE_TIME:
            if (ngx_http_q2api_admin_time_in(v,
                    (time_t *) ((u_char *) &in->d + f->offset))
                != NGX_OK)
            {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: expected epoch seconds or "
                             "YYYY-MM-DDTHH:MM:SS%Z", prefix, f->name);
                return NGX_DECLINED;
            }

            continue;

        case NGX_HTTP_Q2API_VALUE_OTHER:
            if (cJSON_IsString(v) && mode == NGX_HTTP_Q2API_INPUT_IMPORT) {
                /* a q2api database export keeps "other" as text */
                o = cJSON_Parse(v->valuestring);
                printed = cJSON_IsObject(o) ? cJSON_PrintUnformatted(o)
                                            : NULL;
                cJSON_Delete(o);

                if (printed == NULL) {
                    goto object_expected;
                }

            } else if (cJSON_IsObject(v)) {
                printed = cJSON_PrintUnformatted(v);
                if (printed == NULL) {
                    return NGX_ERROR;
                }

            } else {
                goto object_expected;
            }

            len = ngx_strlen(printed);

            if (len > f->max || !q2api_utf8_valid(printed, len)) {
                cJSON_free(printed);
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: must be valid UTF-8 of at most %uz "
                             "bytes%Z", prefix, f->name, f->max);
                return NGX_DECLINED;
            }

            str->data = ngx_pnalloc(r->pool, len);
            if (str->data == NULL) {
                cJSON_free(printed);
                return NGX_ERROR;
            }

            ngx_memcpy(str->data, printed, len);
            str->len = len;
            cJSON_free(printed);

            if (ngx_http_q2api_row_other(str, &in->d, &member) != NGX_OK) {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%sother.%s: %s%Z", prefix, member,
                             member[0] == 'p'
                             ? q2api_check_rule(Q2API_CHECK_PROJECT)
                             : member[0] == 'a'
                             ? q2api_check_rule(Q2API_CHECK_ENDPOINT)
                             : "must be \"gemini-cli\" or \"antigravity\"");
                return NGX_DECLINED;
            }

            continue;

        default: /* strings */
            break;
        }

        if (!cJSON_IsString(v)) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: expected a string%Z", prefix, f->name);
            return NGX_DECLINED;
        }

        s = (u_char *) v->valuestring;
        len = ngx_strlen(v->valuestring);

        if (len > f->max) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: longer than %uz bytes%Z", prefix, f->name,
                         f->max);
            return NGX_DECLINED;
        }

        if (ngx_strlchr(s, s + len, Q2API_NUL_MARK) != NULL) {
            ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                         "%s%s: must not contain NUL%Z", prefix, f->name);
            return NGX_DECLINED;
        }

        switch (f->value) {

        case NGX_HTTP_Q2API_VALUE_ID:
            if (q2api_check(Q2API_CHECK_ID, (char *) s, len) != Q2API_OK
                || ngx_http_q2api_admin_reserved_id(s, len))
            {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%sid: 1 to %d characters of A-Z a-z 0-9 "
                             "- . _ ~ : @, not . or .., and not a route "
                             "name%Z", prefix,
                             NGX_HTTP_Q2API_ADMIN_ID_MAX);
                return NGX_DECLINED;
            }

            break;

        case NGX_HTTP_Q2API_VALUE_TEXT:
            if (len && q2api_check(Q2API_CHECK_LABEL, (char *) s, len)
                       != Q2API_OK)
            {
                goto text_expected;
            }

            break;

        case NGX_HTTP_Q2API_VALUE_ARN:
            /* its region becomes part of the backend's host name */
            if (len && q2api_check(Q2API_CHECK_ARN, (char *) s, len)
                       != Q2API_OK)
            {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: %s%Z", prefix, f->name,
                             q2api_check_rule(Q2API_CHECK_ARN));
                return NGX_DECLINED;
            }

            break;

        default: /* NGX_HTTP_Q2API_VALUE_TOKEN */

            /* these go into HTTP headers and request bodies as they are */
            if (len && q2api_check(Q2API_CHECK_TOKEN, (char *) s, len)
                       != Q2API_OK)
            {
                ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                             "%s%s: %s%Z", prefix, f->name,
                             ngx_strstrn(s, "\xe2\x80\xa6", 3 - 1)
                             ? "a masked value (as listings show it) "
                               "cannot be stored"
                             : "must be printable ASCII without spaces");
                return NGX_DECLINED;
            }
        }

        str->data = s;
        str->len = len;
    }

    return NGX_OK;

bool_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%senabled: expected a boolean%Z", prefix);
    return NGX_DECLINED;

type_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%stype: expected \"amazonq\", \"kiro\" or \"gemini\"%Z",
                 prefix);
    return NGX_DECLINED;

object_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%sother: expected a JSON object%Z", prefix);
    return NGX_DECLINED;

text_expected:

    ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                 "%slabel: must be valid UTF-8 without control "
                 "characters%Z", prefix);
    return NGX_DECLINED;
}


/*
 * A new account's defaults and the checks that span fields: an id (a
 * fresh UUIDv4 when none is given), enabled, a credential to work with.
 */
ngx_int_t
ngx_http_q2api_admin_complete(ngx_http_request_t *r,
    ngx_http_q2api_admin_input_t *in, const char *prefix, u_char *err)
{
    ngx_http_q2api_account_data_t  *d;

    d = &in->d;

    if (!(in->set & NGX_HTTP_Q2API_F_ID)) {
        d->id.data = ngx_pnalloc(r->pool, 37);
        if (d->id.data == NULL) {
            return NGX_ERROR;
        }

        if (q2api_uuid4((char *) d->id.data) != Q2API_OK) {
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "q2api admin: RAND_bytes() failed");
            return NGX_ERROR;
        }

        d->id.len = 36;
    }

    if (!(in->set & NGX_HTTP_Q2API_F_ENABLED)) {
        d->enabled = 1;
    }

    if (!(in->set & NGX_HTTP_Q2API_F_TYPE)) {
        d->type = NGX_HTTP_Q2API_ACCOUNT_AMAZONQ;
    }

    if (d->access_token.len == 0 && d->refresh_token.len == 0) {
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%saccessToken: an account needs an accessToken or a "
                     "refreshToken%Z", prefix);
        return NGX_DECLINED;
    }

    if (d->type == NGX_HTTP_Q2API_ACCOUNT_AMAZONQ && d->refresh_token.len
        && (d->client_id.len == 0 || d->client_secret.len == 0))
    {
        /* an Amazon Q token is refreshed with its OIDC client */
        ngx_snprintf(err, NGX_HTTP_Q2API_ADMIN_ERR_LEN,
                     "%s%s: needed with a refreshToken%Z", prefix,
                     d->client_id.len ? "clientSecret" : "clientId");
        return NGX_DECLINED;
    }

    d->status = NGX_HTTP_Q2API_ST_ACTIVE;
    d->updated_at = ngx_time();

    if (d->created_at == 0) {
        d->created_at = d->updated_at;
    }

    return NGX_OK;
}


/* the fields an input gave, over an account's (but never its id) */
void
ngx_http_q2api_admin_overlay(ngx_http_q2api_account_data_t *d,
    ngx_http_q2api_admin_input_t *in)
{
    ngx_http_q2api_admin_field_t  *f;

    for (f = ngx_http_q2api_admin_fields; f->name; f++) {
        if (!(in->set & f->bit) || f->value == NGX_HTTP_Q2API_VALUE_ID) {
            continue;
        }

        switch (f->value) {

        case NGX_HTTP_Q2API_VALUE_BOOL:
            d->enabled = in->d.enabled;
            break;

        case NGX_HTTP_Q2API_VALUE_TYPE:
            d->type = in->d.type;
            break;

        case NGX_HTTP_Q2API_VALUE_TIME:
            *(time_t *) ((u_char *) d + f->offset) =
                *(time_t *) ((u_char *) &in->d + f->offset);
            break;

        case NGX_HTTP_Q2API_VALUE_OTHER:
            /* what is read out of it goes with it */
            d->other = in->d.other;
            d->project = in->d.project;
            d->api_endpoint = in->d.api_endpoint;
            d->flavour = in->d.flavour;
            d->flavour_named = in->d.flavour_named;
            break;

        default:
            *(ngx_str_t *) ((u_char *) d + f->offset) =
                *(ngx_str_t *) ((u_char *) &in->d + f->offset);
        }
    }
}


/* other with key set to value (NULL: removed), as new text in r->pool */
ngx_int_t
ngx_http_q2api_admin_other_set(ngx_http_request_t *r, ngx_str_t *other,
    const char *key, const char *value)
{
    char    *printed;
    cJSON   *o;
    size_t   len;

    o = other->len ? cJSON_ParseWithLength((char *) other->data, other->len)
                   : NULL;

    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
        if (o == NULL) {
            return NGX_ERROR;
        }
    }

    cJSON_DeleteItemFromObjectCaseSensitive(o, key);

    if (value != NULL && cJSON_AddStringToObject(o, key, value) == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    printed = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (printed == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(printed);

    other->data = ngx_pnalloc(r->pool, len);
    if (other->data == NULL) {
        cJSON_free(printed);
        return NGX_ERROR;
    }

    ngx_memcpy(other->data, printed, len);
    other->len = len;
    cJSON_free(printed);

    return NGX_OK;
}


/* an argument, unescaped; NGX_DECLINED when absent */
ngx_int_t
ngx_http_q2api_admin_arg(ngx_http_request_t *r, char *name, ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(r->pool, raw.len + 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    dst = value->data;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    value->len = dst - value->data;

    return NGX_OK;
}
