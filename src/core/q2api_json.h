/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_JSON_H_INCLUDED_
#define _Q2API_JSON_H_INCLUDED_


#include <cjson/cJSON.h>

#include "q2api_arena.h"
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


/* a cJSON string item as a q2api_str_t pointing into it */
#define q2api_json_str(item)                                               \
    ((q2api_str_t) { (item)->valuestring, strlen((item)->valuestring) })

/*
 * Client bodies are read with cJSON.  One whole JSON document and nothing
 * after it but blanks; NULL and *at where it went wrong otherwise.
 */
cJSON *q2api_json_document(const char *p, size_t len, const char **at);

/* compact JSON of item, copied into the arena */
int q2api_json_print(q2api_arena_t *arena, const cJSON *item,
    q2api_str_t *out);


#endif /* _Q2API_JSON_H_INCLUDED_ */
