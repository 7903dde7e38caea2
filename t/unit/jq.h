/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * JSON in the tests is written with ' for " to stay readable; jq() turns
 * it into JSON (a malloc()ed copy).
 */

#ifndef _JQ_H_INCLUDED_
#define _JQ_H_INCLUDED_


#include <stdlib.h>
#include <string.h>


static __attribute__((unused)) char *
jq(const char *s)
{
    char    *p;
    size_t   i, n;

    n = strlen(s);
    p = malloc(n + 1);

    for (i = 0; i <= n; i++) {
        p[i] = (s[i] == '\'') ? '"' : s[i];
    }

    return p;
}


#endif /* _JQ_H_INCLUDED_ */
