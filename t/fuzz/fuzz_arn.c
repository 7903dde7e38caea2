/*
 * Copyright (C) ngx_http_q2api_module authors
 *
 * libFuzzer target for the input checks and q2api_arn_parse.  Input: any
 * bytes, given with their length and no NUL.  What an ARN parse accepts
 * is made of its five fields in order, its region passes the region check,
 * and no value of any class that passes holds a control byte, a space (but
 * in a label) or a byte past the length (ASan checks, the input is not
 * terminated).
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "q2api_check.h"


#define check(cond)  do { if (!(cond)) { abort(); } } while (0)


static void
check_field(const char *s, size_t size, q2api_str_t *f)
{
    check(f->data >= s && f->data + f->len <= s + size);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          what;
    char        *s;
    size_t       i, n;
    q2api_arn_t  arn;

    /* a copy of exactly size bytes: ASan sees a read past the end */
    s = malloc(size ? size : 1);
    check(s != NULL);
    memcpy(s, data, size);

    if (q2api_arn_parse(s, size, &arn) == Q2API_OK) {
        check_field(s, size, &arn.partition);
        check_field(s, size, &arn.service);
        check_field(s, size, &arn.region);
        check_field(s, size, &arn.account);
        check_field(s, size, &arn.resource);

        n = 4 + arn.partition.len + 1 + arn.service.len + 1 + arn.region.len
            + 1 + arn.account.len + 1 + arn.resource.len;
        check(n == size);
        check(arn.resource.data + arn.resource.len == s + size);
        check(q2api_check(Q2API_CHECK_REGION, arn.region.data,
                          arn.region.len) == Q2API_OK);
        check(arn.account.len == 12);
    }

    for (what = 0; what < Q2API_CHECK_NCLASSES; what++) {
        if (q2api_check(what, s, size) != Q2API_OK) {
            continue;
        }

        check(size > 0);

        for (i = 0; i < size; i++) {
            check((unsigned char) s[i] >= 0x20 && s[i] != 0x7f);
            check(what == Q2API_CHECK_LABEL || s[i] != ' ');
        }

        if (what == Q2API_CHECK_ID) {
            check(!(size == 1 && s[0] == '.'));
            check(!(size == 2 && s[0] == '.' && s[1] == '.'));
        }

        if (what == Q2API_CHECK_REGION) {
            check(memchr(s, '.', size) == NULL
                  && memchr(s, '/', size) == NULL);
        }
    }

    free(s);

    return 0;
}
