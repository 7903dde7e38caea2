/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * The back ends this build has.  A new one is one folder under back/ and
 * one line here.
 */


#include "q2api_back.h"


extern const q2api_back_t  q2api_amazonq_back;
extern const q2api_back_t  q2api_gemini_back;


const q2api_back_t  *q2api_backs[] = {
    &q2api_amazonq_back,
    &q2api_gemini_back,
    NULL
};


const q2api_back_t *
q2api_back_find(const char *name, size_t len)
{
    const q2api_back_t  **b;

    for (b = q2api_backs; *b != NULL; b++) {
        if (strlen((*b)->name) == len && memcmp((*b)->name, name, len) == 0) {
            return *b;
        }
    }

    return NULL;
}
