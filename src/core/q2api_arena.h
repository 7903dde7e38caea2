/*
 * Copyright (C) ngx_http_q2api_module authors
 */

#ifndef _Q2API_ARENA_H_INCLUDED_
#define _Q2API_ARENA_H_INCLUDED_


#include "q2api_core.h"


/*
 * A bump allocator for the canonical request: many small structures with
 * one lifetime, released at once.  The nginx glue ties q2api_arena_free()
 * to a request pool cleanup, as it would a pool of its own.
 */
typedef struct q2api_arena_chunk_s  q2api_arena_chunk_t;

typedef struct {
    q2api_arena_chunk_t  *chunks;
} q2api_arena_t;


void q2api_arena_init(q2api_arena_t *a);
void *q2api_arena_alloc(q2api_arena_t *a, size_t size);
void *q2api_arena_calloc(q2api_arena_t *a, size_t size);
char *q2api_arena_strndup(q2api_arena_t *a, const char *s, size_t len);
void q2api_arena_free(q2api_arena_t *a);

/*
 * A cJSON tree on an arena.  Between begin and end cJSON allocates from a
 * and its frees do nothing: a request body's tree, thousands of nodes, then
 * costs a few chunk allocations and goes with the arena, never node by
 * node.  Such a tree must never reach cJSON_Delete() outside a window;
 * everything else cJSON allocates, before, after or elsewhere, is
 * malloc()ed and free()d as usual.  A worker parses one body at a time, so
 * one window is open at most.
 */
void q2api_arena_json_begin(q2api_arena_t *a);
void q2api_arena_json_end(void);


#endif /* _Q2API_ARENA_H_INCLUDED_ */
