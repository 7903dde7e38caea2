/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_JSON_H_INCLUDED_
#define _Q2API_JSON_H_INCLUDED_


#include "q2api_buf.h"


/*
 * JSON output on the stream path is written by hand: one compact event per
 * text delta would otherwise cost a cJSON tree, a print and two frees.
 */

/* appends "..." with JSON escaping; invalid UTF-8 becomes U+FFFD so that
 * what we emit is always valid JSON whatever the upstream sent */
int q2api_json_append_string(q2api_buf_t *b, const char *s, size_t len);

/* appends a decimal integer */
int q2api_json_append_int(q2api_buf_t *b, long long v);

/* 1 if s[0..len) is well-formed UTF-8 (no overlongs, no surrogates) */
int q2api_utf8_valid(const char *s, size_t len);

/* length of the longest prefix of s[0..len) that does not end inside a
 * multi-byte sequence */
size_t q2api_utf8_complete_prefix(const char *s, size_t len);


#endif /* _Q2API_JSON_H_INCLUDED_ */
