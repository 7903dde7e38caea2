/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_JSON_SCAN_H_INCLUDED_
#define _Q2API_JSON_SCAN_H_INCLUDED_


#include "q2api_buf.h"


/*
 * Reading a few members of a small JSON object without building a tree.
 * A backend sends one object per frame, thousands per answer; a cJSON tree
 * for each costs a malloc per node and a free per node, on the hottest path
 * there is.  The scanner checks the whole text, records where the members
 * asked for are, and leaves the bytes where they are: a string without
 * escapes is used in place, one with escapes is decoded into a buffer the
 * caller reuses.
 */

typedef enum {
    Q2API_JSON_ABSENT = 0,
    Q2API_JSON_STRING,
    Q2API_JSON_NUMBER,
    Q2API_JSON_OBJECT,
    Q2API_JSON_ARRAY,
    Q2API_JSON_TRUE,
    Q2API_JSON_FALSE,
    Q2API_JSON_NULL
} q2api_json_type_e;


typedef struct {
    const char         *name;       /* set by the caller, NUL-terminated */
    q2api_json_type_e   type;       /* what the first such member holds */
    const char         *value;      /* its text: a string's without quotes */
    size_t              len;
    unsigned            escaped:1;  /* a string with backslashes in it */
} q2api_json_field_t;


/*
 * Checks that json[0..len) is one well-formed JSON object (whitespace
 * around it allowed) and fills in the fields named, from its top-level
 * members; the first of duplicate members wins, as in cJSON.  Q2API_OK, or
 * Q2API_ERROR for text that is not such an object.
 */
int q2api_json_fields(const char *json, size_t len, q2api_json_field_t *fields,
    size_t n);

/*
 * A cursor for walking a larger document once, as a front end's estimate
 * of a request does: enter an object or array, read a member's key, then
 * either enter its value or scan it whole with q2api_json_scan_value(),
 * and go on with q2api_json_scan_next().  Every byte is checked as by
 * q2api_json_fields().  The cursor nests Q2API_JSON_SCAN_LEVELS deep;
 * what scan_value scans whole nests as deep as the scanner allows.
 */

#define Q2API_JSON_SCAN_LEVELS  64

typedef struct {
    const char          *p;
    const char          *end;
    unsigned             depth;     /* containers entered and not left */
    unsigned long long   arrays;    /* bit n: level n is an array */
} q2api_json_scan_t;


/* at json's first non-blank byte */
void q2api_json_scan_init(q2api_json_scan_t *s, const char *json, size_t len);

/*
 * s->p at '{' or '['; *done when it is empty (and then already left, not
 * entered).  Q2API_ERROR for anything else or too deep.
 */
int q2api_json_scan_enter(q2api_json_scan_t *s, int *done);

/* s->p at a member's key: reads it and the colon; s->p at the value */
int q2api_json_scan_key(q2api_json_scan_t *s, q2api_json_field_t *key);

/*
 * Scans one value whole into value (a string's text without its quotes);
 * with printed, adds the length cJSON_PrintUnformatted() would give it.
 */
int q2api_json_scan_value(q2api_json_scan_t *s, q2api_json_field_t *value,
    size_t *printed);

/* after a value: past the comma, or past the close with *done set */
int q2api_json_scan_next(q2api_json_scan_t *s, int *done);

/* Q2API_OK when every container is left and only blanks follow */
int q2api_json_scan_end(q2api_json_scan_t *s);

/* a scanned string's length with its escapes decoded */
size_t q2api_json_string_len(const q2api_json_field_t *f);

/* what cJSON_PrintUnformatted() writes for the scanned string text v */
size_t q2api_json_string_printed(const char *v, size_t len);


/*
 * A string field's value as bytes: in place when it has no escapes,
 * otherwise decoded (UTF-8, surrogate pairs joined, \u0000 kept) into
 * scratch, which is reset first: Q2API_OK or Q2API_NOMEM.  The scan has
 * refused bad escapes and unpaired surrogates already.
 */
int q2api_json_field_string(const q2api_json_field_t *f, q2api_buf_t *scratch,
    q2api_str_t *out);


#endif /* _Q2API_JSON_SCAN_H_INCLUDED_ */
