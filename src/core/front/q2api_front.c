/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The front ends this build has.  A new one is one folder under front/
 * and one line here.
 */


#include "q2api_front.h"


extern const q2api_front_t  q2api_claude_front;
extern const q2api_front_t  q2api_openai_front;
extern const q2api_front_t  q2api_responses_front;


const q2api_front_t  *q2api_fronts[] = {
    &q2api_claude_front,
    &q2api_openai_front,
    &q2api_responses_front,
    NULL
};


const q2api_front_t *
q2api_front_find(const char *name, size_t len)
{
    const q2api_front_t  **f;

    for (f = q2api_fronts; *f != NULL; f++) {
        if (strlen((*f)->name) == len && memcmp((*f)->name, name, len) == 0) {
            return *f;
        }
    }

    return NULL;
}
