/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * NUL in JSON strings.  cJSON keeps a string as a C string, so "a\u0000b"
 * parses as "a": content would be cut without a word, and an id or token
 * would be taken for a shorter one.  Before parsing, each NUL a string
 * holds (the \u0000 escape, or a raw NUL byte) is rewritten in place as
 * Q2API_NUL_MARK, a byte that valid UTF-8 never holds; after parsing, the
 * mark says where a NUL was: content turns it back into a NUL (escaped
 * again when written), identifiers and credentials refuse it.
 */

#ifndef _Q2API_NUL_H_INCLUDED_
#define _Q2API_NUL_H_INCLUDED_


#include "q2api_core.h"
#include "q2api_arena.h"


#define Q2API_NUL_MARK  0xff


/*
 * 1 if text[0..len) holds a NUL inside a string (worth marking), 0 if
 * not, -1 if a string has a \u escape without four hex digits, which
 * cJSON would read as a NUL: the text is no JSON.
 */
int q2api_nul_found(const char *text, size_t len);

/*
 * Marks text[0..len) in place (it only shrinks) and returns its new
 * length.  text must be valid UTF-8, so that every mark is a NUL, and
 * found to hold one by q2api_nul_found().
 */
size_t q2api_nul_mark(char *text, size_t len);

/*
 * A parsed string (NUL-terminated, marks in it) as a byte string with its
 * NULs: s itself when it holds no mark, else a copy in arena (s as it is
 * when the arena is full).
 */
q2api_str_t q2api_nul_string(q2api_arena_t *arena, const char *s);

/*
 * JSON text printed by cJSON (marks left raw inside its strings, where
 * nothing else can put a byte 0xff) with each mark written as \u0000, into
 * arena; *len in and out.  NULL when out of memory.
 */
char *q2api_nul_json(q2api_arena_t *arena, const char *json, size_t *len);


#endif /* _Q2API_NUL_H_INCLUDED_ */
