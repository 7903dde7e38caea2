/*
 * Copyright (C) ngx_http_q2api_module authors
 */


#include <stdlib.h>

#include <cjson/cJSON.h>

#include "q2api_arena.h"


#define Q2API_ARENA_FIRST   1024            /* at least CHUNK / 4 */
#define Q2API_ARENA_CHUNK   4096
#define Q2API_ARENA_ALIGN   16


struct q2api_arena_chunk_s {
    q2api_arena_chunk_t  *next;
    size_t                used;
    size_t                size;
    unsigned char         data[] __attribute__((aligned(Q2API_ARENA_ALIGN)));
};


void
q2api_arena_init(q2api_arena_t *a)
{
    a->chunks = NULL;
}


void *
q2api_arena_alloc(q2api_arena_t *a, size_t size)
{
    size_t                need;
    q2api_arena_chunk_t  *c;

    size = (size + Q2API_ARENA_ALIGN - 1) & ~((size_t) Q2API_ARENA_ALIGN - 1);

    c = a->chunks;

    if (c != NULL && c->size - c->used >= size) {
        c->used += size;
        return c->data + c->used - size;
    }

    /*
     * Large requests get a chunk of their own behind the current one.  A
     * short chat's whole model fits the small first chunk: a stream in
     * flight keeps its arena, so that chunk is memory per stream.
     */
    if (size > Q2API_ARENA_CHUNK / 4) {
        need = size;

    } else {
        /* FIRST >= CHUNK / 4: what comes here fits either */
        need = a->chunks ? Q2API_ARENA_CHUNK : Q2API_ARENA_FIRST;
    }

    c = malloc(sizeof(q2api_arena_chunk_t) + need);
    if (c == NULL) {
        return NULL;
    }

    c->size = need;
    c->used = size;

    if (size > Q2API_ARENA_CHUNK / 4 && a->chunks != NULL) {
        c->next = a->chunks->next;
        a->chunks->next = c;

    } else {
        c->next = a->chunks;
        a->chunks = c;
    }

    return c->data;
}


void *
q2api_arena_calloc(q2api_arena_t *a, size_t size)
{
    void  *p;

    p = q2api_arena_alloc(a, size);
    if (p != NULL) {
        memset(p, 0, size);
    }

    return p;
}


char *
q2api_arena_strndup(q2api_arena_t *a, const char *s, size_t len)
{
    char  *p;

    p = q2api_arena_alloc(a, len + 1);
    if (p == NULL) {
        return NULL;
    }

    memcpy(p, s, len);
    p[len] = '\0';

    return p;
}


void
q2api_arena_free(q2api_arena_t *a)
{
    q2api_arena_chunk_t  *c, *next;

    for (c = a->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }

    a->chunks = NULL;
}


static q2api_arena_t  *q2api_arena_json;


static void *
q2api_arena_json_malloc(size_t size)
{
    if (q2api_arena_json != NULL) {
        return q2api_arena_alloc(q2api_arena_json, size);
    }

    return malloc(size);
}


static void
q2api_arena_json_free(void *p)
{
    if (q2api_arena_json == NULL) {
        free(p);
    }
}


void
q2api_arena_json_begin(q2api_arena_t *a)
{
    static int     hooked;
    cJSON_Hooks    hooks;

    /* outside a window the hooks are malloc and free: safe at any time */
    if (!hooked) {
        hooks.malloc_fn = q2api_arena_json_malloc;
        hooks.free_fn = q2api_arena_json_free;
        cJSON_InitHooks(&hooks);
        hooked = 1;
    }

    q2api_arena_json = a;
}


void
q2api_arena_json_end(void)
{
    q2api_arena_json = NULL;
}
