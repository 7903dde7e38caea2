/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for q2api_time_parse.  Input: any bytes, given with
 * their length and no NUL.  A time that parses is in range, formats, and
 * its formatted text parses back to the same second; parsing reads no
 * byte past the length (ASan checks, the input is not terminated).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_time.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char    *s, out[Q2API_TIME_LEN];
    time_t   t, back;
    size_t   n;

    /* a copy of exactly size bytes: ASan sees a read past the end */
    s = malloc(size ? size : 1);
    check(s != NULL);
    memcpy(s, data, size);

    if (q2api_time_parse(s, size, &t) == Q2API_OK) {
        check(t >= 0 && (long long) t < Q2API_TIME_MAX);

        n = q2api_time_format(t, out);
        check(n == 19 && strlen(out) == 19);

        check(q2api_time_parse(out, n, &back) == Q2API_OK && back == t);
    }

    free(s);

    return 0;
}
