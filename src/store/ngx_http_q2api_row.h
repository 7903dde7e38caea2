/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The account row codec: one table of the fields of q2api's account rows
 * (JSON key, column, kind, place in ngx_http_q2api_account_data_t), and
 * the conversions every store and the admin API share, so that a field is
 * named and converted in one place.  A view is a list of fields in the
 * order one format writes them, ended by NGX_HTTP_Q2API_ROW_END.
 */

#ifndef _NGX_HTTP_Q2API_ROW_H_INCLUDED_
#define _NGX_HTTP_Q2API_ROW_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include <cjson/cJSON.h>

#include "q2api_buf.h"
#include "ngx_http_q2api_accounts.h"


/* how a field's value is kept and converted */
typedef enum {
    NGX_HTTP_Q2API_ROW_IS_STRING = 0, /* ngx_str_t; null when empty */
    NGX_HTTP_Q2API_ROW_IS_FLAG,       /* ngx_flag_t; 0/1 or a boolean */
    NGX_HTTP_Q2API_ROW_IS_TIME,       /* time_t; epoch or q2api's text */
    NGX_HTTP_Q2API_ROW_IS_COUNTER,    /* uint64_t */
    NGX_HTTP_Q2API_ROW_IS_JSON,       /* ngx_str_t of JSON object text */
    NGX_HTTP_Q2API_ROW_IS_TYPE,       /* ngx_uint_t, an account kind */
    NGX_HTTP_Q2API_ROW_IS_STATUS      /* ngx_uint_t, a status by name */
} ngx_http_q2api_row_kind_e;


/* the fields, indexes of ngx_http_q2api_row_fields[] */
typedef enum {
    NGX_HTTP_Q2API_ROW_ID = 0,
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
    NGX_HTTP_Q2API_ROW_EXPIRES_AT,    /* q2api's token expiry */
    NGX_HTTP_Q2API_ROW_TOKEN_EXPIRES, /* the same, this module's column */
    NGX_HTTP_Q2API_ROW_SUCCESS_COUNT,
    NGX_HTTP_Q2API_ROW_ERROR_COUNT,   /* consecutive errors, as q2api */
    NGX_HTTP_Q2API_ROW_TOTAL_ERRORS,
    NGX_HTTP_Q2API_ROW_TOKENS_IN,
    NGX_HTTP_Q2API_ROW_TOKENS_OUT,
    NGX_HTTP_Q2API_ROW_LAST_USED,
    NGX_HTTP_Q2API_ROW_LAST_ERROR,
    NGX_HTTP_Q2API_ROW_CREATED_AT,
    NGX_HTTP_Q2API_ROW_UPDATED_AT,
    NGX_HTTP_Q2API_ROW_NFIELDS
} ngx_http_q2api_row_field_e;

#define NGX_HTTP_Q2API_ROW_END  NGX_HTTP_Q2API_ROW_NFIELDS


typedef struct {
    const char                 *name;     /* q2api's JSON key */
    const char                 *column;   /* q2api's accounts column */
    ngx_http_q2api_row_kind_e   kind;
    size_t                      offset;   /* in the account data */
    unsigned                    text:1;   /* a time column of q2api's,
                                             kept as its text */
    unsigned                    secret:1; /* a credential */
    unsigned                    key:1;    /* the id: never null */
} ngx_http_q2api_row_field_t;


/* to_json: times as q2api's text (null when unset), not epoch seconds */
#define NGX_HTTP_Q2API_ROW_TEXT_TIMES   0x01
/* to_json: only q2api's own time fields as its text */
#define NGX_HTTP_Q2API_ROW_Q2API_TIMES  0x02
/* to_json: flags as q2api's 0/1, not booleans */
#define NGX_HTTP_Q2API_ROW_FLAG_NUMS    0x04


extern ngx_http_q2api_row_field_t  ngx_http_q2api_row_fields[];

/* the accounts file's row, in its order */
extern ngx_http_q2api_row_field_e  ngx_http_q2api_row_file[];


/*
 * Reading.  d must start zeroed; a time that reads as 0 leaves the field
 * as it is, so that of two fields of one value the later one wins only
 * when it is set.  Strings point into the source (cJSON item, text);
 * "other" given as an object is printed into pool.  NGX_DECLINED: a type
 * no kind has, or a string the input checks refuse (q2api_check.h: ids,
 * labels, credentials, the profileArn); *bad says which field, logged by
 * its name (never its value).  NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_q2api_row_from_json(cJSON *obj,
    ngx_http_q2api_row_field_e *view, ngx_pool_t *pool,
    ngx_http_q2api_account_data_t *d, ngx_http_q2api_row_field_e *bad);
/* one field from its value (NULL: the key is absent) */
ngx_int_t ngx_http_q2api_row_json_in(ngx_http_q2api_row_field_e field,
    cJSON *v, ngx_pool_t *pool, ngx_http_q2api_account_data_t *d);

/* a field from its text, as a database gives it (empty: NULL) */
ngx_int_t ngx_http_q2api_row_from_text(ngx_http_q2api_row_field_e field,
    ngx_str_t *text, ngx_http_q2api_account_data_t *d);

/*
 * A Gemini account's members of other (project, api_endpoint, flavour)
 * into d, pointing into other's text; NGX_DECLINED when one of them is
 * refused, *bad (when not NULL) its name.  other that is no JSON object
 * holds none.
 */
ngx_int_t ngx_http_q2api_row_other(ngx_str_t *other,
    ngx_http_q2api_account_data_t *d, const char **bad);

#define NGX_HTTP_Q2API_ROW_OTHER_RULE                                       \
    "must hold a Google Cloud project id as project, https:// and a Code "  \
    "Assist host as api_endpoint, and gemini-cli or antigravity as flavour"

/* what a field refused with NGX_DECLINED must be, for a log line */
const char *ngx_http_q2api_row_rule(ngx_http_q2api_row_field_e field);

/*
 * Writing.  to_json writes {"key":value,...} of the view; json_out one
 * value, for an object with fields of other kinds between them (masked
 * secrets, derived state); text a field as a database parameter,
 * NUL-terminated in pool (*value NULL: SQL NULL).  NGX_ERROR: out of
 * memory.
 */
ngx_int_t ngx_http_q2api_row_to_json(q2api_buf_t *b,
    ngx_http_q2api_account_data_t *d, ngx_http_q2api_row_field_e *view,
    ngx_uint_t flags);
ngx_int_t ngx_http_q2api_row_json_out(q2api_buf_t *b,
    ngx_http_q2api_row_field_e field, ngx_http_q2api_account_data_t *d,
    ngx_uint_t flags);
ngx_int_t ngx_http_q2api_row_text(ngx_pool_t *pool,
    ngx_http_q2api_row_field_e field, ngx_http_q2api_account_data_t *d,
    const char **value);

/* "col, col, ..." of a view, NUL-terminated in pool */
u_char *ngx_http_q2api_row_columns(ngx_pool_t *pool,
    ngx_http_q2api_row_field_e *view);
ngx_uint_t ngx_http_q2api_row_count(ngx_http_q2api_row_field_e *view);

/* q2api's "%Y-%m-%dT%H:%M:%S" (UTC); parse gives 0 for anything else */
#define NGX_HTTP_Q2API_ROW_TIME_LEN  32

time_t ngx_http_q2api_row_parse_time(u_char *p, size_t len);
u_char *ngx_http_q2api_row_print_time(u_char *buf, time_t t);


#endif /* _NGX_HTTP_Q2API_ROW_H_INCLUDED_ */
